//! [`AnyRun`]: balls that enclose the result of *every* implementation that follows SPEC §5's
//! rounding model in the runtime type `R`, and the exact result with them.
//!
//! The any-implementation mode (SPEC §11) needs a bound that holds for someone else's result
//! (PyTorch, a GPU kernel, a hand-written loop), whose summation order, blocking, FMA use and
//! libm are unknown. Instead of propagating one number per tensor (which grows through `‖W‖`
//! at every layer), the graph's spec formulas are evaluated in midpoint-radius arithmetic
//! ([`Ball`]) where every operation also widens its result by the most rounding that *any*
//! conforming run in `R` could commit there:
//!
//! * a basic operation (`+ − × ÷`, `x²`): `u·|z| + η` of `R`, at the largest `|z|` in the ball;
//! * a sum of `n` terms ([`SpecScalar::sum`]) or a matrix product with inner dimension `k`
//!   ([`SpecScalar::matmul`]): `γ_{n−1}·Σ|terms|` / `γ_k·Σ|aᵢbᵢ|` (+ underflow), whatever the
//!   order, tree, blocking or FMA use;
//! * accumulation of a fan-out's cotangents ([`SpecScalar::accumulate`]): any order;
//! * an elementary function: [`assumed_ulps`](crate::assumed_ulps()) ulps of `R`;
//! * a result that a conforming run could overflow: the whole line.
//!
//! Every runtime value a conforming implementation can produce lies in the ball of its entry (by
//! induction over the graph: its operands lie in their balls, ball arithmetic encloses the exact
//! operation over the balls, and the widening covers the rounding), and so does the exact value.
//! Masks flip wherever a ball straddles a kink, which is "wherever any such run could".
//!
//! ```
//! use scale_core::{AnyRun, SpecScalar};
//! // Three terms whose sum depends on the order in f32: every order lies in the ball.
//! let t = [1.0f64, 2f64.powi(-25), 2f64.powi(-25)];
//! let s = <AnyRun<f32> as SpecScalar>::sum(t.iter().map(|&v| AnyRun::<f32>::from_f64(v)));
//! for order in [[0, 1, 2], [1, 2, 0]] {
//!     let r = t[order[0]] as f32 + t[order[1]] as f32 + t[order[2]] as f32;
//!     assert!(s.lo() <= r as f64 && r as f64 <= s.hi());
//! }
//! ```

use super::ball::Ball;
use super::elementary::assumed_ulps;
use super::{Runtime, SpecScalar};
use crate::bound::Bound;
use crate::bound::rad;
use ndarray::{Array2, ArrayView2, Zip};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// `f64` unit roundoff (of the midpoint kernels).
const U64: f64 = 1.1102230246251565e-16;

/// A ball enclosing the exact value and every conforming runtime value in `R` of one entry
/// (see the [module documentation](self)).
pub struct AnyRun<R> {
    b: Ball,
    _r: PhantomData<fn() -> R>,
}

impl<R> Clone for AnyRun<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for AnyRun<R> {}

impl<R> PartialEq for AnyRun<R> {
    fn eq(&self, o: &Self) -> bool {
        self.b == o.b
    }
}

impl<R> fmt::Debug for AnyRun<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "any{:?}", self.b)
    }
}

impl<R> Default for AnyRun<R> {
    fn default() -> Self {
        AnyRun::of(Ball::default())
    }
}

impl<R> AnyRun<R> {
    #[inline]
    fn of(b: Ball) -> Self {
        AnyRun { b, _r: PhantomData }
    }

    /// `⟨m, r⟩`: every value within `r` of `m` (e.g. a runtime input `m` whose exact value is
    /// within its eps `r`). A non-finite `m` or a NaN radius gives the whole line.
    #[inline]
    pub fn new(m: f64, r: f64) -> Self {
        AnyRun::of(Ball::new(m, r))
    }

    /// The enclosing ball.
    #[inline]
    pub fn ball(self) -> Ball {
        self.b
    }

    /// Exactly the point 0 (an operation with it is exact in every run).
    #[inline]
    fn is_zero(self) -> bool {
        self.b.mid() == 0.0 && self.b.rad() == 0.0
    }
}

impl<R: Runtime> AnyRun<R> {
    /// The result of one basic operation of `R` whose exact value over the operand balls is
    /// enclosed by `b`: widened by `u·|z| + η` at the largest `|z|`, or the whole line if a
    /// conforming run could overflow there.
    #[inline]
    fn rounded(b: Ball) -> Self {
        AnyRun::of(Self::widen(b, R::U, R::ETA))
    }

