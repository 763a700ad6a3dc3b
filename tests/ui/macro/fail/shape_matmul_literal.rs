use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input a: [2, 3];
        input b: [4, 5];
        let c = matmul(a, b);
    };
}
