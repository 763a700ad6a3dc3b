//! `gelu(x) = x·Φ(x)` (PyTorch's `approximate='none'`) and `gelu_tanh(x)` (its tanh form,
//! `approximate='tanh'`), elementwise (SPEC §9b): two members of the smooth [`Unary`] family.
//!
//! * Spec: `Φ(x) = erfc(−x/√2)/2` with the rigorous `erfc` of the spec scalar (relatively
//!   accurate in the left tail, where `x·Φ(x)` is tiny), and `gelu_tanh(x) = x·σ(2u)`,
//!   `u = √(2/π)·x·(1 + 0.044715·x²)` (the same as `½x(1 + tanh u)` without its cancellation).
//!   `√2`, `√π` and `√(2/π)` are enclosed rigorously (π between two `f64`s); `0.044715` is the
//!   `f64` nearest the literal, like every spec constant. In the any-implementation mode the
//!   spec follows PyTorch's kernels operation by operation (`x·½·(1 + erf(x·√½))`, and its
//!   backward `cdf + x·pdf`), so the mode covers their cancellation too.
//! * Runtime: PyTorch's formulas in `R` ([`Runtime::erf`] is [`erf32`](crate::scalar::erf32)
//!   for `f32` and the half types, `libm`'s `erf` for `f64`).
//! * Bounds: the family's (`sup|f′|·ε` and `sup|f″|·ε` per entry, plus the runtime result's
//!   measured distance to an `f64` reference). The references are relatively accurate: the
//!   arguments of `erfc` and `exp` carry their rounding residuals (exact by FMA) as a
//!   first-order correction, since `erfc(z)` and `e^{−x²/2}` amplify a relative argument error
//!   by `2z²` and `x²`. Where `f′` has its root (`x ≈ −0.75`) the derivative reference cancels,
//!   and its error is charged absolutely ([`SmoothFn::d_ref_abs`]); likewise `gelu_tanh`'s
//!   references, whose `σ(2u)` amplifies `u`'s rounding by `|2u|`.

use super::unary::{SmoothFn, Unary, unary};
use super::util::{libm_rel, up};
use crate::bound::U64;
use crate::handle::Var;
use crate::round::{mul_down, prod_err};
use crate::scalar::exp64;
use crate::scalar::{Arith, Runtime, SpecScalar};
use crate::shape::Shape;
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI, PI};

/// `1/√(2π)` (the nearest `f64`).
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// `√(2/π)` (the nearest `f64`).
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The tanh form's cubic coefficient.
const KAPPA: f64 = 0.044715;

/// π enclosed by the two `f64`s around it (`f64`: their mean).
fn pi<T: SpecScalar>() -> T {
    T::from_f64(PI).hull(T::from_f64(PI.next_up()))
}

/// `√½ = 1/√2`, enclosed.
fn sqrt_half<T: SpecScalar>() -> T {
    T::from_f64(0.5).sqrt()
}

/// `Φ(x)` in `f64`, relatively accurate: `erfc(z + δ)/2` with `z = −fl(x·c)` and `δ` the
/// residual of that product and of `c = fl(1/√2)`, corrected to first order.
fn phi64(x: f64) -> f64 {
    let c = FRAC_1_SQRT_2;
    // 1/√2 = c + c_err: c² − ½ exactly (Sterbenz, then the exact residual of c·c), and
    // (c + e)² = ½ gives e ≈ −(c² − ½)/(2c).
    let cc = c * c;
    let c_err = -((cc - 0.5) + prod_err(c, c, cc)) / (2.0 * c);
    let p = x * c;
    let p_err = prod_err(x, c, p) + x * c_err;
    let (z, dz) = (-p, -p_err);
    0.5 * (libm::erfc(z) - dz * FRAC_2_SQRT_PI * exp64(-(z * z)))
}

/// `φ(x) = e^{−x²/2}/√(2π)` in `f64`, relatively accurate: `x²`'s exact residual corrects
/// the exponent to first order.
fn pdf64(x: f64) -> f64 {
    let s = x * x;
    let s_err = prod_err(x, x, s);
    exp64(-0.5 * s) * (1.0 - 0.5 * s_err) * INV_SQRT_2PI
}

