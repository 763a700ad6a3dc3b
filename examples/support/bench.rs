//! What the benchmarks share (`bench_mlp`, `bench_transformer`): interleaved rounds, medians with
//! their spread, peak RSS in a child process per variant, and PyTorch's times from
//! `scripts/bench_torch.py` when PyTorch is installed.
//!
//! Included with `#[path = "support/bench.rs"] mod bench;` (not through `support/mod.rs`, whose
//! runner is also compiled into `scale-gen certify`'s generated crates).

#![allow(dead_code)] // each benchmark uses the parts it needs

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The switches both benchmarks take (flattened into each one's `clap` parser).
#[derive(clap::Args)]
pub struct Switches {
    /// Leave glibc's malloc at its defaults: freed large tensors go back to the kernel and every
    /// step faults them in again. By default the bench first calls
    /// `scale_graph::memory::retain_freed_memory`, as a loop that certifies every step should
    /// (the child processes that measure peak memory always do; it does not change the peak).
    #[arg(long)]
    pub no_retain: bool,
    /// Do not time PyTorch (`scripts/bench_torch.py`), even when it is installed.
    #[arg(long)]
    pub no_torch: bool,
}

impl Switches {
    /// Apply the process-wide ones (before anything is allocated), and say so in the table's
    /// header line.
    pub fn apply(&self) -> &'static str {
        if self.no_retain {
            "glibc malloc defaults"
        } else {
            scale_graph::memory::retain_freed_memory();
            "freed memory retained"
        }
    }
}

/// One benchmarked step.
pub type Step<'a> = Box<dyn Fn() + 'a>;

/// Minimum, median and maximum of one variant's times (ms).
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    /// Fastest run.
    pub min: f64,
    /// Median run: what the ratios compare (noise from other jobs hits both sides alike).
    pub median: f64,
    /// Slowest run.
    pub max: f64,
}

impl Spread {
    /// The spread of `times` (NaN for none).
    pub fn of(times: &[f64]) -> Spread {
        let mut v = times.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |i: usize| v.get(i).copied().unwrap_or(f64::NAN);
        Spread {
            min: at(0),
            median: at(v.len() / 2),
            max: at(v.len().wrapping_sub(1)),
        }
    }
}

/// Time `rounds` rounds of every variant after one warm-up step each. The variants run
/// interleaved and the order rotates every round, so a burst of machine load hits all of them
/// alike; returns each variant's spread, in the order given.
pub fn interleaved(variants: &[(&str, Step)], rounds: usize) -> Vec<Spread> {
    for (_, f) in variants {
        f();
    }
    let mut times: Vec<Vec<f64>> = (0..variants.len())
        .map(|_| Vec::with_capacity(rounds))
        .collect();
    for r in 0..rounds {
        for k in 0..variants.len() {
            let k = (k + r) % variants.len();
            let t = Instant::now();
            (variants[k].1)();
            times[k].push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.iter().map(|t| Spread::of(t)).collect()
}

/// The variant called `name`.
pub fn find<'v, 'a>(variants: &'v [(&str, Step<'a>)], name: &str) -> Option<&'v Step<'a>> {
    variants.iter().find(|(n, _)| *n == name).map(|v| &v.1)
}

/// This process's peak resident set (`VmHWM`, KiB; 0 where `/proc` does not say).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The `--mem NAME` side of [`child_peak_rss`]: three steps, then the peak RSS before and
/// after, on one line.
pub fn report_peak_rss(step: &Step) {
    let base = peak_rss_kib();
    for _ in 0..3 {
        step();
    }
    println!("{} {}", base, peak_rss_kib());
}

/// Peak RSS (KiB) of a child process that runs this executable with `--mem name` (one process
/// per variant, so one variant's buffers do not hide another's); NaN if it failed.
pub fn child_peak_rss(name: &str) -> f64 {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Command::new(exe).args(["--mem", name]).output().ok())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

/// PyTorch's step for `model` (`mlp` or `transformer`) from `scripts/bench_torch.py` with one
/// thread, or why there is none (no `python3`, no PyTorch: never an error, CI has neither).
pub fn torch(model: &str, runs: usize) -> Result<Spread, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_torch.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(["--model", model, "--runs", &runs.to_string()])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("failed");
        return Err(format!("{}: {last}", script.display()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(model))
        .ok_or_else(|| format!("{}: no line for `{model}`", script.display()))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .take(3)
        .filter_map(|t| t.parse().ok())
        .collect();
    match v[..] {
        [min, median, max] => Ok(Spread { min, median, max }),
        _ => Err(format!("{}: unreadable line `{line}`", script.display())),
    }
}
