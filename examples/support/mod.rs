//! Shared runner for the examples: inputs (random from a fixed seed, or from JSON / `.npy`
//! files), the certified pass, the rigorous interval spec, and the report in all three renderings.

#![allow(dead_code)] // each example uses the parts it needs

use ndarray::{ArrayD, IxDyn};
use scale_graph::config::{Config, DotBound};
use scale_graph::context::{Append, ShapeList};
use scale_graph::report::{Report, RowKind};
use scale_graph::{Interval, Rank0, RevGraphScale, Runtime, TList, Var};
use std::error::Error;
use std::path::{Path, PathBuf};

/// An input as the generator describes it.
pub struct InputSpec {
    /// Name in the graph.
    pub name: &'static str,
    /// Dimensions.
    pub shape: &'static [usize],
    /// Standard deviation of random data.
    pub std: f64,
}

/// What the model runners' exit codes mean (their `--help` shows it).
pub const EXIT_CODES: &str = "Exit codes: 0 every bound holds; 1 a bound is violated, or an input \
     file or the model is wrong (the message names it); 2 usage error (unknown flag or model, bad \
     value; clap prints the usage).";

/// Command-line options shared by the model runners (`examples/models.rs` flattens them beside
/// its own flags; `scale-gen certify`'s generated crate parses them through [`Runner`]).
#[derive(clap::Args, Clone, Debug)]
pub struct Options {
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Read inputs from a JSON object `{ "name": nested arrays, … }`.
    #[arg(long = "inputs", value_name = "FILE.json", conflicts_with = "npy_dir")]
    pub json: Option<PathBuf>,
    /// Read inputs from `<DIR>/<name>.npy` (`f32` or `f64`).
    #[arg(long = "npy", value_name = "DIR")]
    pub npy_dir: Option<PathBuf>,
    /// Where the JSON report and the DOT picture go.
    #[arg(long = "out", value_name = "DIR", default_value = "target/reports")]
    pub out_dir: PathBuf,
    /// Skip the (slower) interval-spec evaluation.
    #[arg(long)]
    pub no_spec: bool,
    /// Certify under this mode's settings instead of the graph's own.
    #[arg(long, value_enum)]
    pub mode: Option<ModeName>,
    /// Threads for the certified pass's independent parts (`Config::with_threads`); the
    /// bounds are the same bit for bit whatever the count.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: u16,
    /// Print no table and write no files (for the tightness summary).
    #[arg(skip)]
    pub quiet: bool,
    /// Trace mode: certify the values and gradients another implementation wrote to
    /// `<DIR>/<name>.npy` and `<DIR>/<name>.grad.npy` (e.g. `scripts/torch_trace.py`).
    #[arg(long = "trace", value_name = "DIR")]
    pub trace_dir: Option<PathBuf>,
}

impl Default for Options {
    /// The options of a command line that gives none (seed 7, `target/reports`, one thread).
    fn default() -> Self {
        <Runner as clap::Parser>::parse_from(["runner"]).options
    }
}

/// A runner that takes only the shared [`Options`] (the main of `scale-gen certify`'s crate).
#[derive(clap::Parser, Debug)]
#[command(version, about = "Certify one model: the table, the JSON report and the DOT picture.", after_help = EXIT_CODES)]
pub struct Runner {
    /// The shared options (the runner adds none).
    #[command(flatten)]
    pub options: Options,
}

/// The runtime types `--precision` names: the generated models are generic over them.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// IEEE binary32.
    F32,
    /// bfloat16 (8 exponent bits, 8 significand bits).
    Bf16,
    /// IEEE binary16.
    F16,
}

impl Precision {
    /// The precision a runtime name (`Runtime::NAME`) stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        use clap::ValueEnum;
        Self::from_str(name, false).ok()
    }
}

/// A generated model's entry point in one runtime.
pub type Run = fn(&Options) -> Result<Report, Box<dyn Error>>;

/// A generated model (`examples/generated/mod.rs` lists them): its name, the runtime its
/// description declares, and its `run` in each runtime, in [`Precision`]'s order.
pub struct Model {
    /// The model's name.
    pub name: &'static str,
    /// `Runtime::NAME` of the runtime the model declares.
    pub declared: &'static str,
    /// `run::<R>` for `f32`, `bf16`, `f16`.
    pub runs: [Run; 3],
}

