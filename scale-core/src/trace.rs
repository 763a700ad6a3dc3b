//! Trace mode (SPEC §11): a certificate for values *another implementation* produced.
//!
//! A [`Trace`] holds, by name, the values of the entries of `Γ ++ ss` and the gradients of the
//! inputs that someone else's run computed (PyTorch through `scripts/torch_trace.py`, a GPU
//! kernel, your own code). [`certify_trace`] evaluates the exact enclosure of the model on the
//! trace's inputs and bounds, per traced tensor, how far *their* values are from the exact
//! ones: `max |t − m| + 2r` over the enclosure `⟨m, r⟩` — rigorous whatever produced `t`, and
//! within the enclosure's radius of their true error. It also computes the any-implementation
//! bound and flags every traced tensor that lies outside it: that run does not follow SPEC §5's
//! model (a different formula, a lower-precision accumulation, or a bug).
//!
//! Traces come from a directory of `.npy` files ([`Trace::from_npy_dir`]: `<name>.npy` for a
//! value, `<name>.grad.npy` for the gradient of input `<name>`) or JSON
//! ([`Trace::from_json`]). Missing inputs, unknown names and wrong shapes are typed errors
//! ([`Error::Trace`]); values of the model that the trace lacks (e.g. the matmul inside a
//! PyTorch `Linear`) are reported as not traced.
//!
//! ```
//! use ndarray::{arr0, arr1};
//! use scale_core::context::{Nil, Seg};
//! use scale_core::{ops, Rank1, RevGraphScale};
//! use scale_core::trace::{certify_trace, Trace};
//! let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank1<3>,)>, Nil, _>::nil(scale_core::brand!());
//! let (g, s) = g.snoc(ops::sum(x));
//! // Someone else's run: x, its sum (off by one f32 ulp of 0.6), and d/dx.
//! let mut t = Trace::default();
//! t.insert_value("x", arr1(&[0.1f32 as f64, 0.2f32 as f64, 0.3f32 as f64]).into_dyn());
//! t.insert_value("s", arr0(0.6f32.next_up() as f64).into_dyn());
//! t.insert_grad("x", arr1(&[1.0, 1.0, 1.0]).into_dyn());
//! let out = certify_trace(&g, &["x", "s"], &t, s)?;
//! let row = out.report.rows.iter().find(|r| r.name == "s").unwrap();
//! assert!(row.eps.unwrap() > 0.0 && row.eps.unwrap() < 1e-6);
//! assert_eq!(out.report.mode, "trace");
//! # Ok::<(), scale_core::Error>(())
//! ```

use crate::bound::Bound;
use crate::config::Config;
use crate::context::{Append, ShapeList};
use crate::error::Error;
use crate::graph::RevGraphScale;
use crate::handle::Var;
use crate::lists::TList;
use crate::report::{Report, Row, RowKind};
use crate::round::{abs_diff_up, add_up};
use crate::scalar::{Ball, Runtime};
use crate::shape::Rank0;
use crate::tolerance::ApproxTol;
use ndarray::ArrayD;
use std::collections::BTreeMap;
use std::path::Path;

/// Values and input gradients of another implementation's run, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    values: BTreeMap<String, ArrayD<f64>>,
    grads: BTreeMap<String, ArrayD<f64>>,
}

pub(crate) fn trace_err(name: impl Into<String>, problem: impl Into<String>) -> Error {
    Error::Trace {
        name: name.into(),
        problem: problem.into(),
    }
}

impl Trace {
    /// Record the value of entry `name` (an input or a `let`).
    pub fn insert_value(&mut self, name: &str, value: ArrayD<f64>) {
        self.values.insert(name.to_string(), value);
    }

    /// Record the gradient of input `name`.
    pub fn insert_grad(&mut self, name: &str, grad: ArrayD<f64>) {
        self.grads.insert(name.to_string(), grad);
    }

