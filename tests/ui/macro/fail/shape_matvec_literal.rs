use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [783];
        input w1: [128, 784];
        let h = matvec(w1, x);
    };
}
