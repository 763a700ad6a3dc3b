//! `runtime = f64;` and the half-precision runtimes.
use scale_graph::scale_graph;

#[test]
fn compiles_and_runs() {
    let m = scale_graph! {
        runtime = f64;
        input x: [2];
        let loss = sum(x * x);
    };
    let mut inputs = m.zero_inputs();
    inputs.x.fill(0.1);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    let v: f64 = cert.values.get(m.vars.loss)[()];
    assert!((v - 0.02).abs() < 1e-15);

    let h = scale_graph! { runtime = bf16; input x: [2]; let y = relu(x); let loss = sum(y); };
    let mut inputs = h.zero_inputs();
    inputs.x.fill(half::bf16::from_f32(0.5));
    let cert = h.certify(&inputs, h.vars.loss).unwrap();
    assert_eq!(cert.values.get(h.vars.loss)[()].to_f32(), 1.0);

    let f = scale_graph! { runtime = f16; input x: []; let y = x * x; };
    assert_eq!(f.graph.len(), 2);
}
