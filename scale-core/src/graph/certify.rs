//! The certified pass: values, gradients, and their eps and scale bounds in one linear sweep.

use super::engine::{self, Known, Track};
use super::{RevGraphScale, accumulate};
use crate::bound::Bound;
use crate::bound::{ENCL, inflate};
use crate::config::{Config, Mode};
use crate::context::{Append, Concat};
use crate::handle::Var;
use crate::lists::{BList, EList, TList};
use crate::node::{RevNode, RevNodeScale, SpecForward, SpecVjp};
use crate::scalar::Runtime;
use crate::scalar::{AnyRun, Ball, Est, SpecScalar};
use crate::shape::{Rank0, Shape};
use crate::tensor::{all_finite, is_zero, linf};
use crate::tolerance::ApproxTol;
use ndarray::{ArrayD, IxDyn};
use std::cell::RefCell;
use std::sync::mpsc::{Receiver, Sender};

/// A backprop seed with its eps and scale bounds.
pub type Seeds<R, Ctx> = (TList<R, Ctx>, EList<Ctx>, BList<Ctx>);

/// Everything a [`RevGraphScale::certify`] pass computes.
pub struct Certificate<R, G, Ctx> {
    /// Runtime value of every entry of `Γ ++ ss`.
    pub values: TList<R, Ctx>,
    /// Error bound of every value.
    pub eps: EList<Ctx>,
    /// Scale bound of every value.
    pub scales: BList<Ctx>,
    /// Runtime cotangent (gradient) of every input.
    pub grads: TList<R, G>,
    /// Error bound of every gradient.
    pub grad_eps: EList<G>,
    /// Scale bound of every gradient.
    pub grad_scales: BList<G>,
    /// The settings the bounds were computed under.
    pub config: crate::config::Config,
    /// For every value whose eps is `+∞`, the first cause (reports turn it into a sentence
    /// naming the input or node).
    pub unbounded: Vec<Option<Unbounded>>,
    /// This-run mode ([`Config::enclose`](crate::config::Config::enclose)): a rigorous
    /// midpoint-radius enclosure of the exact value of every entry and of every input's
    /// gradient — a reference of known accuracy to test other code against (`None` when the
    /// mode is off).
    pub enclosure: Option<Enclosure<G, Ctx>>,
}

/// Why a value's error bound is `+∞`: the first cause, traced back to where it arose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unbounded {
    /// Input `i` holds a NaN or ±∞.
    NonFiniteInput(usize),
    /// Input `i` was given eps `+∞`.
    UnboundedInput(usize),
    /// Entry `p` (a node) produced a NaN or ±∞ at run time (overflow) from finite arguments.
    NonFiniteValue(usize),
    /// Entry `p` (a node) could not bound its error from finite, bounded arguments (e.g. `log`
    /// of a value within eps of 0: positivity of the exact argument is not certain).
    GaveUp(usize),
}

/// The first cause of each `+∞` eps (`None` where eps is finite), by one pass over the node
/// list: a node inherits the cause of its first unbounded argument.
fn causes(
    args: impl Iterator<Item = Vec<usize>>,
    n_in: usize,
    eps: &[Bound],
    finite: &[bool],
) -> Vec<Option<Unbounded>> {
    let mut out: Vec<Option<Unbounded>> = (0..n_in)
        .map(|i| {
            if !finite[i] {
                Some(Unbounded::NonFiniteInput(i))
            } else if eps[i].is_infinite() {
                Some(Unbounded::UnboundedInput(i))
            } else {
                None
            }
        })
        .collect();
    for (k, a) in args.enumerate() {
        let p = n_in + k;
        let inherited = a.iter().find_map(|&q| out[q]);
        out.push(match inherited {
            Some(c) => Some(c),
            None if !finite[p] => Some(Unbounded::NonFiniteValue(p)),
            None if eps[p].is_infinite() => Some(Unbounded::GaveUp(p)),
            None => None,
        });
    }
    out
}

/// Midpoint-radius enclosures ([`Ball`]s) of the exact values and gradients of a certified pass.
pub struct Enclosure<G, Ctx> {
    /// The exact value of every entry of `Γ ++ ss` lies in these balls.
    pub values: TList<Ball, Ctx>,
    /// The exact gradient of every input lies in these balls (for the inputs gradients were
    /// computed for).
    pub grads: TList<Ball, G>,
}

/// The enclosure pass of `certify`, before it is packed into the certificate.
struct EnclosurePass {
    values: Vec<ArrayD<Ball>>,
    grads: Vec<ArrayD<Ball>>,
    /// Entries whose bound must stay `+∞` (non-finite data upstream, SPEC §5).
    poisoned: Vec<bool>,
}

impl<R: Runtime, G: Append<Ss>, Ss, B> RevGraphScale<R, G, Ss, B> {
    /// Entries whose bound must stay `+∞`: non-finite or unbounded inputs, non-finite runtime
    /// values, and everything computed from them (SPEC §5).
    fn poisoned(&self, finite: &[bool], eps_in: &EList<G>) -> Vec<bool> {
        let n_in = self.n_inputs;
        let mut poisoned: Vec<bool> = eps_in
            .as_slice()
            .iter()
            .zip(finite)
            .map(|(e, &f)| e.is_infinite() || !f)
            .collect();
        for (k, n) in self.nodes.iter().enumerate() {
            let bad = !finite[n_in + k] || n.args().iter().any(|a| poisoned[a.pos]);
            poisoned.push(bad);
        }
        poisoned
    }

