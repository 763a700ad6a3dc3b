use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input a: [2, 3, 4];
        input b: [2, 5, 3];
        let y = concat(a, b, 1);
    };
}
