use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input x: [2, 3];
        let y = expand(x, 1, 0);
    };
}
