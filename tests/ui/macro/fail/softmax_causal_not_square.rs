use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input scores: [2, 4, 5];
        let p = softmax_causal(scores);
    };
}
