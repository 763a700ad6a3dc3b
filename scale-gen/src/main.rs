//! `scale-gen`: write `scale_graph!` example models, check JSON descriptions, import ONNX files
//! and certify them. Run `scale-gen --help` (or `cargo run -p scale-gen -- --help`) for the
//! commands; exit codes are 0 (ok), 1 (the model or a file is wrong, or `certify` found a bound
//! violated) and 2 (bad usage).
#![forbid(unsafe_code)]

mod certify;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use scale_gen::onnx::{self, Loss};
use scale_gen::{Checked, check, emit, examples};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Generate, check and import `scale_graph!` models.
#[derive(Parser)]
#[command(
    name = "scale-gen",
    version,
    about,
    after_help = "Exit codes: 0 ok (`certify`: every bound holds); 1 the model or a file is wrong \
                  (the message names the layer, ONNX node or input), or `certify`'s build or \
                  certified run failed (a bound violated); 2 bad usage (unknown command or flag)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate the example modules (`examples/generated/*.rs`) from the built-in families and
    /// `examples/models/*.json`.
    WriteExamples {
        /// Output directory (default: the workspace's `examples/generated`).
        dir: Option<PathBuf>,
    },
    /// Check a model (`.json` description or `.onnx` file) and print its size.
    Check {
        /// The model file.
        file: PathBuf,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// Print a model's `scale_graph!` program.
    Program {
        /// The model file (`.json` or `.onnx`).
        file: PathBuf,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// Print a model's example module (for `examples/generated/`).
    Module {
        /// The model file (`.json` or `.onnx`).
        file: PathBuf,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// Import an ONNX file: write `<OUT>/<name>.rs` and its initializers as
    /// `<OUT>/<name>/<input>.npy`.
    Import {
        /// The `.onnx` file.
        model: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        import: ImportArgs,
    },
    /// Import an ONNX file, build it and run the certified pass on its trained weights: prints
    /// the table, writes the JSON report and DOT picture (a small crate is generated and compiled
    /// under `target/scale-gen-cache/<hash>/`, reused when the model has not changed).
    Certify {
        /// The `.onnx` file.
        model: PathBuf,
        /// Directory holding `<input>.npy` for every graph input (not the initializers). Without
        /// it, graph inputs are random from `--seed`.
        #[arg(long)]
        npy: Option<PathBuf>,
        /// Seed of random graph inputs.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where the JSON report and DOT picture go.
        #[arg(long, default_value = "target/reports")]
        report: PathBuf,
        #[command(flatten)]
        import: ImportArgs,
    },
}

/// How an ONNX file is imported (ignored for JSON descriptions).
#[derive(clap::Args, Clone)]
struct ImportArgs {
    /// Model name (default: the file's stem).
    #[arg(long)]
    name: Option<String>,
    /// Loss appended to the ONNX graph: `sum` of the output, or `mse` to a new `target` input.
    #[arg(long, value_enum, default_value_t = LossArg::Sum)]
    loss: LossArg,
}

#[derive(ValueEnum, Clone, Copy)]
enum LossArg {
    Sum,
    Mse,
}

impl ImportArgs {
    fn options(&self) -> onnx::Options {
        onnx::Options {
            name: self.name.clone(),
            loss: match self.loss {
                LossArg::Sum => Loss::Sum,
                LossArg::Mse => Loss::Mse,
            },
        }
    }
}

fn is_onnx(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

fn import(path: &Path, args: &ImportArgs) -> Result<onnx::Imported, String> {
    onnx::import_file(path, &args.options()).map_err(|e| format!("{}: {e}", path.display()))
}

/// A `.json` description or an `.onnx` file, checked.
fn load(path: &Path, args: &ImportArgs) -> Result<Checked, String> {
    if is_onnx(path) {
        return import(path, args).map(|i| i.checked);
    }
    let p = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{p}: {e}"))?;
    let model = scale_gen::Model::from_json(&text).map_err(|e| format!("{p}: {e}"))?;
    check(&model).map_err(|e| format!("{p}: {e}"))
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::WriteExamples { dir } => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let dir = dir.unwrap_or(root.join("examples/generated"));
            let files = examples::files(&root)?;
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let bar = ProgressBar::new(files.len() as u64).with_style(
                ProgressStyle::with_template("write-examples {bar:30} {pos}/{len} {msg}")
                    .map_err(|e| e.to_string())?,
            );
            for (name, text) in &files {
                bar.set_message(name.clone());
                std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))?;
                bar.inc(1);
            }
            bar.finish_and_clear();
            println!("wrote {} files to {}", files.len(), dir.display());
        }
        Command::Check { file, import } => {
            let c = load(&file, &import)?;
            println!(
                "{}: ok ({} inputs, {} ops)",
                file.display(),
                c.model.inputs.len(),
                c.model.ops.len()
            );
        }
        Command::Program { file, import } => {
            println!("{}", emit::program(&load(&file, &import)?, 0))
        }
        Command::Module { file, import } => {
            print!(
                "{}",
                emit::module(&load(&file, &import)?, &file.display().to_string())
            );
        }
        Command::Import {
            model,
            out,
            import: args,
        } => {
            let imported = import(&model, &args)?;
            let source = format!("`{}`", model.display());
            let written = imported.write(&out, &source).map_err(|e| e.to_string())?;
            let m = imported.model();
            println!(
                "{}: imported `{}` ({} inputs, {} ops, loss `{}`); wrote {} and {} initializers to {}",
                model.display(),
                m.name,
                m.inputs.len(),
                m.ops.len(),
                imported.checked.loss,
                out.join(format!("{}.rs", m.name)).display(),
                written.len().saturating_sub(1),
                out.join(&m.name).display(),
            );
        }
        Command::Certify {
            model,
            npy,
            seed,
            report,
            import: args,
        } => {
            let imported = import(&model, &args)?;
            certify::certify(&model, &imported, npy.as_deref(), seed, &report)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    // clap exits with 2 on usage errors and 0 for --help/--version.
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale-gen: {e}");
            ExitCode::FAILURE
        }
    }
}
