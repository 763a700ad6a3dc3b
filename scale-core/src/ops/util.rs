//! Shared pieces of op implementations: views of context entries, and the reference-based local
//! error bounds every elementwise op measures its rounding with. (Tensor norms live in
//! [`tensor`](crate::tensor), the sum/dot/GEMM bounds in `gemm` beside the linear algebra.)

use crate::bound::{Bound, ENCL, U64};
use crate::handle::Arg;
use ndarray::{ArrayD, ArrayView1, ArrayView2, Ix1, Ix2};

/// Re-exported where it was first published: `ops::util::linf` stays a valid path.
pub use crate::tensor::linf;

/// The phantom marker op structs carry (variance-neutral, `Send + Sync`).
pub(crate) type Ph<T> = std::marker::PhantomData<fn() -> T>;

/// The context tensor an argument refers to.
#[inline]
pub(crate) fn at<'a, T>(ctx: &'a [ArrayD<T>], a: &Arg) -> &'a ArrayD<T> {
    &ctx[a.pos]
}

/// The value of a rank-0 entry.
#[inline]
/// The runtime cotangent of argument `i` handed to a `vjp_eps_some`, when it is wanted (a
/// bound part asked for fewer arguments than the runtime VJP computed skips the others).
pub(crate) fn wanted<'a, T>(
    outs: &'a [Option<ArrayD<T>>],
    wants: &[bool],
    i: usize,
) -> Option<&'a ArrayD<T>> {
    outs.get(i)
        .and_then(Option::as_ref)
        .filter(|_| wants.get(i).copied().unwrap_or(false))
}

pub(crate) fn scalar_of<T: Copy>(a: &ArrayD<T>) -> T {
    *a.iter().next().expect("invariant: scalar entry")
}

/// A rank-0 entry holding `v`.
#[inline]
pub(crate) fn scalar<T: Clone>(v: T) -> ArrayD<T> {
    ArrayD::from_elem(ndarray::IxDyn(&[]), v)
}

/// A rank-2 view (the node was typed against a rank-2 shape).
#[inline]
pub(crate) fn view2<T>(a: &ArrayD<T>) -> ArrayView2<'_, T> {
    a.view()
        .into_dimensionality::<Ix2>()
        .expect("invariant: entry has the rank its handle was typed with")
}

/// A rank-1 view.
#[inline]
pub(crate) fn view1<T>(a: &ArrayD<T>) -> ArrayView1<'_, T> {
    a.view()
        .into_dimensionality::<Ix1>()
        .expect("invariant: entry has the rank its handle was typed with")
}

// ---------------------------------------------------------------------------------------------
// Reference-based local error bounds (used by every op).
//
// The runtime result `v̂` of a short product/quotient chain (or of one addition) is compared with
// an `f64` re-evaluation `w` of the same real expression on the same runtime operands. `w` has a
// relative error of at most a few `f64` roundings (plus `f64` underflow, covered by the absolute
// `TINY` term), so `|exact − v̂| ≤ |v̂ − w| + rel·|w| + TINY`. For `f32`/`bf16`/`f16` runtimes this
// is (nearly) the actual rounding error; for an `f64` runtime `v̂ = w` and the bound reduces to the
// usual `u·|v̂|` model. Every such per-entry quantity is computed in plain `f64` from nonnegative
// terms and finished with [`inflate`].
// ---------------------------------------------------------------------------------------------

/// Absolute slack covering `f64` underflow in reference evaluations (far below any runtime ulp).
pub(crate) const TINY: f64 = 1e-300;

/// Relative accuracy assumed for an `f64` reference value computed with the `f64` libm
/// and at most a few more roundings: `(4·assumed_ulps + 8)·2⁻⁵³` (SPEC §5's libm assumption,
/// applied to `f64`; checked by the test suite).
#[inline]
pub(crate) fn libm_rel() -> f64 {
    (4.0 * crate::scalar::assumed_ulps() + 8.0) * U64
}

