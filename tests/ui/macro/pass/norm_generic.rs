//! `layer_norm` and `rms_norm` with const generic dimensions and leading batch axes: rustc
//! accepts parameters of the last axis's length.
use scale_graph::scale_graph;

fn block<const B: usize, const T: usize, const D: usize>() -> Vec<usize> {
    let m = scale_graph! {
        input x: [B, T, D];
        input g: [D];
        input b: [D];
        let h = layer_norm(x, g, b, 1e-5);
        let r = rms_norm(h, g, 0.001);
        let loss = sum(r * r);
    };
    let mut inputs = m.zero_inputs();
    inputs.g.fill(1.0);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    assert!(cert.eps.get(m.vars.h).get().is_finite());
    cert.values.get(m.vars.r).shape().to_vec()
}

#[test]
fn compiles_and_runs() {
    assert_eq!(block::<2, 3, 4>(), vec![2, 3, 4]);
    assert_eq!(block::<1, 1, 1>(), vec![1, 1, 1]);
}
