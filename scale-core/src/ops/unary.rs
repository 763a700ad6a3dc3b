//! Smooth unary functions: `tanh`, `sigmoid`, `exp`, `log`, `softplus`, `square`.
//!
//! One node type per op (`Tanh<S, B>`, …, aliases of [`Unary`] with a function marker), all
//! sharing one bound analysis:
//!
//! * forward, per entry: `sup_{|t−x̂|≤ε}|f′(t)|·ε + |ŷ − f(x̂)|`, the supremum taken over the
//!   interval around the runtime input (e.g. `sech²` at the point of the interval nearest 0 for
//!   `tanh`), the second term measured against an `f64` reference (libm assumption); or, where
//!   smaller, the range bound `max(f(x̂+ε) − ŷ, ŷ − f(x̂−ε))` of a monotone `f` (square: over
//!   `|x|`), which stays finite for bounded functions whatever `ε` is and is far tighter for
//!   `log` near 0 ([`SmoothFn::range_ref`]);
//! * VJP, per entry: `ε_δ·sup|f′| + |δ̂|·min(sup|f″|·ε, sup f′) + |δ̂·f′(x̂) − v̂|` (the `sup f′`
//!   cap for increasing `f`, where `f′ ≥ 0`);
//! * `log`: `+∞` wherever `x̂ − ε ≤ 0` (positivity of the spec value not guaranteed). Its scale
//!   bounds are `+∞`: the scale parts receive no eps, and `|ln x|` is unbounded on `(0, B]`.

use super::kit::{Op, OpRuntime, out_linf};
use super::op_node;
use super::util::{TINY, at, libm_rel, nan_max, ref_dist, spec_b, up};
use crate::bound::{Bound, ENCL, U64, inflate};
use crate::handle::{Arg, Var};
use crate::node::Saved;
use crate::round::{add_up, mul_up, sub_down, sub_up};
use crate::scalar::exp64;
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::Shape;
use crate::tensor::linf;
use ndarray::{ArrayD, Zip};

