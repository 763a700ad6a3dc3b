//! Benchmarks P1, P2 and memory of issue #6, printed as ratios measured side by side.
//!
//! One forward+backward step of the 784-512-512-10 relu MLP, batch 64, f32, loss = sum(o):
//!
//! * `hand/ndarray`: hand-written ndarray forward+backward (`dot` = matrixmultiply);
//! * `hand/faer`: the same hand-written code with this crate's GEMM kernel;
//! * `graph/runtime`: the graph's runtime-only step (`value_and_grad`, gradients of the weights);
//! * `graph/certified`: values, eps and B forward and backward (`certify_wrt`);
//! * `floor/f32 products`, `floor/f64 products`: the step's eight matrix products alone, on
//!   operands of their shapes and layouts, in `f32` and in `f64` (converted beforehand). They
//!   are what a mode cannot skip: the order-free bound needs one runtime-precision product
//!   `|Â||B̂|` per runtime product, the this-run enclosure one `f64` midpoint product. So
//!   `(runtime + floor) ÷ runtime` is the least that mode can cost with that algorithm.
//!
//! Variants run interleaved (A/B/C/D, repeated), medians compared, so machine noise hits all alike.
//! Memory: each variant runs in a child process that reports its peak RSS (`VmHWM`).
//!
//! Run: `cargo run --release --example bench_mlp [-- ROUNDS]`; `-- --only NAME [TIMES]` loops
//! one variant (for profilers). When PyTorch is installed, `scripts/bench_torch.py` times its
//! step on the same MLP after the rounds (`--no-torch` skips it) and the ratio is printed.
//! Freed memory is kept in the process (`scale_graph::memory::retain_freed_memory`) unless
//! `--no-retain` is given: with glibc's defaults every certified step faults its large tensors
//! in afresh. Exits 1 if the graph's gradients differ from the hand-written
//! step, 2 on a usage error.
#![forbid(unsafe_code)]

#[path = "support/bench.rs"]
mod bench;

use bench::Step;
use clap::Parser;
use ndarray::{Array1, Array2, ArrayD, ArrayView2, Axis};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scale_graph::config::{Config, DotBound};
use scale_graph::{Rank1, Rank2, RevGraphScale, Runtime, TList, ctx, ops};
use std::process::ExitCode;

/// The variants, in the order of the table (and of `--only`'s choices).
const VARIANTS: [&str; 12] = [
    "hand/ndarray",
    "hand/faer",
    "graph/runtime",
    "certified/order-free",
    "certified/a-posteriori",
    "certified/this-run",
    "certified/any-impl",
    "certified/estimate",
    "this-run, 2 threads",
    "any-impl, 2 threads",
    "floor/f32 products",
    "floor/f64 products",
];

/// One forward+backward step of a 784-512-512-10 relu MLP: hand-written, runtime-only and
/// certified in every mode, timed side by side (ratios P1, P2) with the peak memory of each.
#[derive(Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 done; 1 the graph's gradients differ from the hand-written step; \
                  2 usage error (clap prints the usage)."
)]
struct Cli {
    /// Interleaved rounds [default: 30]; with `--only`, how many steps of that variant
    /// [default: 200].
    #[arg(value_name = "ROUNDS", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    count: Option<usize>,
    /// Loop one variant only (for profilers), `ROUNDS` times.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(VARIANTS))]
    only: Option<String>,
    /// Run three steps of one variant and print the peak RSS before and after: the memory
    /// measurement runs itself with this flag, one child process per variant.
    #[arg(long, value_name = "NAME", hide = true, conflicts_with = "only",
          value_parser = clap::builder::PossibleValuesParser::new(VARIANTS))]
    mem: Option<String>,
    #[command(flatten)]
    switches: bench::Switches,
}

const B: usize = 64;
type Gamma = ctx![
    Rank2<B, 784>,
    Rank2<784, 512>,
    Rank1<512>,
    Rank2<512, 512>,
    Rank1<512>,
    Rank2<512, 10>,
    Rank1<10>,
];

struct Params {
    x: Array2<f32>,
    w: [Array2<f32>; 3],
    b: [Array1<f32>; 3],
}