    /// `b` widened by `rel·|z| + abs` at the largest `|z|` in `b`; the whole line where `R`
    /// could overflow.
    #[inline]
    fn widen(b: Ball, rel: f64, abs: f64) -> Ball {
        let mag = b.mag();
        if !Self::representable(mag * (1.0 + rel)) {
            return Ball::ENTIRE;
        }
        b.widened(rel * mag + abs, 3)
    }

    /// Whether every value of magnitude up to `mag` rounds to a finite value of `R`.
    #[inline]
    fn representable(mag: f64) -> bool {
        mag.is_finite() && R::from_f64(mag).to_spec().is_finite()
    }

    /// A stored result: one more rounding to `R`, for implementations that compute in a wider
    /// type (PyTorch's `opmath` `f32` for half types) and round once when they store.
    #[inline]
    pub(crate) fn stored(self) -> Self {
        Self::rounded(self.b)
    }

    /// A scalar constant (a learning rate, `1 − β`) whose exact value lies in `b`, as a
    /// conforming run holds it: computed in `f64` (a few `f64` roundings) and rounded once to
    /// `R` or to a wider type.
    #[inline]
    pub(crate) fn scalar(b: Ball) -> Self {
        AnyRun::of(Self::widen(b, R::U + 2f64.powi(-50), R::ETA))
    }

    /// An elementary function of `R`, within [`assumed_ulps`](crate::assumed_ulps) ulps of `R`
    /// (an ulp of `z` is at most `2u·|z|`, or `2η` below the normal range).
    #[inline]
    fn elementary(b: Ball) -> Self {
        let a = assumed_ulps();
        AnyRun::of(Self::widen(b, 2.0 * a * R::U, 2.0 * a * R::ETA))
    }
}

impl<R: Runtime> Add for AnyRun<R> {
    type Output = Self;
    #[inline]
    fn add(self, o: Self) -> Self {
        // x + 0 and 0 + x are exact in every run.
        if o.is_zero() {
            return self;
        }
        if self.is_zero() {
            return o;
        }
        Self::rounded(self.b + o.b)
    }
}

impl<R: Runtime> Sub for AnyRun<R> {
    type Output = Self;
    #[inline]
    fn sub(self, o: Self) -> Self {
        self + (-o)
    }
}

impl<R: Runtime> Neg for AnyRun<R> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        AnyRun::of(-self.b)
    }
}

impl<R: Runtime> Mul for AnyRun<R> {
    type Output = Self;
    #[inline]
    fn mul(self, o: Self) -> Self {
        // Multiplying by an exact 0 or ±1 is exact in every run (0 times a value that may be
        // non-finite is not: 0·∞ is NaN).
        if (self.is_zero() && o.b.rad().is_finite()) || (o.is_zero() && self.b.rad().is_finite()) {
            return AnyRun::default();
        }
        for (x, y) in [(self, o), (o, self)] {
            if y.b.rad() == 0.0 && y.b.mid().abs() == 1.0 {
                return if y.b.mid() > 0.0 { x } else { -x };
            }
        }
        Self::rounded(self.b * o.b)
    }
}

impl<R: Runtime> Div for AnyRun<R> {
    type Output = Self;
    #[inline]
    fn div(self, o: Self) -> Self {
        if o.b.rad() == 0.0 && o.b.mid() == 1.0 {
            return self;
        }
        Self::rounded(self.b / o.b)
    }
}

impl<R: Runtime> SpecScalar for AnyRun<R> {
    // Every run adds a first contribution to zero exactly (0 + x = x in IEEE arithmetic).
    const MOVES_INTO_ZERO: bool = true;
    const NAME: &'static str = "any-run";
    const RIGOROUS: bool = true;
    const MODELS_RUNTIME: bool = true;

