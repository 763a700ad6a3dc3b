use scale_graph::scale_graph;

fn layer<const H: usize, const K: usize>() {
    let _m = scale_graph! {
        input w: [H, K];
        input x: [H];
        let y = relu(matvec(w, x));
    };
}

fn main() {
    layer::<4, 4>();
}