    /// Read every `<name>.npy` (a value) and `<name>.grad.npy` (an input's gradient) of `dir`
    /// (`f64` or `f32` arrays).
    pub fn from_npy_dir(dir: &Path) -> Result<Trace, Error> {
        let io = |e: std::io::Error| trace_err(dir.display().to_string(), e.to_string());
        let mut t = Trace::default();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            let Some(stem) = file.strip_suffix(".npy") else {
                continue;
            };
            let a = read_npy(&path)?;
            match stem.strip_suffix(".grad") {
                Some(name) => t.insert_grad(name, a),
                None => t.insert_value(stem, a),
            }
        }
        Ok(t)
    }

    /// Parse `{"values": {"name": nested arrays, …}, "grads": {"name": nested arrays, …}}`
    /// (numbers as JSON numbers; a scalar is a bare number).
    ///
    /// ```
    /// let t = scale_core::trace::Trace::from_json(r#"{"values": {"x": [1.5, 2]}, "grads": {"x": [1, 1]}}"#)?;
    /// assert_eq!(t.value("x").unwrap().shape(), &[2]);
    /// # Ok::<(), scale_core::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Trace, Error> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| trace_err("<json>", e.to_string()))?;
        let mut t = Trace::default();
        for (key, grads) in [("values", false), ("grads", true)] {
            let Some(obj) = v.get(key) else { continue };
            let obj = obj
                .as_object()
                .ok_or_else(|| trace_err(key, "expected an object of name → array"))?;
            for (name, a) in obj {
                let a = json_array(name, a)?;
                if grads {
                    t.insert_grad(name, a);
                } else {
                    t.insert_value(name, a);
                }
            }
        }
        Ok(t)
    }

    /// The recorded value of `name`.
    pub fn value(&self, name: &str) -> Option<&ArrayD<f64>> {
        self.values.get(name)
    }

    /// The recorded gradient of input `name`.
    pub fn grad(&self, name: &str) -> Option<&ArrayD<f64>> {
        self.grads.get(name)
    }

    /// The names of the recorded values, in order.
    pub fn value_names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// The names of the inputs whose gradient is recorded, in order.
    pub fn grad_names(&self) -> impl Iterator<Item = &str> {
        self.grads.keys().map(String::as_str)
    }
}

fn read_npy(path: &Path) -> Result<ArrayD<f64>, Error> {
    use ndarray_npy::ReadNpyExt;
    let err = |e: String| trace_err(path.display().to_string(), e);
    let open = || std::fs::File::open(path).map_err(|e| err(e.to_string()));
    match ArrayD::<f64>::read_npy(open()?) {
        Ok(a) => Ok(a),
        Err(_) => ArrayD::<f32>::read_npy(open()?)
            .map(|a| a.mapv(f64::from))
            .map_err(|e| err(format!("not an f64 or f32 .npy array: {e}"))),
    }
}

/// A nested JSON array of numbers as an array (shape from the nesting).
fn json_array(name: &str, v: &serde_json::Value) -> Result<ArrayD<f64>, Error> {
    let mut shape = Vec::new();
    let mut cur = v;
    while let Some(a) = cur.as_array() {
        shape.push(a.len());
        match a.first() {
            Some(first) => cur = first,
            None => break,
        }
    }
    let mut data = Vec::new();
    fn flatten(v: &serde_json::Value, out: &mut Vec<f64>) -> bool {
        match v {
            serde_json::Value::Array(a) => a.iter().all(|x| flatten(x, out)),
            serde_json::Value::Number(n) => n.as_f64().map(|x| out.push(x)).is_some(),
            // NaN and ±∞ have no JSON number: accept them as strings.
            serde_json::Value::String(s) => s.parse::<f64>().map(|x| out.push(x)).is_ok(),
            _ => false,
        }
    }
    if !flatten(v, &mut data) {
        return Err(trace_err(name, "not a (nested) array of numbers"));
    }
    ArrayD::from_shape_vec(shape, data).map_err(|_| trace_err(name, "ragged nested array"))
}

/// The outcome of [`certify_trace`].
#[derive(Debug, Clone)]
pub struct TraceReport {
    /// One row per value and gradient of the model, in mode `trace`: eps bounds the distance of
    /// the *traced* tensor to the exact one (`None` for tensors the trace does not hold, with a
    /// note), `observed` is that distance to the enclosure's midpoint, `radius` the enclosure's.
    pub report: Report,
    /// Names of traced tensors that lie outside the any-implementation bound: that run does not
    /// follow SPEC §5's model there.
    pub outside_any_implementation: Vec<String>,
}

/// `max |t − m| + 2r` (rigorous, rounded up) and `max(|t|, |m| + r)` over a traced tensor `t`
/// and the enclosure `⟨m, r⟩` of the exact one; `+∞` where anything is not finite.
fn distance(t: &ArrayD<f64>, enc: &ArrayD<Ball>) -> (Bound, Bound, f64) {
    let (mut d, mut mag, mut seen) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, b) in t.iter().zip(enc) {
        let (m, r) = (b.mid(), b.rad());
        if x == m && r == 0.0 {
            // An exact entry (an input, or a value every run computes exactly).
            mag = mag.max(x.abs());
            continue;
        }
        let slack = add_up(2.0 * r, 8.0 * f64::EPSILON * m.abs());
        let dist = add_up(abs_diff_up(x, m), slack);
        if !(dist.is_finite() && x.is_finite()) {
            return (Bound::INF, Bound::INF, f64::INFINITY);
        }
        d = d.max(dist);
        seen = seen.max((x - m).abs());
        mag = mag.max(x.abs()).max(add_up(m.abs(), r));
    }
    (Bound::new(d), Bound::new(mag), seen)
}