/// A smooth scalar function with everything its node needs: spec and runtime evaluation, `f64`
/// references, and rigorous suprema of its derivatives over intervals.
///
/// Implemented by the markers [`TanhFn`], [`SigmoidFn`], [`ExpFn`], [`LogFn`], [`SoftplusFn`],
/// [`SquareFn`].
pub trait SmoothFn: Send + Sync + 'static {
    /// Op name.
    const NAME: &'static str;
    /// Domain is `x > 0` (bounds are `+∞` unless positivity is guaranteed).
    const POSITIVE: bool = false;
    /// With [`SmoothFn::POSITIVE`]: `f` itself is defined and continuous at 0 though `f′` is
    /// not (`√`), so the forward bound needs only `x ≥ 0` guaranteed (it then uses the range
    /// bound); the VJP still needs `x > 0`.
    const FWD_AT_ZERO: bool = false;
    /// `f` in spec arithmetic.
    fn spec<T: SpecScalar>(x: T) -> T;
    /// `f′` in spec arithmetic.
    fn spec_d<T: SpecScalar>(x: T) -> T;
    /// [`spec`](Self::spec) with its constants evaluated once, for a whole tensor (on balls
    /// GELU's `√½` cost a sixth of it). Must agree with `spec` bit for bit (the default is
    /// `spec` itself).
    fn spec_fn<T: SpecScalar>() -> impl Fn(T) -> T {
        Self::spec::<T>
    }
    /// [`spec_d`](Self::spec_d) with its constants evaluated once, as [`SmoothFn::spec_fn`]
    /// (on balls GELU's `1/√(2π)` cost a third of its derivative).
    fn spec_d_fn<T: SpecScalar>() -> impl Fn(T) -> T {
        Self::spec_d::<T>
    }
    /// `f′(x)` the way a runtime's backward pass computes it, from the input `x` and the
    /// forward output `y` (PyTorch: `1 − y²` for tanh, `y(1 − y)` for sigmoid, `y` for exp).
    /// Used where the spec scalar models runtime rounding
    /// ([`SpecScalar::MODELS_RUNTIME`](crate::SpecScalar)); default `spec_d(x)`.
    fn runtime_d<T: SpecScalar>(x: T, y: T) -> T {
        let _ = y;
        Self::spec_d(x)
    }
    /// [`runtime_d`](Self::runtime_d) with its constants evaluated once, as
    /// [`SmoothFn::spec_fn`] (GELU's `β = (2/√π)·√½·½` in the arithmetic that models the
    /// runtime, per entry, was a fifth of a certified any-implementation transformer step).
    /// Must agree with `runtime_d` bit for bit (the default is `runtime_d` itself).
    fn runtime_d_fn<T: SpecScalar>() -> impl Fn(T, T) -> T {
        Self::runtime_d::<T>
    }
    /// The runtime kernel of `f`.
    fn rt<R: Runtime>(x: R) -> R;
    /// The runtime kernel of `f′` (used by the VJP: `v̂ = fl(δ̂ · f′̂(x̂))`).
    fn rt_d<R: Runtime>(x: R) -> R;
    /// Whether the runtime kernels of `f` and `f′` share a costly part `k(x)`
    /// ([`SmoothFn::rt_keep`]: GELU's `erf(x·√½)`, the value of `tanh`, `σ` and `exp`) that the
    /// runtime forward keeps per entry for the VJP, which then does not evaluate it again: one
    /// runtime tensor held from a node's forward to its VJP. Such an `F` writes
    /// `rt(x) = rt_kept(x, rt_keep(x))` and `rt_d(x) = rt_d_kept(x, rt_keep(x))`, so the
    /// results are the same bits either way.
    const KEEPS: bool = false;
    /// The shared part `k(x)` of [`SmoothFn::KEEPS`] (unused otherwise).
    #[inline(always)]
    fn rt_keep<R: Runtime>(x: R) -> R {
        x
    }
    /// [`SmoothFn::rt`] from `x` and `k = rt_keep(x)`.
    #[inline(always)]
    fn rt_kept<R: Runtime>(x: R, k: R) -> R {
        let _ = k;
        Self::rt(x)
    }
    /// [`SmoothFn::rt_d`] from `x` and `k = rt_keep(x)`.
    #[inline(always)]
    fn rt_d_kept<R: Runtime>(x: R, k: R) -> R {
        let _ = k;
        Self::rt_d(x)
    }
    /// `f64` reference of `f`, relative error ≤ `(4·assumed_ulps + 8)·2⁻⁵³` (no cancellation).
    fn f_ref(x: f64) -> f64;
    /// `f64` reference of `f′`, relative error ≤ `(4·assumed_ulps + 8)·2⁻⁵³`.
    fn d_ref(x: f64) -> f64;
    /// An absolute error bound of [`SmoothFn::f_ref`] at `x` on top of its relative accuracy,
    /// for a reference whose argument rounding its function amplifies (default 0).
    fn f_ref_abs(_x: f64) -> f64 {
        0.0
    }
    /// An absolute error bound of [`SmoothFn::d_ref`] at `x` on top of its relative accuracy:
    /// a derivative with a root (`gelu`'s) is a difference there, relatively inaccurate
    /// (default 0).
    fn d_ref_abs(_x: f64) -> f64 {
        0.0
    }
    /// `(f_ref(x), f_ref_abs(x))` together: a bound evaluates both per entry, and where they
    /// share work (`gelu`'s `Φ(x)`) an op computes it once (default: the two calls).
    fn f_ref_pair(x: f64) -> (f64, f64) {
        (Self::f_ref(x), Self::f_ref_abs(x))
    }
    /// `(d_ref(x), d_ref_abs(x))` together, as [`SmoothFn::f_ref_pair`].
    fn d_ref_pair(x: f64) -> (f64, f64) {
        (Self::d_ref(x), Self::d_ref_abs(x))
    }
    /// Upper bound of `sup |f′|` over `[lo, hi]`.
    fn sup_d1(lo: f64, hi: f64) -> f64;
    /// Upper bound of `sup |f″|` over `[lo, hi]`.
    fn sup_d2(lo: f64, hi: f64) -> f64;
    /// Upper bound of `sup |f|` over `[−b, b]`.
    fn sup_f(b: f64) -> f64;
    /// Upper bound of `sup |f′|` over `[−b, b]`.
    fn sup_df(b: f64) -> f64;
    /// Whether `f` is nondecreasing, so `f′ ≥ 0`: the oscillation of `f′` over an interval is
    /// then at most `sup f′` there, which caps the VJP's second-order term when `ε` is large.
    const INCREASING: bool = false;
    /// `f64` references `(w_lo, w_hi)` of the least and the greatest value of `f` over
    /// `[lo, hi]` (each with the relative accuracy of [`SmoothFn::f_ref`]), or `None`. For a
    /// monotone `f` these are `f_ref` at the ends; they give the range bound
    /// `|f(x) − ŷ| ≤ max(f(hi) − ŷ, ŷ − f(lo))`, finite for bounded functions (`tanh`,
    /// `sigmoid`) whatever `ε` is, and far below the Lipschitz bound `sup|f′|·ε` when `f′`
    /// varies a lot over the interval (`log` near 0, `exp` for `ε ≥ 1`).
    fn range_ref(_lo: f64, _hi: f64) -> Option<(f64, f64)> {
        None
    }
}

