use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [1, 2, 8, 8];
        input w: [4, 2, 3, 3];
        let y = conv2d(x, w, 0, 1);
    };
}
