use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [2, 3, 10];
        input w: [4, 5, 3];
        let y = conv1d(x, w, 1, 0);
    };
}