    /// A spec constant, which a runtime uses rounded to `R` (PyTorch's `x * c` on an `f32`
    /// tensor multiplies by `c` in `f32`): the ball holds both.
    #[inline]
    fn from_f64(x: f64) -> Self {
        let r = R::from_f64(x).to_spec();
        if r == x {
            return AnyRun::of(Ball::from_f64(x));
        }
        AnyRun::of(Ball::new(x, crate::round::abs_diff_up(x, r)))
    }
    #[inline]
    fn from_runtime<Q: Runtime>(x: Q) -> Self {
        AnyRun::of(Ball::from_f64(x.to_spec()))
    }
    #[inline]
    fn lo(self) -> f64 {
        self.b.lo()
    }
    #[inline]
    fn hi(self) -> f64 {
        self.b.hi()
    }
    #[inline]
    fn mid(self) -> f64 {
        self.b.mid()
    }
    #[inline]
    fn is_exact_zero(self) -> bool {
        self.is_zero()
    }
    #[inline]
    fn hull(self, o: Self) -> Self {
        AnyRun::of(self.b.hull(o.b))
    }
    #[inline]
    fn select_pos(self, a: Self, b: Self) -> Self {
        AnyRun::of(self.b.select_pos(a.b, b.b))
    }
    #[inline]
    fn abs(self) -> Self {
        AnyRun::of(SpecScalar::abs(self.b))
    }
    #[inline]
    fn max(self, o: Self) -> Self {
        AnyRun::of(SpecScalar::max(self.b, o.b))
    }
    fn exp(self) -> Self {
        Self::elementary(SpecScalar::exp(self.b))
    }
    fn ln(self) -> Self {
        Self::elementary(SpecScalar::ln(self.b))
    }
    fn tanh(self) -> Self {
        Self::elementary(SpecScalar::tanh(self.b))
    }
    /// SPEC §9's formula `1 / (1 + e⁻ˣ)`, operation by operation (PyTorch's kernel).
    fn sigmoid(self) -> Self {
        Self::one() / (Self::one() + (-self).exp())
    }
    /// `ln(1 + eˣ)` as PyTorch computes it (`log1p(exp(x))`, and `x` itself above 20): the
    /// exact value, the error of `exp` carried through `log1p` (absolute, at most its relative
    /// error), `log1p`'s own, and the threshold's `ln(1 + e⁻ˣ) ≤ e⁻²⁰` where it may apply.
    fn softplus(self) -> Self {
        let a = assumed_ulps();
        let exp_rel = 2.0 * a * R::U + 2.0 * a * R::ETA;
        let threshold = if self.b.hi() > 20.0 { 2.1e-9 } else { 0.0 };
        let b = SpecScalar::softplus(self.b).widened(2.0 * exp_rel + threshold, 4);
        Self::elementary(b)
    }
    fn square(self) -> Self {
        Self::rounded(SpecScalar::square(self.b))
    }
    /// `√` is a basic, correctly rounded operation of IEEE arithmetic: one rounding of `R`.
    fn sqrt(self) -> Self {
        Self::rounded(SpecScalar::sqrt(self.b))
    }
    fn erf(self) -> Self {
        Self::elementary(SpecScalar::erf(self.b))
    }
    fn erfc(self) -> Self {
        Self::elementary(SpecScalar::erfc(self.b))
    }

    /// `Σ` in any order or tree: the balls' sum, widened by `γ_{n−1}·(Σ|tᵢ| + |Σtᵢ|)/2` of `R`
    /// (every partial sum is a subset sum: `subset_sum_bound` in the source; additions lose
    /// nothing to underflow). Exact zeros are no terms.
    fn sum<I: IntoIterator<Item = Self>>(it: I) -> Self {
        let (mut acc, mut mags, mut n) = (Ball::default(), 0.0f64, 0usize);
        for x in it {
            if x.is_zero() {
                continue;
            }
            acc = acc + x.b;
            mags += x.b.mag();
            n += 1;
        }
        if n <= 1 {
            return AnyRun::of(acc);
        }
        let g = Bound::gamma(n - 1, R::U).get();
        // Every partial sum of any order is at most Σ|tᵢ|(1 + γ) in magnitude.
        if !Self::representable(mags * (1.0 + g)) {
            return AnyRun::of(Ball::ENTIRE);
        }
        let subsets = subset_sum_bound(mags, acc.mid(), acc.rad());
        AnyRun::of(acc.widened(g * subsets, n as u32 + 4))
    }

    /// Accumulation of one of `terms` cotangent contributions: any order of the `terms`
    /// additions errs by at most `γ_{terms−1}·Σ|tᵢ|`, so each contribution is charged
    /// `γ_{terms−1}·|tᵢ|` once — the first one (`acc_single`) with the second. Two terms are
    /// one addition: its own rounding.
    fn accumulate(acc: Self, v: Self, terms: usize, acc_single: bool) -> Self {
        if terms <= 2 || acc.is_zero() || v.is_zero() {
            return acc + v;
        }
        let g = Bound::gamma(terms - 1, R::U).get();
        let mags = v.b.mag() + if acc_single { acc.b.mag() } else { 0.0 };
        if !Self::representable(mags * (1.0 + g)) {
            return AnyRun::of(Ball::ENTIRE);
        }
        AnyRun::of((acc.b + v.b).widened(g * mags, 4))
    }

