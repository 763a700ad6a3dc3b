//! Linear scaling of `certify`: chains of N and 2N nodes, timed side by side.
//!
//! For each N in 256 … 4096 it builds a chain of N nodes and one of 2N nodes with the typed
//! builder (a run-time loop of `push`, then `seal_dyn`), with fan-out like the compile-time
//! benchmark (every 16th node reads an input far back, every 16th+8 a node halfway back; relu /
//! matvec / mul / add mixed, 16-wide vectors), then times `certify` (values, eps, B, gradients
//! and their bounds) on both, interleaved A/B/A/B so that machine noise hits both alike, and
//! prints the medians and the 2N/N ratio (2.0 = linear, 4.0 = quadratic).
//!
//! Run: `cargo run --release --example scaling [repeats]` (default 15 repeats). Exits 2 on a
//! usage error.
#![forbid(unsafe_code)]

use clap::Parser;
use ndarray::{Array, ArrayD, IxDyn};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scale_graph::context::Dyn;
use scale_graph::{Rank0, Rank1, Rank2, RevGraphScale, TList, Var, ctx, ops};
use std::time::{Duration, Instant};

const D: usize = 16;

/// Time `certify` on chains of N and 2N nodes (N = 256 … 4096): 2N/N = 2.0 is linear.
#[derive(Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 done; 2 usage error (clap prints the usage)."
)]
struct Cli {
    /// Timed repeats per chain (the median is printed).
    #[arg(default_value_t = 15, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    repeats: usize,
}
type Gamma = ctx![Rank1<D>, Rank2<D, D>, Rank1<D>];

struct Brand;
type G = RevGraphScale<f32, Gamma, Dyn, Brand>;

/// A chain of `n` nodes ending in a `sum` loss; returns the graph and the loss handle.
fn chain(n: usize) -> (G, Var<Rank0, Brand>) {
    let (g, (x, w, bias)) = RevGraphScale::<f32, Gamma, ctx![], Brand>::nil(Brand);
    let mut b = g.open();
    let mut hs: Vec<Var<Rank1<D>, Brand>> = vec![x];
    for k in 1..n {
        let prev = *hs.last().expect("non-empty");
        let h = if k % 16 == 0 {
            b.push(ops::add(prev, x))
        } else if k % 16 == 8 {
            b.push(ops::add(prev, hs[k / 2]))
        } else {
            match k % 4 {
                1 => b.push(ops::relu(prev)),
                2 => b.push(ops::matvec(w, prev)),
                3 => b.push(ops::mul(prev, bias)),
                _ => b.push(ops::add(prev, bias)),
            }
        };
        hs.push(h);
    }
    let loss = b.push(ops::sum(*hs.last().expect("non-empty")));
    (b.seal_dyn(), loss)
}

fn inputs(rng: &mut StdRng) -> TList<f32, Gamma> {
    let mut arr = |dims: &[usize], s: f64| -> ArrayD<f32> {
        Array::from_shape_fn(IxDyn(dims), |_| (rng.random_range(-1.0..1.0) * s) as f32)
    };
    // Weights scaled so the chain neither explodes nor vanishes.
    let (x, w, b) = (arr(&[D], 1.0), arr(&[D, D], 1.0 / D as f64), arr(&[D], 1.0));
    TList::from_arrays(vec![x, w, b]).expect("shapes match Γ")
}

/// One `certify` call, timed.
fn time_certify(g: &G, loss: Var<Rank0, Brand>, x: &TList<f32, Gamma>) -> Duration {
    let (eps_in, b_in) = g.exact_inputs(x);
    let (seed, eps_seed, b_seed) = g.loss_seed(loss);
    let x = x.clone(); // `certify` takes its inputs by value; copy outside the timed region
    let t = Instant::now();
    let cert = g.certify(x, &eps_in, &b_in, &seed, &eps_seed, &b_seed);
    let dt = t.elapsed();
    std::hint::black_box(&cert);
    dt
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let repeats = Cli::parse().repeats;
    let mut rng = StdRng::seed_from_u64(3);
    let x = inputs(&mut rng);
    println!("certify on chains of N and 2N nodes ({D}-wide; median of {repeats}, interleaved)\n");
    println!(
        "{:>6} {:>12} {:>12} {:>8} {:>14} {:>14}",
        "N", "t(N) ms", "t(2N) ms", "2N/N", "µs/node (N)", "µs/node (2N)"
    );
    for n in [256, 512, 1024, 2048, 4096] {
        let (ga, la) = chain(n);
        let (gb, lb) = chain(2 * n);
        // Warm-up (allocator, caches).
        time_certify(&ga, la, &x);
        time_certify(&gb, lb, &x);
        let (mut ta, mut tb) = (vec![], vec![]);
        for _ in 0..repeats {
            ta.push(time_certify(&ga, la, &x));
            tb.push(time_certify(&gb, lb, &x));
        }
        let (ma, mb) = (median(ta), median(tb));
        println!(
            "{:>6} {:>12.3} {:>12.3} {:>8.2} {:>14.2} {:>14.2}",
            n,
            ma.as_secs_f64() * 1e3,
            mb.as_secs_f64() * 1e3,
            mb.as_secs_f64() / ma.as_secs_f64(),
            ma.as_secs_f64() * 1e6 / ga.nodes().len() as f64,
            mb.as_secs_f64() * 1e6 / gb.nodes().len() as f64
        );
    }
}
