//! `runtime = R;` with `R` a type parameter of the enclosing function (with const generic
//! dimensions beside it), and a runtime given by path.
use scale_graph::{Runtime, scale_graph};

fn loss_of<R: Runtime, const N: usize>(v: f64) -> f64 {
    let m = scale_graph! {
        runtime = R;
        input x: [N];
        input w: [N, 2];
        let loss = sum(relu(x) * x) + sum(w);
    };
    let mut inputs = m.zero_inputs();
    inputs.x.fill(R::from_f64(v));
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    cert.values.get(m.vars.loss)[()].to_spec()
}

#[test]
fn compiles_and_runs() {
    assert_eq!(loss_of::<f32, 3>(0.5), 0.75);
    assert_eq!(loss_of::<f64, 2>(0.5), 0.5);
    assert_eq!(loss_of::<half::bf16, 4>(0.5), 1.0);

    let m = scale_graph! { runtime = half::f16; input x: [2]; let loss = sum(x); };
    assert_eq!(m.graph.len(), 2);
}
