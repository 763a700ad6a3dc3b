use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [1, 1, 4, 4];
        input w: [2, 1, 7, 3];
        let y = conv2d(x, w, 1, 1);
    };
}
