use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [2, 3, 6, 2];
        let y = avg_pool2d(x, 3);
    };
}
