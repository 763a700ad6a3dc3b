//! `model NAME;`: the macro in item position defines a nameable model type, stored in a struct
//! field and returned from a function; every model implements `scale_graph::Model`.
use scale_graph::{Model, Rank0, Runtime, Var, scale_graph};

scale_graph! {
    model Mlp;
    input x: [3];
    input w: [2, 3];
    let h = relu(matvec(w, x));
    let loss = sum(h * h);
}

scale_graph! {
    pub model Layer;
    runtime = R;
    input x: [N];
    let loss = sum(x * x);
}

/// A model built once and kept.
struct Trainer {
    model: Mlp,
    steps: usize,
}

fn build() -> Mlp {
    Mlp::new()
}

/// Generic over any model: certify and name the rows.
fn row_names<M: Model>(m: &M, inputs: &M::Inputs, loss: Var<Rank0, M::Brand>) -> Vec<String> {
    let cert = m.certify(inputs, loss).unwrap();
    m.report(&cert).rows.into_iter().map(|r| r.name).collect()
}

fn generic_layer<R: Runtime, const N: usize>() -> Layer<R, N> {
    Layer::new()
}

#[test]
fn compiles_and_runs() {
    let t = Trainer {
        model: build(),
        steps: 0,
    };
    let mut inputs: MlpInputs = t.model.zero_inputs();
    inputs.x.fill(1.0);
    inputs.w.fill(0.5);
    let loss: Var<Rank0, MlpBrand> = t.model.vars.loss;
    let cert = t.model.certify(&inputs, loss).unwrap();
    assert_eq!(cert.values.get(t.model.vars.h).to_vec(), vec![1.5, 1.5]);
    let report = t.model.report(&cert);
    assert!(report.rows.iter().any(|r| r.name == "matvec(w, x)"));
    assert!(row_names(&t.model, &inputs, loss).contains(&"h".to_owned()));
    let _vars: &MlpVars = Model::vars(&t.model);
    assert_eq!(t.steps, 0);

    let l = generic_layer::<f64, 4>();
    let mut li = l.zero_inputs();
    li.x.fill(0.5);
    assert_eq!(l.names(), ["x", "mul(x, x)", "loss"]);
    assert!(row_names(&l, &li, l.vars.loss).contains(&"mul(x, x)".to_owned()));
}