    /// The runtime sweeps of a certified pass, and a spec pass (`side`) beside them — on a
    /// second thread when the configuration allows it: the spec pass starts from the inputs
    /// alone, so it needs nothing of the runtime sweeps. `sink` receives every visited node's
    /// runtime cotangent as the backward sweep finishes with it.
    fn sweeps_beside<T: Send>(
        &self,
        config: Config,
        x: TList<R, G>,
        seed: &TList<R, Concat<G, Ss>>,
        need: &[bool],
        sink: Option<Sender<(usize, ArrayD<R>)>>,
        side: impl FnOnce() -> T + Send,
    ) -> (RuntimeSweeps<R>, T) {
        let runtime = move || {
            let (ctx, saved) = engine::forward_runtime_saving(&self.nodes, x.into_vec());
            let finite = engine::finiteness(&ctx);
            let mut undefined = vec![false; ctx.len()];
            // The sender goes when the sweep ends, so a receiver never waits on a sweep that
            // is over.
            let mut send = sink.map(|tx| move |p: usize, d: ArrayD<R>| drop(tx.send((p, d))));
            let grads = engine::backprop_runtime(
                &self.nodes,
                &ctx,
                &finite,
                seed,
                need,
                &mut [],
                engine::Record {
                    undefined: Some(&mut undefined),
                    cotangents: send.as_mut().map(|f| f as &mut dyn FnMut(usize, ArrayD<R>)),
                    saved: Some(&saved),
                    magnitudes: None,
                },
            );
            RuntimeSweeps {
                ctx,
                finite,
                grads,
                undefined,
            }
        };
        if config.threads < 2 {
            let rt = runtime();
            return (rt, side());
        }
        // Both as jobs of rayon's pool (whose threads also run the halves the spec pass
        // splits off), not a thread of their own beside it: three busy threads on two cores
        // made the two-thread step slower than the one-thread one. The runtime sweeps go
        // first on this worker, so that the spec pass — which waits for their cotangents —
        // never waits on work queued behind itself (a one-thread pool runs them in order).
        rayon::join(
            move || crate::config::scoped(config, runtime),
            move || crate::config::scoped(config, side),
        )
    }
}

/// Pairs each node's runtime cotangent (sent by the runtime sweep, in reverse node order) with
/// its enclosure (seen by the spec sweep, in the same order): the enclosure's bound of every
/// cotangent both sweeps visited ([`Known::NONE`] for the rest).
struct CotangentPairs<R> {
    rx: Receiver<(usize, ArrayD<R>)>,
    /// A cotangent received for a node the spec sweep has not reached yet.
    ahead: Option<(usize, ArrayD<R>)>,
    known: Vec<Known>,
}

impl<R: Runtime> CotangentPairs<R> {
    fn new(rx: Receiver<(usize, ArrayD<R>)>, entries: usize) -> Self {
        CotangentPairs {
            rx,
            ahead: None,
            known: vec![Known::NONE; entries],
        }
    }

    /// The spec sweep's cotangent of entry `p`: wait for the runtime's (positions arrive in
    /// decreasing order; those the spec sweep skipped are dropped, and one it has not reached
    /// yet is kept). Returns at once when the runtime sweep is over.
    fn observe(&mut self, p: usize, exact: &ArrayD<Ball>) {
        loop {
            let Some((q, rt)) = self.ahead.take().or_else(|| self.rx.recv().ok()) else {
                return;
            };
            if q < p {
                self.ahead = Some((q, rt));
                return;
            }
            if q == p {
                if let Some(k) = self.known.get_mut(p) {
                    *k = known_bound(&rt, exact).0;
                }
                return;
            }
        }
    }
}

/// The runtime half of a certified pass: every value, the finiteness of each, the wanted
/// gradients, and the cotangents computed from a non-finite δ or argument.
struct RuntimeSweeps<R> {
    ctx: Vec<ArrayD<R>>,
    finite: Vec<bool>,
    grads: Vec<ArrayD<R>>,
    undefined: Vec<bool>,
}

/// The inputs and seeds of a spec pass in a ball arithmetic `S`: the runtime ones widened by
/// their eps (`ball(value, eps)`); a zero seed stays `None` (most entries have one).
fn spec_inputs<R: Runtime, S: SpecScalar>(
    inputs: &[ArrayD<R>],
    eps_in: &[Bound],
    seed: &[ArrayD<R>],
    eps_seed: &[Bound],
    ball: impl Fn(f64, f64) -> S,
) -> SpecStart<S> {
    let widen = |(a, e): (&ArrayD<R>, &Bound)| a.mapv(|v| ball(v.to_spec(), e.get()));
    let xs = inputs.iter().zip(eps_in).map(widen).collect();
    let seeds = seed
        .iter()
        .zip(eps_seed)
        .map(|(a, e)| (e.get() != 0.0 || !is_zero(a)).then(|| widen((a, e))))
        .collect();
    (xs, seeds)
}

/// Inputs and seeds of a spec pass ([`spec_inputs`]).
type SpecStart<S> = (Vec<ArrayD<S>>, Vec<Option<ArrayD<S>>>);

/// Spec forward and backward sweeps: values of every entry, gradients of the inputs with
/// `need` (the others keep their seeds); `observe` sees every visited node's cotangent.
fn spec_sweeps<R: Runtime, S: SpecScalar, N: ?Sized + RevNode<R> + SpecForward<S> + SpecVjp<S>>(
    nodes: &[Box<N>],
    (xs, seeds): SpecStart<S>,
    need: &[bool],
    observe: Option<&mut dyn FnMut(usize, &ArrayD<S>)>,
) -> (Vec<ArrayD<S>>, Vec<ArrayD<S>>) {
    let values = engine::forward_spec(nodes, xs);
    let grads = engine::backprop_spec::<R, S, N>(nodes, &values, seeds, Some(need), observe);
    (values, grads)
}

