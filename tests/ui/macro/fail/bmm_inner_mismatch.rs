use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input a: [2, 3, 4];
        input b: [2, 5, 6];
        let c = bmm(a, b);
    };
}
