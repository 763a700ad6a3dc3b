//! `softmax` and `log_softmax` on the last axis (rank 1 to 4: the leading axes are rows).
//!
//! Runtime kernel, per row (written here so its operations are known): `m = max x̂`,
//! `d̂ₖ = fl(x̂ₖ − m)`, `êₖ = exp(d̂ₖ)`, `ŝ = Σ êₖ`, then `p̂ⱼ = fl(êⱼ/ŝ)` or
//! `ℓ̂ⱼ = fl(d̂ⱼ − ln ŝ)`.
//!
//! Bounds, per entry:
//! * propagation: along the segment from `x̂` to `x`, `|∂pⱼ| ≤ pⱼ·2ε` and `pⱼ` grows by at most
//!   `e^{2ε}`, so `|pⱼ(x) − pⱼ(x̂)| ≤ 2ε·e^{2ε}·pⱼ(x̂)` (relative!); log-sum-exp is 1-Lipschitz in
//!   L∞, so `|ℓⱼ(x) − ℓⱼ(x̂)| ≤ 2ε`;
//! * local: the errors of `d̂ₖ` (measured), `êₖ` (libm assumption, measured against `f64`), the
//!   sum (`sum_err`), the division / logarithm / subtraction (measured), combined exactly as the
//!   kernel combines them (see `row_analysis`).

use super::gemm::{dot_err, sum_err};
use super::kit::{Op, OpRuntime};
use super::op_node;
use super::util::{at, div_err, libm_rel, nan_max, prod_err, ref_dist, spec_b, sum2_err, up};
use crate::bound::{Bound, U64, inflate};
use crate::handle::{Arg, Var};
use crate::round::sub_down;
use crate::scalar::exp64;
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::{Rank1, Rank2, Rank3, Rank4, Shape};
use crate::tensor::linf;
use ndarray::{ArrayD, IxDyn};

/// Shapes whose last axis `softmax` / `log_softmax` normalise: `[…, n]`, rank 1 to 4 (the
/// leading axes are rows, SPEC §9b).
#[diagnostic::on_unimplemented(
    message = "softmax/log_softmax need a shape `[…, n]` of rank 1 to 4, found `{Self}`",
    label = "not a tensor of rank 1 to 4"
)]
pub trait LastAxis: Shape {
    /// Number of rows (the product of the leading dimensions; 1 for a vector).
    const ROWS: usize;
    /// Length of the last axis.
    const COLS: usize;
}
impl<const N: usize> LastAxis for Rank1<N> {
    const ROWS: usize = 1;
    const COLS: usize = N;
}
impl<const B: usize, const N: usize> LastAxis for Rank2<B, N> {
    const ROWS: usize = B;
    const COLS: usize = N;
}
impl<const A: usize, const B: usize, const N: usize> LastAxis for Rank3<A, B, N> {
    const ROWS: usize = A * B;
    const COLS: usize = N;
}
impl<const A: usize, const B: usize, const C: usize, const N: usize> LastAxis
    for Rank4<A, B, C, N>
{
    const ROWS: usize = A * B * C;
    const COLS: usize = N;
}

/// Row-major data of a tensor.
pub(crate) fn flat<T: Copy>(a: &ArrayD<T>) -> Vec<T> {
    // One copy of the slice when the array is in standard layout (nearly every context entry),
    // not a walk through the dynamic-rank iterator.
    match a.as_slice() {
        Some(s) => s.to_vec(),
        None => a.iter().copied().collect(),
    }
}

/// [`flat`], borrowed when the array is in standard layout (nearly every context entry): the
/// row maps read every entry once, and copying them through the dynamic-rank iterator first
/// cost more than the rows' own work.
pub(crate) fn flat_ref<T: Copy>(a: &ArrayD<T>) -> std::borrow::Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(flat(a)),
    }
}

/// The runtime kernel's intermediates for one row.
pub(crate) struct RowKernel<R> {
    /// `fl(x̂ₖ − m)`.
    pub d: Vec<R>,
    /// `exp(d̂ₖ)`.
    pub e: Vec<R>,
    /// `Σ êₖ`.
    pub s: R,
    /// The row maximum.
    pub m: R,
}