/// The range bound of [`SmoothFn::range_ref`]: `max(f(hi) − ŷ, ŷ − f(lo))` over the interval,
/// rounded up, with the references widened by their relative error `rel`, the interval spec's
/// own slack and the underflow term (NaN when a reference is not finite; callers treat NaN as
/// "no bound").
fn range_bound<F: SmoothFn>(lo: f64, hi: f64, y: f64, rel: f64) -> f64 {
    let Some((wl, wh)) = F::range_ref(lo, hi) else {
        return f64::NAN;
    };
    if !(wl.is_finite() && wh.is_finite()) {
        return f64::NAN;
    }
    if y.is_nan() {
        return f64::NAN;
    }
    let r = rel + ENCL;
    let top = add_up(add_up(wh, mul_up(r, wh.abs())), TINY);
    let bottom = sub_down(sub_down(wl, mul_up(r, wl.abs())), TINY);
    let b = sub_up(top, y).max(sub_up(y, bottom));
    if b.is_nan() { f64::NAN } else { b.max(0.0) }
}

/// The smaller of two upper bounds, where NaN means "no bound" (both NaN: `+∞`). Never the
/// NaN-dropping `f64::min` on a value that may be NaN without saying so.
#[inline]
fn tighter(a: f64, b: f64) -> f64 {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => f64::INFINITY,
        (true, false) => b,
        (false, true) => a,
        (false, false) => {
            if b < a {
                b
            } else {
                a
            }
        }
    }
}

/// Smallest `|t|` over `[lo, hi]`.
#[inline]
fn mig(lo: f64, hi: f64) -> f64 {
    if lo > 0.0 {
        lo
    } else if hi < 0.0 {
        -hi
    } else {
        0.0
    }
}

/// Enclosure of an even function that decreases in `|x|`, from its values at the two ends of
/// `|x|` (each evaluated on a point, so without interval dependency).
fn even_decreasing<T: SpecScalar>(x: T, f: impl Fn(T) -> T) -> T {
    let a = x.abs();
    let (lo, hi) = (a.lo(), a.hi());
    if lo == hi {
        return f(T::from_f64(lo));
    }
    f(T::from_f64(lo)).hull(f(T::from_f64(hi)))
}

/// `sech²(x) = 4e^{−2|x|}/(1 + e^{−2|x|})²`, no cancellation.
#[inline]
fn sech2(x: f64) -> f64 {
    let t = exp64(-2.0 * x.abs());
    4.0 * t / ((1.0 + t) * (1.0 + t))
}

/// `σ(x)` in `f64`, relatively accurate on both sides.
#[inline]
fn sigmoid64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + exp64(-x))
    } else {
        let e = exp64(x);
        e / (1.0 + e)
    }
}

/// The runtime sigmoid kernel (same formula as [`sigmoid64`], in `R`).
#[inline]
fn sigmoid_rt<R: Runtime>(x: R) -> R {
    if x >= R::zero() {
        R::one() / (R::one() + (-x).libm_exp())
    } else {
        let e = x.libm_exp();
        e / (R::one() + e)
    }
}

/// Marker: hyperbolic tangent.
pub struct TanhFn;
impl SmoothFn for TanhFn {
    const NAME: &'static str = "tanh";
    fn spec<T: SpecScalar>(x: T) -> T {
        x.tanh()
    }
    fn spec_d<T: SpecScalar>(x: T) -> T {
        // sech² x = 4t/(1 + t)² with t = e^{−2|x|}: no cancellation for large |x|; evaluated at
        // the ends of |x| (it is decreasing in |x|), which avoids interval dependency.
        even_decreasing(x, |a| {
            let t = (T::from_f64(-2.0) * a).exp();
            T::from_f64(4.0) * t / (T::one() + t).square()
        })
    }
    fn runtime_d<T: SpecScalar>(_x: T, y: T) -> T {
        T::one() - y * y
    }
    const KEEPS: bool = true;
    #[inline(always)]
    fn rt_keep<R: Runtime>(x: R) -> R {
        x.tanh()
    }
    #[inline(always)]
    fn rt_kept<R: Runtime>(_x: R, y: R) -> R {
        y
    }
    #[inline(always)]
    fn rt_d_kept<R: Runtime>(_x: R, y: R) -> R {
        R::one() - y * y
    }
    fn rt<R: Runtime>(x: R) -> R {
        Self::rt_kept(x, Self::rt_keep(x))
    }
    fn rt_d<R: Runtime>(x: R) -> R {
        Self::rt_d_kept(x, Self::rt_keep(x))
    }
    fn f_ref(x: f64) -> f64 {
        x.tanh()
    }
    fn d_ref(x: f64) -> f64 {
        sech2(x)
    }
    fn sup_d1(lo: f64, hi: f64) -> f64 {
        up(sech2(mig(lo, hi))).min(1.0)
    }
    fn sup_d2(lo: f64, hi: f64) -> f64 {
        // |tanh″| = 2|tanh|·sech² ≤ 2·sech²(mig), and ≤ 4/(3√3) < 0.77.
        up(2.0 * sech2(mig(lo, hi))).min(0.77)
    }
    fn sup_f(b: f64) -> f64 {
        b.min(1.0)
    }
    fn sup_df(_b: f64) -> f64 {
        1.0
    }
    const INCREASING: bool = true;
    fn range_ref(lo: f64, hi: f64) -> Option<(f64, f64)> {
        Some((lo.tanh(), hi.tanh()))
    }
}

