use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        runtime = f8;
        input x: [3];
        let y = relu(x);
    };
}