/// An upper bound on a nonnegative quantity `v` computed with the `f64` libm and a few roundings
/// (NaN → `+∞`).
#[inline]
pub(crate) fn up(v: f64) -> f64 {
    if v.is_nan() {
        f64::INFINITY
    } else {
        v.abs() * (1.0 + libm_rel()) + TINY
    }
}

/// Bound (not yet inflated) on `|v̂ − z|` where `z` is the exact real value that `w` approximates
/// with relative error ≤ `rel` (plus `TINY`).
///
/// `ENCL·|w|` is added on top: the interval spec's own outward rounding (one `f64` ulp per
/// endpoint per operation) makes its enclosures slightly wider than the exact value, and SPEC §6
/// asks bounds to cover the whole enclosure.
#[inline]
pub(crate) fn ref_dist(v: f64, w: f64, rel: f64) -> f64 {
    (v - w).abs() + (rel + ENCL) * w.abs() + TINY
}

/// A spec-side scale bound widened for the interval spec's own outward rounding (SPEC §6: the
/// bound must cover the whole enclosure, which may exceed the exact value by a few ulps per
/// operation).
#[inline]
pub(crate) fn spec_b(b: Bound) -> Bound {
    b.widen(1e-9) + Bound::new(TINY)
}

/// `γ` for the interval spec's outward rounding of an `n`-term sum (4 ulps of each partial sum,
/// bounded by `Σ|terms|`).
#[inline]
pub(crate) fn encl_gamma(n: usize) -> Bound {
    Bound::gamma(4 * n + 4, U64)
}

/// Bound on `|v̂ − a·b|` (exact product of the runtime operands).
#[inline]
pub(crate) fn prod_err(v: f64, a: f64, b: f64) -> f64 {
    ref_dist(v, a * b, U64)
}

/// Bound on `|v̂ − (a + b)|`.
#[inline]
pub(crate) fn sum2_err(v: f64, a: f64, b: f64) -> f64 {
    ref_dist(v, a + b, U64)
}

/// Bound on `|v̂ − a/b|` (`b ≠ 0`).
#[inline]
pub(crate) fn div_err(v: f64, a: f64, b: f64) -> f64 {
    ref_dist(v, a / b, U64)
}

/// A NaN-propagating maximum of nonnegative terms in 8 independent lanes: pushed from a loop
/// over chunks of 8 (no index, no bounds check), it vectorises where a fold over [`nan_max`]
/// waits on every compare. A NaN term makes the result NaN (it cannot hide behind a plain
/// maximum), which [`inflate`](crate::bound::inflate) turns into `+∞`.
///
/// A lane that took a NaN keeps it: the select takes `t` when `t > m` or `t` is NaN, and a NaN
/// `m` is neither below `t` nor replaced. Both compares are combined with `|`, not `||`, and
/// the NaN lives in the lane itself (no flag beside it), so the select is branch-free and the
/// lanes fit vector registers.
pub(crate) struct LaneMax {
    mx: [f64; 8],
}

impl LaneMax {
    pub(crate) fn new() -> LaneMax {
        LaneMax { mx: [0.0; 8] }
    }

    /// Takes term `t` into lane `l < 8` (for a remainder: whole chunks go through
    /// [`LaneMax::push8`]).
    #[inline(always)]
    pub(crate) fn push(&mut self, l: usize, t: f64) {
        self.mx[l] = Self::select(self.mx[l], t);
    }

    /// Takes eight terms, one per lane. The terms come as one array, formed before any lane is
    /// touched, and the lanes are replaced as a whole: written that way the compiler packs the
    /// eight selects into vector instructions, where eight `push`es stayed scalar (measured:
    /// the GEMM bound's scan went from 17 % to 10 % of an order-free MLP step).
    #[inline(always)]
    pub(crate) fn push8(&mut self, t: &[f64; 8]) {
        self.mx = std::array::from_fn(|l| Self::select(self.mx[l], t[l]));
    }

    #[inline(always)]
    fn select(m: f64, t: f64) -> f64 {
        #[allow(clippy::eq_op)] // `t != t`: NaN, as a compare the select can combine
        let take = (t > m) | (t != t);
        if take { t } else { m }
    }

