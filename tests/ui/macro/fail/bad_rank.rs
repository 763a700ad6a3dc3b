use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [1, 2, 3, 4, 5];
        let y = relu(x);
    };
}
