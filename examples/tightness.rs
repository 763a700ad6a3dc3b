//! Tightness report: how far each op's error bound is above the error actually observed.
//!
//! For every op (random Gaussian data, `f32` runtime, exact inputs so only the op's own rounding
//! counts) and for a small MLP graph, it prints bound ÷ observed (median, p90, max) for the forward
//! value and for the VJP, where observed = max over entries of |runtime − midpoint of the interval
//! spec enclosure| (the enclosure is ~10⁹× narrower than f32 errors). It also compares the
//! order-free and a-posteriori dot-product modes, writes `docs/tightness.svg` (log–log scatter of
//! bound vs observed, one colour per op) and prints the table in Markdown for `docs/tightness.md`.
//!
//! Run: `cargo run --release --example tightness`
#![forbid(unsafe_code)]

use ndarray::{ArrayD, IxDyn};
use rand::SeedableRng;
use rand::rngs::StdRng;
use scale_graph::config::{self, Config, DotBound};
use scale_graph::{
    Bound, Interval, Rank1, Rank2, Rank3, Rank4, RevGraphScale, RevNodeScale, Shape, SpecScalar,
    TList, Var, ctx, ops,
};
use std::fmt::Write as _;

struct Br;

fn v1<S: Shape>() -> Var<S, Br> {
    RevGraphScale::<f32, ctx![S], ctx![], Br>::nil(Br).1.0
}
fn v2<S1: Shape, S2: Shape>() -> (Var<S1, Br>, Var<S2, Br>) {
    RevGraphScale::<f32, ctx![S1, S2], ctx![], Br>::nil(Br).1
}
/// Three handles of one context, for three-operand ops (`layer_norm`).
fn v3<S1: Shape, S2: Shape, S3: Shape>() -> (Var<S1, Br>, Var<S2, Br>, Var<S3, Br>) {
    RevGraphScale::<f32, ctx![S1, S2, S3], ctx![], Br>::nil(Br).1
}

fn gauss(rng: &mut StdRng, dims: &[usize], std: f64, shift: f64) -> ArrayD<f32> {
    scale_graph::random::gaussian::<f64, _>(rng, IxDyn(dims), std).mapv(|v| (v + shift) as f32)
}

fn observed(spec: &ArrayD<Interval>, rt: &ArrayD<f32>) -> f64 {
    spec.iter()
        .zip(rt)
        .map(|(s, &r)| (s.mid() - r as f64).abs())
        .fold(0.0, f64::max)
}

/// (bound, observed) pairs for the forward value and for every VJP output.
struct Samples {
    fwd: Vec<(f64, f64)>,
    vjp: Vec<(f64, f64)>,
}

fn measure<N: RevNodeScale<f32>>(
    node: &N,
    ins: &[(&[usize], f64, f64)],
    out: &[usize],
    trials: usize,
    rng: &mut StdRng,
) -> Samples {
    let mut s = Samples {
        fwd: vec![],
        vjp: vec![],
    };
    for _ in 0..trials {
        let xr: Vec<ArrayD<f32>> = ins
            .iter()
            .map(|&(d, std, shift)| gauss(rng, d, std, shift))
            .collect();
        let xs: Vec<ArrayD<Interval>> = xr
            .iter()
            .map(|a| a.mapv(|v| Interval::from_f64(v as f64)))
            .collect();
        let eps = vec![Bound::ZERO; ins.len()];
        let yr = node.forward_runtime(&xr);
        let ys = node.forward_spec(&xs);
        s.fwd
            .push((node.fwd_eps(&eps, &xr, &yr).get(), observed(&ys, &yr)));
        let dr = gauss(rng, out, 1.0, 0.0);
        let ds = dr.mapv(|v| Interval::from_f64(v as f64));
        let vr = node.vjp_runtime(&xr, &dr);
        let vs = node.vjp_spec(&xs, &ds);
        let ve = node.vjp_eps(&eps, &xr, Bound::ZERO, &dr);
        for i in 0..vr.len() {
            s.vjp.push((ve[i].get(), observed(&vs[i], &vr[i])));
        }
    }
    s
}

/// (median, p90, max) of bound/observed over pairs with observed > 0, and the count of exact ones.
fn stats(p: &[(f64, f64)]) -> Option<(f64, f64, f64, usize)> {
    let mut r: Vec<f64> = p
        .iter()
        .filter(|(_, o)| *o > 0.0)
        .map(|(b, o)| b / o)
        .collect();
    let exact = p.len() - r.len();
    if r.is_empty() {
        return None;
    }
    r.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |f: f64| r[((r.len() - 1) as f64 * f).round() as usize];
    Some((q(0.5), q(0.9), r[r.len() - 1], exact))
}