impl Model {
    /// Certify the model in `precision` (the declared runtime when `None`).
    pub fn run(&self, precision: Option<Precision>, o: &Options) -> Result<Report, Box<dyn Error>> {
        let p = precision
            .or_else(|| Precision::from_name(self.declared))
            .unwrap_or(Precision::F32);
        (self.runs[p as usize])(o)
    }
}

/// The certification settings `--mode` names (SPEC §11).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeName {
    /// This run's result (the default settings: propagated bounds and the exact enclosure).
    #[value(name = "this-run")]
    ThisRun,
    /// Propagated bounds only, the enclosure off.
    #[value(name = "a-posteriori")]
    APosteriori,
    /// Propagated bounds with the order-free dot-product bound.
    #[value(name = "order-free")]
    OrderFree,
    /// Any implementation that follows SPEC §5.
    #[value(name = "any-implementation")]
    AnyImplementation,
    /// The typical error: an estimate, not a bound.
    #[value(name = "estimate")]
    Estimate,
}

impl ModeName {
    /// The settings of this mode.
    pub fn config(self) -> Config {
        let d = Config::default();
        match self {
            ModeName::ThisRun => d,
            ModeName::APosteriori => d.with_enclose(false),
            ModeName::OrderFree => d.with_enclose(false).with_dot_bound(DotBound::OrderFree),
            ModeName::AnyImplementation => Config::any_implementation(),
            ModeName::Estimate => Config::estimate(),
        }
    }

    /// The name `--mode` takes.
    pub fn name(self) -> String {
        use clap::ValueEnum;
        self.to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string())
    }
}

/// Median and max of bound ÷ observed over the non-exact rows of one kind.
pub fn looseness(report: &Report, kind: RowKind) -> (f64, f64) {
    let mut v: Vec<f64> = report
        .rows
        .iter()
        .filter(|r| r.kind == kind && r.eps != Some(0.0))
        .filter_map(|r| r.looseness())
        .collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[v.len() - 1])
}

fn from_json_value<R: Runtime>(
    name: &str,
    v: &serde_json::Value,
    shape: &[usize],
) -> Result<ArrayD<R>, String> {
    fn flatten(
        v: &serde_json::Value,
        out: &mut Vec<f64>,
        dims: &mut Vec<usize>,
        depth: usize,
    ) -> Result<(), String> {
        match v {
            serde_json::Value::Array(items) => {
                if dims.len() <= depth {
                    dims.push(items.len());
                } else if dims[depth] != items.len() {
                    return Err("ragged nested arrays".into());
                }
                items
                    .iter()
                    .try_for_each(|x| flatten(x, out, dims, depth + 1))
            }
            serde_json::Value::Number(n) => {
                out.push(n.as_f64().ok_or("not a number")?);
                Ok(())
            }
            _ => Err("expected numbers or nested arrays".into()),
        }
    }
    let (mut data, mut dims) = (Vec::new(), Vec::new());
    flatten(v, &mut data, &mut dims, 0).map_err(|e| format!("input `{name}`: {e}"))?;
    if dims != shape {
        return Err(format!(
            "input `{name}`: expected shape {shape:?}, found {dims:?}"
        ));
    }
    ArrayD::from_shape_vec(IxDyn(shape), data.into_iter().map(R::from_f64).collect())
        .map_err(|e| format!("input `{name}`: {e}"))
}

/// The inputs: from `--inputs` JSON or `--npy` files when given (every input must be there),
/// otherwise Gaussian random data from `--seed`.
pub fn inputs<R: Runtime>(
    specs: &[InputSpec],
    o: &Options,
) -> Result<Vec<ArrayD<R>>, Box<dyn Error>> {
    if let Some(path) = &o.json {
        let text = std::fs::read_to_string(path)?;
        let obj: serde_json::Value = serde_json::from_str(&text)?;
        return specs
            .iter()
            .map(|s| {
                let v =
                    obj.get(s.name)
                        .ok_or(format!("{}: no input `{}`", path.display(), s.name))?;
                Ok(from_json_value::<R>(s.name, v, s.shape)?)
            })
            .collect();
    }
    if let Some(dir) = &o.npy_dir {
        return specs
            .iter()
            .map(|s| {
                let file = dir.join(format!("{}.npy", s.name));
                let a: ArrayD<f64> = read_npy_f64(&file)?;
                if a.shape() != s.shape {
                    return Err(format!(
                        "{}: expected shape {:?}, found {:?}",
                        file.display(),
                        s.shape,
                        a.shape()
                    )
                    .into());
                }
                Ok(a.mapv(R::from_f64))
            })
            .collect();
    }
    let mut rng = scale_graph::random::rng(o.seed);
    Ok(specs
        .iter()
        .map(|s| scale_graph::random::gaussian(&mut rng, IxDyn(s.shape), s.std))
        .collect())
}

