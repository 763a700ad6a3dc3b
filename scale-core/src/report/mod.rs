//! Reports: one data structure ([`Report`]) with three renderings — a terminal table
//! ([`Report::to_table`]), JSON ([`Report::to_json`], exact `f64` round-trip) and a Graphviz DOT
//! picture ([`Report::to_dot`]) — plus [`assert_close`] for users' own tests.
//!
//! ```
//! use ndarray::arr1;
//! use scale_core::context::{Nil, Seg};
//! use scale_core::report::Report;
//! use scale_core::{ops, Interval, Rank1, RevGraphScale, TList};
//!
//! type Gamma = Seg<Nil, (Rank1<3>, Rank1<3>)>;
//! let (g, (x, y)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
//! let (g, p) = g.snoc(ops::mul(x, y));
//! let (g, loss) = g.snoc(ops::sum(p));
//! let xr = TList::<f32, Gamma>::from_arrays(vec![
//!     arr1(&[0.1f32, 0.2, 0.3]).into_dyn(),
//!     arr1(&[1.0f32, -2.0, 3.0]).into_dyn(),
//! ])?;
//! let (eps_in, b_in) = g.exact_inputs(&xr);
//! let (seed, eps_seed, b_seed) = g.loss_seed(loss);
//! let xs = xr.to_spec::<Interval>();
//! let cert = g.certify(xr, &eps_in, &b_in, &seed, &eps_seed, &b_seed);
//!
//! let mut report = Report::new(&g, &cert, &["x", "y", "p", "loss"])?;
//! report.observe(&cert, &g.eval_spec(&xs), &g.backprop_spec(&xs, &seed.to_spec()));
//! assert_eq!(report.violations(), 0);
//! println!("{}", report.to_table());
//! let back = Report::from_json(&report.to_json())?;
//! assert_eq!(back, report);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod close;
mod dot;
pub use dot::DotOptions;
mod table;

pub use close::{
    CloseError, CloseFailure, CloseOptions, assert_close, check_close, check_close_with,
};

use crate::bound::Bound;
use crate::check;
use crate::graph::{Certificate, Graph, Kind};
use crate::lists::TList;
use crate::node::FwdNode;
use crate::scalar::{Runtime, SpecScalar};
use crate::tolerance::ApproxTol;
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

/// Whether a report row is a value of `Γ ++ ss` or the gradient of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    /// A graph value (input or node output).
    Value,
    /// The gradient (cotangent) of an input.
    Gradient,
    /// A training step's new weights (`w'`) or optimizer state (`w.exp_avg`, …).
    Update,
}

/// One row of a report: a value or a gradient with its bounds and derived tolerance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Name (from `scale_graph!`, or given to [`Report::new`]); gradients are `d/d<name>`.
    pub name: String,
    /// Value or gradient.
    pub kind: RowKind,
    /// Context position of the value (or of the input, for a gradient).
    pub entry: usize,
    /// Tensor dimensions.
    pub shape: Vec<usize>,
    /// Error bound (`+∞` is serialised as `null`).
    pub eps: Option<f64>,
    /// Scale bound (`+∞` is serialised as `null`).
    pub scale: Option<f64>,
    /// Derived absolute tolerance (`atol`).
    pub atol: Option<f64>,
    /// Derived relative tolerance (`rtol`).
    pub rtol: Option<f64>,
    /// Largest runtime magnitude.
    pub linf: f64,
    /// Whether every runtime element is finite.
    pub finite: bool,
    /// Observed error against the spec (distance from runtime to the spec enclosure's midpoint,
    /// maximised over elements), when the spec was run.
    pub observed: Option<f64>,
    /// Whether the bound covers the whole spec enclosure (approx and scale), when the spec was run.
    pub holds: Option<bool>,
    /// Why a bound is `+∞`, when known.
    pub note: Option<String>,
    /// This-run mode: the largest radius of the enclosure of the exact value (how precisely
    /// the exact value is known; `None` without an enclosure or when it is unbounded).
    #[serde(default)]
    pub radius: Option<f64>,
    /// The enclosure of the exact tensor, entry by entry (row-major), when attached with
    /// [`Report::attach_enclosure`]: a reference of known accuracy to test other code against.
    /// Serialised with exact `f64` round-trip; omitted when not attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enclosure: Option<EnclosureData>,
    /// Where a node's error comes from: the error bounds of its internal stages, in order
    /// ([`FwdNode::fwd_stages`]; e.g. layer norm's centring, variance, sqrt, division, affine).
    /// Empty for inputs, gradients and single-stage ops (and then omitted from JSON).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
}

/// One internal stage of a node: its name and the error bound of that intermediate of this run
/// (`+∞` is serialised as `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Stage name (e.g. `variance`).
    pub name: String,
    /// Error bound of the stage's intermediate.
    pub eps: Option<f64>,
}

