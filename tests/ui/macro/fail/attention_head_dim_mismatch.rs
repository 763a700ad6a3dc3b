use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input q: [2, 4, 16, 8];
        input k: [2, 4, 16, 6];
        input v: [2, 4, 16, 8];
        let o = attention(q, k, v);
    };
}