fn params() -> Params {
    let mut rng = StdRng::seed_from_u64(1);
    let mut m = |r: usize, c: usize, s: f32| {
        Array2::from_shape_fn((r, c), |_| rng.random_range(-1.0f32..1.0) * s)
    };
    let x = m(B, 784, 1.0);
    let w = [m(784, 512, 0.05), m(512, 512, 0.05), m(512, 10, 0.05)];
    let b = [0, 1, 2].map(|i| Array1::from_elem([512, 512, 10][i], 0.01f32));
    Params { x, w, b }
}

/// A GEMM on views (transposed operands are strided views, never copies).
type Mm = fn(ArrayView2<'_, f32>, ArrayView2<'_, f32>) -> Array2<f32>;

/// The hand-written step with a pluggable GEMM; returns the weight and bias gradients.
fn hand_step(p: &Params, mm: Mm) -> Vec<ArrayD<f32>> {
    let a1 = mm(p.x.view(), p.w[0].view()) + &p.b[0];
    let h1 = a1.mapv(|v| v.max(0.0));
    let a2 = mm(h1.view(), p.w[1].view()) + &p.b[1];
    let h2 = a2.mapv(|v| v.max(0.0));
    let o = mm(h2.view(), p.w[2].view()) + &p.b[2];
    let d_o = Array2::<f32>::ones(o.raw_dim());
    let dw3 = mm(h2.t(), d_o.view());
    let db3 = d_o.sum_axis(Axis(0));
    let dh2 = mm(d_o.view(), p.w[2].t());
    let da2 = ndarray::Zip::from(&dh2)
        .and(&a2)
        .map_collect(|&d, &a| if a > 0.0 { d } else { 0.0 });
    let dw2 = mm(h1.t(), da2.view());
    let db2 = da2.sum_axis(Axis(0));
    let dh1 = mm(da2.view(), p.w[1].t());
    let da1 = ndarray::Zip::from(&dh1)
        .and(&a1)
        .map_collect(|&d, &a| if a > 0.0 { d } else { 0.0 });
    let dw1 = mm(p.x.t(), da1.view());
    let db1 = da1.sum_axis(Axis(0));
    vec![
        dw1.into_dyn(),
        db1.into_dyn(),
        dw2.into_dyn(),
        db2.into_dyn(),
        dw3.into_dyn(),
        db3.into_dyn(),
    ]
}

fn mm_ndarray(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
    a.dot(&b)
}

fn mm_faer(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
    <f32 as Runtime>::matmul(a, b)
}

/// The operands of the step's eight products, in the element type `T`: the input, the three
/// weights, a hidden activation and a hidden cotangent (`64 × 512`) and the output's cotangent.
struct Operands<T> {
    x: Array2<T>,
    w: [Array2<T>; 3],
    h: Array2<T>,
    d: Array2<T>,
    d_o: Array2<T>,
}

