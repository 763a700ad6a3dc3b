use scale_graph::scale_graph;

fn main() {
    let m1 = scale_graph! { input x: [3]; let loss = sum(x); };
    let m2 = scale_graph! { input x: [3]; let loss = sum(x); };
    let inputs = m2.zero_inputs();
    let _ = m2.certify(&inputs, m1.vars.loss);
}