/// Marker: logistic sigmoid.
pub struct SigmoidFn;
impl SmoothFn for SigmoidFn {
    const NAME: &'static str = "sigmoid";
    fn spec<T: SpecScalar>(x: T) -> T {
        x.sigmoid()
    }
    fn spec_d<T: SpecScalar>(x: T) -> T {
        even_decreasing(x, |a| a.sigmoid() * (-a).sigmoid())
    }
    fn runtime_d<T: SpecScalar>(_x: T, y: T) -> T {
        y * (T::one() - y)
    }
    const KEEPS: bool = true;
    #[inline(always)]
    fn rt_keep<R: Runtime>(x: R) -> R {
        sigmoid_rt(x)
    }
    #[inline(always)]
    fn rt_kept<R: Runtime>(_x: R, s: R) -> R {
        s
    }
    #[inline(always)]
    fn rt_d_kept<R: Runtime>(_x: R, s: R) -> R {
        s * (R::one() - s)
    }
    fn rt<R: Runtime>(x: R) -> R {
        Self::rt_kept(x, Self::rt_keep(x))
    }
    fn rt_d<R: Runtime>(x: R) -> R {
        Self::rt_d_kept(x, Self::rt_keep(x))
    }
    fn f_ref(x: f64) -> f64 {
        sigmoid64(x)
    }
    fn d_ref(x: f64) -> f64 {
        sigmoid64(x) * sigmoid64(-x)
    }
    fn sup_d1(lo: f64, hi: f64) -> f64 {
        // σ′ is even and decreasing in |t|.
        up(Self::d_ref(mig(lo, hi))).min(0.25)
    }
    fn sup_d2(lo: f64, hi: f64) -> f64 {
        // |σ″| = σ′·|1 − 2σ| ≤ σ′.
        Self::sup_d1(lo, hi)
    }
    fn sup_f(b: f64) -> f64 {
        up(sigmoid64(b)).min(1.0)
    }
    fn sup_df(_b: f64) -> f64 {
        0.25
    }
    const INCREASING: bool = true;
    fn range_ref(lo: f64, hi: f64) -> Option<(f64, f64)> {
        Some((sigmoid64(lo), sigmoid64(hi)))
    }
}

/// Marker: exponential.
pub struct ExpFn;
impl SmoothFn for ExpFn {
    const NAME: &'static str = "exp";
    fn spec<T: SpecScalar>(x: T) -> T {
        x.exp()
    }
    fn spec_d<T: SpecScalar>(x: T) -> T {
        x.exp()
    }
    fn runtime_d<T: SpecScalar>(_x: T, y: T) -> T {
        y
    }
    const KEEPS: bool = true;
    #[inline(always)]
    fn rt_keep<R: Runtime>(x: R) -> R {
        x.libm_exp()
    }
    #[inline(always)]
    fn rt_kept<R: Runtime>(_x: R, y: R) -> R {
        y
    }
    #[inline(always)]
    fn rt_d_kept<R: Runtime>(_x: R, y: R) -> R {
        y
    }
    fn rt<R: Runtime>(x: R) -> R {
        Self::rt_kept(x, Self::rt_keep(x))
    }
    fn rt_d<R: Runtime>(x: R) -> R {
        Self::rt_d_kept(x, Self::rt_keep(x))
    }
    fn f_ref(x: f64) -> f64 {
        exp64(x)
    }
    fn d_ref(x: f64) -> f64 {
        exp64(x)
    }
    fn sup_d1(_lo: f64, hi: f64) -> f64 {
        up(exp64(hi))
    }
    fn sup_d2(_lo: f64, hi: f64) -> f64 {
        up(exp64(hi))
    }
    fn sup_f(b: f64) -> f64 {
        up(exp64(b))
    }
    fn sup_df(b: f64) -> f64 {
        up(exp64(b))
    }
    const INCREASING: bool = true;
    fn range_ref(lo: f64, hi: f64) -> Option<(f64, f64)> {
        Some((exp64(lo), exp64(hi)))
    }
}

