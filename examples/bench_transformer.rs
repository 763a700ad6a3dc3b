//! Benchmark P5 of issue #14: a transformer block's forward+backward step, runtime and certified
//! in every mode, side by side, and against PyTorch on the same shapes when it is installed.
//!
//! The block is `examples/generated/transformer_block.rs` (pre-LayerNorm, causal 4-head
//! self-attention, GELU MLP, mse loss) at b = 8, n = 64, d = 128, MLP width 512, f32; gradients
//! of the ten parameters (not of `x` or `target`).
//!
//! The certified variants run one thread, and the this-run and any-implementation modes once
//! more with two (`Config::with_threads(2)`: the spec pass beside the runtime sweeps, its large
//! products split over rayon's pool), whose ratios are wall time.
//!
//! Run: `cargo run --release --example bench_transformer [-- ROUNDS]`; `-- --only NAME [TIMES]`
//! loops one variant (for profilers); `--no-torch` skips PyTorch; `--no-retain` leaves glibc's
//! malloc at its defaults (see `scale_graph::memory`). The PyTorch step comes from
//! `python3 scripts/bench_torch.py --model transformer` (1 thread), run after the interleaved
//! rounds; without PyTorch the ratio is left out.
#![forbid(unsafe_code)]

#[path = "support/bench.rs"]
mod bench;
#[path = "support/mod.rs"]
mod support;

use bench::{Spread, Step};
use clap::Parser;
use ndarray::IxDyn;
use scale_graph::{TList, scale_graph};
use std::process::ExitCode;
use support::ModeName;

/// The variants, in the order of the table (and of `--only`'s choices).
const VARIANTS: [&str; 8] = [
    "graph/runtime",
    "certified/order-free",
    "certified/a-posteriori",
    "certified/this-run",
    "certified/any-impl",
    "certified/estimate",
    "this-run, 2 threads",
    "any-impl, 2 threads",
];

/// The certification mode and threads of each certified variant (`VARIANTS[1..]`).
const MODES: [(ModeName, usize); 7] = [
    (ModeName::OrderFree, 1),
    (ModeName::APosteriori, 1),
    (ModeName::ThisRun, 1),
    (ModeName::AnyImplementation, 1),
    (ModeName::Estimate, 1),
    (ModeName::ThisRun, 2),
    (ModeName::AnyImplementation, 2),
];

/// A transformer block's forward+backward step (b 8, n 64, d 128, 4 heads, causal), runtime and
/// certified in every mode, timed side by side, with PyTorch's step when it is installed.
#[derive(Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 done; 1 the generated inputs do not fit the graph (a bug); \
                  2 usage error (clap prints the usage)."
)]
struct Cli {
    /// Interleaved rounds [default: 10]; with `--only`, how many steps of that variant
    /// [default: 20].
    #[arg(value_name = "ROUNDS", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    count: Option<usize>,
    /// Loop one variant only (for profilers), `ROUNDS` times.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(VARIANTS))]
    only: Option<String>,
    /// Run three steps of one variant and print the peak RSS before and after (the memory
    /// measurement runs itself with this flag, one child process per variant).
    #[arg(long, value_name = "NAME", hide = true, conflicts_with = "only",
          value_parser = clap::builder::PossibleValuesParser::new(VARIANTS))]
    mem: Option<String>,
    #[command(flatten)]
    switches: bench::Switches,
}

/// Shapes of `Γ` and the spread of their random data (as the generated model draws them).
const INPUTS: [(&[usize], f64); 12] = [
    (&[8, 64, 128], 1.0),  // x
    (&[128], 1.0),         // g1
    (&[128], 0.1),         // be1
    (&[128, 128], 0.0884), // wq: 1/√d
    (&[128, 128], 0.0884), // wk
    (&[128, 128], 0.0884), // wv
    (&[128, 128], 0.0884), // wo
    (&[128], 1.0),         // g2
    (&[128], 0.1),         // be2
    (&[128, 512], 0.0884), // w1
    (&[512, 128], 0.0442), // w2: 1/√512
    (&[8, 64, 128], 1.0),  // target
];