    /// `A·B` with inner dimension `k`, in any order, blocking or FMA use: midpoints `C_m` by an
    /// `f64` GEMM; radius, entry by entry, `ρ = |A_m|·B_r + A_r·(|B_m| + B_r) + γ_k^{f64}·T`
    /// (the spread over the balls and the midpoint GEMM's rounding; `T = (|A_m| + A_r)(|B_m| +
    /// B_r)` bounds `Σ|aᵢbᵢ|`) plus any run's rounding `u·T + h·(T + |C_m| + ρ)`,
    /// `h = γ_{k−1}^R(1 + u)/2` (the products' roundings, then the additions' over subset sums:
    /// `subset_sum_bound`), plus underflow. With `X = |A_m|·B_r + A_r·(|B_m| + B_r) + c·T`,
    /// `c = γ_k^{f64} + u + h`, that is at most `X·(1 + h) + h·|C_m|`, and `X` is one nonnegative
    /// `f32` GEMM `[|A_m|, A_r]·[B_r + c(|B_m| + B_r); (1 + c)(|B_m| + B_r)]` (rounded outwards:
    /// an upper bound a few parts in 10⁴ above the exact sums) when one bound on every entry
    /// shows that no partial sum of any run can overflow `R`; otherwise three `f64` GEMMs and
    /// that test entry by entry.
    fn matmul(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>) -> Array2<Self> {
        let k = a.ncols();
        let g = Bound::gamma(k, R::U).get() + Bound::gamma(k, U64).get();
        let h = half_gamma::<R>(k);
        let c = Bound::gamma(k, U64).get() + R::U + h;
        let ((a_mid, am, ar), (b_mid, bm, br)) = (mids_and_top(a), mids_and_top(b));
        // Every |s3| = Σ (|a_m| + a_r)(|b_m| + b_r) is at most k·max·max.
        let every = k as f64 * (am + ar) * (bm + br) * (1.0 + g) * (1.0 + 1e-6);
        if k > 0 && Self::representable(every) {
            let left = (
                |v: Self, s: f64| v.b.mid().abs() * s,
                Some(|v: Self, s: f64| v.b.rad() * s),
            );
            let right = (
                move |v: Self, s: f64| v.b.rad() * s + c * (v.b.mid().abs() * s + v.b.rad() * s),
                Some(move |v: Self, s: f64| (1.0 + c) * (v.b.mid().abs() * s + v.b.rad() * s)),
            );
            let maxima = (am.max(ar), (1.0 + c) * (bm + br));
            let (sums, mm) = crate::config::beside(
                a.nrows() * k * b.ncols(),
                || super::nonneg_gemm::nonneg_sums(a, b, maxima, left, right),
                || crate::kernel::matmul(a_mid.view(), b_mid.view()),
            );
            if let Some(rs) = sums.filter(|rs| rs.sums.dim() == mm.dim()) {
                // The runtime's underflow `2k·η_R`, and `f64::MIN_POSITIVE` for the midpoint
                // GEMM's and the scaling back's (as in the `Ball` product).
                let under = 2.0 * k as f64 * R::ETA + f64::MIN_POSITIVE;
                let mut out = Vec::with_capacity(mm.len());
                let fin = |(&m, &s): (&f64, &f32)| {
                    let r = rs.bound(s) * (1.0 + h) + h * m.abs() + under;
                    AnyRun::of(Ball::new(m, rad(r, 4)))
                };
                for (mrow, srow) in mm.rows().into_iter().zip(rs.sums.rows()) {
                    match (mrow.as_slice(), srow.as_slice()) {
                        (Some(mr), Some(sr)) => out.extend(mr.iter().zip(sr).map(fin)),
                        _ => out.extend(mrow.iter().zip(srow.iter()).map(fin)),
                    }
                }
                if let Ok(out) = Array2::from_shape_vec(mm.raw_dim(), out) {
                    return out;
                }
            }
        }
        self::AnyRun::matmul_f64(a, b, k, g)
    }
}

/// The midpoints of `x` in its memory order (a transposed view, common in a VJP, gives a
/// column-major array the GEMM reads as is, not a strided walk), with the largest `|m|`
/// and the largest radius: one pass over an operand that is read from memory, not cache, where
/// the maxima and the midpoints had taken one each. Midpoints are finite and radii never NaN
/// ([`Ball::new`]), so selects give the maxima.
fn mids_and_top<R>(x: ArrayView2<'_, AnyRun<R>>) -> (Array2<f64>, f64, f64) {
    let flipped = !x.is_standard_layout() && x.t().is_standard_layout();
    let v = if flipped { x.t() } else { x };
    let (mut m, mut r) = (0.0f64, 0.0f64);
    let mids = v.map(|e| {
        let (mid, rad) = (e.b.mid(), e.b.rad());
        m = if mid.abs() > m { mid.abs() } else { m };
        r = if rad > r { rad } else { r };
        mid
    });
    (if flipped { mids.reversed_axes() } else { mids }, m, r)
}

