//! Runs the generated example models (`examples/generated/`, written by `scale-gen`).
//!
//! For each: inputs (random from `--seed`, or `--inputs FILE.json`, or `--npy DIR`), the
//! certified pass with backprop from the scalar loss, the rigorous interval spec, and the report:
//! a table on the terminal, `target/reports/<model>.json` and `<model>.dot` (`--out DIR` to change).
//! Exits 1 if any bound is violated, 2 on a usage error (`--help` lists the flags).
//!
//! Run: `cargo run --release --example models -- [all | NAME …] [--seed N] [--no-spec]
//! [--mode this-run|a-posteriori|order-free|any-implementation|estimate] [--inputs FILE.json |
//! --npy DIR] [--out DIR] [--trace DIR]`
//!
//! `--tightness` prints, instead, the markdown table of `docs/tightness.md`: for every mode and
//! model, the median and max of bound ÷ observed error (observed against the interval spec,
//! which is independent of the enclosure the this-run mode uses) over values and gradients.
#![forbid(unsafe_code)]

#[rustfmt::skip]
#[path = "generated/mod.rs"]
mod generated;
mod support;

use clap::Parser;
use std::process::ExitCode;

/// Run the generated example models: the certified pass, the interval spec, the report.
#[derive(Parser)]
#[command(version, after_help = support::EXIT_CODES)]
struct Cli {
    /// Models to run (`all`, the default, runs every one).
    #[arg(value_name = "MODEL", value_parser = model_names())]
    models: Vec<String>,
    /// Print instead the markdown table of `docs/tightness.md` (bound ÷ observed error per mode
    /// and model).
    #[arg(long)]
    tightness: bool,
    #[command(flatten)]
    options: support::Options,
}

/// `all` and the generated models' names: anything else is a usage error listing them.
fn model_names() -> clap::builder::PossibleValuesParser {
    std::iter::once("all")
        .chain(generated::MODELS.iter().map(|(n, _)| *n))
        .collect::<Vec<_>>()
        .into()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.tightness {
        return tightness(cli.options);
    }
    let all = cli.models.is_empty() || cli.models.iter().any(|w| w == "all");
    let mut failed = false;
    for (name, run) in generated::MODELS {
        if !all && !cli.models.iter().any(|w| w == name) {
            continue;
        }
        match run(&cli.options) {
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
    for &mode in <support::ModeName as clap::ValueEnum>::value_variants() {
        opts.mode = Some(mode);
        for (name, run) in generated::MODELS {
            match run(&opts) {
                Ok(report) => {
                    // An estimate is not a bound: its misses are measured, not failures.
                    failed |= report.violations() > 0 && mode != support::ModeName::Estimate;
                    let v = support::looseness(&report, scale_graph::report::RowKind::Value);
                    let g = support::looseness(&report, scale_graph::report::RowKind::Gradient);
                    println!(
                        "| {} | {name} | {:.2} | {:.2} | {:.2} | {:.2} |",
                        mode.name(),
                        v.0,
                        v.1,
                        g.0,
                        g.1
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