/// Marker: natural logarithm (domain `x > 0`).
pub struct LogFn;
impl SmoothFn for LogFn {
    const NAME: &'static str = "log";
    const POSITIVE: bool = true;
    fn spec<T: SpecScalar>(x: T) -> T {
        x.ln()
    }
    fn spec_d<T: SpecScalar>(x: T) -> T {
        T::one() / x
    }
    fn rt<R: Runtime>(x: R) -> R {
        x.ln()
    }
    fn rt_d<R: Runtime>(x: R) -> R {
        x.recip()
    }
    fn f_ref(x: f64) -> f64 {
        x.ln()
    }
    fn d_ref(x: f64) -> f64 {
        1.0 / x
    }
    fn sup_d1(lo: f64, _hi: f64) -> f64 {
        up(1.0 / lo)
    }
    fn sup_d2(lo: f64, _hi: f64) -> f64 {
        up(1.0 / (lo * lo))
    }
    fn sup_f(_b: f64) -> f64 {
        f64::INFINITY
    }
    fn sup_df(_b: f64) -> f64 {
        f64::INFINITY
    }
    const INCREASING: bool = true;
    fn range_ref(lo: f64, hi: f64) -> Option<(f64, f64)> {
        // Called with lo > 0 only (the domain check comes first).
        Some((lo.ln(), hi.ln()))
    }
}

/// Marker: softplus `ln(1 + eˣ)`.
pub struct SoftplusFn;
impl SoftplusFn {
    fn f64(x: f64) -> f64 {
        if x > 0.0 {
            x + exp64(-x).ln_1p()
        } else {
            exp64(x).ln_1p()
        }
    }
}
impl SmoothFn for SoftplusFn {
    const NAME: &'static str = "softplus";
    fn spec<T: SpecScalar>(x: T) -> T {
        x.softplus()
    }
    fn spec_d<T: SpecScalar>(x: T) -> T {
        x.sigmoid()
    }
    fn runtime_d<T: SpecScalar>(x: T, _y: T) -> T {
        // PyTorch's softplus_backward: z / (z + 1) with z = eˣ (1 above its threshold 20).
        if x.lo() > 20.0 {
            return T::one();
        }
        let z = x.exp();
        let d = z / (z + T::one());
        if x.hi() > 20.0 { d.hull(T::one()) } else { d }
    }
    fn rt<R: Runtime>(x: R) -> R {
        if x > R::zero() {
            x + (-x).libm_exp().ln_1p()
        } else {
            x.libm_exp().ln_1p()
        }
    }
    fn rt_d<R: Runtime>(x: R) -> R {
        sigmoid_rt(x)
    }
    fn f_ref(x: f64) -> f64 {
        Self::f64(x)
    }
    fn d_ref(x: f64) -> f64 {
        sigmoid64(x)
    }
    fn sup_d1(_lo: f64, hi: f64) -> f64 {
        up(sigmoid64(hi)).min(1.0)
    }
    fn sup_d2(lo: f64, hi: f64) -> f64 {
        SigmoidFn::sup_d1(lo, hi)
    }
    fn sup_f(b: f64) -> f64 {
        up(Self::f64(b))
    }
    fn sup_df(b: f64) -> f64 {
        up(sigmoid64(b)).min(1.0)
    }
    const INCREASING: bool = true;
    fn range_ref(lo: f64, hi: f64) -> Option<(f64, f64)> {
        Some((Self::f64(lo), Self::f64(hi)))
    }
}

/// Marker: `x²`.
pub struct SquareFn;
impl SmoothFn for SquareFn {
    const NAME: &'static str = "square";
    fn spec<T: SpecScalar>(x: T) -> T {
        x.square()
    }
    fn spec_d<T: SpecScalar>(x: T) -> T {
        T::from_f64(2.0) * x
    }
    fn rt<R: Runtime>(x: R) -> R {
        x * x
    }
    fn rt_d<R: Runtime>(x: R) -> R {
        x + x
    }
    fn f_ref(x: f64) -> f64 {
        x * x
    }
    fn d_ref(x: f64) -> f64 {
        2.0 * x
    }
    fn sup_d1(lo: f64, hi: f64) -> f64 {
        up(2.0 * lo.abs().max(hi.abs()))
    }
    fn sup_d2(_lo: f64, _hi: f64) -> f64 {
        2.0
    }
    fn sup_f(b: f64) -> f64 {
        up(b * b)
    }
    fn sup_df(b: f64) -> f64 {
        up(2.0 * b)
    }
    fn range_ref(lo: f64, hi: f64) -> Option<(f64, f64)> {
        let (m, g) = (mig(lo, hi), lo.abs().max(hi.abs()));
        Some((m * m, g * g))
    }
}