/// An upper bound of `φ(t)` for `|t| ≥ |x|`.
fn pdf_up(x: f64) -> f64 {
    up(exp64(-0.5 * mul_down(x, x)) * INV_SQRT_2PI)
}

/// Marker: `gelu(x) = x·Φ(x)`.
pub struct GeluFn;
impl SmoothFn for GeluFn {
    const NAME: &'static str = "gelu";
    fn spec<T: SpecScalar>(x: T) -> T {
        Self::spec_fn::<T>()(x)
    }
    fn spec_fn<T: SpecScalar>() -> impl Fn(T) -> T {
        let (c, half) = (sqrt_half::<T>(), T::from_f64(0.5));
        move |x| {
            if T::MODELS_RUNTIME {
                // PyTorch: x * 0.5 * (1 + erf(x * M_SQRT1_2)).
                x * half * (T::one() + (x * c).erf())
            } else {
                x * (half * (-(x * c)).erfc())
            }
        }
    }
    fn spec_d<T: SpecScalar>(x: T) -> T {
        Self::spec_d_fn::<T>()(x)
    }
    fn spec_d_fn<T: SpecScalar>() -> impl Fn(T) -> T {
        let c = sqrt_half::<T>();
        let (half, neg_half, k) = (T::from_f64(0.5), T::from_f64(-0.5), c / pi::<T>().sqrt());
        move |x| {
            let cdf = half * (-(x * c)).erfc();
            let pdf = (neg_half * x.square()).exp() * k;
            cdf + x * pdf
        }
    }
    /// PyTorch's backward: `cdf + x·pdf` with `cdf = ½(1 + erf(x·√½))`,
    /// `pdf = e^{−½x²}·(2/√π)·√½·½`.
    fn runtime_d<T: SpecScalar>(x: T, y: T) -> T {
        Self::runtime_d_fn::<T>()(x, y)
    }
    fn runtime_d_fn<T: SpecScalar>() -> impl Fn(T, T) -> T {
        let c = sqrt_half::<T>();
        let (half, neg_half) = (T::from_f64(0.5), T::from_f64(-0.5));
        let beta = T::from_f64(2.0) / pi::<T>().sqrt() * c * half;
        move |x, _y| {
            let cdf = half * (T::one() + (x * c).erf());
            let pdf = (neg_half * x * x).exp() * beta;
            cdf + x * pdf
        }
    }
    // The VJP reuses the forward's `erf(x·√½)`: two thirds of its cost (PyTorch evaluates it
    // again; the results are the same bits).
    const KEEPS: bool = true;
    #[inline(always)]
    fn rt_keep<R: Runtime>(x: R) -> R {
        (x * <R as Arith>::lit(FRAC_1_SQRT_2)).erf()
    }
    #[inline(always)]
    fn rt_kept<R: Runtime>(x: R, erf: R) -> R {
        x * <R as Arith>::lit(0.5) * (R::one() + erf)
    }
    #[inline(always)]
    fn rt_d_kept<R: Runtime>(x: R, erf: R) -> R {
        let cdf = <R as Arith>::lit(0.5) * (R::one() + erf);
        let beta = <R as Arith>::lit(FRAC_2_SQRT_PI * FRAC_1_SQRT_2 * 0.5);
        let pdf = (<R as Arith>::lit(-0.5) * x * x).libm_exp() * beta;
        cdf + x * pdf
    }
    #[inline(always)]
    fn rt<R: Runtime>(x: R) -> R {
        Self::rt_kept(x, Self::rt_keep(x))
    }
    #[inline(always)]
    fn rt_d<R: Runtime>(x: R) -> R {
        Self::rt_d_kept(x, Self::rt_keep(x))
    }
    fn f_ref(x: f64) -> f64 {
        x * phi64(x)
    }
    fn f_ref_abs(x: f64) -> f64 {
        Self::f_ref_pair(x).1
    }
    fn f_ref_pair(x: f64) -> (f64, f64) {
        // The interval spec rounds `x·√½` outward before `erfc`, which amplifies that by
        // `2z² = x²`: its enclosure is that much wider than the exact value (SPEC §6: bounds
        // cover the whole enclosure).
        let f = Self::f_ref(x);
        (f, f.abs() * (x * x + 2.0) * 4.0 * U64)
    }
    fn d_ref(x: f64) -> f64 {
        Self::d_ref_pair(x).0
    }
    fn d_ref_abs(x: f64) -> f64 {
        Self::d_ref_pair(x).1
    }
    fn d_ref_pair(x: f64) -> (f64, f64) {
        // The two terms' own errors, where they cancel (near the root of f′), and the interval
        // spec's argument rounding as in `f_ref_abs`.
        let (p, q) = (phi64(x), pdf64(x));
        let rel = libm_rel() + 16.0 * U64 + (x * x + 2.0) * 4.0 * U64;
        (p + x * q, (p + x.abs() * q) * rel)
    }
    fn sup_d1(lo: f64, hi: f64) -> f64 {
        // f′ = Φ + xφ ∈ [−0.129, 1.129]; for x ≤ −3, |f′| ≤ |x|φ(x), decreasing in |x|.
        if hi < -3.0 {
            up(-hi * pdf_up(hi)).min(1.13)
        } else {
            let _ = lo;
            1.13
        }
    }
    fn sup_d2(lo: f64, hi: f64) -> f64 {
        // f″ = φ(x)(2 − x²). The bound is on (2 + x²)φ(x) instead: the interval spec evaluates
        // f′ = Φ + x·φ term by term, and over an input interval of width w its enclosure is
        // (2 + x²)φ·w wide, not |2 − x²|φ·w (bounds cover the whole enclosure, SPEC §6; a long
        // run found the 22 % gap at x = −4.5). (2 + x²)φ ≤ 2φ(0) < 0.798, and for x ≤ −3 it
        // increases towards 0, so its supremum is at `hi`.
        if hi < -3.0 {
            up((hi * hi + 2.0) * pdf_up(hi)).min(0.8)
        } else {
            let _ = lo;
            0.8
        }
    }
    fn sup_f(b: f64) -> f64 {
        // 0 ≤ Φ ≤ 1.
        b
    }
    fn sup_df(_b: f64) -> f64 {
        1.13
    }
}

