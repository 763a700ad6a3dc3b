use scale_graph::scale_graph;

fn block<const N: usize, const M: usize>() {
    let _m = scale_graph! {
        input x: [2, N];
        input g: [M];
        input b: [N];
        let y = layer_norm(x, g, b, 1e-5);
    };
}

fn main() {
    block::<4, 4>();
}