/// Midpoints and radii of an enclosure tensor, row-major: the exact value of entry `i` lies in
/// `[mid[i] − rad[i], mid[i] + rad[i]]` (a radius of `null` in JSON is `+∞`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnclosureData {
    /// Midpoints.
    pub mid: Vec<f64>,
    /// Radii (`None` for an unbounded entry).
    pub rad: Vec<Option<f64>>,
}

impl Row {
    /// `eps / observed`: how loose the bound is (`None` without an observation or when the
    /// observed error is 0).
    pub fn looseness(&self) -> Option<f64> {
        match (self.eps, self.observed) {
            (Some(e), Some(o)) if o > 0.0 => Some(e / o),
            _ => None,
        }
    }
}

/// What the eps of a report in `mode` (a [`Config::mode_name`](crate::config::Config::mode_name))
/// promises, in the words tables and drawings print.
///
/// ```
/// use scale_core::report::mode_promise;
/// assert!(mode_promise("estimate — not a bound").contains("not a bound"));
/// assert!(mode_promise("any-implementation").contains("any conforming"));
/// ```
pub fn mode_promise(mode: &str) -> &'static str {
    if mode == "any-implementation" {
        "eps bounds the error of any conforming implementation's result"
    } else if mode == "trace" {
        "eps bounds the error of the traced run's values"
    } else if mode.starts_with("estimate") {
        "eps is an estimate of the typical error, not a bound"
    } else {
        "eps bounds the error of this library's result"
    }
}

/// A node of the graph, for the structure part of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Op name.
    pub op: String,
    /// Context positions the node reads.
    pub args: Vec<usize>,
    /// Context position of its output.
    pub out: usize,
}

/// Everything a user wants to see about a certified pass (see [the module docs](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Which question the bounds answer (SPEC §11), e.g. `this-run`; see
    /// [`Config::mode_name`](crate::config::Config::mode_name).
    #[serde(default)]
    pub mode: String,
    /// Runtime scalar type name (`f32`, …).
    pub runtime: String,
    /// Assumed accuracy of the platform's elementary functions, in ulps.
    pub assumed_ulps: f64,
    /// Number of inputs (`|Γ|`).
    pub n_inputs: usize,
    /// Value rows (every entry of `Γ ++ ss`), then gradient rows (every input).
    pub rows: Vec<Row>,
    /// The graph's nodes, first to last.
    pub nodes: Vec<NodeInfo>,
}

fn opt(b: Bound) -> Option<f64> {
    if b.is_infinite() { None } else { Some(b.get()) }
}

fn runtime_stats<R: Runtime>(a: &ArrayD<R>) -> (f64, bool) {
    let finite = a.iter().all(|x| x.is_finite());
    let linf = a.iter().map(|x| x.to_spec().abs()).fold(0.0, f64::max);
    (linf, finite)
}

pub(crate) fn row<R: Runtime>(
    name: String,
    kind: RowKind,
    entry: usize,
    value: &ArrayD<R>,
    eps: Bound,
    scale: Bound,
) -> Row {
    let tol = ApproxTol::from_eps_scale(eps, scale);
    let (linf, finite) = runtime_stats(value);
    let note = if !finite {
        Some("non-finite runtime value".to_string())
    } else if eps.is_infinite() {
        Some("no finite bound (domain or overflow cannot be excluded)".to_string())
    } else {
        None
    };
    Row {
        name,
        kind,
        entry,
        shape: value.shape().to_vec(),
        eps: opt(eps),
        scale: opt(scale),
        atol: opt(Bound::new(tol.abs)),
        rtol: if eps.is_infinite() {
            None
        } else {
            Some(tol.rel)
        },
        linf,
        finite,
        observed: None,
        holds: None,
        note,
        radius: None,
        enclosure: None,
        stages: Vec::new(),
    }
}

/// Largest radius of an enclosure tensor (`None` when unbounded).
fn max_radius(a: &ArrayD<crate::scalar::Ball>) -> Option<f64> {
    let r = a.iter().fold(0.0f64, |m, b| m.max(b.rad()));
    r.is_finite().then_some(r)
}