pub(crate) fn row_kernel<R: Runtime>(x: &[R]) -> RowKernel<R> {
    let m = x
        .iter()
        .copied()
        .fold(x[0], |a, b| if b > a { b } else { a });
    let d: Vec<R> = x.iter().map(|&v| v - m).collect();
    let e: Vec<R> = d.iter().map(|v| v.libm_exp()).collect();
    let s = e.iter().fold(R::zero(), |a, &b| a + b);
    RowKernel { d, e, s, m }
}

pub(crate) fn softmax_rt<R: Runtime>(x: &[R]) -> Vec<R> {
    let k = row_kernel(x);
    k.e.iter().map(|&e| e / k.s).collect()
}

pub(crate) fn log_softmax_rt<R: Runtime>(x: &[R]) -> Vec<R> {
    let k = row_kernel(x);
    let l = k.s.ln();
    k.d.iter().map(|&d| d - l).collect()
}

/// Spec softmax / log-softmax of one row (shifted by a constant, which is exact math).
pub(crate) fn spec_row<T: SpecScalar>(x: &[T]) -> (Vec<T>, Vec<T>) {
    // Shift by the largest upper end (so no exp overflows), then intersect with the known ranges
    // p ∈ [0, 1], ℓ ≤ 0 (exact facts that undo the dependency overestimation of e/Σe).
    let sh: Vec<T> = if T::MODELS_RUNTIME && !x.is_empty() {
        // A runtime shifts by its own row maximum and rounds `x − max`: model exactly that.
        let mx = x[1..].iter().fold(x[0], |a, &b| a.max(b));
        x.iter().map(|&v| v - mx).collect()
    } else {
        let c = x.iter().map(|v| v.hi()).fold(f64::NEG_INFINITY, f64::max);
        let c = T::from_f64(if c.is_finite() { c } else { 0.0 });
        x.iter().map(|&v| v - c).collect()
    };
    let e: Vec<T> = sh.iter().map(|v| v.exp()).collect();
    let s = T::sum(e.iter().copied());
    let (zero, one) = (T::zero(), T::one());
    // A runtime may divide, or multiply by `1/Σ` (PyTorch's CPU kernel): the modelled product of
    // two rounded operations covers both.
    let inv = if T::MODELS_RUNTIME { one / s } else { one };
    let p = e
        .iter()
        .map(|&v| {
            let q = if T::MODELS_RUNTIME { v * inv } else { v / s };
            (-((-q).max(-one))).max(zero)
        })
        .collect();
    let mut ls = s.ln();
    if T::RIGOROUS && !sh.is_empty() && !(ls.lo().is_finite() && ls.hi().is_finite()) {
        // The enclosure of Σe reaches 0 (every entry's enclosure extends more than the exp range
        // below the shift, e.g. logits near 1e19 whose enclosures are thousands wide), so its ln
        // is unbounded. Log-sum-exp is exactly in [max, max + ln n]: use that instead.
        let mx = sh[1..].iter().fold(sh[0], |a, &b| a.max(b));
        let lnn = T::from_f64(sh.len() as f64).ln();
        ls = mx + zero.hull(lnn);
    }
    let l = sh.iter().map(|&v| -((-(v - ls)).max(zero))).collect();
    (p, l)
}

#[cfg(test)]
mod tests {
    use super::spec_row;
    use crate::Interval;

    /// Regression (issue #9, undecidable harness checks): a row whose enclosures are wider than
    /// the `exp` range below the shift had a row sum enclosure reaching 0, so `ln` of it was the
    /// whole line and `log_softmax` was `[−∞, 0]`: no finite bound could be checked against it.
    #[test]
    fn log_softmax_of_wide_enclosures_is_finite() {
        let row = [Interval::new(-3000.0, 0.0), Interval::point(-5000.0)];
        let (p, l) = spec_row(&row);
        for (x0, x1) in [(-3000.0, -5000.0), (-1000.0, -5000.0), (0.0, -5000.0)] {
            // Exact: l0 = −ln(1 + e^{x1−x0}) ≈ 0, l1 = x1 − x0 + l0.
            let (l0, l1) = (0.0, x1 - x0);
            assert!(l[0].lo() <= l0 && l0 <= l[0].hi(), "{:?}", l[0]);
            assert!(l[1].lo() <= l1 && l1 <= l[1].hi(), "{:?}", l[1]);
        }
        assert!(
            l[0].lo() > -3001.0 && l[1].lo() > -5001.0 && l[1].hi() <= -2000.0,
            "{l:?}"
        );
        assert!(p[0].lo() >= 0.0 && p[0].hi() <= 1.0);
        // Ordinary rows keep the tight rule.
        let (_, l) = spec_row(&[Interval::point(1.0), Interval::point(2.0)]);
        assert!(l[1].hi() - l[1].lo() < 1e-14, "{:?}", l[1]);
        let (_, lf) = spec_row(&[1.0f64, 2.0]);
        assert!((lf[1] - -(1.0f64 + crate::scalar::exp64(-1.0f64)).ln()).abs() < 1e-15);
    }
}

