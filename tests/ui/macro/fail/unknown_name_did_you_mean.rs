use scale_graph::scale_graph;

fn main() {
    let _m = scale_graph! {
        input weight: [3];
        input x: [3];
        let y = weigth * x;
    };
}