impl Report {
    /// Build a report from a certified pass. `names` names every entry of `Γ ++ ss` in order
    /// (inputs, then one per node, nested anonymous nodes included), or is empty for positional
    /// names `#<position>`. Any other count is an [`Error::LengthMismatch`](crate::Error): a
    /// short list would silently label a tensor with another entry's name.
    ///
    /// ```
    /// # use scale_core::context::{Nil, Seg};
    /// # use scale_core::{ops, report::Report, Rank1, RevGraphScale, TList};
    /// # let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank1<2>,)>, Nil, _>::nil(scale_core::brand!());
    /// # let (g, s) = g.snoc(ops::sum(x));
    /// # let xr = TList::from_arrays(vec![ndarray::arr1(&[1.5f32, 2.0]).into_dyn()]).unwrap();
    /// # let (e, b) = g.exact_inputs(&xr);
    /// # let (seed, es, bs) = g.loss_seed(s);
    /// # let cert = g.certify(xr, &e, &b, &seed, &es, &bs);
    /// assert!(Report::new(&g, &cert, &["x", "s"]).is_ok());
    /// assert!(Report::new(&g, &cert, &["s"]).is_err());
    /// ```
    pub fn new<K: Kind, R: Runtime, G, Ss, B, Ctx>(
        graph: &Graph<K, R, G, Ss, B>,
        cert: &Certificate<R, G, Ctx>,
        names: &[&str],
    ) -> Result<Report, crate::Error> {
        if !names.is_empty() && names.len() != graph.len() {
            return Err(crate::Error::LengthMismatch {
                expected: graph.len(),
                found: names.len(),
            });
        }
        let name = |i: usize| names.get(i).map_or(format!("#{i}"), |s| s.to_string());
        let mut rows = Vec::new();
        let vals = cert.values.as_slice();
        for (i, v) in vals.iter().enumerate() {
            rows.push(row(
                name(i),
                RowKind::Value,
                i,
                v,
                cert.eps.as_slice()[i],
                cert.scales.as_slice()[i],
            ));
        }
        for (i, gr) in cert.grads.as_slice().iter().enumerate() {
            rows.push(row(
                format!("d/d{}", name(i)),
                RowKind::Gradient,
                i,
                gr,
                cert.grad_eps.as_slice()[i],
                cert.grad_scales.as_slice()[i],
            ));
        }
        let n_inputs = graph.n_inputs();
        // Stage breakdowns, from the certificate's values and eps (what the node's own bound saw).
        for (k, n) in graph.nodes().iter().enumerate() {
            let out = n_inputs + k;
            let (Some(row), Some(v)) = (rows.get_mut(out), vals.get(out)) else {
                continue;
            };
            row.stages = n
                .fwd_stages(cert.eps.as_slice(), vals, v)
                .into_iter()
                .map(|(name, e)| Stage {
                    name: name.to_string(),
                    eps: opt(e),
                })
                .collect();
        }
        let nodes = graph
            .nodes()
            .iter()
            .enumerate()
            .map(|(k, n)| NodeInfo {
                op: n.op_name().to_string(),
                args: n.args().iter().map(|a| a.pos).collect(),
                out: n_inputs + k,
            })
            .collect();
        // Name the cause of every +∞ value bound.
        for (row, cause) in rows.iter_mut().zip(&cert.unbounded) {
            let Some(cause) = cause else { continue };
            let op = |p: usize| {
                graph
                    .nodes()
                    .get(p.wrapping_sub(graph.n_inputs()))
                    .map_or("?", |n| n.op_name())
            };
            row.note = Some(match *cause {
                crate::graph::Unbounded::NonFiniteInput(i) => {
                    format!("no finite bound: input `{}` is not finite", name(i))
                }
                crate::graph::Unbounded::UnboundedInput(i) => {
                    format!("no finite bound: input `{}` was given eps = +inf", name(i))
                }
                crate::graph::Unbounded::NonFiniteValue(p) => format!(
                    "no finite bound: `{}` ({}) is not finite at run time (overflow)",
                    name(p),
                    op(p)
                ),
                crate::graph::Unbounded::GaveUp(p) => format!(
                    "no finite bound: `{}` ({}) cannot bound its error (a precondition such as \
                     log's positivity is not certain)",
                    name(p),
                    op(p)
                ),
            });
        }
        if let Some(enc) = &cert.enclosure {
            let n_vals = vals.len();
            let balls = enc.values.as_slice().iter().chain(enc.grads.as_slice());
            for (row, b) in rows.iter_mut().zip(balls) {
                row.radius = max_radius(b);
            }
            debug_assert!(rows.len() >= n_vals);
        }
        Ok(Report {
            mode: cert.config.mode_name().to_string(),
            runtime: R::NAME.to_string(),
            assumed_ulps: cert.config.assumed_ulps(),
            n_inputs,
            rows,
            nodes,
        })
    }