/// Per-entry error analysis of one row (all values are rigorous upper bounds, `+∞` when the
/// analysis cannot conclude).
pub(crate) struct RowAnalysis {
    /// Runtime probabilities `p̂` (as `f64`).
    pub p: Vec<f64>,
    /// Upper bound on `pⱼ(x̂)`.
    pub pup: Vec<f64>,
    /// Local error of the softmax kernel: `|pⱼ(x̂) − p̂ⱼ|`.
    pub lp: Vec<f64>,
    /// Propagated part `|pⱼ(x) − pⱼ(x̂)|` (≤ 1).
    pub pp: Vec<f64>,
    /// Total softmax error `|pⱼ(x) − p̂ⱼ|`.
    pub ep: Vec<f64>,
    /// Total log-softmax error `|ℓⱼ(x) − ℓ̂ⱼ|` ([`row_analysis_with_logs`] only; empty otherwise).
    pub el: Vec<f64>,
    /// `min(2, 2ε·e^{2ε})`: bound on `Σₖ|pₖ(x) − pₖ(x̂)|`.
    pub l1: f64,
}

pub(crate) fn row_analysis<R: Runtime>(x: &[R], eps: f64) -> RowAnalysis {
    analysis(x, eps, false)
}

/// [`row_analysis`] with the log-softmax errors [`RowAnalysis::el`] as well (which the softmax
/// and attention bounds never read: a logarithm and a subtraction's error per entry, a fifth of
/// the analysis).
pub(crate) fn row_analysis_with_logs<R: Runtime>(x: &[R], eps: f64) -> RowAnalysis {
    analysis(x, eps, true)
}

/// An upper bound on `e^{d + τ}` for `τ ≥ 0`, from `ex = exp64(d)`: `up(ex)·(1 + 2τ)`, as
/// `e^τ ≤ 1 + τ + τ² ≤ 1 + 2τ` for `τ ≤ 1` (the caller's inflation counts the two roundings);
/// a second `exp64` where `τ` is larger or not a number. One libm call per entry instead of
/// two (a fifth of the attention's forward bound).
#[inline]
fn exp_up_shifted(d: f64, ex: f64, tau: f64) -> f64 {
    if tau <= 0.5 {
        up(ex) * (1.0 + 2.0 * tau)
    } else {
        up(exp64(d + tau))
    }
}

fn analysis<R: Runtime>(x: &[R], eps: f64, logs: bool) -> RowAnalysis {
    let n = x.len();
    let k = row_kernel(x);
    let rel = libm_rel();
    let inf = |v: f64, ops: usize| inflate(v, ops).get();
    let (ms, s) = (k.m.to_spec(), k.s.to_spec());
    let mut e_err = vec![0.0; n];
    let mut tau = vec![0.0; n];
    let mut esum = 0.0f64;
    for j in 0..n {
        let (dj, ej) = (k.d[j].to_spec(), k.e[j].to_spec());
        let w = x[j].to_spec() - ms;
        tau[j] = inf(ref_dist(dj, w, U64), 3);
        let ex = exp64(dj);
        let fe = ref_dist(ej, ex, rel);
        e_err[j] = inf(fe + tau[j] * exp_up_shifted(dj, ex, tau[j]), 8);
        esum += e_err[j];
    }
    let serr = (inflate(esum, n + 2) + sum_err::<R>(k.e.iter().map(|v| v.to_spec()), s)).get();
    let s_lo = sub_down(s, serr);
    let c = if eps == 0.0 {
        0.0
    } else {
        up(2.0 * eps * exp64(2.0 * eps))
    };
    let l1 = c.min(2.0);
    let bad = !(s_lo > 0.0) || !s.is_finite();
    let p: Vec<f64> = k.e.iter().map(|&e| (e / k.s).to_spec()).collect();
    let mut pup = vec![1.0; n];
    let mut lp = vec![f64::INFINITY; n];
    let mut pp = vec![1.0; n];
    let mut ep = vec![f64::INFINITY; n];
    let mut el = vec![f64::INFINITY; if logs { n } else { 0 }];
    if !bad {
        for j in 0..n {
            let ej = k.e[j].to_spec();
            pup[j] = inf((ej + e_err[j]) / s_lo, 3).min(1.0);
            lp[j] = inf(e_err[j] / s + pup[j] * serr / s + div_err(p[j], ej, s), 8);
            pp[j] = inf(c * pup[j], 2).min(1.0);
            ep[j] = inf(lp[j] + pp[j], 1).min(p[j].max(1.0));
        }
        if logs {
            let l_hat = k.s.ln();
            let l64 = l_hat.to_spec();
            let fl_ln = ref_dist(l64, s.ln(), rel);
            let lse_err = serr / s_lo;
            for (j, el) in el.iter_mut().enumerate() {
                let dj = k.d[j].to_spec();
                let yj = (k.d[j] - l_hat).to_spec();
                let ls = sum2_err(yj, dj, -l64);
                *el = inf(2.0 * eps + tau[j] + fl_ln + lse_err + ls, 8);
            }
        }
    }
    RowAnalysis {
        p,
        pup,
        lp,
        pp,
        ep,
        el,
        l1,
    }
}

