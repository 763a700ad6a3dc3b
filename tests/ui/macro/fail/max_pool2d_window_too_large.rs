use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [1, 2, 3, 8];
        let y = max_pool2d(x, 4);
    };
}
