use scale_graph::scale_graph;

fn f<const N: usize>() {
    let _m = scale_graph! {
        input a: [N, 8];
        input b: [N, 9];
        let c = a * b;
    };
}

fn main() {
    f::<2>();
}