    /// Attach the certificate's enclosure of the exact values and gradients to every row (each
    /// tensor's midpoints and radii, for the JSON report), when the certificate has one (the
    /// this-run, any-implementation and estimate modes do). Large for large tensors: opt in.
    ///
    /// ```
    /// use scale_core::context::{Nil, Seg};
    /// use scale_core::{ops, report::Report, Rank1, RevGraphScale, TList};
    /// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank1<2>,)>, Nil, _>::nil(scale_core::brand!());
    /// let (g, s) = g.snoc(ops::sum(x));
    /// let xr = TList::from_arrays(vec![ndarray::arr1(&[0.1f32, 0.2]).into_dyn()])?;
    /// let (e, b) = g.exact_inputs(&xr);
    /// let (seed, es, bs) = g.loss_seed(s);
    /// let cert = g.certify(xr, &e, &b, &seed, &es, &bs);
    /// let mut r = Report::new(&g, &cert, &["x", "s"])?;
    /// r.attach_enclosure(&cert);
    /// let back: Report = serde_json::from_str(&r.to_json()).unwrap();
    /// assert_eq!(back, r); // exact round-trip
    /// let enc = r.rows[1].enclosure.as_ref().unwrap();
    /// assert!((enc.mid[0] - (0.1f32 as f64 + 0.2f32 as f64)).abs() <= enc.rad[0].unwrap());
    /// # Ok::<(), scale_core::Error>(())
    /// ```
    pub fn attach_enclosure<R, G, Ctx>(&mut self, cert: &Certificate<R, G, Ctx>) {
        let Some(enc) = &cert.enclosure else { return };
        let balls = enc.values.as_slice().iter().chain(enc.grads.as_slice());
        for (row, b) in self.rows.iter_mut().zip(balls) {
            row.enclosure = Some(EnclosureData {
                mid: b.iter().map(|x| x.mid()).collect(),
                rad: b
                    .iter()
                    .map(|x| x.rad())
                    .map(|r| r.is_finite().then_some(r))
                    .collect(),
            });
        }
    }

    /// Compare against spec values and spec gradients (e.g. the rigorous [`Interval`] spec) of the
    /// same pass: fills `observed` and `holds` for every row.
    ///
    /// [`Interval`]: crate::Interval
    pub fn observe<S: SpecScalar, R: Runtime, G, Ctx>(
        &mut self,
        cert: &Certificate<R, G, Ctx>,
        spec_values: &TList<S, Ctx>,
        spec_grads: &TList<S, G>,
    ) -> &mut Self {
        let rt = cert.values.as_slice().iter().chain(cert.grads.as_slice());
        let bounds = cert
            .eps
            .as_slice()
            .iter()
            .zip(cert.scales.as_slice())
            .chain(
                cert.grad_eps
                    .as_slice()
                    .iter()
                    .zip(cert.grad_scales.as_slice()),
            );
        let specs = spec_values.as_slice().iter().chain(spec_grads.as_slice());
        for (((row, r), (&e, &b)), s) in self.rows.iter_mut().zip(rt).zip(bounds).zip(specs) {
            let observed = s
                .iter()
                .zip(r.iter())
                .map(|(s, r)| (s.mid() - r.to_spec()).abs())
                .fold(0.0, |m: f64, d| if d > m || d.is_nan() { d } else { m });
            row.observed = Some(observed);
            row.holds = Some(check::approx(s, r, e).is_ok() && check::scale(s, r, b).is_ok());
        }
        self
    }

    /// Appends a training step's rows ([`RowKind::Update`]): each parameter's new weights,
    /// named `w'` after the input's name in `names`, then its optimizer state (`w.exp_avg`, …),
    /// with the share of updates lost to rounding in the weights' note.
    pub fn push_updates<R: Runtime, G, Ctx>(
        &mut self,
        names: &[&str],
        step: &crate::optim::Step<R, G, Ctx>,
        trainer: &crate::optim::Trainer<R>,
    ) {
        let name = |i: usize| names.get(i).map_or(format!("#{i}"), |s| s.to_string());
        let inputs = step.inputs.as_slice();
        for u in &step.updates {
            let Some(w) = inputs.get(u.pos) else { continue };
            let mut r = row(
                format!("{}'", name(u.pos)),
                RowKind::Update,
                u.pos,
                w,
                u.eps,
                u.scale,
            );
            let l = u.lost;
            r.note = Some(format!(
                "lost {:.1} %: {} lost, {} kept, {} undecided",
                100.0 * l.lost_share(),
                l.lost,
                l.kept,
                l.undecided
            ));
            self.rows.push(r);
            for (sname, tracked) in trainer.state_of(u.pos) {
                self.rows.push(row(
                    format!("{}.{sname}", name(u.pos)),
                    RowKind::Update,
                    u.pos,
                    &tracked.value,
                    tracked.eps,
                    tracked.scale,
                ));
            }
        }
    }

    /// Rows whose bound does not cover the spec enclosure (0 unless something is unsound).
    pub fn violations(&self) -> usize {
        self.rows.iter().filter(|r| r.holds == Some(false)).count()
    }

    /// JSON rendering (exact `f64` round-trip).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }

    /// Parse a report written by [`Report::to_json`].
    pub fn from_json(s: &str) -> Result<Report, serde_json::Error> {
        serde_json::from_str(s)
    }
}
