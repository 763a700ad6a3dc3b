use scale_graph::scale_graph;

// The macro cannot compare the const `C` with 3; rustc's shape trait rejects the call.
fn net<const C: usize>() {
    let _m = scale_graph! {
        input x: [2, C, 8, 8];
        input w: [4, 3, 3, 3];
        let y = conv2d(x, w, 1, 1);
    };
}

fn main() {
    net::<2>();
}