/// The any-implementation bound of one tensor from the [`AnyRun`] balls (every conforming run
/// and the exact value) and the exact enclosure: `max |m_any − m| + r_any + 2r + ENCL·|m|`
/// (the slack as in [`enclosure_bound`]), at least this run's own distance; the scale is
/// the largest magnitude any of them reaches. Entries that are exact in every run keep eps 0.
pub(crate) fn any_bound<R: Runtime>(
    rt: &ArrayD<R>,
    exact: &ArrayD<Ball>,
    any: &ArrayD<AnyRun<R>>,
) -> (Bound, Bound) {
    if rt.len() != exact.len() || rt.len() != any.len() {
        return (Bound::INF, Bound::INF);
    }
    // Over contiguous slices (a dynamic-rank element iterator cost more than the arithmetic).
    let (rt, exact, any) = (
        rt.as_standard_layout(),
        exact.as_standard_layout(),
        any.as_standard_layout(),
    );
    let (xs, es, anys) = (
        rt.as_slice().unwrap_or(&[]),
        exact.as_slice().unwrap_or(&[]),
        any.as_slice().unwrap_or(&[]),
    );
    // Maxima in 8 independent lanes (selects, no `f64::max`), as in `enclosure_bound`:
    // `(t + s)·0` is 0 for finite entries and NaN otherwise, so `bad` ends non-finite iff some
    // entry is.
    let mut acc = [[0.0f64; 8]; 3];
    let mut lane = |l: usize, x: &R, e: &Ball, a: &AnyRun<R>| {
        let (x, a) = (x.to_spec(), a.ball());
        let (m, r) = (e.mid(), e.rad());
        let big = |p: f64, q: f64| if p > q { p } else { q };
        let slack = 2.0 * r + ENCL * m.abs();
        let t = big((a.mid() - m).abs() + a.rad(), (x - m).abs()) + slack;
        let s = big(big(a.mid().abs() + a.rad(), x.abs()), m.abs() + r);
        let [d, mag, bad] = &mut acc;
        d[l] = big(t, d[l]);
        mag[l] = big(s, mag[l]);
        bad[l] += (t + s) * 0.0;
    };
    let chunks = xs
        .chunks_exact(8)
        .zip(es.chunks_exact(8))
        .zip(anys.chunks_exact(8));
    for ((cx, ce), ca) in chunks {
        for l in 0..8 {
            lane(l, &cx[l], &ce[l], &ca[l]);
        }
    }
    let tail = xs.len() - xs.len() % 8;
    let rest = xs[tail..].iter().zip(&es[tail..]).zip(&anys[tail..]);
    for (l, ((x, e), a)) in rest.enumerate() {
        lane(l, x, e, a);
    }
    let top = |v: &[f64; 8]| v.iter().fold(0.0f64, |a, &b| if b > a { b } else { a });
    let [d, mag, bad] = &acc;
    let (d, mag, bad) = (top(d), top(mag), !bad.iter().sum::<f64>().is_finite());
    if bad {
        return (Bound::INF, Bound::INF);
    }
    let eps = if d == 0.0 {
        Bound::ZERO
    } else {
        inflate(d + 1e-300, 6)
    };
    (eps, inflate(mag, 2))
}

/// The four bound lists of a pass, before [`finish`](RevGraphScale::finish) packs them.
struct Bounds {
    eps: Vec<Bound>,
    scales: Vec<Bound>,
    grad_eps: Vec<Bound>,
    grad_b: Vec<Bound>,
}

/// A pass's runtime gradients, with `max|ĝ|` of each when the sweep measured it on the way
/// ([`engine::Record::magnitudes`]); [`finish`](RevGraphScale::finish) measures the others.
struct Measured<R> {
    grads: Vec<ArrayD<R>>,
    mags: Option<Vec<Bound>>,
}

/// What the enclosure-based passes share before bounds are derived.
struct Parts<R> {
    ctx: Vec<ArrayD<R>>,
    finite: Vec<bool>,
    grads: Vec<ArrayD<R>>,
    enc: EnclosurePass,
    /// Cotangents this run computed from a non-finite δ or argument (from the runtime sweep).
    undefined: Option<Vec<bool>>,
}

/// How much of a this-run bound may be enclosure slack for the propagated bounds to be skipped:
/// the enclosure alone is then within `1/(1 − SLACK)` of the true error.
const SLACK: f64 = 0.1;

/// The per-lane maxima of [`enclosure_bound`] over one part of a tensor: `[distance + slack −
/// r, magnitude, slack, non-finite marker]` in 8 independent lanes over contiguous slices (the
/// loop vectorises). `(t + b)·0` is 0 for a finite entry and NaN otherwise, so the marker ends
/// non-finite iff some entry is.
fn scan_lanes<R: Runtime>(xs: &[R], es: &[Ball]) -> [[f64; 8]; 4] {
    let mut acc = [[0.0f64; 8]; 4];
    let mut lane = |l: usize, x: &R, e: &Ball| {
        let (x, m, r) = (x.to_spec(), e.mid(), e.rad());
        let s = 2.0 * r + ENCL * m.abs();
        let t = (x - m).abs() + s - r;
        let (em, xm) = (m.abs() + r, x.abs());
        let b = if xm > em { xm } else { em };
        let [d, mag, slack, bad] = &mut acc;
        d[l] = if t > d[l] { t } else { d[l] };
        mag[l] = if b > mag[l] { b } else { mag[l] };
        slack[l] = if s > slack[l] { s } else { slack[l] };
        bad[l] += (t + b) * 0.0;
    };
    for (cx, ce) in xs.chunks_exact(8).zip(es.chunks_exact(8)) {
        for l in 0..8 {
            lane(l, &cx[l], &ce[l]);
        }
    }
    let tail = xs.len() - xs.len() % 8;
    for (l, (x, e)) in xs[tail..].iter().zip(&es[tail..]).enumerate() {
        lane(l, x, e);
    }
    acc
}

