use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [3];
        let y = rleu(x);
    };
}
