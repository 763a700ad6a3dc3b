use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input q: [2, 4, 3, 8];
        input k: [2, 2, 8, 3];
        let s = bmm(q, k);
    };
}