fn main() -> ExitCode {
    let cli = Cli::parse();
    let malloc = cli.switches.apply();
    let m = scale_graph! {
        runtime = f32;
        input x: [8, 64, 128];
        input g1: [128];
        input be1: [128];
        input wq: [128, 128];
        input wk: [128, 128];
        input wv: [128, 128];
        input wo: [128, 128];
        input g2: [128];
        input be2: [128];
        input w1: [128, 512];
        input w2: [512, 128];
        input target: [8, 64, 128];
        let ln1 = layer_norm(x, g1, be1, 1e-5);
        let q = matmul(ln1, wq);
        let qs = reshape(q, [8, 64, 4, 32]);
        let qh = permute(qs, [0, 2, 1, 3]);
        let k = matmul(ln1, wk);
        let ks = reshape(k, [8, 64, 4, 32]);
        let kh = permute(ks, [0, 2, 1, 3]);
        let v = matmul(ln1, wv);
        let vs = reshape(v, [8, 64, 4, 32]);
        let vh = permute(vs, [0, 2, 1, 3]);
        let att = attention_causal(qh, kh, vh);
        let atp = permute(att, [0, 2, 1, 3]);
        let merged = reshape(atp, [8, 64, 128]);
        let proj = matmul(merged, wo);
        let h = add(x, proj);
        let ln2 = layer_norm(h, g2, be2, 1e-5);
        let up = matmul(ln2, w1);
        let act = gelu(up);
        let down = matmul(act, w2);
        let y = add(h, down);
        let loss = mse(y, target);
    };
    let g = &m.graph;
    let mut rng = scale_graph::random::rng(7);
    let data = INPUTS
        .iter()
        .map(|&(shape, std)| scale_graph::random::gaussian::<f32, _>(&mut rng, IxDyn(shape), std))
        .collect();
    let Ok(x0) = TList::from_arrays(data) else {
        eprintln!("the input shapes do not match Γ");
        return ExitCode::FAILURE;
    };
    let wrt: Vec<usize> = (1..=10).collect(); // the parameters
    let (seed, eps_seed, b_seed) = g.loss_seed(m.vars.loss);
    let (eps_in, b_in) = g.exact_inputs(&x0);

    // Inputs go in by value and come back with the values: no copies between steps.
    let slot = std::cell::Cell::new(Some(x0));
    let certified = |(mode, threads): (ModeName, usize)| {
        let x = slot.take().expect("inputs");
        let c = g.certify_with(
            mode.config().with_threads(threads),
            x,
            &eps_in,
            &b_in,
            &seed,
            &eps_seed,
            &b_seed,
            &wrt,
        );
        slot.set(Some(g.inputs_of(c.values)));
    };
    let mut steps: Vec<Step> = vec![Box::new(|| {
        let x = slot.take().expect("inputs");
        let (vals, grads) = g.value_and_grad(x, &seed, &wrt);
        drop(grads);
        slot.set(Some(g.inputs_of(vals)));
    })];
    steps.extend(MODES.map(|mode| Box::new(move || certified(mode)) as Step));
    let variants: Vec<(&str, Step)> = VARIANTS.into_iter().zip(steps).collect();

    if let Some(f) = cli.only.as_deref().and_then(|n| bench::find(&variants, n)) {
        for _ in 0..cli.count.unwrap_or(20) {
            f();
        }
        return ExitCode::SUCCESS;
    }
    if let Some(f) = cli.mem.as_deref().and_then(|n| bench::find(&variants, n)) {
        bench::report_peak_rss(f);
        return ExitCode::SUCCESS;
    }

    let rounds = cli.count.unwrap_or(10);
    let t = bench::interleaved(&variants, rounds);
    println!(
        "transformer block b 8, n 64, d 128, 4 heads, causal, f32, forward+backward; \
         {rounds} interleaved rounds; {malloc}\n"
    );
    println!(
        "{:<24} {:>9} {:>9} {:>9}",
        "variant", "min ms", "median", "max"
    );
    for ((name, _), s) in variants.iter().zip(&t) {
        println!("{name:<24} {:>9.3} {:>9.3} {:>9.3}", s.min, s.median, s.max);
    }
    println!();
    for ((name, _), s) in variants.iter().zip(&t).skip(1) {
        let wall = if name.ends_with("threads") {
            "  (wall time)"
        } else {
            ""
        };
        println!(
            "P2 {name:<24} ÷ graph/runtime = {:>6.2}{wall}",
            s.median / t[0].median
        );
    }
    if !cli.switches.no_torch {
        match bench::torch("transformer", rounds.max(10)) {
            Ok(torch) => print_torch(&t[0], &torch),
            Err(why) => println!("\nno PyTorch time ({why})"),
        }
    }
    let rss: Vec<f64> = ["graph/runtime", "certified/this-run"]
        .map(bench::child_peak_rss)
        .to_vec();
    println!(
        "\npeak RSS graph/runtime {:.1} MiB, certified/this-run {:.1} MiB (÷ {:.2}; target ≤ 1.5)",
        rss[0] / 1024.0,
        rss[1] / 1024.0,
        rss[1] / rss[0]
    );
    ExitCode::SUCCESS
}

/// PyTorch's step beside ours, and the P5 ratio.
fn print_torch(ours: &Spread, torch: &Spread) {
    println!(
        "\n{:<24} {:>9.3} {:>9.3} {:>9.3}  (scripts/bench_torch.py, 1 thread)",
        "pytorch", torch.min, torch.median, torch.max
    );
    println!(
        "P5 graph/runtime ÷ pytorch = {:.2}  (target ≤ 1.0)",
        ours.median / torch.median
    );
}