/// `u = √(2/π)·x·(1 + κx²)` of the tanh form, in `f64`.
fn u64_of(x: f64) -> f64 {
    SQRT_2_OVER_PI * x * (1.0 + KAPPA * x * x)
}

/// `σ(t)` in `f64`, relatively accurate on both sides.
fn sigmoid64(t: f64) -> f64 {
    <f64 as SpecScalar>::sigmoid(t)
}

/// Marker: `gelu_tanh(x) = ½x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
pub struct GeluTanhFn;
impl SmoothFn for GeluTanhFn {
    const NAME: &'static str = "gelu_tanh";
    fn spec<T: SpecScalar>(x: T) -> T {
        Self::spec_fn::<T>()(x)
    }
    fn spec_fn<T: SpecScalar>() -> impl Fn(T) -> T {
        let (two, kappa) = (T::from_f64(2.0), T::from_f64(KAPPA));
        let k = (two / pi::<T>()).sqrt();
        move |x| {
            if T::MODELS_RUNTIME {
                // PyTorch: 0.5 * x * (1 + tanh(kBeta * (x + kKappa * x³))).
                let inner = k * (x + kappa * (x * x * x));
                T::from_f64(0.5) * x * (T::one() + inner.tanh())
            } else {
                let two_u = two * k * x * (T::one() + kappa * x.square());
                x * two_u.sigmoid()
            }
        }
    }
    fn spec_d<T: SpecScalar>(x: T) -> T {
        Self::spec_d_fn::<T>()(x)
    }
    fn spec_d_fn<T: SpecScalar>() -> impl Fn(T) -> T {
        // σ(2u) + x·2σ(2u)σ(−2u)·u′, u′ = √(2/π)(1 + 3κx²).
        let (two, kappa, kappa3) = (
            T::from_f64(2.0),
            T::from_f64(KAPPA),
            T::from_f64(3.0 * KAPPA),
        );
        let k = (two / pi::<T>()).sqrt();
        move |x| {
            let x2 = x.square();
            let two_u = two * k * x * (T::one() + kappa * x2);
            let du = k * (T::one() + kappa3 * x2);
            let s = two_u.sigmoid();
            s + x * two * s * (-two_u).sigmoid() * du
        }
    }
    /// PyTorch's backward: `½(1 + t) + ½x·(1 − t²)·β(1 + 3κx²)`, `t = tanh(β(x + κx³))`.
    fn runtime_d<T: SpecScalar>(x: T, y: T) -> T {
        Self::runtime_d_fn::<T>()(x, y)
    }
    fn runtime_d_fn<T: SpecScalar>() -> impl Fn(T, T) -> T {
        let k = (T::from_f64(2.0) / pi::<T>()).sqrt();
        let (half, kappa, kappa3) = (
            T::from_f64(0.5),
            T::from_f64(KAPPA),
            T::from_f64(3.0 * KAPPA),
        );
        move |x, _y| {
            let x_sq = x * x;
            let inner = k * (x + kappa * (x_sq * x));
            let t = inner.tanh();
            let left = half * x;
            let right = T::one() + t;
            let inner_d = k * (T::one() + kappa3 * x_sq);
            half * right + left * (T::one() - t * t) * inner_d
        }
    }
    // The VJP reuses the forward's `tanh` (PyTorch evaluates it again).
    const KEEPS: bool = true;
    #[inline(always)]
    fn rt_keep<R: Runtime>(x: R) -> R {
        let k = <R as Arith>::lit(SQRT_2_OVER_PI);
        (k * (x + <R as Arith>::lit(KAPPA) * (x * x * x))).tanh()
    }
    #[inline(always)]
    fn rt_kept<R: Runtime>(x: R, t: R) -> R {
        <R as Arith>::lit(0.5) * x * (R::one() + t)
    }
    #[inline(always)]
    fn rt_d_kept<R: Runtime>(x: R, t: R) -> R {
        let (k, half) = (<R as Arith>::lit(SQRT_2_OVER_PI), <R as Arith>::lit(0.5));
        let inner_d = k * (R::one() + <R as Arith>::lit(3.0 * KAPPA) * (x * x));
        half * (R::one() + t) + half * x * (R::one() - t * t) * inner_d
    }
    fn rt<R: Runtime>(x: R) -> R {
        Self::rt_kept(x, Self::rt_keep(x))
    }
    fn rt_d<R: Runtime>(x: R) -> R {
        Self::rt_d_kept(x, Self::rt_keep(x))
    }
    fn f_ref(x: f64) -> f64 {
        Self::f_ref_pair(x).0
    }
    fn f_ref_abs(x: f64) -> f64 {
        Self::f_ref_pair(x).1
    }
    fn f_ref_pair(x: f64) -> (f64, f64) {
        // σ(t) moves by at most |Δt| relatively; t = 2u carries ≤ 8 roundings and √(2/π)'s.
        let t = 2.0 * u64_of(x);
        let f = x * sigmoid64(t);
        (f, f.abs() * t.abs() * 16.0 * U64)
    }
    fn d_ref(x: f64) -> f64 {
        Self::d_ref_pair(x).0
    }
    fn d_ref_abs(x: f64) -> f64 {
        Self::d_ref_pair(x).1
    }
    fn d_ref_pair(x: f64) -> (f64, f64) {
        let t = 2.0 * u64_of(x);
        let s = sigmoid64(t);
        let du = SQRT_2_OVER_PI * (1.0 + 3.0 * KAPPA * x * x);
        let slope = x * 2.0 * s * sigmoid64(-t) * du;
        let mag = s + slope.abs();
        (
            s + slope,
            mag * (t.abs() * 32.0 * U64 + libm_rel() + 16.0 * U64),
        )
    }
    fn sup_d1(_lo: f64, _hi: f64) -> f64 {
        // f′ ∈ [−0.129, 1.129].
        1.13
    }
    fn sup_d2(lo: f64, hi: f64) -> f64 {
        // Not |f″| (≤ 0.7979) but the width per unit input width of the interval spec's
        // `spec_d`, which evaluates each occurrence of x on its own (bounds cover the whole
        // enclosure, SPEC §6; a long run found the gap at x = −1.17): with q = σ(2u)σ(−2u),
        // the occurrences' |∂| sum to q·(4u′ + 4|x|u′² + 12·√(2/π)·κ·x²) — the σ(2u) term and
        // the explicit x give 2qu′ each, σ(2u) and σ(−2u) inside the product 4|x|u′²q together,
        // u′'s x² the last. q ≤ min(¼, e^{−|2u|}); u′ and |x| grow with |x|, q decays, so each
        // factor takes its supremum over [lo, hi] separately. (At x = 0 this is 0.798 = |f″|.)
        let (mig, mag) = if lo <= 0.0 && hi >= 0.0 {
            (0.0, lo.abs().max(hi.abs()))
        } else {
            (lo.abs().min(hi.abs()), lo.abs().max(hi.abs()))
        };
        let t_min = 2.0 * SQRT_2_OVER_PI * mig * (1.0 + KAPPA * mig * mig) * (1.0 - 8.0 * U64);
        let q = exp64(-t_min).min(0.25);
        let du = SQRT_2_OVER_PI * (1.0 + 3.0 * KAPPA * mag * mag);
        let l = q * (4.0 * du + 4.0 * mag * du * du + 12.0 * SQRT_2_OVER_PI * KAPPA * mag * mag);
        // Second-order terms of the interval evaluation and this function's own roundings.
        if l.is_nan() {
            f64::INFINITY
        } else {
            up(l * 1.01)
        }
    }
    fn sup_f(b: f64) -> f64 {
        // 0 ≤ σ ≤ 1.
        b
    }
    fn sup_df(_b: f64) -> f64 {
        1.13
    }
}

