//! Nested calls, infix precedence and parentheses; values read by name.
use scale_graph::scale_graph;

#[test]
fn compiles_and_runs() {
    let m = scale_graph! {
        input a: [2];
        input b: [2];
        input c: [2];
        let p = a + b * c;         // a + (b * c)
        let q = (a + b) * c;
        let r = relu(relu(p) + q * q);
        let loss = sum(r);
    };
    assert_eq!(m.graph.n_inputs(), 3);
    assert_eq!(m.graph.len(), 3 + 2 + 2 + 4 + 1);
    let mut x = m.zero_inputs();
    x.a.fill(1.0);
    x.b.fill(2.0);
    x.c.fill(3.0);
    let cert = m.certify(&x, m.vars.loss).unwrap();
    assert_eq!(cert.values.get(m.vars.p)[0], 7.0);
    assert_eq!(cert.values.get(m.vars.q)[1], 9.0);
    assert_eq!(cert.values.get(m.vars.loss)[()], 2.0 * (7.0 + 81.0));
    assert!(cert.grad_tol(m.vars.a).abs >= 0.0);
}
