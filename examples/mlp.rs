//! The main example: a 784-128-10 relu MLP, written with `scale_graph!` (inputs passed and
//! values read by name). `examples/mlp_by_hand.rs` builds the same graph with the typed API.
//!
//! For every value and every gradient it prints eps (error bound), B (scale bound) and the derived
//! atol/rtol, then evaluates the rigorous interval spec and checks that no bound is violated,
//! printing how far the bound is above the observed error. Exits non-zero on a violation.
//!
//! Run: `cargo run --release --example mlp`

use ndarray::{Array, ArrayD, Dimension};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scale_graph::{ApproxTol, Bound, Interval, check, scale_graph};

fn gaussian<D: Dimension>(rng: &mut StdRng, dim: D, std: f64) -> Array<f32, D> {
    Array::from_shape_fn(dim, |_| {
        // Box–Muller: enough for example data.
        let (u1, u2): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random_range(0.0..1.0));
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * std) as f32
    })
}

fn observed(spec: &ArrayD<Interval>, rt: &ArrayD<f32>) -> f64 {
    spec.iter()
        .zip(rt)
        .map(|(s, &r)| (s.mid() - r as f64).abs())
        .fold(0.0, f64::max)
}

fn main() {
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
    let g = &m.graph;

    let mut rng = StdRng::seed_from_u64(7);
    let mut inputs = m.zero_inputs();
    inputs.x = gaussian(&mut rng, inputs.x.raw_dim(), 1.0);
    inputs.w1 = gaussian(&mut rng, inputs.w1.raw_dim(), (1.0f64 / 784.0).sqrt());
    inputs.b1 = gaussian(&mut rng, inputs.b1.raw_dim(), 0.1);
    inputs.w2 = gaussian(&mut rng, inputs.w2.raw_dim(), (1.0f64 / 128.0).sqrt());
    inputs.b2 = gaussian(&mut rng, inputs.b2.raw_dim(), 0.1);
    let xr = inputs.to_tlist().expect("shapes match Γ");

    let (eps_in, b_in) = g.exact_inputs(&xr);
    let (seed, eps_seed, b_seed) = g.loss_seed(m.vars.loss);
    let cert = g.certify(&xr, &eps_in, &b_in, &seed, &eps_seed, &b_seed);

    let xs = xr.to_spec::<Interval>();
    let spec_vals = g.eval_spec(&xs);
    let spec_grads = g.backprop_spec(&xs, &seed.to_spec());

    println!("784-128-10 relu MLP, f32 runtime, loss = sum(o²); bounds vs the interval spec\n");
    println!(
        "{:<14} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "value", "eps", "B", "atol", "rtol", "observed", "bound/obs"
    );
    let row = |name: &str, e: Bound, b: Bound, s: &ArrayD<Interval>, r: &ArrayD<f32>| {
        let t = ApproxTol::from_eps_scale(e, b);
        let obs = observed(s, r);
        let ratio = if obs > 0.0 {
            format!("{:.1}", e.get() / obs)
        } else {
            "exact".into()
        };
        println!(
            "{name:<14} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3e} {:>9}",
            e.get(),
            b.get(),
            t.abs,
            t.rel,
            obs,
            ratio
        );
    };
    let names = [
        "x", "w1", "b1", "w2", "b2", "w1·x", "+b1", "relu", "w2·h", "+b2", "o²", "loss",
    ];
    for (i, name) in names.iter().enumerate() {
        let (s, r) = (&spec_vals.as_slice()[i], &cert.values.as_slice()[i]);
        row(
            name,
            cert.eps.as_slice()[i],
            cert.scales.as_slice()[i],
            s,
            r,
        );
    }
    println!();
    for (i, name) in ["dL/dx", "dL/dw1", "dL/db1", "dL/dw2", "dL/db2"]
        .iter()
        .enumerate()
    {
        let (s, r) = (&spec_grads.as_slice()[i], &cert.grads.as_slice()[i]);
        row(
            name,
            cert.grad_eps.as_slice()[i],
            cert.grad_scales.as_slice()[i],
            s,
            r,
        );
    }

    let spec_checks = [
        check::approx_ctx(&spec_vals, &cert.values, &cert.eps),
        check::scale_ctx(&spec_vals, &cert.values, &cert.scales),
        check::approx_ctx(&spec_grads, &cert.grads, &cert.grad_eps),
        check::scale_ctx(&spec_grads, &cert.grads, &cert.grad_scales),
    ];
    let violations: Vec<_> = spec_checks.into_iter().filter_map(Result::err).collect();
    if violations.is_empty() {
        println!(
            "\nall {} values and 5 gradients within their bounds (interval spec)",
            names.len()
        );
    } else {
        for v in &violations {
            eprintln!("VIOLATION: {v}");
        }
        std::process::exit(1);
    }
}
