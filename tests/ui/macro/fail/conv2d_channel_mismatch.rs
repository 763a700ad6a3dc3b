use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [4, 3, 8, 8];
        input w: [16, 2, 3, 3];
        let y = conv2d(x, w, 1, 1);
    };
}
