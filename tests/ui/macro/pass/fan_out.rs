//! Fan-out: one value read by many nodes; gradients accumulate over all uses.
use scale_graph::scale_graph;

#[test]
fn compiles_and_runs() {
    let m = scale_graph! {
        input x: [3];
        let h = relu(x);
        let a = h * h;
        let b = h + a;
        let c = (a + b) * h;
        let loss = sum(c + h);
    };
    let mut inputs = m.zero_inputs();
    inputs.x.assign(&ndarray::arr1(&[1.0f32, -1.0, 2.0]));
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    // c + h = (2h² + h)·h + h = 2h³ + h² + h; d/dh = 6h² + 2h + 1
    let g = cert.grads.get(m.vars.x);
    assert_eq!(g.to_vec(), vec![9.0, 0.0, 29.0]);
    let t = cert.grad_tol(m.vars.x);
    assert!(t.abs >= 0.0 && t.rel >= 0.0);
}
