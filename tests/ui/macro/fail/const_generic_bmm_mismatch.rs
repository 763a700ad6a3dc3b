use scale_graph::scale_graph;

// The macro cannot compare `B` with `C`; rustc's type check rejects the expansion.
fn scores<const B: usize, const C: usize>() {
    let _m = scale_graph! {
        input q: [B, 3, 4];
        input k: [C, 4, 3];
        let s = bmm(q, k);
    };
}

fn main() {
    scores::<2, 2>();
}