fn fmt_stats(p: &[(f64, f64)]) -> String {
    match stats(p) {
        Some((m, p9, mx, ex)) => format!("{m:>8.1} | {p9:>8.1} | {mx:>9.1} | {ex:>3}"),
        None => format!("{:>8} | {:>8} | {:>9} | {:>3}", "exact", "-", "-", p.len()),
    }
}

const COLOURS: &[&str] = &[
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363", "#000000",
];

fn svg(series: &[(String, Vec<(f64, f64)>)]) -> String {
    let (w, h, m) = (900.0, 640.0, 60.0);
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|(_, p)| p.iter().copied())
        .filter(|&(b, o)| b > 0.0 && o > 0.0 && b.is_finite())
        .collect();
    let lx = |v: f64| v.log10();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(b, o) in &pts {
        x0 = x0.min(lx(o));
        x1 = x1.max(lx(o));
        y0 = y0.min(lx(b));
        y1 = y1.max(lx(b));
    }
    let (lo, hi) = (x0.min(y0).floor(), x1.max(y1).ceil());
    let px = |v: f64| m + (lx(v) - lo) / (hi - lo) * (w - 2.0 * m - 160.0);
    let py = |v: f64| h - m - (lx(v) - lo) / (hi - lo) * (h - 2.0 * m);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for e in (lo as i32)..=(hi as i32) {
        let v = 10f64.powi(e);
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="middle">1e{e}</text><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">1e{e}</text>"##,
            px(v),
            py(10f64.powf(lo)),
            px(v),
            py(10f64.powf(hi)),
            px(v),
            h - m + 14.0,
            px(10f64.powf(lo)),
            py(v),
            px(10f64.powf(hi)),
            py(v),
            m - 4.0,
            py(v) + 4.0
        );
    }
    for (k, (label, d)) in [(1.0, "bound = observed"), (1e3, "1e3×")]
        .iter()
        .enumerate()
    {
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}">{d}</text>"##,
            px(10f64.powf(lo)),
            py(10f64.powf(lo) * label),
            px(10f64.powf(hi) / label),
            py(10f64.powf(hi)),
            if k == 0 { "#444" } else { "#aaa" },
            px(10f64.powf(hi) / label) - 60.0,
            py(10f64.powf(hi)) + 12.0
        );
    }
    for (i, (name, p)) in series.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        for &(b, o) in p {
            if b > 0.0 && o > 0.0 && b.is_finite() {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.2" fill="{c}" fill-opacity="0.6"/>"#,
                    px(o),
                    py(b)
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="9" height="9" fill="{c}"/><text x="{:.1}" y="{:.1}">{name}</text>"#,
            w - m - 140.0,
            m + 14.0 * i as f64,
            w - m - 126.0,
            m + 14.0 * i as f64 + 9.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">observed error (f32 vs interval spec)</text><text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">error bound</text></svg>"#,
        (w - 160.0) / 2.0,
        h - 20.0,
        h / 2.0,
        h / 2.0
    );
    s
}

/// Bound ÷ observed error per op and for a small MLP (markdown for `docs/tightness.md`), and the
/// scatter plot `docs/tightness.svg`.
#[derive(clap::Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 done; 1 docs/tightness.svg could not be written; 2 usage error."
)]
struct Cli {}