/// `gelu(x) = x·Φ(x)`, elementwise.
pub type Gelu<S, B> = Unary<S, B, GeluFn>;
/// `gelu_tanh(x)`, elementwise.
pub type GeluTanh<S, B> = Unary<S, B, GeluTanhFn>;

/// `gelu(x) = x·Φ(x)`, `Φ` the standard normal CDF (PyTorch's `gelu`, `approximate='none'`).
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, RevGraphScale, TList};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank1<3>,)>, Nil, _>::nil(scale_core::brand!());
/// let (g, y) = g.snoc(ops::gelu(x));
/// let (g, s) = g.snoc(ops::sum(y));
/// let xr = TList::from_arrays(vec![ndarray::arr1(&[-1.0f32, 0.0, 2.0]).into_dyn()])?;
/// let (e, b) = g.exact_inputs(&xr);
/// let (seed, es, bs) = g.loss_seed(s);
/// let cert = g.certify(xr, &e, &b, &seed, &es, &bs);
/// assert!((cert.value(s) - (-0.158655 + 1.954500)).abs() < 1e-5);
/// assert!(cert.eps.get(y).get() < 1e-6);
/// # Ok::<(), scale_core::Error>(())
/// ```
pub fn gelu<S: Shape, B>(x: Var<S, B>) -> Gelu<S, B> {
    unary(x)
}

/// `gelu_tanh(x) = ½x(1 + tanh(√(2/π)(x + 0.044715x³)))` (PyTorch's `approximate='tanh'`).
pub fn gelu_tanh<S: Shape, B>(x: Var<S, B>) -> GeluTanh<S, B> {
    unary(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The relatively accurate references agree with naive formulas where those are accurate,
    /// and stay accurate in the left tail where the naive ones are not.
    #[test]
    fn references() {
        for &x in &[-2.0, -0.5, 0.0, 0.3, 1.0, 4.0] {
            let naive = 0.5 * (1.0 + libm::erf(x * FRAC_1_SQRT_2));
            assert!((phi64(x) - naive).abs() <= 1e-15, "{x}");
        }
        // Φ(−10) = 7.619853024160526e-24; φ(10) = 7.69459862670642e-23.
        assert!((phi64(-10.0) / 7.619_853_024_160_526e-24 - 1.0).abs() < 1e-14);
        assert!((pdf64(10.0) / 7.694_598_626_706_42e-23 - 1.0).abs() < 1e-14);
        assert!((GeluTanhFn::f_ref(1.0) - 0.841_191_990_608_276_8).abs() < 1e-14);
    }
}
