use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input q: [2, 5, 8];
        input k: [2, 7, 8];
        input v: [2, 6, 8];
        let o = attention_causal(q, k, v);
    };
}
