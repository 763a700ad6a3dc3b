//! The main example: a 784-128-10 relu MLP written with `scale_graph!`, inputs passed and
//! values read by name. (`examples/mlp_by_hand.rs` builds the same graph with the typed API.)
//!
//! It runs the certified pass (values and gradients with eps, B and the derived atol/rtol),
//! evaluates the rigorous interval spec, prints the report table (observed error and how far
//! each bound is above it), writes `target/reports/mlp.json` and `target/reports/mlp.dot`, and
//! exits non-zero if any bound is violated.
//!
//! Run: `cargo run --release --example mlp`
#![forbid(unsafe_code)]

use ndarray::{Array, Dimension};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scale_graph::{Interval, scale_graph};
use std::path::Path;
use std::process::ExitCode;

fn gaussian<D: Dimension>(rng: &mut StdRng, dim: D, std: f64) -> Array<f32, D> {
    Array::from_shape_fn(dim, |_| {
        // Box–Muller: enough for example data.
        let (u1, u2): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random_range(0.0..1.0));
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * std) as f32
    })
}

fn main() -> ExitCode {
    let m = scale_graph! {
        input x: [784];
        input w1: [128, 784];
        input b1: [128];
        input w2: [10, 128];
        input b2: [10];
        let h = relu(matvec(w1, x) + b1);
        let o = matvec(w2, h) + b2;
        let loss = sum(o * o);
    };

    // Inputs by name: fixed-rank ndarray fields, one per `input`.
    let mut rng = StdRng::seed_from_u64(7);
    let mut inputs = m.zero_inputs();
    inputs.x = gaussian(&mut rng, inputs.x.raw_dim(), 1.0);
    inputs.w1 = gaussian(&mut rng, inputs.w1.raw_dim(), (1.0f64 / 784.0).sqrt());
    inputs.b1 = gaussian(&mut rng, inputs.b1.raw_dim(), 0.1);
    inputs.w2 = gaussian(&mut rng, inputs.w2.raw_dim(), (1.0f64 / 128.0).sqrt());
    inputs.b2 = gaussian(&mut rng, inputs.b2.raw_dim(), 0.1);

    // The certified pass: every value and every gradient, with eps and B.
    let cert = m.certify(&inputs, m.vars.loss).expect("shapes match Γ");
    println!(
        "dL/dw1: atol {:.3e}, rtol {:.3e}; loss = {} ± {:.3e}\n",
        cert.grad_tol(m.vars.w1).abs,
        cert.grad_tol(m.vars.w1).rel,
        cert.values.get(m.vars.loss)[()],
        cert.eps.get(m.vars.loss).get()
    );

    // The rigorous spec: interval enclosures of the exact real values and gradients.
    let xs = inputs
        .to_tlist()
        .expect("shapes match Γ")
        .to_spec::<Interval>();
    let (seed, _, _) = m.graph.loss_seed(m.vars.loss);
    let spec_values = m.graph.eval_spec(&xs);
    let spec_grads = m.graph.backprop_spec(&xs, &seed.to_spec());

    // Every row named by the model: inputs and lets by name, nested nodes by their expression.
    let mut report = m.report(&cert);
    report.observe(&cert, &spec_values, &spec_grads);
    println!("784-128-10 relu MLP, loss = sum(o²)\n{}", report.to_table());

    let dir = Path::new("target/reports");
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(dir.join("mlp.json"), report.to_json()))
        .and_then(|()| report.write_dot(&dir.join("mlp.dot")));
    match written {
        Ok(Ok(svg)) => println!("wrote target/reports/mlp.json and {}", svg.display()),
        Ok(Err(hint)) => println!("wrote target/reports/mlp.json; {hint}"),
        Err(e) => eprintln!("could not write the reports: {e}"),
    }

    if report.violations() == 0 {
        println!(
            "all {} values and {} gradients within their bounds (interval spec)",
            m.names().len(),
            m.graph.n_inputs()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("{} bound(s) VIOLATED", report.violations());
        ExitCode::FAILURE
    }
}
