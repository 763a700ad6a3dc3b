//! Runs the generated example models (`examples/generated/`, written by `scale-gen`).
//!
//! For each: inputs (random from `--seed`, or `--inputs FILE.json`, or `--npy DIR`), the
//! certified pass with backprop from the scalar loss, the rigorous interval spec, and the report:
//! a table on the terminal, `target/reports/<model>.json` and `<model>.dot` (`--out DIR` to change).
//! Exits non-zero if any bound is violated.
//!
//! Run: `cargo run --release --example models -- [all | NAME …] [--seed N] [--no-spec]
//! [--mode this-run|a-posteriori|order-free|any-implementation|estimate]`
//!
//! `--tightness` prints, instead, the markdown table of `docs/tightness.md`: for every mode and
//! model, the median and max of bound ÷ observed error (observed against the interval spec,
//! which is independent of the enclosure the this-run mode uses) over values and gradients.
#![forbid(unsafe_code)]

#[rustfmt::skip]
#[path = "generated/mod.rs"]
mod generated;
mod support;

use std::process::ExitCode;

fn main() -> ExitCode {
    let opts = match support::Options::from_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .take_while(|a| !a.starts_with("--"))
        .collect();
    let all = wanted.is_empty() || wanted.iter().any(|w| w == "all");
    if std::env::args().any(|a| a == "--tightness") {
        return tightness(opts);
    }
    let mut failed = false;
    for (name, run) in generated::MODELS {
        if !all && !wanted.iter().any(|w| w == name) {
            continue;
        }
        match run(&opts) {
            Ok(report) if report.violations() == 0 => println!(),
            Ok(report) => {
                eprintln!("{name}: {} bound(s) violated", report.violations());
                failed = true;
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                failed = true;
            }
        }
    }
    if let Some(unknown) = wanted
        .iter()
        .find(|w| *w != "all" && !generated::MODELS.iter().any(|(n, _)| n == w))
    {
        let names: Vec<&str> = generated::MODELS.iter().map(|(n, _)| *n).collect();
        eprintln!("unknown model `{unknown}`; known: {}", names.join(", "));
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The per-mode tightness table (bound ÷ observed error: median / max), in markdown.
fn tightness(mut opts: support::Options) -> ExitCode {
    opts.quiet = true;
    let mut failed = false;
    println!(
        "| mode | model | values: median | values: max | gradients: median | gradients: max |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for mode in [
        "this-run",
        "a-posteriori",
        "order-free",
        "any-implementation",
        "estimate",
    ] {
        opts.mode = support::mode_config(mode);
        for (name, run) in generated::MODELS {
            match run(&opts) {
                Ok(report) => {
                    // An estimate is not a bound: its misses are measured, not failures.
                    failed |= report.violations() > 0 && mode != "estimate";
                    let v = support::looseness(&report, scale_graph::report::RowKind::Value);
                    let g = support::looseness(&report, scale_graph::report::RowKind::Gradient);
                    println!(
                        "| {mode} | {name} | {:.2} | {:.2} | {:.2} | {:.2} |",
                        v.0, v.1, g.0, g.1
                    );
                }
                Err(e) => {
                    eprintln!("{name}: {e}");
                    failed = true;
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
