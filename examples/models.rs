//! Runs the generated example models (`examples/generated/`, written by `scale-gen`).
//!
//! For each: inputs (random from `--seed`, or `--inputs FILE.json`, or `--npy DIR`), the
//! certified pass with backprop from the scalar loss, the rigorous interval spec, and the report:
//! a table on the terminal, `target/reports/<model>.json` and `<model>.dot` (`--out DIR` to change).
//! Exits 1 if any bound is violated, 2 on a usage error (`--help` lists the flags).
//!
//! Run: `cargo run --release --example models -- [all | NAME …] [--seed N] [--no-spec]
//! [--mode this-run|a-posteriori|order-free|any-implementation|estimate]
//! [--precision f32|bf16|f16] [--threads N] [--inputs FILE.json | --npy DIR] [--out DIR]
//! [--trace DIR]`
//!
//! `--tightness` prints, instead, the markdown tables of `docs/tightness.md`: for every mode and
//! model, the median and max of bound ÷ observed error (observed against the interval spec,
//! which is independent of the enclosure the this-run mode uses) over values and gradients; then
//! the this-run mode for every model in `f32`, `bf16` and `f16`.
#![forbid(unsafe_code)]

#[rustfmt::skip]
#[path = "generated/mod.rs"]
mod generated;
mod support;
#[cfg(test)]
#[path = "models/tests.rs"]
mod tests;

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
    /// Run the models in this runtime instead of the one each declares (`f32` for all of them).
    #[arg(long, value_enum)]
    precision: Option<support::Precision>,
    #[command(flatten)]
    options: support::Options,
}

/// `all` and the generated models' names: anything else is a usage error listing them.
fn model_names() -> clap::builder::PossibleValuesParser {
    std::iter::once("all")
        .chain(generated::MODELS.iter().map(|m| m.name))
        .collect::<Vec<_>>()
        .into()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let passed = if cli.tightness {
        tightness(cli.options, cli.precision)
    } else {
        run_models(&cli.models, cli.precision, &cli.options)
    };
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Certifies and reports the named models (every one when `names` is empty or holds `all`);
/// `false` when a bound is violated or a model fails to run.
fn run_models(
    names: &[String],
    precision: Option<support::Precision>,
    opts: &support::Options,
) -> bool {
    let all = names.is_empty() || names.iter().any(|w| w == "all");
    let mut passed = true;
    for model in generated::MODELS {
        let name = model.name;
        if !all && !names.iter().any(|w| w == name) {
            continue;
        }
        match model.run(precision, opts) {
            Ok(report) if report.violations() == 0 => println!(),
            Ok(report) => {
                eprintln!("{name}: {} bound(s) violated", report.violations());
                passed = false;
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                passed = false;
            }
        }
    }
    passed
}

/// The per-mode tightness table (bound ÷ observed error: median / max) in `precision` (each
/// model's own when `None`), then the this-run table in every precision, in markdown; `false`
/// when a rigorous mode's bound is violated or a model fails to run.
fn tightness(mut opts: support::Options, precision: Option<support::Precision>) -> bool {
    use support::{ModeName, Precision};
    opts.quiet = true;
    let mut failed = false;
    let mut row = |mode: ModeName, model: &support::Model, p: Option<Precision>, label: &str| {
        opts.mode = Some(mode);
        match model.run(p, &opts) {
            Ok(report) => {
                // An estimate is not a bound: its misses are measured, not failures.
                failed |= report.violations() > 0 && mode != ModeName::Estimate;
                let v = support::looseness(&report, scale_graph::report::RowKind::Value);
                let g = support::looseness(&report, scale_graph::report::RowKind::Gradient);
                println!(
                    "| {label} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
                    model.name, v.0, v.1, g.0, g.1
                );
            }
            Err(e) => {
                eprintln!("{}: {e}", model.name);
                failed = true;
            }
        }
    };
    let header = |first: &str| {
        println!(
            "| {first} | model | values: median | values: max | gradients: median | gradients: max |"
        );
        println!("|---|---|---:|---:|---:|---:|");
    };
    header("mode");
    for &mode in <ModeName as clap::ValueEnum>::value_variants() {
        for model in generated::MODELS {
            row(mode, model, precision, &mode.name());
        }
    }
    println!();
    header("this-run in");
    for p in [Precision::F32, Precision::Bf16, Precision::F16] {
        for model in generated::MODELS {
            row(
                ModeName::ThisRun,
                model,
                Some(p),
                &format!("{p:?}").to_lowercase(),
            );
        }
    }
    !failed
}