op_node! {
    /// A smooth elementwise function `F` applied to a tensor of shape `S`.
    Unary<S; F>[1] => S
}

/// `tanh(x)`, elementwise.
pub type Tanh<S, B> = Unary<S, B, TanhFn>;
/// `sigmoid(x) = 1/(1 + e⁻ˣ)`, elementwise.
pub type Sigmoid<S, B> = Unary<S, B, SigmoidFn>;
/// `exp(x)`, elementwise.
pub type Exp<S, B> = Unary<S, B, ExpFn>;
/// `log(x)` (natural), elementwise.
pub type Log<S, B> = Unary<S, B, LogFn>;
/// `softplus(x) = ln(1 + eˣ)`, elementwise.
pub type Softplus<S, B> = Unary<S, B, SoftplusFn>;
/// `square(x) = x²`, elementwise.
pub type Square<S, B> = Unary<S, B, SquareFn>;

pub(crate) fn unary<S: Shape, B, F: SmoothFn>(x: Var<S, B>) -> Unary<S, B, F> {
    Unary::new([x.arg()])
}

/// `tanh(x)`, elementwise.
pub fn tanh<S: Shape, B>(x: Var<S, B>) -> Tanh<S, B> {
    unary(x)
}
/// `sigmoid(x) = 1/(1 + e⁻ˣ)`, elementwise.
pub fn sigmoid<S: Shape, B>(x: Var<S, B>) -> Sigmoid<S, B> {
    unary(x)
}
/// `exp(x)`, elementwise.
pub fn exp<S: Shape, B>(x: Var<S, B>) -> Exp<S, B> {
    unary(x)
}
/// `log(x)`, elementwise; bounds are `+∞` unless positivity is guaranteed.
pub fn log<S: Shape, B>(x: Var<S, B>) -> Log<S, B> {
    unary(x)
}
/// `softplus(x) = ln(1 + eˣ)`, elementwise.
pub fn softplus<S: Shape, B>(x: Var<S, B>) -> Softplus<S, B> {
    unary(x)
}
/// `square(x) = x²`, elementwise.
pub fn square<S: Shape, B>(x: Var<S, B>) -> Square<S, B> {
    unary(x)
}

/// The interval `[x̂ − ε, x̂ + ε]` rounded outward, or `None` when the domain is not guaranteed
/// (for the forward bound, `fwd`, of an `f` that is defined at 0: when `x ≥ 0` is not).
#[inline]
fn around<F: SmoothFn>(x: f64, e: f64, fwd: bool) -> Option<(f64, f64)> {
    let (lo, hi) = (sub_down(x, e), add_up(x, e));
    // `x̂ − ε` rounded down is `−0.0` when `ε = x̂`: a suprema function of `lo` must see `+0.0`
    // (`1/√−0 = −∞` once made a `sqrt` bound `0`).
    let lo = if lo == 0.0 { 0.0 } else { lo };
    if F::POSITIVE && !(lo > 0.0 || (fwd && F::FWD_AT_ZERO && lo == 0.0)) {
        return None;
    }
    Some((lo, hi))
}

impl<S: Shape, B, F: SmoothFn> Unary<S, B, F> {
    fn vjp_rt<R: Runtime>(&self, x: &ArrayD<R>, d: &ArrayD<R>) -> ArrayD<R> {
        // A closure, always inlined: a function item would be called through a shim that
        // stays outside the vectorised loop.
        crate::tensor::zip_map_vectorised(
            x,
            d,
            #[inline(always)]
            |x, d| d * F::rt_d(x),
        )
    }
}

impl<S: Shape, B, F: SmoothFn> Op for Unary<S, B, F> {
    const NAME: &'static str = F::NAME;
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        at(ctx, &self.args[0]).mapv(F::spec_fn::<T>())
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let (spec, spec_d) = (F::spec_fn::<T>(), F::spec_d_fn::<T>());
        let runtime_d = F::runtime_d_fn::<T>();
        vec![
            Zip::from(at(ctx, &self.args[0]))
                .and(delta)
                .map_collect(|&x, &d| {
                    if T::MODELS_RUNTIME {
                        d * runtime_d(x, spec(x))
                    } else {
                        d * spec_d(x)
                    }
                }),
        ]
    }
}

