use scale_graph::scale_graph;

// The macro cannot compare the end with `N`; the constructor's `const` assertion rejects the
// instantiation with N = 2.
fn head<const N: usize>() {
    let _m = scale_graph! {
        input x: [2, N];
        let y = slice(x, 1, 0, 3);
    };
}

fn main() {
    head::<2>();
}