// -------------------------------------------------------------------------------------- nodes

op_node! {
    /// Softmax over the last axis.
    Softmax<S>[1] => S
}

op_node! {
    /// Log-softmax over the last axis.
    LogSoftmax<S>[1] => S
}

/// `softmax(x)` over the last axis, row by row (`[…, n]`, rank 1 to 4).
pub fn softmax<S: LastAxis, B>(x: Var<S, B>) -> Softmax<S, B> {
    Softmax::new([x.arg()])
}

/// `log_softmax(x)` over the last axis, row by row (`[…, n]`, rank 1 to 4).
pub fn log_softmax<S: LastAxis, B>(x: Var<S, B>) -> LogSoftmax<S, B> {
    LogSoftmax::new([x.arg()])
}

/// `f` of every row of `x` (rows of `cols` entries), concatenated.
pub(crate) fn rows_map<T: Copy, U, F: FnMut(&[T]) -> Vec<U>>(
    x: &ArrayD<T>,
    cols: usize,
    mut f: F,
) -> ArrayD<U> {
    rows_into(x, cols, |r, out| out.extend(f(r)))
}

/// [`rows_map`] over two tensors of one shape, row by row side by side.
pub(crate) fn rows_map2<T: Copy, U, F: FnMut(&[T], &[T]) -> Vec<U>>(
    x: &ArrayD<T>,
    d: &ArrayD<T>,
    cols: usize,
    mut f: F,
) -> ArrayD<U> {
    rows_into2(x, d, cols, |r, s, out| out.extend(f(r, s)))
}

/// A tensor of `x`'s shape built row by row: `f` appends each row's entries to the output (so
/// that a row which is partly computed and partly padded, as in the causal ops, is written in
/// place rather than built, regrown and copied).
pub(crate) fn rows_into<T: Copy, U>(
    x: &ArrayD<T>,
    cols: usize,
    mut f: impl FnMut(&[T], &mut Vec<U>),
) -> ArrayD<U> {
    let v = flat_ref(x);
    // Sized once: collecting a `flat_map` cannot know the length and regrows (and copies) the
    // output about log₂(len) times.
    let mut out = Vec::with_capacity(v.len());
    for r in v.chunks(cols.max(1)) {
        f(r, &mut out);
    }
    ArrayD::from_shape_vec(IxDyn(x.shape()), out).expect("invariant: same shape")
}

/// [`rows_into`] over two tensors of one shape.
pub(crate) fn rows_into2<T: Copy, U>(
    x: &ArrayD<T>,
    d: &ArrayD<T>,
    cols: usize,
    mut f: impl FnMut(&[T], &[T], &mut Vec<U>),
) -> ArrayD<U> {
    let (v, w) = (flat_ref(x), flat_ref(d));
    let mut out = Vec::with_capacity(v.len());
    for (r, s) in v.chunks(cols.max(1)).zip(w.chunks(cols.max(1))) {
        f(r, s, &mut out);
    }
    ArrayD::from_shape_vec(IxDyn(x.shape()), out).expect("invariant: same shape")
}