/// An upper bound on every subset sum of terms whose absolute values sum to at most `mags` and
/// whose sum lies in the ball `⟨m, r⟩`: `max(P, N) = (Σ|tᵢ| + |Σtᵢ|)/2`, with `P` and `N` the
/// sums of the positive and of the negative terms' magnitudes.
///
/// Why it bounds a sum's rounding in any order or tree: every intermediate sum of a tree is the
/// exact sum of a subset of its leaves plus the errors below it, and with `|e_v| ≤ (|e_l| +
/// |e_r|)(1 + u) + u·|S_v|` over the `n − 1` additions the total is at most
/// `γ_{n−1}·max_v |S_v| ≤ γ_{n−1}·max(P, N)` (Higham's `γ_{n−1}·Σ|tᵢ|`, with the subset sums
/// bounded by the larger side instead of by all terms: up to half as much when the signs are
/// mixed, the same when they agree). Leaves that are rounded products (`|t̂ᵢ| ≤ (1 + u)|tᵢ|`,
/// same sign) or exact products inside an FMA change `P` and `N` by at most a factor `1 + u`.
fn subset_sum_bound(mags: f64, m: f64, r: f64) -> f64 {
    0.5 * (mags + m.abs() + r)
}

/// `h = γ_{k−1}(1 + u)/2` of `R` (rounded up): the additions' share of a `k`-term sum's or dot
/// product's rounding in any order, per unit of `Σ|tᵢ| + |Σtᵢ|` (see [`subset_sum_bound`]); the
/// order-free propagated bounds use it too.
pub(crate) fn half_gamma<R: Runtime>(k: usize) -> f64 {
    if k <= 1 {
        return 0.0;
    }
    0.5 * Bound::gamma(k - 1, R::U).get() * (1.0 + R::U) * (1.0 + 4.0 * U64)
}

impl<R: Runtime> AnyRun<R> {
    /// The product with `f64` radius GEMMs and the overflow test entry by entry (see
    /// [`SpecScalar::matmul`]): for products near `R`'s overflow threshold.
    fn matmul_f64(
        a: ArrayView2<'_, Self>,
        b: ArrayView2<'_, Self>,
        k: usize,
        g: f64,
    ) -> Array2<Self> {
        let part = |x: ArrayView2<'_, Self>, f: fn(Ball) -> f64| x.mapv(|v| f(v.b));
        let (am, ar, amag) = (
            part(a, |v| v.mid()),
            part(a, |v| v.rad()),
            part(a, |v| v.mag()),
        );
        let (bm, br, bmag) = (
            part(b, |v| v.mid()),
            part(b, |v| v.rad()),
            part(b, |v| v.mag()),
        );
        let am_abs = am.mapv(f64::abs);
        let mm = crate::kernel::matmul(am.view(), bm.view());
        let g1 = crate::kernel::matmul(am_abs.view(), br.view());
        let g2 = crate::kernel::matmul(ar.view(), bmag.view());
        let g3 = crate::kernel::matmul(amag.view(), bmag.view());
        let under = 2.0 * k as f64 * R::ETA;
        let ops = 2 * k as u32 + 10;
        let (g64, h) = (Bound::gamma(k, U64).get(), half_gamma::<R>(k));
        let mut out = Array2::<Self>::default(mm.raw_dim());
        Zip::from(&mut out)
            .and(&mm)
            .and(&g1)
            .and(&g2)
            .and(&g3)
            .for_each(|o, &m, &s1, &s2, &s3| {
                *o = if Self::representable(s3 * (1.0 + g)) {
                    let rho = s1 + s2 + g64 * s3;
                    let w = R::U * s3 + h * (s3 + m.abs() + rho);
                    AnyRun::of(Ball::new(m, rad(rho + w + under, ops)))
                } else {
                    AnyRun::of(Ball::ENTIRE)
                };
            });
        out
    }
}

