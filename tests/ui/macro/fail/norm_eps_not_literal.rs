use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [2, 4];
        input g: [4];
        input b: [4];
        let y = layer_norm(x, g, b, x);
    };
}
