use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [2, 3, 4];
        let y = slice(x, 1, 1, 5);
    };
}