impl<S: Shape, B, F: SmoothFn, R: Runtime> OpRuntime<R> for Unary<S, B, F> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        crate::tensor::map_vectorised(
            at(ctx, &self.args[0]),
            #[inline(always)]
            |x| F::rt(x),
        )
    }
    // `f` and the part `f′` shares with it, in one loop (SmoothFn::KEEPS).
    fn forward_runtime_saving(&self, ctx: &[ArrayD<R>]) -> (ArrayD<R>, Option<Saved>) {
        if !F::KEEPS {
            return (self.forward_runtime(ctx), None);
        }
        let (y, k) = crate::tensor::map_pair_vectorised(
            at(ctx, &self.args[0]),
            #[inline(always)]
            |x| {
                let k = F::rt_keep(x);
                (F::rt_kept(x, k), k)
            },
        );
        (y, Some(Box::new(k)))
    }
    fn vjp_runtime_saved(
        &self,
        ctx: &[ArrayD<R>],
        saved: Option<&Saved>,
        delta: &ArrayD<R>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<R>>> {
        let x = at(ctx, &self.args[0]);
        match saved.and_then(|s| s.downcast_ref::<ArrayD<R>>()) {
            Some(k) if F::KEEPS && k.shape() == x.shape() => {
                let v = || {
                    crate::tensor::zip3_map_vectorised(
                        x,
                        k,
                        delta,
                        #[inline(always)]
                        |x, k, d| d * F::rt_d_kept(x, k),
                    )
                };
                wants.iter().map(|&w| w.then(v)).collect()
            }
            _ => self.vjp_runtime_some(ctx, delta, wants),
        }
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let e = eps[self.args[0].pos].get();
        if e.is_infinite() {
            return Bound::INF;
        }
        let rel = libm_rel();
        let mut m = 0.0f64;
        let mut dom = true;
        Zip::from(at(ctx, &self.args[0]))
            .and(out)
            .for_each(|&x, &y| {
                let x = x.to_spec();
                let Some((lo, hi)) = around::<F>(x, e, true) else {
                    dom = false;
                    return;
                };
                let y = y.to_spec();
                let prop = if e == 0.0 { 0.0 } else { F::sup_d1(lo, hi) * e };
                let (w, w_abs) = F::f_ref_pair(x);
                let lip = inflate(prop + ref_dist(y, w, rel) + w_abs, 6).get();
                // The range bound costs two more libm calls: only where the propagated part is
                // not already negligible next to the value.
                let b = if prop > 1e-6 * (w.abs() + TINY) || !lip.is_finite() {
                    tighter(lip, range_bound::<F>(lo, hi, y, rel))
                } else {
                    lip
                };
                m = nan_max(m, b);
            });
        if !dom {
            return Bound::INF;
        }
        Bound::new(m)
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(Bound::new(F::sup_f(b[self.args[0].pos].get()))).max(linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![self.vjp_rt(at(ctx, &self.args[0]), delta)]
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        self.vjp_eps_some(eps, ctx, ed, d, &[true], &[])
    }
    // The runtime cotangent `v̂` as the backward sweep computed it, when it did (computing it
    // again in each bound part was 6 % of an order-free transformer step, for the GELU).
    fn vjp_eps_some(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        ed: Bound,
        d: &ArrayD<R>,
        _wants: &[bool],
        outs: &[Option<ArrayD<R>>],
    ) -> Vec<Bound> {
        let (e, fed) = (eps[self.args[0].pos].get(), ed.get());
        if e.is_infinite() || fed.is_infinite() {
            return vec![Bound::INF];
        }
        let x = at(ctx, &self.args[0]);
        let own;
        let v = match outs.first().and_then(Option::as_ref) {
            Some(v) => v,
            None => {
                own = self.vjp_rt(x, d);
                &own
            }
        };
        let rel = libm_rel() + 2.0 * U64;
        let mut m = 0.0f64;
        let mut dom = true;
        Zip::from(x).and(d).and(v).for_each(|&x, &d, &v| {
            let (x, d) = (x.to_spec(), d.to_spec());
            let Some((lo, hi)) = around::<F>(x, e, false) else {
                dom = false;
                return;
            };
            let g1 = if fed == 0.0 {
                0.0
            } else {
                F::sup_d1(lo, hi) * fed
            };
            let g2 = if e == 0.0 || d == 0.0 {
                0.0
            } else {
                // |d̂|·|f′(x) − f′(x̂)|: ≤ sup|f″|·ε, and for f′ ≥ 0 also ≤ sup f′.
                let lip2 = F::sup_d2(lo, hi) * e;
                let osc = if F::INCREASING {
                    F::sup_d1(lo, hi)
                } else {
                    f64::NAN
                };
                d.abs() * tighter(lip2, osc)
            };
            let (dr, dr_abs) = F::d_ref_pair(x);
            let local = ref_dist(v.to_spec(), d * dr, rel) + d.abs() * dr_abs;
            m = nan_max(m, g1 + g2 + local);
        });
        if !dom {
            return vec![Bound::INF];
        }
        vec![inflate(m, 8)]
    }
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        self.vjp_scale_some(b, ctx, bd, d, &[true], &[], &[])
    }
    fn vjp_scale_some(
        &self,
        b: &[Bound],
        ctx: &[ArrayD<R>],
        bd: Bound,
        d: &ArrayD<R>,
        _wants: &[bool],
        outs: &[Option<ArrayD<R>>],
        mags: &[Option<Bound>],
    ) -> Vec<Bound> {
        let rt = out_linf(outs, mags, 0)
            .unwrap_or_else(|| linf(&self.vjp_rt(at(ctx, &self.args[0]), d)));
        let spec = bd * Bound::new(F::sup_df(b[self.args[0].pos].get()));
        vec![spec_b(spec).max(rt)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::gelu::{GeluFn, GeluTanhFn};
    use crate::shape::Rank2;
    use ndarray::IxDyn;
    use proptest::prelude::*;

    /// Kinks and tails of the kept parts: `exp` overflowing and underflowing, GELU's tails,
    /// subnormals, huge values and the non-finite ones.
    fn entry() -> impl Strategy<Value = f32> {
        prop_oneof![
            6 => -6.0f32..6.0,
            2 => -120.0f32..120.0,
            1 => (-1.0f32..1.0).prop_map(|x| x * 3e38),
            1 => (-1.0f32..1.0).prop_map(|x| x * 1e-40),
            1 => prop_oneof![Just(0.0f32), Just(-0.0f32)],
            1 => prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY)],
        ]
    }

    /// 5 × 7 entries: two full 16-lane vectors and a remainder.
    fn kept_matches<F: SmoothFn>(
        vals: &[f32],
        delta: &[f32],
        want: bool,
    ) -> Result<(), TestCaseError> {
        let op = Unary::<Rank2<5, 7>, (), F>::new([Arg {
            pos: 0,
            dims: &[5, 7],
        }]);
        let arr = |v: &[f32]| ArrayD::from_shape_vec(IxDyn(&[5, 7]), v.to_vec()).unwrap();
        let (ctx, d) = (vec![arr(vals)], arr(delta));
        let bits = |a: &ArrayD<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let (y, saved) = OpRuntime::<f32>::forward_runtime_saving(&op, &ctx);
        prop_assert_eq!(saved.is_some(), F::KEEPS, "{}", F::NAME);
        prop_assert_eq!(bits(&y), bits(&op.forward_runtime(&ctx)), "{}", F::NAME);
        let kept = op.vjp_runtime_saved(&ctx, saved.as_ref(), &d, &[want]);
        let fresh = op.vjp_runtime(&ctx, &d);
        match &kept[..] {
            [Some(k)] => prop_assert_eq!(bits(k), bits(&fresh[0]), "{}", F::NAME),
            [None] => prop_assert!(!want, "{}: wanted but missing", F::NAME),
            _ => prop_assert!(
                false,
                "{}: {} cotangents for one argument",
                F::NAME,
                kept.len()
            ),
        }
        Ok(())
    }

    proptest! {
        /// The runtime forward that keeps `f′`'s shared part gives the plain forward's output,
        /// and the VJP from it the VJP that evaluates everything again, bit for bit (NaNs
        /// included), for every member that keeps one and one that does not.
        #[test]
        fn kept_parts_give_the_same_bits(
            vals in proptest::collection::vec(entry(), 35),
            delta in proptest::collection::vec(entry(), 35),
            want in any::<bool>(),
        ) {
            kept_matches::<GeluFn>(&vals, &delta, want)?;
            kept_matches::<GeluTanhFn>(&vals, &delta, want)?;
            kept_matches::<TanhFn>(&vals, &delta, want)?;
            kept_matches::<SigmoidFn>(&vals, &delta, want)?;
            kept_matches::<ExpFn>(&vals, &delta, want)?;
            kept_matches::<LogFn>(&vals, &delta, want)?;
        }
    }
}
