//! The MLP example built by hand with the typed graph API (`nil` / `snoc`), without the macro;
//! `examples/mlp.rs` builds the same graph with `scale_graph!`.
//!
//! It prints the same report as `mlp` (eps, B, atol, rtol, observed error against the interval
//! spec) and exits non-zero on a violation.
//!
//! Run: `cargo run --release --example mlp_by_hand`
#![forbid(unsafe_code)]

use ndarray::IxDyn;
use scale_graph::random::{gaussian, rng};
use scale_graph::report::Report;
use scale_graph::{Interval, Rank1, Rank2, RevGraphScale, TList, ctx, ops};
use std::process::ExitCode;

type Gamma = ctx![
    Rank1<784>,
    Rank2<128, 784>,
    Rank1<128>,
    Rank2<10, 128>,
    Rank1<10>,
];

/// The main example's MLP built with the typed API, certified and checked against the interval
/// spec.
#[derive(clap::Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 every bound holds; 1 a bound is violated; 2 usage error."
)]
struct Cli {}

fn main() -> ExitCode {
    // No flags: `--help` and `--version`, and a usage error (2) for anything else.
    <Cli as clap::Parser>::parse();
    let (g, (x, w1, b1, w2, b2)) =
        RevGraphScale::<f32, Gamma, ctx![], _>::nil(scale_graph::brand!());
    let (g, z1) = g.snoc(ops::matvec(w1, x));
    let (g, a1) = g.snoc(ops::add(z1, b1));
    let (g, h) = g.snoc(ops::relu(a1));
    let (g, z2) = g.snoc(ops::matvec(w2, h));
    let (g, o) = g.snoc(ops::add(z2, b2));
    let (g, sq) = g.snoc(ops::mul(o, o));
    let (g, loss) = g.snoc(ops::sum(sq));

    let mut rng = rng(7);
    let mut gaussian = |dims: &[usize], std| gaussian::<f32, _>(&mut rng, IxDyn(dims), std);
    let inputs = vec![
        gaussian(&[784], 1.0),
        gaussian(&[128, 784], (1.0f64 / 784.0).sqrt()),
        gaussian(&[128], 0.1),
        gaussian(&[10, 128], (1.0f64 / 128.0).sqrt()),
        gaussian(&[10], 0.1),
    ];
    let xr = TList::<f32, Gamma>::from_arrays(inputs).expect("shapes match Γ");

    let (eps_in, b_in) = g.exact_inputs(&xr);
    let (seed, eps_seed, b_seed) = g.loss_seed(loss);
    let xs = xr.to_spec::<Interval>();
    let cert = g.certify(xr, &eps_in, &b_in, &seed, &eps_seed, &b_seed);
    let spec_values = g.eval_spec(&xs);
    let spec_grads = g.backprop_spec(&xs, &seed.to_spec());

    let names = [
        "x", "w1", "b1", "w2", "b2", "w1·x", "+b1", "h", "w2·h", "o", "o·o", "loss",
    ];
    let mut report = Report::new(&g, &cert, &names).expect("one name per entry");
    report.observe(&cert, &spec_values, &spec_grads);
    println!(
        "784-128-10 relu MLP (typed API), loss = sum(o²)\n{}",
        report.to_table()
    );
    let _ = (x, w1, b1, w2, b2, h, o);
    if report.violations() == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{} bound(s) VIOLATED", report.violations());
        ExitCode::FAILURE
    }
}