/// Trace mode: certify another implementation's values and gradients read from `dir`, print the
/// table (and which tensors lie outside the any-implementation bound), write the JSON report.
fn run_trace<R: Runtime, G, Ss, B>(
    name: &str,
    graph: &RevGraphScale<R, G, Ss, B>,
    names: &[&str],
    loss: Var<Rank0, B>,
    dir: &Path,
    o: &Options,
) -> Result<Report, Box<dyn Error>>
where
    G: ShapeList + Append<Ss>,
{
    let trace = scale_graph::trace::Trace::from_npy_dir(dir)?;
    let out = scale_graph::trace::certify_trace(graph, names, &trace, loss)?;
    if !o.quiet {
        println!(
            "{name}: trace of {}\n{}",
            dir.display(),
            out.report.to_table()
        );
        if out.outside_any_implementation.is_empty() {
            println!("every traced tensor is within the any-implementation bound");
        } else {
            println!(
                "outside the any-implementation bound (that run does not follow SPEC §5 there): {}",
                out.outside_any_implementation.join(", ")
            );
        }
        std::fs::create_dir_all(&o.out_dir)?;
        let json = o.out_dir.join(format!("{name}.trace.json"));
        std::fs::write(&json, out.report.to_json())?;
        println!("wrote {}", json.display());
    }
    Ok(out.report)
}

/// Read a `.npy` file of `f32` or `f64` values as `f64`.
fn read_npy_f64(path: &Path) -> Result<ArrayD<f64>, Box<dyn Error>> {
    use ndarray_npy::ReadNpyExt;
    let open = || std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()));
    match ArrayD::<f64>::read_npy(open()?) {
        Ok(a) => Ok(a),
        Err(_) => Ok(ArrayD::<f32>::read_npy(open()?)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .mapv(f64::from)),
    }
}

/// Certify one pass (gradients of every input from the scalar `loss`), compare with the interval
/// spec, print the table, write `<out>/<name>.json` and `<out>/<name>.dot` (and `.svg` when
/// Graphviz is installed). Returns the report.
pub fn run<R: Runtime, G, Ss, B>(
    name: &str,
    graph: &RevGraphScale<R, G, Ss, B>,
    names: &[&str],
    inputs: Vec<ArrayD<R>>,
    loss: Var<Rank0, B>,
    o: &Options,
) -> Result<Report, Box<dyn Error>>
where
    G: ShapeList + Append<Ss>,
{
    if let Some(dir) = &o.trace_dir {
        return run_trace(name, graph, names, loss, dir, o);
    }
    let x = TList::<R, G>::from_arrays(inputs)?;
    let (eps_in, b_in) = graph.exact_inputs(&x);
    let (seed, eps_seed, b_seed) = graph.loss_seed(loss);
    let xs = (!o.no_spec).then(|| x.to_spec::<Interval>());
    let all: Vec<usize> = (0..graph.n_inputs()).collect();
    let cfg = o
        .mode
        .map_or(graph.config(), ModeName::config)
        .with_threads(usize::from(o.threads));
    let cert = graph.certify_with(cfg, x, &eps_in, &b_in, &seed, &eps_seed, &b_seed, &all);
    let mut report = Report::new(graph, &cert, names)?;
    // The JSON carries the this-run enclosure (midpoint + radius per entry): a reference of
    // known accuracy for whoever reads the report.
    report.attach_enclosure(&cert);
    if let Some(xs) = xs {
        let sv = graph.eval_spec(&xs);
        let sg = graph.backprop_spec(&xs, &seed.to_spec());
        report.observe(&cert, &sv, &sg);
    }
    if o.quiet {
        return Ok(report);
    }
    println!("{name}\n{}", report.to_table());
    std::fs::create_dir_all(&o.out_dir)?;
    let json = o.out_dir.join(format!("{name}.json"));
    std::fs::write(&json, report.to_json())?;
    match report.write_dot(&o.out_dir.join(format!("{name}.dot")))? {
        Ok(svg) => println!("wrote {} and {}", json.display(), svg.display()),
        Err(hint) => println!("wrote {}; {hint}", json.display()),
    }
    Ok(report)
}
