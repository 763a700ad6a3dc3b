use scale_graph::scale_graph;

fn f<const H: usize, const W: usize>() {
    let _m = scale_graph! {
        input a: [H];
        input b: [W];
        let c = a + b;
    };
}

fn main() {
    f::<3, 3>();
}
