//! Const generic dimensions: the macro leaves them to rustc, which accepts matching ones.
use scale_graph::scale_graph;

const FEATURES: usize = 4;

fn layer<const H: usize, const B: usize>() -> (usize, Vec<usize>) {
    let m = scale_graph! {
        input w: [H, FEATURES];
        input x: [FEATURES];
        input bias: [H];
        input m: [B, H];
        let y = relu(matvec(w, x) + bias);
        let z = matvec(m, y);
        let loss = sum(z * z);
    };
    let inputs = m.zero_inputs();
    assert_eq!(inputs.m.dim(), (B, H));
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    (m.graph.len(), cert.values.get(m.vars.z).shape().to_vec())
}

#[test]
fn compiles_and_runs() {
    assert_eq!(layer::<3, 5>(), (4 + 6, vec![5]));
    assert_eq!(layer::<1, 1>().1, vec![1]);
}
