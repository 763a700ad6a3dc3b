use scale_graph::scale_graph;

// The macro cannot compare `B` with `C`; rustc's type check rejects the expansion.
fn join<const B: usize, const C: usize>() {
    let _m = scale_graph! {
        input a: [B, 3];
        input b: [C, 2];
        let y = concat(a, b, 1);
    };
}

fn main() {
    join::<2, 2>();
}
