use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input s: [];
        input g: [1];
        let y = rms_norm(s, g, 1e-5);
    };
}