impl<T: Copy + 'static> Operands<T> {
    /// The bench's own data, converted (a hidden-sized block of the input stands in for `h`
    /// and `d`: the products' cost does not depend on the values).
    fn of(p: &Params, to: impl Fn(f32) -> T) -> Self {
        let hidden =
            p.x.slice_axis(Axis(1), ndarray::Slice::from(..512))
                .mapv(&to);
        Operands {
            x: p.x.mapv(&to),
            w: [p.w[0].mapv(&to), p.w[1].mapv(&to), p.w[2].mapv(&to)],
            h: hidden.clone(),
            d: hidden,
            d_o: Array2::from_elem((B, 10), to(1.0)),
        }
    }

    /// The eight products of `hand_step`, transposed operands as views like the step's.
    fn products(&self, mm: impl Fn(ArrayView2<'_, T>, ArrayView2<'_, T>) -> Array2<T>) {
        let (x, w, h, d, d_o) = (&self.x, &self.w, &self.h, &self.d, &self.d_o);
        drop((mm(x.view(), w[0].view()), mm(h.view(), w[1].view())));
        drop((mm(h.view(), w[2].view()), mm(h.t(), d_o.view())));
        drop((mm(d_o.view(), w[2].t()), mm(h.t(), d.view())));
        drop((mm(d.view(), w[1].t()), mm(x.t(), d.view())));
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let malloc = cli.switches.apply();
    let p = params();

    // Built by a closure so each dot-bound mode gets its own graph (settings are per graph).
    let build = |cfg: Config| {
        let (g, (x, w1, b1, w2, b2, w3, b3)) =
            RevGraphScale::<f32, Gamma, ctx![], _>::nil(scale_graph::brand!());
        let (g, z1) = g.snoc(ops::matmul(x, w1));
        let (g, a1) = g.snoc(ops::add_bias(z1, b1));
        let (g, h1) = g.snoc(ops::relu(a1));
        let (g, z2) = g.snoc(ops::matmul(h1, w2));
        let (g, a2) = g.snoc(ops::add_bias(z2, b2));
        let (g, h2) = g.snoc(ops::relu(a2));
        let (g, z3) = g.snoc(ops::matmul(h2, w3));
        let (g, o) = g.snoc(ops::add_bias(z3, b3));
        let (g, loss) = g.snoc(ops::sum(o));
        let g = g.with_config(cfg);
        (
            g,
            [w1.pos(), b1.pos(), w2.pos(), b2.pos(), w3.pos(), b3.pos()],
            loss,
        )
    };
    // Propagated bounds only (enclosure off), and the this-run mode (enclosure on, the default).
    let propagated = |mode: DotBound| Config::default().with_dot_bound(mode).with_enclose(false);
    let (g, wrt, loss) = build(propagated(DotBound::APosteriori));
    let (g_free, _, _) = build(propagated(DotBound::OrderFree));
    let (g_this, _, _) = build(Config::default());
    let (g_any, _, _) = build(Config::any_implementation());
    let (g_est, _, _) = build(Config::estimate());
    // The same modes with a second thread for the spec passes (`Config::with_threads`).
    let (g_this2, _, _) = build(Config::default().with_threads(2));
    let (g_any2, _, _) = build(Config::any_implementation().with_threads(2));
    let inputs = || {
        TList::<f32, Gamma>::from_arrays(vec![
            p.x.clone().into_dyn(),
            p.w[0].clone().into_dyn(),
            p.b[0].clone().into_dyn(),
            p.w[1].clone().into_dyn(),
            p.b[1].clone().into_dyn(),
            p.w[2].clone().into_dyn(),
            p.b[2].clone().into_dyn(),
        ])
        .expect("shapes match Γ")
    };
    let (seed, eps_seed, b_seed) = g.loss_seed(loss);
    let (eps_in, b_in) = g.exact_inputs(&inputs());

    // Same gradients from the graph and the hand-written step (sanity, not timing).
    let (_, grads) = g.value_and_grad(inputs(), &seed, &wrt);
    let hand = hand_step(&p, mm_faer);
    for (i, &pos) in wrt.iter().enumerate() {
        let diff = (&grads.as_slice()[pos] - &hand[i])
            .iter()
            .fold(0.0f32, |m, d| m.max(d.abs()));
        let scale = hand[i].iter().fold(1.0f32, |m, d| m.max(d.abs()));
        if diff > 1e-4 * scale {
            eprintln!("gradient {i} differs from the hand-written step: {diff}");
            return ExitCode::FAILURE;
        }
    }

    let (ops32, ops64) = (Operands::of(&p, |v| v), Operands::of(&p, f64::from));
    let slot = std::cell::Cell::new(Some(inputs()));
    // One graph per mode (settings are per graph), all of one type.
    let graphs = [&g_free, &g, &g_this, &g_any, &g_est, &g_this2, &g_any2];
    let certified = |k: usize| {
        let g = graphs[k];
        let x = slot.take().expect("inputs");
        let c = g.certify_wrt(x, &eps_in, &b_in, &seed, &eps_seed, &b_seed, &wrt);
        slot.set(Some(g.inputs_of(c.values)));
    };
    let steps: [Step; 12] = [
        Box::new(|| drop(hand_step(&p, mm_ndarray))),
        Box::new(|| drop(hand_step(&p, mm_faer))),
        Box::new(|| {
            // Inputs go in by value and come back with the values: no copies.
            let x = slot.take().expect("inputs");
            let (vals, grads) = g.value_and_grad(x, &seed, &wrt);
            drop(grads);
            slot.set(Some(g.inputs_of(vals)));
        }),
        Box::new(|| certified(0)),
        Box::new(|| certified(1)),
        Box::new(|| certified(2)),
        Box::new(|| certified(3)),
        Box::new(|| certified(4)),
        Box::new(|| certified(5)),
        Box::new(|| certified(6)),
        Box::new(|| ops32.products(<f32 as Runtime>::matmul)),
        Box::new(|| ops64.products(<f64 as Runtime>::matmul)),
    ];
    let variants: Vec<(&str, Step)> = VARIANTS.into_iter().zip(steps).collect();
    if let Some(f) = cli.only.as_deref().and_then(|n| bench::find(&variants, n)) {
        for _ in 0..cli.count.unwrap_or(200) {
            f();
        }
        return ExitCode::SUCCESS;
    }
    if let Some(f) = cli.mem.as_deref().and_then(|n| bench::find(&variants, n)) {
        bench::report_peak_rss(f);
        return ExitCode::SUCCESS;
    }

    let rounds = cli.count.unwrap_or(30);
    let spread = bench::interleaved(&variants, rounds);
    let med: Vec<f64> = spread.iter().map(|s| s.median).collect();
    println!(
        "784-512-512-10 relu MLP, batch {B}, f32, forward+backward; {rounds} interleaved rounds; \
         {malloc}\n"
    );
    println!(
        "{:<24} {:>9} {:>9} {:>9}",
        "variant", "min ms", "median", "max"
    );
    for ((name, _), s) in variants.iter().zip(&spread) {
        println!("{name:<24} {:>9.3} {:>9.3} {:>9.3}", s.min, s.median, s.max);
    }
    println!();
    println!(
        "P1 graph/runtime ÷ hand/ndarray   = {:.2}  (target ≤ 1.0)",
        med[2] / med[0]
    );
    println!("   graph/runtime ÷ hand/faer      = {:.2}", med[2] / med[1]);
    println!(
        "P2 certified/order-free ÷ graph/runtime   = {:.2}  (target ≤ 2.2)",
        med[3] / med[2]
    );
    println!(
        "   certified/a-posteriori ÷ graph/runtime = {:.2}  (propagated bounds, enclosure off)",
        med[4] / med[2]
    );
    println!(
        "   certified/this-run ÷ graph/runtime     = {:.2}  (the default: + Ball enclosure; target ≤ 3)",
        med[5] / med[2]
    );
    println!(
        "   certified/any-impl ÷ graph/runtime     = {:.2}  (AnyRun balls + the exact enclosure; target ≤ 2.2)",
        med[6] / med[2]
    );
    println!(
        "   certified/estimate ÷ graph/runtime     = {:.2}  (not a bound)",
        med[7] / med[2]
    );
    println!(
        "   this-run, 2 threads ÷ graph/runtime    = {:.2}  (wall time; target ≤ 2.2)",
        med[8] / med[2]
    );
    println!(
        "   any-impl, 2 threads ÷ graph/runtime    = {:.2}  (wall time)",
        med[9] / med[2]
    );
    println!(
        "floor of order-free: (graph/runtime + floor/f32 products) ÷ graph/runtime = {:.2}",
        (med[2] + med[10]) / med[2]
    );
    println!(
        "floor of this-run:   (graph/runtime + floor/f64 products) ÷ graph/runtime = {:.2}",
        (med[2] + med[11]) / med[2]
    );

    if !cli.switches.no_torch {
        match bench::torch("mlp", rounds) {
            Ok(t) => println!(
                "\npytorch (scripts/bench_torch.py, 1 thread) {:.3} / {:.3} / {:.3} ms (min / median / max)\n\
                 graph/runtime ÷ pytorch = {:.2}\n",
                t.min,
                t.median,
                t.max,
                med[2] / t.median
            ),
            Err(why) => println!("\nno PyTorch time ({why})\n"),
        }
    }

    // Memory: one child process per variant, peak RSS after three steps.
    let mut peak = Vec::new();
    for name in [
        "graph/runtime",
        "certified/order-free",
        "certified/a-posteriori",
        "certified/this-run",
    ] {
        let kib = bench::child_peak_rss(name);
        peak.push(kib);
        println!("peak RSS {name:<24} {:>8.1} MiB", kib / 1024.0);
    }
    println!(
        "memory certified ÷ runtime = {:.2} (order-free), {:.2} (a-posteriori)  (target ≤ 2.5)",
        peak[1] / peak[0],
        peak[2] / peak[0]
    );
    ExitCode::SUCCESS
}