/// Certify another implementation's run of `graph` (SPEC §11's trace mode): `names` are the
/// names of `Γ ++ ss` (e.g. a `scale_graph!` model's `m.names()`), `trace` holds their run's
/// values (every input is required) and input gradients for the seed 1 at `loss`.
///
/// Errors: a missing input, a name the model does not have, a shape that differs from the
/// model's, or an input value that is not a value of the runtime type `R`.
pub fn certify_trace<R: Runtime, G: Append<Ss> + ShapeList, Ss, B>(
    graph: &RevGraphScale<R, G, Ss, B>,
    names: &[&str],
    trace: &Trace,
    loss: Var<Rank0, B>,
) -> Result<TraceReport, Error> {
    if names.len() != graph.len() {
        return Err(Error::LengthMismatch {
            expected: graph.len(),
            found: names.len(),
        });
    }
    let n_in = graph.n_inputs();
    let position = |n: &str| names.iter().position(|m| *m == n);
    for (kind, map) in [("value", &trace.values), ("gradient", &trace.grads)] {
        for (name, a) in map {
            let Some(i) = position(name) else {
                return Err(trace_err(
                    name,
                    format!("the model has no {kind} of this name"),
                ));
            };
            if kind == "gradient" && i >= n_in {
                return Err(trace_err(name, "gradients are of inputs; this is a node"));
            }
            let want = graph.dims()[i];
            if a.shape() != want {
                return Err(trace_err(
                    name,
                    format!("expected shape {want:?}, found {:?}", a.shape()),
                ));
            }
        }
    }
    let mut inputs = Vec::with_capacity(n_in);
    for name in &names[..n_in] {
        let a = trace
            .value(name)
            .ok_or_else(|| trace_err(*name, "input missing from the trace"))?;
        if let Some(v) = a
            .iter()
            .find(|&&v| v.is_finite() && R::from_f64(v).to_spec() != v)
        {
            return Err(trace_err(
                *name,
                format!("{v} is not a value of the runtime type {}", R::NAME),
            ));
        }
        inputs.push(a.mapv(R::from_f64));
    }
    let x = TList::<R, G>::from_arrays(inputs)?;
    let (eps_in, b_in) = graph.exact_inputs(&x);
    let (seed, eps_seed, b_seed) = graph.loss_seed(loss);
    let all: Vec<usize> = (0..n_in).collect();
    let cfg = Config::any_implementation().with_assumed_ulps(graph.config().assumed_ulps())?;
    let cert = graph.certify_with(cfg, x, &eps_in, &b_in, &seed, &eps_seed, &b_seed, &all);
    let mut report = Report::new(graph, &cert, names)?;
    report.mode = "trace".to_string();
    let enc = cert
        .enclosure
        .as_ref()
        .expect("invariant: the any-implementation pass returns the exact enclosure");
    let mut outside = Vec::new();
    for row in &mut report.rows {
        let i = row.entry;
        let (traced, ball, any_eps) = match row.kind {
            RowKind::Value => (
                trace.value(names[i]),
                &enc.values.as_slice()[i],
                cert.eps.as_slice()[i],
            ),
            RowKind::Gradient => (
                trace.grad(names[i]),
                &enc.grads.as_slice()[i],
                cert.grad_eps.as_slice()[i],
            ), // A trace certifies a graph's pass; training-step rows are not part of it.
            RowKind::Update => continue,
        };
        let Some(t) = traced else {
            *row = crate::report::Row {
                eps: None,
                scale: None,
                atol: None,
                rtol: None,
                observed: None,
                holds: None,
                note: Some("not in the trace".into()),
                ..row.clone()
            };
            continue;
        };
        if fill_row(row, t, ball, any_eps) {
            outside.push(row.name.clone());
        }
    }
    Ok(TraceReport {
        report,
        outside_any_implementation: outside,
    })
}

/// Fills `row` with the trace-mode bound of the traced tensor `t` against the enclosure `ball`
/// of the exact one, and notes whether `t` lies outside the any-implementation bound `any_eps`
/// (returned: that run does not follow SPEC §5's model there).
pub(crate) fn fill_row(
    row: &mut Row,
    t: &ArrayD<f64>,
    ball: &ArrayD<Ball>,
    any_eps: Bound,
) -> bool {
    let (eps, b, seen) = distance(t, ball);
    let tol = ApproxTol::from_eps_scale(eps, b);
    let finite_t = t.iter().all(|v| v.is_finite());
    let outside_any = eps.get() > any_eps.get() && seen > any_eps.get();
    let some = |x: Bound| (!x.is_infinite()).then(|| x.get());
    row.eps = some(eps);
    row.scale = some(b);
    row.atol = some(Bound::new(tol.abs));
    row.rtol = some(Bound::new(tol.rel));
    row.linf = t.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    row.finite = finite_t;
    row.observed = seen.is_finite().then_some(seen);
    row.holds = Some(true);
    row.radius = ball.iter().map(|b| b.rad()).reduce(f64::max);
    row.note = if !finite_t {
        Some("the traced value is not finite".into())
    } else if eps.is_infinite() {
        Some("the exact value is not bounded (non-finite data upstream)".into())
    } else if outside_any {
        Some(format!(
            "outside the any-implementation bound {:.3e}: this run does not follow SPEC §5",
            any_eps.get()
        ))
    } else {
        None
    };
    outside_any
}