/// The this-run bound of one tensor from the exact enclosure alone: `max |r̂ − m| + r + ENCL·|m|`
/// and `max(|r̂|, |m| + r)`. The exact value lies in `⟨m, r⟩`, so `|r̂ − m| + r` bounds the
/// error; `ENCL·|m|` (a few `f64` ulps of the midpoint) also covers other rigorous enclosures of
/// a nearly exact value (the interval spec's outward rounding). Where the `f64` interval spec
/// reaches past the ball, the random-graph theorems re-decide against the 2400-bit spec; on the
/// example models (`models` and its tests) it stays inside and decides alone. (Until the
/// ninth session the distance carried `2r`, so that the `f64` interval spec alone always
/// decided: that was up to 1.6× of the transformer block's gradient bounds.) [`Slack`] says
/// whether the slack `s = 2r + ENCL·|m|` (the bound exceeds the true error `e` by at most `s`)
/// is small: at most [`SLACK`] of the bound `d` (then `d ≤ e/(1 − SLACK)`, within 1.12× of the
/// true error and so never looser than a sound propagated bound by more than that), or below
/// 10⁻³ of one runtime unit roundoff of the tensor's magnitude (an exact or nearly exact result:
/// the bound is then far below anything a test of the tensor could resolve).
pub(crate) fn enclosure_bound<R: Runtime>(
    rt: &ArrayD<R>,
    exact: &ArrayD<Ball>,
) -> (Bound, Bound, Slack) {
    let unbounded = Slack {
        negligible: false,
        near_true: false,
    };
    if rt.len() != exact.len() {
        return (Bound::INF, Bound::INF, unbounded);
    }
    // Maxima over contiguous slices ([`scan_lanes`]; a strided tensor is copied first).
    let (rt, exact) = (rt.as_standard_layout(), exact.as_standard_layout());
    let (xs, es) = (
        rt.as_slice().unwrap_or(&[]),
        exact.as_slice().unwrap_or(&[]),
    );
    // Two halves side by side when the pass may use two threads (the maxima are the same).
    let half = xs.len().min(es.len()) / 2 / 8 * 8;
    let ((xa, xb), (ea, eb)) = (xs.split_at(half), es.split_at(half));
    let (a, b) = crate::config::beside(xs.len() * 8, || scan_lanes(xa, ea), || scan_lanes(xb, eb));
    let mut acc = a;
    for (x, y) in acc.iter_mut().zip(&b).take(3) {
        for (x, &y) in x.iter_mut().zip(y) {
            *x = if y > *x { y } else { *x };
        }
    }
    for (x, &y) in acc[3].iter_mut().zip(&b[3]) {
        *x += y;
    }
    let max = |v: &[f64; 8]| v.iter().fold(0.0f64, |a, &b| if b > a { b } else { a });
    let [d, mag, slack, bad] = &acc;
    let (d, mag, slack, bad) = (max(d), max(mag), max(slack), bad.iter().sum::<f64>());
    if !bad.is_finite() {
        return (Bound::INF, Bound::INF, unbounded);
    }
    if d == 0.0 {
        let exact = Slack {
            negligible: true,
            near_true: true,
        };
        return (Bound::ZERO, inflate(mag, 2), exact);
    }
    // Only the first test says the bound is near the true error; a nearly exact result's bound
    // may still be far above a propagated one (which can be 0), so it is no stand-in for one.
    let near_true = slack <= SLACK * d;
    let negligible = near_true || slack <= 1e-3 * R::U * mag;
    (
        inflate(d + 1e-300, 6),
        inflate(mag, 2),
        Slack {
            negligible,
            near_true,
        },
    )
}

/// [`enclosure_bound`] as a [`Known`] bound (tight when near the true error), with the scale
/// and whether the slack is negligible.
fn known_bound<R: Runtime>(rt: &ArrayD<R>, exact: &ArrayD<Ball>) -> (Known, Bound, bool) {
    let (eps, scale, slack) = enclosure_bound(rt, exact);
    let known = Known {
        eps,
        tight: slack.near_true,
    };
    (known, scale, slack.negligible)
}

/// What [`enclosure_bound`] says of its bound's slack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slack {
    /// Small enough for the propagated bounds to be skipped: the bound is within 1.12× of the
    /// true error, or below 10⁻³ runtime ulps of the magnitude.
    pub negligible: bool,
    /// Within 1.12× of the true error (so of any sound bound, up to that factor): the bound may
    /// stand in for a propagated one inside a propagation ([`Known::tight`]).
    pub near_true: bool,
}

/// A mode's bound of one tensor: `(runtime, exact enclosure, model) → (eps, scale)`.
type TensorBound<R, S> = fn(&ArrayD<R>, &ArrayD<Ball>, &ArrayD<S>) -> (Bound, Bound);

/// The estimate of one tensor from the [`Est`] model: `max λ·σ + |m_est − m| + 2r`, at least
/// this run's own distance to the exact enclosure (not a bound: see [`Mode::Estimate`]).
pub(crate) fn estimate_bound<R: Runtime>(
    rt: &ArrayD<R>,
    exact: &ArrayD<Ball>,
    est: &ArrayD<Est<R>>,
) -> (Bound, Bound) {
    let (mut d, mut mag, mut bad) = (0.0f64, 0.0f64, false);
    for ((x, e), a) in rt.iter().zip(exact).zip(est) {
        let (x, m, r) = (x.to_spec(), e.mid(), e.rad());
        let t = (a.estimate() + (a.mid() - m).abs()).max((x - m).abs()) + 2.0 * r;
        let s = (a.mid().abs() + a.estimate()).max(x.abs());
        bad |= !(t + s).is_finite();
        d = d.max(t);
        mag = mag.max(s);
    }
    if bad || rt.len() != exact.len() || rt.len() != est.len() {
        return (Bound::INF, Bound::INF);
    }
    let eps = if d == 0.0 { Bound::ZERO } else { Bound::new(d) };
    (eps, Bound::new(mag))
}

impl<R: Copy, G, Ctx> Certificate<R, G, Ctx> {
    /// The runtime value of a scalar entry (a loss), without indexing by `[()]`.
    ///
    /// ```
    /// use scale_core::context::{Nil, Seg};
    /// use scale_core::{ops, Rank1, RevGraphScale, TList};
    /// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank1<2>,)>, Nil, _>::nil(scale_core::brand!());
    /// let (g, s) = g.snoc(ops::sum(x));
    /// let xr = TList::from_arrays(vec![ndarray::arr1(&[1.5f32, 2.0]).into_dyn()])?;
    /// let (e, b) = g.exact_inputs(&xr);
    /// let (seed, es, bs) = g.loss_seed(s);
    /// let cert = g.certify(xr, &e, &b, &seed, &es, &bs);
    /// assert_eq!(cert.value(s), 3.5);
    /// # Ok::<(), scale_core::Error>(())
    /// ```
    pub fn value<B>(&self, v: Var<Rank0, B>) -> R {
        self.values.get(v)[()]
    }
}