fn main() -> std::process::ExitCode {
    // No flags: `--help` and `--version`, and a usage error (2) for anything else.
    <Cli as clap::Parser>::parse();
    let mut rng = StdRng::seed_from_u64(2024);
    let mut rows: Vec<(String, Samples)> = Vec::new();
    let t = 60;
    macro_rules! op {
        ($name:expr, $node:expr, $ins:expr, $out:expr) => {
            rows.push(($name.to_string(), measure(&$node, $ins, $out, t, &mut rng)));
        };
    }
    let e: &[usize] = &[16, 16];
    let (a, b) = v2::<Rank2<16, 16>, Rank2<16, 16>>();
    let x = v1::<Rank2<16, 16>>();
    op!("add", ops::add(a, b), &[(e, 1.0, 0.0), (e, 1.0, 0.0)], e);
    op!("sub", ops::sub(a, b), &[(e, 1.0, 0.0), (e, 1.0, 0.0)], e);
    op!("mul", ops::mul(a, b), &[(e, 1.0, 0.0), (e, 1.0, 0.0)], e);
    op!(
        "scale(x, 0.1)",
        ops::scale(x, 0.1).unwrap(),
        &[(e, 1.0, 0.0)],
        e
    );
    op!(
        "leaky_relu(x, 0.01)",
        ops::leaky_relu(x, 0.01).unwrap(),
        &[(e, 1.0, 0.0)],
        e
    );
    op!("tanh", ops::tanh(x), &[(e, 1.0, 0.0)], e);
    op!("sigmoid", ops::sigmoid(x), &[(e, 1.0, 0.0)], e);
    op!("exp", ops::exp(x), &[(e, 1.0, 0.0)], e);
    op!("log", ops::log(x), &[(e, 0.2, 1.0)], e);
    op!("softplus", ops::softplus(x), &[(e, 1.0, 0.0)], e);
    op!("square", ops::square(x), &[(e, 1.0, 0.0)], e);
    let (d1, d2) = v2::<Rank1<256>, Rank1<256>>();
    let k: &[usize] = &[256];
    op!(
        "dot n=256",
        ops::dot(d1, d2),
        &[(k, 1.0, 0.0), (k, 1.0, 0.0)],
        &[]
    );
    let (w, xv) = v2::<Rank2<64, 256>, Rank1<256>>();
    op!(
        "matvec 64×256",
        ops::matvec(w, xv),
        &[(&[64, 256], 1.0, 0.0), (k, 1.0, 0.0)],
        &[64]
    );
    let (ma, mb) = v2::<Rank2<32, 64>, Rank2<64, 32>>();
    op!(
        "matmul 32×64×32",
        ops::matmul(ma, mb),
        &[(&[32, 64], 1.0, 0.0), (&[64, 32], 1.0, 0.0)],
        &[32, 32]
    );
    let (h, bias) = v2::<Rank2<16, 16>, Rank1<16>>();
    op!(
        "add_bias",
        ops::add_bias(h, bias),
        &[(e, 1.0, 0.0), (&[16], 1.0, 0.0)],
        e
    );
    let s = v1::<Rank1<1024>>();
    op!("sum n=1024", ops::sum(s), &[(&[1024], 1.0, 0.0)], &[]);
    op!("mean n=1024", ops::mean(s), &[(&[1024], 1.0, 0.0)], &[]);
    op!("sum_rows 16×16", ops::sum_rows(x), &[(e, 1.0, 0.0)], &[16]);
    let z = v1::<Rank2<8, 32>>();
    let zd: &[usize] = &[8, 32];
    op!("softmax 8×32", ops::softmax(z), &[(zd, 2.0, 0.0)], zd);
    op!(
        "log_softmax 8×32",
        ops::log_softmax(z),
        &[(zd, 2.0, 0.0)],
        zd
    );
    let (p, q) = v2::<Rank1<256>, Rank1<256>>();
    op!(
        "mse n=256",
        ops::mse(p, q),
        &[(k, 1.0, 0.0), (k, 1.0, 0.0)],
        &[]
    );
    let (lz, lt) = v2::<Rank2<8, 10>, Rank2<8, 10>>();
    op!(
        "cross_entropy 8×10",
        ops::cross_entropy(lz, lt),
        &[(&[8, 10], 2.0, 0.0), (&[8, 10], 0.3, 0.5)],
        &[]
    );
    // Axis reductions (SPEC §9b): a [4, 256, 8] tensor over its long middle axis.
    let t3 = v1::<Rank3<4, 256, 8>>();
    let td: &[usize] = &[4, 256, 8];
    op!(
        "sum(x, 1) 4×256×8",
        ops::sum_axis(t3, ops::Idx::<1>),
        &[(td, 1.0, 0.0)],
        &[4, 8]
    );
    op!(
        "mean(x, 1) 4×256×8",
        ops::mean_axis(t3, ops::Idx::<1>),
        &[(td, 1.0, 0.0)],
        &[4, 8]
    );
    // Causal softmax (SPEC §9b): 4 heads of 32 × 32 scores.
    let sc = v1::<Rank3<4, 32, 32>>();
    let scd: &[usize] = &[4, 32, 32];
    op!(
        "softmax_causal 4×32×32",
        ops::softmax_causal(sc),
        &[(scd, 2.0, 0.0)],
        scd
    );

    // Elementwise ops of SPEC §9b: divisors and square-root arguments away from 0 (a divisor
    // within its error of 0 has a +∞ bound, nothing to measure).
    op!("div", ops::div(a, b), &[(e, 1.0, 0.0), (e, 0.5, 4.0)], e);
    op!("sqrt", ops::sqrt(x), &[(e, 0.2, 1.0)], e);
    op!("rsqrt", ops::rsqrt(x), &[(e, 0.2, 1.0)], e);
    op!("gelu", ops::gelu(x), &[(e, 1.0, 0.0)], e);
    op!("gelu_tanh", ops::gelu_tanh(x), &[(e, 1.0, 0.0)], e);
    let (nx, ng, nb) = v3::<Rank2<8, 64>, Rank1<64>, Rank1<64>>();
    let nd: &[usize] = &[8, 64];
    op!(
        "layer_norm 8×64",
        ops::layer_norm(nx, ng, nb, 1e-5).unwrap(),
        &[(nd, 1.0, 0.5), (&[64], 0.2, 1.0), (&[64], 0.1, 0.0)],
        nd
    );
    op!(
        "rms_norm 8×64",
        ops::rms_norm(nx, ng, 1e-6).unwrap(),
        &[(nd, 1.0, 0.5), (&[64], 0.2, 1.0)],
        nd
    );

    // Batched products (SPEC §9b): 4 heads of 32 × 8 by 8 × 32 (attention scores), and a
    // [2, 16, 32] sequence through a shared 32 × 32 weight.
    let (bq, bk) = v2::<Rank3<4, 32, 8>, Rank3<4, 8, 32>>();
    op!(
        "bmm 4×32×8×32",
        ops::bmm(bq, bk),
        &[(&[4, 32, 8], 1.0, 0.0), (&[4, 8, 32], 1.0, 0.0)],
        &[4, 32, 32]
    );
    let (sx, sw) = v2::<Rank3<2, 16, 32>, Rank2<32, 32>>();
    op!(
        "matmul 2×16×32 · 32×32",
        ops::matmul(sx, sw),
        &[(&[2, 16, 32], 1.0, 0.0), (&[32, 32], 1.0, 0.0)],
        &[2, 16, 32]
    );
    // Attention (SPEC §9b): 4 heads of 16 queries, head dimension 8.
    let (aq, ak, av) = v3::<Rank3<4, 16, 8>, Rank3<4, 16, 8>, Rank3<4, 16, 8>>();
    let ad: &[usize] = &[4, 16, 8];
    op!(
        "attention 4×16×8",
        ops::attention(aq, ak, av),
        &[(ad, 1.0, 0.0), (ad, 1.0, 0.0), (ad, 1.0, 0.0)],
        ad
    );
    op!(
        "attention_causal 4×16×8",
        ops::attention_causal(aq, ak, av),
        &[(ad, 1.0, 0.0), (ad, 1.0, 0.0), (ad, 1.0, 0.0)],
        ad
    );

    // Convolutions (SPEC §9b): the output shape is named (stable Rust cannot compute it).
    let (cx, cw) = v2::<Rank4<2, 4, 12, 12>, Rank4<8, 4, 3, 3>>();
    op!(
        "conv2d 2×4×12×12, 8×4×3×3, p1",
        ops::conv2d::<_, _, Rank4<2, 8, 12, 12>, _, 1, 1>(cx, cw, ops::Idx, ops::Idx),
        &[(&[2, 4, 12, 12], 1.0, 0.0), (&[8, 4, 3, 3], 0.3, 0.0)],
        &[2, 8, 12, 12]
    );
    let (lx, lw) = v2::<Rank3<4, 8, 64>, Rank3<16, 8, 5>>();
    op!(
        "conv1d 4×8×64, 16×8×5, s2 p2",
        ops::conv1d::<_, _, Rank3<4, 16, 32>, _, 2, 2>(lx, lw, ops::Idx, ops::Idx),
        &[(&[4, 8, 64], 1.0, 0.0), (&[16, 8, 5], 0.3, 0.0)],
        &[4, 16, 32]
    );

    // Poolings (SPEC §9b): the output shape is named, as for the convolutions.
    let px = v1::<Rank4<2, 8, 12, 12>>();
    op!(
        "max_pool2d 2×8×12×12, k2",
        ops::max_pool2d::<_, Rank4<2, 8, 6, 6>, _, 2>(px, ops::Idx),
        &[(&[2, 8, 12, 12], 1.0, 0.0)],
        &[2, 8, 6, 6]
    );
    let px = v1::<Rank4<2, 8, 12, 12>>();
    op!(
        "avg_pool2d 2×8×12×12, k3",
        ops::avg_pool2d::<_, Rank4<2, 8, 4, 4>, _, 3>(px, ops::Idx),
        &[(&[2, 8, 12, 12], 1.0, 0.0)],
        &[2, 8, 4, 4]
    );

    // Order-free reference point for dot products.
    let order_free = Config::default().with_dot_bound(DotBound::OrderFree);
    let (of, of_mv) = config::scoped(order_free, || {
        let of = measure(
            &ops::dot(d1, d2),
            &[(k, 1.0, 0.0), (k, 1.0, 0.0)],
            &[],
            200,
            &mut rng,
        );
        let of_mv = measure(
            &ops::matvec(w, xv),
            &[(&[64, 256], 1.0, 0.0), (k, 1.0, 0.0)],
            &[64],
            t,
            &mut rng,
        );
        (of, of_mv)
    });

    // The MLP graph: every value and gradient, bound vs observed.
    type Gamma = ctx![
        Rank1<64>,
        Rank2<32, 64>,
        Rank1<32>,
        Rank2<10, 32>,
        Rank1<10>,
    ];
    let mut mlp = Samples {
        fwd: vec![],
        vjp: vec![],
    };
    for _ in 0..20 {
        let (g, (x0, w1, b1, w2, b2)) =
            RevGraphScale::<f32, Gamma, ctx![], _>::nil(scale_graph::brand!());
        let (g, z1) = g.snoc(ops::matvec(w1, x0));
        let (g, a1) = g.snoc(ops::add(z1, b1));
        let (g, h1) = g.snoc(ops::tanh(a1));
        let (g, z2) = g.snoc(ops::matvec(w2, h1));
        let (g, o) = g.snoc(ops::add(z2, b2));
        let (g, sm) = g.snoc(ops::log_softmax(o));
        let (g, loss) = g.snoc(ops::sum(sm));
        let xr = TList::<f32, Gamma>::from_arrays(vec![
            gauss(&mut rng, &[64], 1.0, 0.0),
            gauss(&mut rng, &[32, 64], 0.125, 0.0),
            gauss(&mut rng, &[32], 0.1, 0.0),
            gauss(&mut rng, &[10, 32], 0.18, 0.0),
            gauss(&mut rng, &[10], 0.1, 0.0),
        ])
        .expect("shapes");
        let (eps_in, b_in) = g.exact_inputs(&xr);
        let (seed, eps_seed, b_seed) = g.loss_seed(loss);
        let xs = xr.to_spec::<Interval>();
        let cert = g.certify(xr, &eps_in, &b_in, &seed, &eps_seed, &b_seed);
        let sv = g.eval_spec(&xs);
        let sg = g.backprop_spec(&xs, &seed.to_spec());
        for (i, (s, r)) in sv
            .as_slice()
            .iter()
            .zip(cert.values.as_slice())
            .enumerate()
            .skip(5)
        {
            mlp.fwd.push((cert.eps.as_slice()[i].get(), observed(s, r)));
        }
        for (i, (s, r)) in sg.as_slice().iter().zip(cert.grads.as_slice()).enumerate() {
            mlp.vjp
                .push((cert.grad_eps.as_slice()[i].get(), observed(s, r)));
        }
    }

    // `expand` (issue #12): the forward copies (exact); the VJP sums 256 cotangents per entry.
    // Measured last, so the random data of every row above stays as it was.
    let ex = v1::<Rank2<8, 64>>();
    op!(
        "expand 8×64, axis 1, n 256",
        ops::expand(ex, ops::Idx::<1>, ops::Idx::<256>),
        &[(&[8, 64], 1.0, 0.0)],
        &[8, 256, 64]
    );

    let mut md = String::new();
    let _ = writeln!(
        md,
        "| op (f32, Gaussian data) | part | median | p90 | max | exact |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
    let mut series = Vec::new();
    for (name, s) in rows
        .iter()
        .chain([("MLP 64-32-10 (tanh, log_softmax)".to_string(), mlp)].iter())
    {
        let _ = writeln!(md, "| {name} | value | {} |", fmt_stats(&s.fwd));
        let _ = writeln!(md, "| {name} | VJP | {} |", fmt_stats(&s.vjp));
        let mut all = s.fwd.clone();
        all.extend(&s.vjp);
        series.push((name.clone(), all));
    }
    let _ = writeln!(
        md,
        "| dot n=256, **order-free** γₙ mode | value | {} |",
        fmt_stats(&of.fwd)
    );
    let _ = writeln!(
        md,
        "| matvec 64×256, **order-free** γₙ mode | value | {} |",
        fmt_stats(&of_mv.fwd)
    );
    println!(
        "bound ÷ observed error (observed = max |f32 − spec midpoint| per tensor; exact = observed 0)\n"
    );
    println!("{md}");
    let written = std::fs::create_dir_all("docs")
        .and_then(|()| std::fs::write("docs/tightness.svg", svg(&series)));
    match written {
        Ok(()) => {
            println!("wrote docs/tightness.svg");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("docs/tightness.svg: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
