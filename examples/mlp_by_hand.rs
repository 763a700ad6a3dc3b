//! The MLP example built by hand with the typed graph API (`nil` / `snoc`), without the macro;
//! `examples/mlp.rs` builds the same graph with `scale_graph!`.
//!
//! For every value and every gradient it prints eps (error bound), B (scale bound) and the derived
//! atol/rtol, then evaluates the rigorous interval spec and checks that no bound is violated,
//! printing how far the bound is above the observed error. Exits non-zero on a violation.
//!
//! Run: `cargo run --release --example mlp_by_hand`

use ndarray::{Array, ArrayD, IxDyn};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scale_graph::context::{Nil, Seg};
use scale_graph::{ApproxTol, Bound, Interval, Rank1, Rank2, RevGraphScale, TList, check, ops};

type Gamma = Seg<
    Nil,
    (
        Rank1<784>,
        Rank2<128, 784>,
        Rank1<128>,
        Rank2<10, 128>,
        Rank1<10>,
    ),
>;

fn gaussian(rng: &mut StdRng, dims: &[usize], std: f64) -> ArrayD<f32> {
    Array::from_shape_fn(IxDyn(dims), |_| {
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
    let (g, (x, w1, b1, w2, b2)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_graph::brand!());
    let (g, z1) = g.snoc(ops::matvec(w1, x));
    let (g, a1) = g.snoc(ops::add(z1, b1));
    let (g, h) = g.snoc(ops::relu(a1));
    let (g, z2) = g.snoc(ops::matvec(w2, h));
    let (g, o) = g.snoc(ops::add(z2, b2));
    let (g, sq) = g.snoc(ops::mul(o, o));
    let (g, loss) = g.snoc(ops::sum(sq));

    let mut rng = StdRng::seed_from_u64(7);
    let inputs = vec![
        gaussian(&mut rng, &[784], 1.0),
        gaussian(&mut rng, &[128, 784], (1.0f64 / 784.0).sqrt()),
        gaussian(&mut rng, &[128], 0.1),
        gaussian(&mut rng, &[10, 128], (1.0f64 / 128.0).sqrt()),
        gaussian(&mut rng, &[10], 0.1),
    ];
    let xr = TList::<f32, Gamma>::from_arrays(inputs).expect("shapes match Γ");

    let (eps_in, b_in) = g.exact_inputs(&xr);
    let (seed, eps_seed, b_seed) = g.loss_seed(loss);
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
    let _ = (x, w1, b1, w2, b2, h);
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
