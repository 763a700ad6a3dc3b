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

/// Command-line options shared by the model examples.
pub struct Options {
    /// Seed of the random inputs.
    pub seed: u64,
    /// Read inputs from a JSON object `{ "name": nested arrays, … }`.
    pub json: Option<PathBuf>,
    /// Read inputs from `<dir>/<name>.npy`.
    pub npy_dir: Option<PathBuf>,
    /// Where the JSON report and the DOT picture go.
    pub out_dir: PathBuf,
    /// Skip the (slower) interval-spec evaluation.
    pub no_spec: bool,
    /// Certify under these settings instead of the graph's own (`--mode this-run | a-posteriori
    /// | order-free`).
    pub mode: Option<Config>,
    /// Print no table and write no files (for the tightness summary).
    pub quiet: bool,
    /// Trace mode: certify the values and gradients another implementation wrote to
    /// `<dir>/<name>.npy` and `<dir>/<name>.grad.npy` (e.g. `scripts/torch_trace.py`).
    pub trace_dir: Option<PathBuf>,
}

/// The settings of a mode name of `--mode`.
pub fn mode_config(name: &str) -> Option<Config> {
    let d = Config::default();
    match name {
        "this-run" => Some(d),
        "a-posteriori" => Some(d.with_enclose(false)),
        "order-free" => Some(d.with_enclose(false).with_dot_bound(DotBound::OrderFree)),
        "any-implementation" => Some(Config::any_implementation()),
        "estimate" => Some(Config::estimate()),
        _ => None,
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

impl Options {
    /// Parse `--seed N --inputs FILE.json --npy DIR --out DIR --no-spec --mode M --trace DIR`
    /// from the command line.
    pub fn from_args() -> Result<Options, String> {
        let mut o = Options {
            seed: 7,
            json: None,
            npy_dir: None,
            out_dir: PathBuf::from("target/reports"),
            no_spec: false,
            mode: None,
            quiet: false,
            trace_dir: None,
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            let mut val = || it.next().ok_or(format!("{a} needs a value"));
            match a.as_str() {
                "--seed" => o.seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
                "--inputs" => o.json = Some(val()?.into()),
                "--npy" => o.npy_dir = Some(val()?.into()),
                "--out" => o.out_dir = val()?.into(),
                "--no-spec" => o.no_spec = true,
                "--trace" => o.trace_dir = Some(val()?.into()),
                "--mode" => {
                    let m = val()?;
                    o.mode = Some(mode_config(&m).ok_or(format!(
                        "--mode: `{m}` is not one of this-run, a-posteriori, order-free, any-implementation, estimate"
                    ))?)
                }
                "--tightness" => {}
                other if !other.starts_with("--") => {}
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(o)
    }
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
    let open = || std::fs::File::open(path);
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
    let cfg = o.mode.unwrap_or(graph.config());
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
