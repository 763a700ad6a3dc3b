use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [2, 16, 32];
        input w: [16, 32];
        let y = matmul(x, w);
    };
}