impl<R, G, Ctx> Certificate<R, G, Ctx> {
    /// The abs+rel tolerance of a value (SPEC §7 `tol_from_eps_scale`).
    pub fn value_tol<S, B>(&self, v: Var<S, B>) -> ApproxTol {
        ApproxTol::from_eps_scale(self.eps.get(v), self.scales.get(v))
    }

    /// The abs+rel tolerance of an input's gradient.
    pub fn grad_tol<S, B>(&self, v: Var<S, B>) -> ApproxTol {
        ApproxTol::from_eps_scale(self.grad_eps.get(v), self.grad_scales.get(v))
    }
}

impl<R: Runtime, G: Append<Ss>, Ss, B> RevGraphScale<R, G, Ss, B> {
    /// Values, error bounds and scale bounds of every entry, then the gradients of the inputs for
    /// `seed` with their error and scale bounds — one forward and one backward sweep, using the
    /// default accumulation rules ([`eps_add`](crate::eps_add), [`scale_add`](crate::scale_add)).
    ///
    /// Values, gradients and their error bounds equal those of `eval_runtime`, `eval_bounds`,
    /// `backprop_runtime` and `backprop_bounds` with the same arguments. Scale bounds are those of
    /// `eval_scales` / `backprop_scales` intersected with `max|runtime| + eps` entry by entry:
    /// sound under the same premises (the inputs are within `eps_in` of the spec), and usually
    /// orders of magnitude tighter, which is what makes the derived `rtol` meaningful.
    /// The inputs are taken by value (no copy on the hot path) and come back in `values`.
    pub fn certify(
        &self,
        x: TList<R, G>,
        eps_in: &EList<G>,
        b_in: &BList<G>,
        seed: &TList<R, Concat<G, Ss>>,
        eps_seed: &EList<Concat<G, Ss>>,
        b_seed: &BList<Concat<G, Ss>>,
    ) -> Certificate<R, G, Concat<G, Ss>> {
        let all: Vec<usize> = (0..self.n_inputs).collect();
        self.certify_wrt(x, eps_in, b_in, seed, eps_seed, b_seed, &all)
    }

    /// [`certify`](Self::certify), computing gradients only for the inputs at positions `wrt`
    /// (e.g. the parameters, not the data): no VJP work is spent on anything else. Gradients of
    /// the other inputs are returned as their seed, with the seed's bounds.
    #[allow(clippy::too_many_arguments)]
    pub fn certify_wrt(
        &self,
        x: TList<R, G>,
        eps_in: &EList<G>,
        b_in: &BList<G>,
        seed: &TList<R, Concat<G, Ss>>,
        eps_seed: &EList<Concat<G, Ss>>,
        b_seed: &BList<Concat<G, Ss>>,
        wrt: &[usize],
    ) -> Certificate<R, G, Concat<G, Ss>> {
        self.certify_with(self.config, x, eps_in, b_in, seed, eps_seed, b_seed, wrt)
    }