/// Largest error (not yet inflated by the final `inflate(·, 12)`) of the softmax VJP of one row
/// `x` with cotangent row `d`, input error `e` and cotangent error `fed`: the per-entry
/// analysis of `p ⊙ (δ − p·δ)` shared by `softmax` and `softmax_causal` (whose rows are the
/// unmasked prefixes).
pub(crate) fn softmax_row_vjp_err<R: Runtime>(r: &[R], dr: &[R], e: f64, fed: f64) -> f64 {
    let a = row_analysis(r, e);
    let v = softmax_vjp_rt(r, dr);
    let p = softmax_rt(r);
    let dot = p.iter().zip(dr).fold(R::zero(), |a, (&p, &d)| a + p * d);
    let d64: Vec<f64> = dr.iter().map(|v| v.to_spec()).collect();
    let dmax = d64.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    let dot64 = dot.to_spec();
    let mut ed_dot = a.lp.iter().zip(&d64).map(|(l, d)| l * d.abs()).sum::<f64>();
    ed_dot = (inflate(ed_dot, 2 * r.len().max(1))
        + dot_err::<R>(a.p.iter().copied().zip(d64.iter().copied()), dot64))
    .get();
    let mut m = 0.0f64;
    for j in 0..r.len() {
        let q = (dr[j] - dot).to_spec();
        let eq = ed_dot + sum2_err(q, d64[j], -dot64);
        let pj = (a.p[j] + a.ep[j]).min(1.0);
        let ta = 2.0 * pj * fed;
        let tb = a.pp[j] * (d64[j].abs() + dmax) + a.pup[j] * dmax * a.l1;
        let tc = a.lp[j] * (q.abs() + eq) + a.p[j] * eq + prod_err(v[j].to_spec(), a.p[j], q);
        m = nan_max(m, ta + tb + tc);
    }
    m
}

/// Spec softmax VJP of one row: `p ⊙ (δ − p·δ)`.
pub(crate) fn spec_softmax_vjp_row<T: SpecScalar>(r: &[T], d: &[T]) -> Vec<T> {
    if r.len() == 1 && !T::MODELS_RUNTIME {
        // The softmax of one entry is the constant 1: its derivative is exactly 0, while the
        // formula gives `δ − δ`, as wide as δ's enclosure (wider than `B_δ/2`: the first row of a
        // causal softmax). A runtime may still round `p·δ` (PyTorch multiplies by `1/Σ`), so
        // the any-implementation spec keeps the formula.
        return vec![T::zero()];
    }
    let p = spec_row(r).0;
    let dot = T::sum(p.iter().zip(d).map(|(&p, &d)| p * d));
    p.iter().zip(d).map(|(&p, &d)| p * (d - dot)).collect()
}

pub(crate) fn softmax_vjp_rt<R: Runtime>(x: &[R], d: &[R]) -> Vec<R> {
    softmax_vjp_of_probs(&softmax_rt(x), d)
}

/// [`softmax_vjp_rt`] from the row's probabilities `p̂ = softmax_rt(x)` when the caller already
/// has them (attention keeps them from its forward evaluation): the same result, one `exp` per
/// entry fewer.
pub(crate) fn softmax_vjp_of_probs<R: Runtime>(p: &[R], d: &[R]) -> Vec<R> {
    let dot = p.iter().zip(d).fold(R::zero(), |a, (&p, &d)| a + p * d);
    p.iter().zip(d).map(|(&p, &d)| p * (d - dot)).collect()
}

fn log_softmax_vjp_rt<R: Runtime>(x: &[R], d: &[R]) -> Vec<R> {
    let p = softmax_rt(x);
    let s = d.iter().fold(R::zero(), |a, &b| a + b);
    p.iter().zip(d).map(|(&p, &d)| d - p * s).collect()
}

impl<S: LastAxis, B> Op for Softmax<S, B> {
    const NAME: &'static str = "softmax";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        rows_map(at(ctx, &self.args[0]), S::COLS, |r| spec_row(r).0)
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![rows_map2(
            at(ctx, &self.args[0]),
            delta,
            S::COLS,
            spec_softmax_vjp_row,
        )]
    }
}

