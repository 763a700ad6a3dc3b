//! Handles of one named model do not fit another: the error names both brands.
use scale_graph::scale_graph;

scale_graph! { model Encoder; input x: [3]; let loss = sum(x); }
scale_graph! { model Decoder; input x: [3]; let loss = sum(x); }

fn main() {
    let e = Encoder::new();
    let d = Decoder::new();
    let _ = d.certify(&d.zero_inputs(), e.vars.loss);
}