    /// The maximum (0 with no terms), NaN if a term was.
    pub(crate) fn get(&self) -> f64 {
        if self.mx.iter().any(|m| m.is_nan()) {
            return f64::NAN;
        }
        self.mx.iter().fold(0.0, |a, &b| if b > a { b } else { a })
    }
}

/// `max_j f(xⱼ, yⱼ)` of nonnegative per-entry terms over two slices of one length, through a
/// [`LaneMax`] (NaN if a term is NaN; 0 when empty).
#[inline]
pub(crate) fn lanes_max2<X: Copy, Y: Copy>(xs: &[X], ys: &[Y], f: impl Fn(X, Y) -> f64) -> f64 {
    debug_assert!(xs.len() == ys.len());
    let mut m = LaneMax::new();
    let (xc, yc) = (xs.chunks_exact(8), ys.chunks_exact(8));
    let rest = xc.remainder().iter().zip(yc.remainder());
    for (x8, y8) in xc.zip(yc) {
        m.push8(&std::array::from_fn(|l| f(x8[l], y8[l])));
    }
    for (l, (&x, &y)) in rest.enumerate() {
        m.push(l, f(x, y));
    }
    m.get()
}

/// `max_j f(wⱼ, xⱼ, yⱼ)` over three slices of one length, as [`lanes_max2`].
#[inline]
pub(crate) fn lanes_max3<W: Copy, X: Copy, Y: Copy>(
    ws: &[W],
    xs: &[X],
    ys: &[Y],
    f: impl Fn(W, X, Y) -> f64,
) -> f64 {
    debug_assert!(ws.len() == xs.len() && xs.len() == ys.len());
    let mut m = LaneMax::new();
    let (wc, xc, yc) = (ws.chunks_exact(8), xs.chunks_exact(8), ys.chunks_exact(8));
    let rest = wc
        .remainder()
        .iter()
        .zip(xc.remainder())
        .zip(yc.remainder());
    for ((w8, x8), y8) in wc.zip(xc).zip(yc) {
        m.push8(&std::array::from_fn(|l| f(w8[l], x8[l], y8[l])));
    }
    for (l, ((&w, &x), &y)) in rest.enumerate() {
        m.push(l, f(w, x, y));
    }
    m.get()
}

/// Max of nonnegative per-entry terms, NaN-propagating (a NaN term makes the result NaN, which
/// [`inflate`] turns into `+∞`).
#[inline]
pub(crate) fn nan_max(m: f64, t: f64) -> f64 {
    if m.is_nan() || t <= m { m } else { t }
}

#[cfg(test)]
mod tests {
    use super::{lanes_max2, lanes_max3};

    /// Every length from 0 to 33 (whole chunks of 8 and every remainder) against a fold; a NaN
    /// term at any position makes the result NaN, an infinite one infinite.
    #[test]
    fn lane_maxima_match_a_fold_and_keep_nan() {
        for n in 0..34usize {
            let xs: Vec<f64> = (0..n).map(|i| ((i * 7919) % 31) as f64 * 0.5).collect();
            let ys: Vec<f32> = (0..n).map(|i| (i % 3) as f32).collect();
            let want = xs
                .iter()
                .zip(&ys)
                .fold(0.0f64, |m, (x, y)| m.max(x + f64::from(*y)));
            assert_eq!(lanes_max2(&xs, &ys, |x, y| x + f64::from(y)), want);
            let ws = vec![1.0f64; n];
            let f3 = |w: f64, x: f64, y: f32| w * x + f64::from(y);
            assert_eq!(lanes_max3(&ws, &xs, &ys, f3), want);
            for bad in 0..n {
                for (v, nan) in [(f64::NAN, true), (f64::INFINITY, false)] {
                    let mut xb = xs.clone();
                    xb[bad] = v;
                    let m = lanes_max2(&xb, &ys, |x, y| x + f64::from(y));
                    assert!(
                        if nan { m.is_nan() } else { m == f64::INFINITY },
                        "{n} {bad}"
                    );
                }
            }
        }
    }
}