/// Test support: the sums of `terms` in the orders that drive the partial sums furthest
/// (positives first, negatives first, largest magnitude first), forward, reverse and pairwise,
/// each addition rounded by `add` (the property tests of the any-order bounds run them).
#[cfg(test)]
pub(crate) fn furthest_orders(terms: &[f64], add: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    fn tree(t: &[f64], add: &dyn Fn(f64, f64) -> f64) -> f64 {
        match t.len() {
            0 => 0.0,
            1 => t[0],
            l => add(tree(&t[..l / 2], add), tree(&t[l / 2..], add)),
        }
    }
    let seq = |t: &[f64]| t[1..].iter().fold(t[0], |s, &x| add(s, x));
    let mut up = terms.to_vec();
    up.sort_by(f64::total_cmp);
    let down: Vec<f64> = up.iter().rev().copied().collect();
    let mut big = terms.to_vec();
    big.sort_by(|a, b| b.abs().total_cmp(&a.abs()));
    let rev: Vec<f64> = terms.iter().rev().copied().collect();
    vec![
        seq(terms),
        seq(&rev),
        seq(&up),
        seq(&down),
        seq(&big),
        tree(terms, &add),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::Est;

    type A = AnyRun<f32>;

    fn contains(x: A, v: f64) -> bool {
        x.lo() <= v && v <= x.hi()
    }

    /// The counterexample to charging sums addition by addition: (1 + ε) + ε rounds twice
    /// in f32, ε + ε then + 1 once; the order-free ball holds both.
    #[test]
    fn sums_cover_every_order() {
        let e = 0.75 * 2f64.powi(-24);
        let t = [e, e, 1.0];
        let s = A::sum(t.iter().map(|&v| A::from_f64(v)));
        let seq = (t[0] as f32 + t[1] as f32) + t[2] as f32;
        let rev = (t[2] as f32 + t[1] as f32) + t[0] as f32;
        assert!(contains(s, seq as f64) && contains(s, rev as f64));
        assert!(contains(s, 1.0 + 2.0 * e));
    }

    /// Fan-out accumulation: the contributions arrive one by one, any runtime may add them in
    /// another order; every order of f32 additions lies in the ball.
    #[test]
    fn accumulation_covers_every_order() {
        let e = 0.75 * 2f64.powi(-24);
        let t = [e, e, 1.0, -e];
        let mut acc = A::zero();
        for (j, &v) in t.iter().enumerate() {
            acc = A::accumulate(acc, A::from_f64(v), t.len(), j == 1);
        }
        let orders = [[0, 1, 2, 3], [2, 0, 1, 3], [3, 2, 1, 0], [2, 3, 0, 1]];
        for o in orders {
            let r = o.iter().fold(0.0f32, |s, &i| s + t[i] as f32) as f64;
            assert!(contains(acc, r), "{o:?}: {r} not in {acc:?}");
        }
    }

    #[test]
    fn exact_operations_stay_points() {
        let x = A::from_f64(0.375);
        assert!(
            A::from_f64(0.3).ball().rad() > 0.0,
            "0.3 is no f32: the ball holds both"
        );
        assert_eq!((x + A::zero()).ball().rad(), 0.0);
        assert_eq!((x * A::one()).ball().rad(), 0.0);
        assert_eq!((x * A::zero()).ball().rad(), 0.0);
        assert!((x + x).ball().rad() > 0.0);
    }

    /// `√` in `f32` and its derived uses (`1/√x`) lie in the any-run ball, which also holds the
    /// exact root; a ball that may be negative is the line.
    #[test]
    fn sqrt_covers_f32() {
        for &v in &[2.0f64, 0.1, 3e-40, 1e30, 0.0] {
            let x = A::from_f64(v);
            let (s, r) = (x.sqrt(), A::one() / x.sqrt());
            let v32 = v as f32;
            assert!(
                contains(s, v32.sqrt() as f64) && contains(s, v.sqrt()),
                "{v}"
            );
            if v > 0.0 {
                assert!(contains(r, (1.0 / v32.sqrt()) as f64) && contains(r, 1.0 / v.sqrt()));
            }
        }
        assert_eq!(A::new(0.0, 1e-9).sqrt().ball().rad(), f64::INFINITY);
        let e = <Est<f32> as SpecScalar>::sqrt(Est::new(4.0, 1e-3));
        assert!(e.mid() == 2.0 && (e.sigma() - 2.5e-4).abs() < 1e-6);
        assert!(
            <Est<f32> as SpecScalar>::sqrt(Est::new(0.0, 1e-3))
                .sigma()
                .is_infinite()
        );
    }

    /// The subset-sum widening never makes a finite ball of a non-finite or overflowing term,
    /// and an empty product (`k = 0`) is the exact zero.
    #[test]
    fn subset_sums_of_unbounded_terms_are_the_line() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 3.3e38] {
            let t = [
                A::from_f64(1.0),
                A::from_f64(bad),
                A::from_f64(bad),
                A::from_f64(-2.0),
            ];
            let s = A::sum(t.iter().copied());
            assert_eq!(s.ball().rad(), f64::INFINITY, "sum with {bad}");
            let a = ndarray::Array2::from_shape_fn((1, 4), |(_, j)| t[j]);
            let b = ndarray::Array2::from_shape_fn((4, 1), |_| A::from_f64(1.0));
            let c = A::matmul(a.view(), b.view())[[0, 0]];
            assert_eq!(c.ball().rad(), f64::INFINITY, "product with {bad}");
        }
        let (a, b) = (
            ndarray::Array2::<A>::default((2, 0)),
            ndarray::Array2::<A>::default((0, 3)),
        );
        let c = A::matmul(a.view(), b.view());
        assert!(c.iter().all(|v| v.mid() == 0.0 && v.ball().rad() <= 1e-300));
    }

    #[test]
    fn overflow_is_the_whole_line() {
        let big = A::from_f64(3e38);
        assert_eq!((big + big).ball().rad(), f64::INFINITY);
        assert_eq!(A::from_f64(100.0).exp().ball().rad(), f64::INFINITY);
        assert!(
            AnyRun::<f64>::from_f64(100.0)
                .exp()
                .ball()
                .rad()
                .is_finite()
        );
    }

    #[test]
    fn matmul_covers_f32_orders() {
        let a = ndarray::Array2::from_shape_fn((3, 5), |(i, j)| {
            A::from_f64(((i * 7 + j * 3) % 5) as f64 * 0.37 - 0.8)
        });
        let b = ndarray::Array2::from_shape_fn((5, 2), |(i, j)| {
            A::from_f64(((i * 5 + j) % 4) as f64 * 1.3 - 2.1)
        });
        let c = A::matmul(a.view(), b.view());
        for i in 0..3 {
            for j in 0..2 {
                let terms: Vec<f32> = (0..5)
                    .map(|p| a[[i, p]].mid() as f32 * b[[p, j]].mid() as f32)
                    .collect();
                let fwd = terms.iter().fold(0.0f32, |s, &t| s + t);
                let rev = terms.iter().rev().fold(0.0f32, |s, &t| s + t);
                assert!(contains(c[[i, j]], fwd as f64) && contains(c[[i, j]], rev as f64));
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        /// The subset-sum bound of `sum` against the orders whose partial sums reach furthest,
        /// in `f32` and in `bf16` (whose large `u` makes every rounding count), on terms of one
        /// sign, of mixed signs and of mostly one sign, over magnitudes spread by 2^±12.
        #[test]
        fn sums_cover_the_furthest_orders(
            v in proptest::collection::vec((0.0f64..1.0, -12i32..12, 0.0f64..1.0), 2..70),
            bias in 0.0f64..1.0,
        ) {
            let raw: Vec<f64> = v
                .iter()
                .map(|&(x, e, sg)| if sg < bias { -x } else { x } * 2f64.powi(e))
                .collect();
            let f32s: Vec<f64> = raw.iter().map(|&x| f64::from(x as f32)).collect();
            let s = A::sum(f32s.iter().map(|&x| A::from_f64(x)));
            for r in furthest_orders(&f32s, |a, b| f64::from(a as f32 + b as f32)) {
                proptest::prop_assert!(contains(s, r), "f32: {r} not in {s:?}");
            }
            type H = AnyRun<half::bf16>;
            let bf = |x: f64| f64::from(half::bf16::from_f64(x).to_f32());
            let hs: Vec<f64> = raw.iter().map(|&x| bf(x)).collect();
            let s = H::sum(hs.iter().map(|&x| H::from_f64(x)));
            for r in furthest_orders(&hs, |a, b| bf(f64::from(a as f32 + b as f32))) {
                proptest::prop_assert!(s.lo() <= r && r <= s.hi(), "bf16: {r} not in {s:?}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        /// The product's subset-sum bound in `bf16`, whose `u = 2⁻⁸` dwarfs the `f32` radius
        /// GEMM's outward rounding (in `f32` a missing addition term would go unseen): dot
        /// products with rounded or exact (FMA) products, added in the furthest orders.
        #[test]
        fn bf16_dots_cover_the_furthest_orders(
            v in proptest::collection::vec((0.0f64..1.0, -6i32..6, 0.0f64..1.0, 0.0f64..1.0), 1..70),
            bias in 0.0f64..1.0,
        ) {
            type H = AnyRun<half::bf16>;
            let bf = |x: f64| f64::from(half::bf16::from_f64(x).to_f32());
            let k = v.len();
            let xs: Vec<f64> = v.iter().map(|&(x, e, _, _)| bf(x * 2f64.powi(e))).collect();
            let ys: Vec<f64> = v
                .iter()
                .map(|&(_, e, y, sg)| bf(if sg < bias { -y } else { y } * 2f64.powi(-e)))
                .collect();
            let a = ndarray::Array2::from_shape_fn((1, k), |(_, j)| H::from_f64(xs[j]));
            let b = ndarray::Array2::from_shape_fn((k, 1), |(i, _)| H::from_f64(ys[i]));
            let c = H::matmul(a.view(), b.view())[[0, 0]];
            let add = |p: f64, q: f64| bf(f64::from(p as f32 + q as f32));
            let exact: Vec<f64> = xs.iter().zip(&ys).map(|(x, y)| x * y).collect();
            let rounded: Vec<f64> = exact.iter().map(|&t| bf(t)).collect();
            for r in furthest_orders(&rounded, add).into_iter().chain(furthest_orders(&exact, add)) {
                proptest::prop_assert!(c.lo() <= r && r <= c.hi(), "{r} not in {c:?}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// The `f32` radius GEMM path: every point choice at the balls' ends and middles and
        /// every summation order tried (forward, reverse, pairwise, FMA) lies in the product,
        /// for both operand layouts, inner dimensions up to 40, one overall scale per matrix
        /// (tiny to near overflow of the radius terms) and radii from none to wide.
        #[test]
        fn matmul_covers_f32_orders_on_every_layout(
            (m, k, n) in (1usize..4, 1usize..41, 1usize..4),
            va in proptest::collection::vec((-1.0f32..1.0, 0u8..4), 3 * 40),
            vb in proptest::collection::vec((-1.0f32..1.0, 0u8..4), 40 * 3),
            (sa, sb) in (-60i32..40, -60i32..40),
            (ta, tb) in (proptest::bool::ANY, proptest::bool::ANY),
        ) {
            // A point `v·2^s` (an f32) with a radius of none, an ulp, 10⁻³ or half its size.
            let ball = |(v, w): (f32, u8), s: i32| {
                let x = v * 2f32.powi(s);
                let r = [0.0, 6e-8, 1e-3, 0.5][usize::from(w)] * f64::from(x.abs());
                (x, A::new(f64::from(x), r))
            };
            let pa: Vec<(f32, A)> = va.iter().map(|&v| ball(v, sa)).collect();
            let pb: Vec<(f32, A)> = vb.iter().map(|&v| ball(v, sb)).collect();
            let lay = |x: ndarray::Array2<A>, t: bool| {
                if t { x.t().as_standard_layout().into_owned().reversed_axes() } else { x }
            };
            let a = lay(ndarray::Array2::from_shape_fn((m, k), |(i, j)| pa[i * 40 + j].1), ta);
            let b = lay(ndarray::Array2::from_shape_fn((k, n), |(i, j)| pb[i * 3 + j].1), tb);
            let c = A::matmul(a.view(), b.view());
            for i in 0..m {
                for j in 0..n {
                    // Points of the balls: the middles, and each end (rounded inwards to f32).
                    let end = |(x, b): (f32, A), side: f64| {
                        let e = b.ball().mid() + side * b.ball().rad();
                        let f = e as f32;
                        if (f64::from(f) - b.ball().mid()).abs() <= b.ball().rad() { f } else { x }
                    };
                    for side in [0.0, 1.0, -1.0] {
                        let xs: Vec<f32> = (0..k).map(|p| end(pa[i * 40 + p], side)).collect();
                        let ys: Vec<f32> = (0..k).map(|p| end(pb[p * 3 + j], -side)).collect();
                        let terms: Vec<f32> = xs.iter().zip(&ys).map(|(x, y)| x * y).collect();
                        let fwd = terms.iter().fold(0.0f32, |s, &t| s + t);
                        let rev = terms.iter().rev().fold(0.0f32, |s, &t| s + t);
                        let fma = xs.iter().zip(&ys).fold(0.0f32, |s, (x, y)| x.mul_add(*y, s));
                        fn pairwise(t: &[f32]) -> f32 {
                            match t.len() {
                                0 => 0.0,
                                1 => t[0],
                                l => pairwise(&t[..l / 2]) + pairwise(&t[l / 2..]),
                            }
                        }
                        let t64: Vec<f64> = terms.iter().map(|&t| f64::from(t)).collect();
                        let far = furthest_orders(&t64, |a, b| f64::from(a as f32 + b as f32));
                        let far = far.iter().map(|&r| r as f32);
                        for r in [fwd, rev, fma, pairwise(&terms)].into_iter().chain(far) {
                            proptest::prop_assert!(
                                !r.is_finite() || contains(c[[i, j]], f64::from(r)),
                                "({i}, {j}) side {side}: {r} not in {:?}", c[[i, j]]
                            );
                        }
                    }
                }
            }
        }
    }
}
