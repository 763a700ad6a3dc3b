use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input a: [3];
        input b: [3, 1];
        let c = a * b;
    };
}
