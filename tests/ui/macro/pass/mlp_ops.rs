//! Every op family the core has so far: add, mul, relu, matvec, sum; reading bounds by name.
use scale_graph::scale_graph;

#[test]
fn compiles_and_runs() {
    let m = scale_graph! {
        input x: [8];
        input w1: [4, 8];
        input b1: [4];
        input w2: [2, 4];
        let h = relu(matvec(w1, x) + b1);
        let o = matvec(w2, h);
        let loss = sum(o * o);
    };
    let mut inputs = m.zero_inputs();
    inputs.x.fill(0.5);
    inputs.w1.fill(0.25);
    inputs.b1.fill(-0.1);
    inputs.w2.fill(1.0);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    assert!(cert.eps.get(m.vars.h).get() > 0.0);
    assert!(cert.scales.get(m.vars.o).get() >= 0.9);
    let _ = cert.value_tol(m.vars.loss);
    let _ = cert.grad_tol(m.vars.w1);
}