    /// [`certify_wrt`](Self::certify_wrt) under the settings `config` for this call only,
    /// instead of the graph's own [`config`](Self::config) (e.g. to compare modes on one graph).
    #[allow(clippy::too_many_arguments)]
    pub fn certify_with(
        &self,
        config: Config,
        x: TList<R, G>,
        eps_in: &EList<G>,
        b_in: &BList<G>,
        seed: &TList<R, Concat<G, Ss>>,
        eps_seed: &EList<Concat<G, Ss>>,
        b_seed: &BList<Concat<G, Ss>>,
        wrt: &[usize],
    ) -> Certificate<R, G, Concat<G, Ss>> {
        crate::config::scoped(config, || {
            self.certify_inner(config, x, eps_in, b_in, seed, eps_seed, b_seed, wrt)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn certify_inner(
        &self,
        config: Config,
        x: TList<R, G>,
        eps_in: &EList<G>,
        b_in: &BList<G>,
        seed: &TList<R, Concat<G, Ss>>,
        eps_seed: &EList<Concat<G, Ss>>,
        b_seed: &BList<Concat<G, Ss>>,
        wrt: &[usize],
    ) -> Certificate<R, G, Concat<G, Ss>> {
        match config.mode {
            Mode::AnyImplementation => {
                let model: (fn(f64, f64) -> AnyRun<R>, TensorBound<R, AnyRun<R>>) =
                    (AnyRun::<R>::new, any_bound::<R>);
                return self
                    .certify_model(config, model, x, eps_in, b_in, seed, eps_seed, b_seed, wrt);
            }
            Mode::Estimate => {
                let model: (fn(f64, f64) -> Est<R>, TensorBound<R, Est<R>>) =
                    (Est::<R>::new, estimate_bound::<R>);
                return self
                    .certify_model(config, model, x, eps_in, b_in, seed, eps_seed, b_seed, wrt);
            }
            Mode::ThisRun => {}
        }
        let mut fast = None;
        // Per entry, the enclosure's bounds of the values and of the cotangents (the fallback
        // keeps the tight ones and propagates from the smaller of the two).
        let mut known: Option<(Vec<Known>, Vec<Known>)> = None;
        // The context, its finiteness, and (from a runtime forward here) what each node kept
        // for its VJP.
        let (ctx, mags, finite, rt_saved) = if config.enclose {
            // The enclosure alone first. Sound by itself, and (up to a factor 1.12) never
            // looser than the propagated bound when every radius is negligible beside the
            // distance it bounds; otherwise the propagated bounds are computed too and the
            // minimum taken, per tensor.
            let wanted = self.wrt_mask(wrt);
            let need = engine::needs(&self.nodes, &wanted);
            let start = spec_inputs(
                x.as_slice(),
                eps_in.as_slice(),
                seed.as_slice(),
                eps_seed.as_slice(),
                Ball::new,
            );
            let nodes = &self.nodes;
            // Each node's runtime cotangent meets its enclosure as the spec sweep reaches it,
            // so that a fallback below knows which cotangents are tight already.
            let (tx, rx) = std::sync::mpsc::channel();
            let (rt, ((values, grads), node_cots)) =
                self.sweeps_beside(config, x, seed, &need, Some(tx), || {
                    let mut pair = CotangentPairs::new(rx, nodes.len() + self.n_inputs);
                    let mut observe = |p: usize, d: &ArrayD<Ball>| pair.observe(p, d);
                    let sweeps = spec_sweeps::<R, Ball, _>(nodes, start, &need, Some(&mut observe));
                    (sweeps, pair.known)
                });
            let enc = EnclosurePass {
                values,
                grads,
                poisoned: self.poisoned(&rt.finite, eps_in),
            };
            let negligible = std::cell::Cell::new(true);
            let known_values = RefCell::new(vec![Known::NONE; rt.ctx.len()]);
            let known_cots = RefCell::new(node_cots);
            let record =
                |store: &RefCell<Vec<Known>>, i: usize, r: &ArrayD<R>, e: &ArrayD<Ball>| {
                    let (k, b, negligible_here) = known_bound(r, e);
                    negligible.set(negligible.get() && negligible_here);
                    if let Some(slot) = store.borrow_mut().get_mut(i) {
                        *slot = k;
                    }
                    (k.eps, b)
                };
            let value_bound =
                |i: usize, r: &ArrayD<R>, e: &ArrayD<Ball>| record(&known_values, i, r, e);
            let grad_bound =
                |i: usize, r: &ArrayD<R>, e: &ArrayD<Ball>| record(&known_cots, i, r, e);
            let parts = Parts {
                ctx: rt.ctx,
                finite: rt.finite,
                grads: rt.grads,
                enc,
                undefined: Some(rt.undefined),
            };
            let cert = self.assemble(
                config,
                parts,
                eps_in,
                b_in,
                seed,
                eps_seed,
                b_seed,
                &wanted,
                &value_bound,
                &grad_bound,
            );
            if negligible.get() && !config.always_propagate {
                return cert;
            }
            known = Some((known_values.into_inner(), known_cots.into_inner()));
            let ctx = cert.values.into_vec();
            let (mags, finite) = engine::magnitudes(&ctx);
            fast = Some((
                cert.eps.as_slice().to_vec(),
                cert.scales.as_slice().to_vec(),
                cert.grad_eps.as_slice().to_vec(),
                cert.grad_scales.as_slice().to_vec(),
                cert.enclosure,
            ));
            (ctx, mags, finite, None)
        } else {
            let (ctx, saved) = engine::forward_runtime_saving(&self.nodes, x.into_vec());
            let (mags, finite) = engine::magnitudes(&ctx);
            (ctx, mags, finite, Some(saved))
        };
        let (known_values, known_cots) = match &known {
            Some((v, c)) => (Some(&v[..]), Some(&c[..])),
            None => (None, None),
        };
        let (eps, fwd_saved) =
            engine::forward_eps_saving(&self.nodes, eps_in.as_slice(), &ctx, &finite, known_values);
        let scales = engine::forward_scale(
            &self.nodes,
            b_in.as_slice(),
            &ctx,
            &finite,
            Some((&eps, &mags)),
        );
        let eps_rule = accumulate::eps_add::<R>;
        let scale_rule = accumulate::scale_add::<R>;
        let mut te = Track {
            fwd: &eps,
            fwd_saved: Some(&fwd_saved),
            acc: eps_seed.as_slice().to_vec(),
            part: |n: &(dyn RevNodeScale<R> + 'static), e, c, d, delta, w, o, _, kept| {
                n.vjp_eps_kept(e, c, d, delta, w, o, kept)
            },
            add: &eps_rule,
            exact_into_zero: true,
            poison_on_inf: true,
            known: known_cots,
        };
        let mut tb = Track {
            fwd: &scales,
            fwd_saved: None,
            acc: b_seed.as_slice().to_vec(),
            part: |n: &(dyn RevNodeScale<R> + 'static), b, c, d, delta, w, o, mags, _| {
                n.vjp_scale_some(b, c, d, delta, w, o, mags)
            },
            add: &scale_rule,
            exact_into_zero: true,
            poison_on_inf: false,
            known: None,
        };
        let need = engine::needs(&self.nodes, &self.wrt_mask(wrt));
        let mut grad_mags = Vec::new();
        let grads = engine::backprop_runtime(
            &self.nodes,
            &ctx,
            &finite,
            seed,
            &need,
            &mut [&mut te, &mut tb],
            engine::Record {
                saved: rt_saved.as_deref(),
                magnitudes: Some(&mut grad_mags),
                ..engine::Record::none()
            },
        );
        let (mut grad_eps, mut grad_b) = (te.acc, tb.acc);
        let (mut eps, mut scales) = (eps, scales);
        let enclosure = fast.and_then(|(fe, fs, fge, fgs, enc)| {
            let min_into = |a: &mut [Bound], b: &[Bound]| {
                for (x, &y) in a.iter_mut().zip(b) {
                    *x = x.min(y);
                }
            };
            min_into(&mut eps, &fe);
            min_into(&mut scales, &fs);
            min_into(&mut grad_eps, &fge);
            min_into(&mut grad_b, &fgs);
            enc
        });
        // As forward: a gradient's magnitude is at most its runtime magnitude plus its eps.
        let bounds = Bounds {
            eps,
            scales,
            grad_eps,
            grad_b,
        };
        let grads = Measured {
            grads,
            mags: Some(grad_mags),
        };
        self.finish(config, ctx, &finite, grads, bounds, enclosure)
    }

    /// Pack a pass into its certificate: gradient scales intersected with `max|ĝ| + eps` (a
    /// gradient's magnitude is at most its runtime magnitude plus its eps), and the first cause of
    /// every `+∞` eps.
    fn finish(
        &self,
        config: Config,
        ctx: Vec<ArrayD<R>>,
        finite: &[bool],
        grads: Measured<R>,
        b: Bounds,
        enclosure: Option<Enclosure<G, Concat<G, Ss>>>,
    ) -> Certificate<R, G, Concat<G, Ss>> {
        let Measured { grads, mags } = grads;
        let mag = |i: usize| match &mags {
            Some(m) => m[i],
            None => linf(&grads[i]),
        };
        let grad_scales = b
            .grad_b
            .iter()
            .zip(&b.grad_eps)
            .enumerate()
            .map(|(i, (&s, &e))| s.min(mag(i) + e))
            .collect();
        let unbounded = causes(
            self.nodes
                .iter()
                .map(|n| n.args().iter().map(|a| a.pos).collect()),
            self.n_inputs,
            &b.eps,
            finite,
        );
        Certificate {
            unbounded,
            grads: TList::from_vec_unchecked(grads),
            grad_eps: EList::from_vec_unchecked(b.grad_eps),
            grad_scales: BList::from_vec_unchecked(grad_scales),
            values: TList::from_vec_unchecked(ctx),
            eps: EList::from_vec_unchecked(b.eps),
            scales: BList::from_vec_unchecked(b.scales),
            enclosure,
            config,
        }
    }

    /// The passes of the modes that model every conforming run ([`Mode::AnyImplementation`]
    /// with [`AnyRun`] balls, [`Mode::Estimate`] with [`Est`]): runtime values and gradients as
    /// in this-run mode, the exact enclosure, and the model's spec passes from the inputs alone;
    /// each tensor's bound is `model.1(runtime, exact, model)`. No propagated bound enters:
    /// those use this run's magnitudes and hold for this run only.
    #[allow(clippy::too_many_arguments)]
    fn certify_model<S: SpecScalar>(
        &self,
        config: Config,
        model: (fn(f64, f64) -> S, TensorBound<R, S>),
        x: TList<R, G>,
        eps_in: &EList<G>,
        b_in: &BList<G>,
        seed: &TList<R, Concat<G, Ss>>,
        eps_seed: &EList<Concat<G, Ss>>,
        b_seed: &BList<Concat<G, Ss>>,
        wrt: &[usize],
    ) -> Certificate<R, G, Concat<G, Ss>>
    where
        dyn RevNodeScale<R>: SpecForward<S> + SpecVjp<S>,
    {
        let wanted = self.wrt_mask(wrt);
        let need = engine::needs(&self.nodes, &wanted);
        let (xs, eis, ss, ess) = (
            x.as_slice(),
            eps_in.as_slice(),
            seed.as_slice(),
            eps_seed.as_slice(),
        );
        let exact = spec_inputs(xs, eis, ss, ess, Ball::new);
        let modelled = spec_inputs(xs, eis, ss, ess, model.0);
        let nodes = &self.nodes;
        // Two spec passes beside the runtime sweeps: the model's on the second thread (when
        // allowed), the exact enclosure after the runtime sweeps on this one.
        let (rt, (av, ag)) = self.sweeps_beside(config, x, seed, &need, None, || {
            spec_sweeps::<R, S, _>(nodes, modelled, &need, None)
        });
        let (values, grads) = spec_sweeps::<R, Ball, _>(nodes, exact, &need, None);
        let enc = EnclosurePass {
            values,
            grads,
            poisoned: self.poisoned(&rt.finite, eps_in),
        };
        let vb = |i: usize, r: &ArrayD<R>, e: &ArrayD<Ball>| (model.1)(r, e, &av[i]);
        let gb = |i: usize, r: &ArrayD<R>, e: &ArrayD<Ball>| (model.1)(r, e, &ag[i]);
        let parts = Parts {
            ctx: rt.ctx,
            finite: rt.finite,
            grads: rt.grads,
            enc,
            undefined: None,
        };
        self.assemble(
            config, parts, eps_in, b_in, seed, eps_seed, b_seed, &wanted, &vb, &gb,
        )
    }

    /// A certificate whose bounds come per tensor from the exact enclosure and `value_bound` /
    /// `gradient_bound` (`(position, runtime tensor, enclosure) → (eps, scale)`), with SPEC §5's
    /// poison rules: `+∞` for values computed from non-finite data and for gradients that flow
    /// through such values; inputs keep their given bounds, unwanted gradients their seed's.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        config: Config,
        parts: Parts<R>,
        eps_in: &EList<G>,
        b_in: &BList<G>,
        seed: &TList<R, Concat<G, Ss>>,
        eps_seed: &EList<Concat<G, Ss>>,
        b_seed: &BList<Concat<G, Ss>>,
        wanted: &[bool],
        value_bound: &dyn Fn(usize, &ArrayD<R>, &ArrayD<Ball>) -> (Bound, Bound),
        gradient_bound: &dyn Fn(usize, &ArrayD<R>, &ArrayD<Ball>) -> (Bound, Bound),
    ) -> Certificate<R, G, Concat<G, Ss>> {
        let Parts {
            ctx,
            finite,
            grads,
            enc,
            undefined: runtime_undefined,
        } = parts;
        let n_in = self.n_inputs;
        let (mut eps, mut scales) = (Vec::with_capacity(ctx.len()), Vec::with_capacity(ctx.len()));
        for (i, r) in ctx.iter().enumerate() {
            let (e, b) = if enc.poisoned[i] {
                (Bound::INF, Bound::INF)
            } else if i < n_in {
                (eps_in.as_slice()[i], b_in.as_slice()[i])
            } else {
                value_bound(i, r, &enc.values[i])
            };
            eps.push(e);
            scales.push(b);
        }
        // SPEC §5 backward: a cotangent that flows through a node reading a non-finite (or
        // unbounded) value, or from a non-finite seed, is undefined.
        let mut live: Vec<bool> = seed.as_slice().iter().map(|s| !is_zero(s)).collect();
        let mut undefined: Vec<bool> = seed
            .as_slice()
            .iter()
            .zip(eps_seed.as_slice())
            .map(|(s, e)| e.is_infinite() || !all_finite(s))
            .collect();
        for (k, n) in self.nodes.iter().enumerate().rev() {
            let p = n_in + k;
            if !live[p] {
                continue;
            }
            let bad = undefined[p] || n.args().iter().any(|a| enc.poisoned[a.pos]);
            for a in n.args() {
                live[a.pos] = true;
                undefined[a.pos] |= bad;
            }
        }
        if let Some(u) = runtime_undefined {
            for (d, r) in undefined.iter_mut().zip(u) {
                *d |= r;
            }
        }
        let (mut grad_eps, mut grad_b) = (Vec::with_capacity(n_in), Vec::with_capacity(n_in));
        for (i, g) in grads.iter().enumerate() {
            let (e, b) = if !wanted[i] {
                (eps_seed.as_slice()[i], b_seed.as_slice()[i])
            } else if undefined[i] {
                (Bound::INF, Bound::INF)
            } else {
                gradient_bound(i, g, &enc.grads[i])
            };
            grad_eps.push(e);
            grad_b.push(b);
        }
        let enclosure = Some(Enclosure {
            values: TList::from_vec_unchecked(enc.values),
            grads: TList::from_vec_unchecked(enc.grads),
        });
        let bounds = Bounds {
            eps,
            scales,
            grad_eps,
            grad_b,
        };
        let grads = Measured { grads, mags: None };
        self.finish(config, ctx, &finite, grads, bounds, enclosure)
    }

    /// One runtime training step without bounds: all values of `Γ ++ ss` (the inputs come back
    /// first) and the gradients of the inputs at positions `wrt` (the other inputs' entries hold
    /// their seed). One forward and one backward sweep; the baseline the certified pass is
    /// measured against.
    pub fn value_and_grad(
        &self,
        x: TList<R, G>,
        seed: &TList<R, Concat<G, Ss>>,
        wrt: &[usize],
    ) -> (TList<R, Concat<G, Ss>>, TList<R, G>) {
        let (ctx, saved) = engine::forward_runtime_saving(&self.nodes, x.into_vec());
        let need = engine::needs(&self.nodes, &self.wrt_mask(wrt));
        let grads = engine::backprop_runtime(
            &self.nodes,
            &ctx,
            &[],
            seed,
            &need,
            &mut [],
            engine::Record {
                saved: Some(&saved),
                ..engine::Record::none()
            },
        );
        (
            TList::from_vec_unchecked(ctx),
            TList::from_vec_unchecked(grads),
        )
    }

    /// Take the inputs back out of a full context (e.g. `values` from [`value_and_grad`] or
    /// [`certify`]), without copying: a training loop can feed them to the next step.
    ///
    /// [`value_and_grad`]: Self::value_and_grad
    /// [`certify`]: Self::certify
    pub fn inputs_of(&self, values: TList<R, Concat<G, Ss>>) -> TList<R, G> {
        let mut v = values.into_vec();
        v.truncate(self.n_inputs);
        TList::from_vec_unchecked(v)
    }

    fn wrt_mask(&self, wrt: &[usize]) -> Vec<bool> {
        let mut m = vec![false; self.n_inputs];
        for &i in wrt {
            if let Some(slot) = m.get_mut(i) {
                *slot = true;
            }
        }
        m
    }

    /// The usual seed for a scalar loss: 1 at `loss`, 0 elsewhere, with eps 0 and scale 1 at
    /// `loss` (and 0 elsewhere).
    pub fn loss_seed(&self, loss: Var<Rank0, B>) -> Seeds<R, Concat<G, Ss>> {
        let seed: Vec<ArrayD<R>> = self
            .dims
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let v = if i == loss.pos() { R::one() } else { R::zero() };
                ArrayD::from_elem(IxDyn(d), v)
            })
            .collect();
        let mut b = vec![Bound::ZERO; self.dims.len()];
        b[loss.pos()] = Bound::ONE;
        debug_assert_eq!(<Rank0 as Shape>::NUMEL, 1);
        let zeros = (0..seed.len()).map(|i| i != loss.pos()).collect();
        (
            TList::with_positive_zeros(seed, zeros),
            EList::from_vec_unchecked(vec![Bound::ZERO; self.dims.len()]),
            BList::from_vec_unchecked(b),
        )
    }