impl<S: LastAxis, B, R: Runtime> OpRuntime<R> for Softmax<S, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        rows_map(at(ctx, &self.args[0]), S::COLS, softmax_rt)
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        let e = eps[self.args[0].pos].get();
        let x = flat(at(ctx, &self.args[0]));
        let m = x.chunks(S::COLS.max(1)).fold(0.0, |m, r| {
            row_analysis(r, e).ep.iter().fold(m, |m, &v| nan_max(m, v))
        });
        Bound::new(m)
    }
    fn fwd_scale(&self, _b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(Bound::ONE).max(linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![rows_map2(
            at(ctx, &self.args[0]),
            delta,
            S::COLS,
            softmax_vjp_rt,
        )]
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let (e, fed) = (eps[self.args[0].pos].get(), ed.get());
        let (x, dd) = (flat(at(ctx, &self.args[0])), flat(d));
        let cols = S::COLS.max(1);
        let m = x
            .chunks(cols)
            .zip(dd.chunks(cols))
            .fold(0.0f64, |m, (r, dr)| {
                nan_max(m, softmax_row_vjp_err(r, dr, e, fed))
            });
        vec![inflate(m, 12)]
    }
    fn vjp_scale(&self, _b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        // |pⱼ(δⱼ − p·δ)| ≤ pⱼ(1 − pⱼ)·2B_δ ≤ B_δ/2.
        let v = rows_map2(at(ctx, &self.args[0]), d, S::COLS, softmax_vjp_rt);
        vec![spec_b(bd.scale(0.5)).max(linf(&v))]
    }
}

impl<S: LastAxis, B> Op for LogSoftmax<S, B> {
    const NAME: &'static str = "log_softmax";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        rows_map(at(ctx, &self.args[0]), S::COLS, |r| spec_row(r).1)
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![rows_map2(at(ctx, &self.args[0]), delta, S::COLS, |r, d| {
            let (p, l) = spec_row(r);
            let s = T::sum(d.iter().copied());
            if T::MODELS_RUNTIME {
                // PyTorch's _log_softmax_backward_data recomputes p as exp(output).
                return l.iter().zip(d).map(|(&l, &d)| d - l.exp() * s).collect();
            }
            p.iter().zip(d).map(|(&p, &d)| d - p * s).collect()
        })]
    }
}

impl<S: LastAxis, B, R: Runtime> OpRuntime<R> for LogSoftmax<S, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        rows_map(at(ctx, &self.args[0]), S::COLS, log_softmax_rt)
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        let e = eps[self.args[0].pos].get();
        let x = flat(at(ctx, &self.args[0]));
        let m = x.chunks(S::COLS.max(1)).fold(0.0, |m, r| {
            row_analysis_with_logs(r, e)
                .el
                .iter()
                .fold(m, |m, &v| nan_max(m, v))
        });
        Bound::new(m)
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        // 0 ≤ lse(x) − xⱼ ≤ 2B + ln n.
        let n = S::COLS as f64;
        spec_b(b[self.args[0].pos].scale(2.0) + Bound::new(up(n.ln()))).max(linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![rows_map2(
            at(ctx, &self.args[0]),
            delta,
            S::COLS,
            log_softmax_vjp_rt,
        )]
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let (e, fed) = (eps[self.args[0].pos].get(), ed.get());
        let (x, dd) = (flat(at(ctx, &self.args[0])), flat(d));
        let cols = S::COLS.max(1);
        let n = cols as f64;
        let mut m = 0.0f64;
        for (r, dr) in x.chunks(cols).zip(dd.chunks(cols)) {
            let a = row_analysis(r, e);
            let v = log_softmax_vjp_rt(r, dr);
            let p = softmax_rt(r);
            let s = dr.iter().fold(R::zero(), |a, &b| a + b);
            let s64 = s.to_spec();
            let sd = sum_err::<R>(dr.iter().map(|v| v.to_spec()), s64).get();
            let sa = s64.abs() + sd;
            for j in 0..r.len() {
                let t = (p[j] * s).to_spec();
                let pj = (a.p[j] + a.ep[j]).min(1.0);
                let ta = fed + pj * n * fed;
                let tb = sa * a.pp[j];
                let tc = a.lp[j] * sa
                    + a.p[j] * sd
                    + prod_err(t, a.p[j], s64)
                    + sum2_err(v[j].to_spec(), dr[j].to_spec(), -t);
                m = nan_max(m, ta + tb + tc);
            }
        }
        vec![inflate(m, 12)]
    }
    fn vjp_scale(&self, _b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let v = rows_map2(at(ctx, &self.args[0]), d, S::COLS, log_softmax_vjp_rt);
        vec![spec_b(bd.scale(1.0 + S::COLS as f64)).max(linf(&v))]
    }
}
