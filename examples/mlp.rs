//! The main example: a 784-128-10 relu MLP written with `scale_graph!`, inputs passed and
//! values read by name. (`examples/mlp_by_hand.rs` builds the same graph with the typed API.)
//!
//! It runs the certified pass (values and gradients with eps, B and the derived atol/rtol),
//! evaluates the rigorous interval spec, prints the report table (observed error and how far
//! each bound is above it), then one line per gradient with the any-implementation atol/rtol to
//! use when testing another implementation's result, writes `target/reports/mlp.json` and `target/reports/mlp.dot`, and
//! exits non-zero if any bound is violated.
//!
//! Run: `cargo run --example mlp` (the dev profile is optimised; `--release` works too)
#![forbid(unsafe_code)]

use scale_graph::random::{gaussian, rng};
use scale_graph::{ApproxTol, Config, Interval, scale_graph};
use std::path::Path;
use std::process::ExitCode;

/// The main example: a 784-128-10 relu MLP certified, checked against the interval spec,
/// reported (table, `target/reports/mlp.json` and `.dot`) with the tolerances to test others by.
#[derive(clap::Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 every bound holds; 1 a bound is violated; 2 usage error."
)]
struct Cli {}

fn main() -> ExitCode {
    // No flags: `--help` and `--version`, and a usage error (2) for anything else.
    <Cli as clap::Parser>::parse();
    let mut m = scale_graph! {
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
    // (`m.random_inputs(seed)` fills every input with N(0, 1); the weights get 1/√fan-in here.)
    let mut rng = rng(7);
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

    // To test *another* implementation (PyTorch, a GPU kernel, your own code) against the exact
    // result, use the any-implementation tolerances: they hold for every summation order,
    // blocking, FMA use and libm within the assumed ulps, not only for this library's run.
    m.graph.set_config(Config::any_implementation());
    let any = m.certify(&inputs, m.vars.loss).expect("shapes match Γ");
    let mut any_report = m.report(&any);
    any_report.observe(&any, &spec_values, &spec_grads);
    // The estimate mode (Higham–Mary, not a bound) shows the typical error of such a run.
    m.graph.set_config(Config::estimate());
    let est = m.certify(&inputs, m.vars.loss).expect("shapes match Γ");
    println!(
        "\ntolerances for testing another implementation's gradients: {} (a bound), and {}",
        any.config.mode_name(),
        est.config.mode_name()
    );
    for (i, name) in m.names().iter().take(m.graph.n_inputs()).enumerate() {
        let tol = |c: &scale_graph::Certificate<_, _, _>| {
            ApproxTol::from_eps_scale(c.grad_eps.as_slice()[i], c.grad_scales.as_slice()[i])
        };
        let (a, e) = (tol(&any), tol(&est));
        println!(
            "  d/d{name:<3} any-implementation atol {:.3e} rtol {:.3e}   estimate atol {:.3e} rtol {:.3e}",
            a.abs, a.rel, e.abs, e.rel
        );
    }

    let violations = report.violations() + any_report.violations();
    if violations == 0 {
        println!(
            "all {} values and {} gradients within their bounds (interval spec)",
            m.names().len(),
            m.graph.n_inputs()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("{violations} bound(s) VIOLATED");
        ExitCode::FAILURE
    }
}