    /// Input bounds for exact inputs: eps 0, and scale = the largest magnitude of each input.
    /// An input that is not finite (NaN, ±∞) is no exact real number: its eps and scale are
    /// `+∞` (SPEC §5), and so is everything computed from it.
    ///
    /// ```
    /// use ndarray::arr1;
    /// use scale_core::context::{Nil, Seg};
    /// use scale_core::{Bound, Rank1, RevGraphScale, TList};
    /// let (g, _) = RevGraphScale::<f32, Seg<Nil, (Rank1<2>, Rank1<1>)>, Nil, _>::nil(scale_core::brand!());
    /// let x = TList::from_arrays(vec![arr1(&[1.0f32, -3.0]).into_dyn(), arr1(&[f32::NAN]).into_dyn()])?;
    /// let (eps, b) = g.exact_inputs(&x);
    /// assert_eq!(eps.as_slice(), &[Bound::ZERO, Bound::INF]);
    /// assert_eq!(b.as_slice(), &[Bound::new(3.0), Bound::INF]);
    /// # Ok::<(), scale_core::Error>(())
    /// ```
    pub fn exact_inputs(&self, x: &TList<R, G>) -> (EList<G>, BList<G>) {
        let b: Vec<Bound> = x.as_slice().iter().map(|a| linf(a)).collect();
        // `linf` is +∞ exactly when an element is not finite.
        let e = b
            .iter()
            .map(|b| {
                if b.is_infinite() {
                    Bound::INF
                } else {
                    Bound::ZERO
                }
            })
            .collect();
        (EList::from_vec_unchecked(e), BList::from_vec_unchecked(b))
    }
}
