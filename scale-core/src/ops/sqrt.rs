//! `sqrt(x)` and `rsqrt(x) = 1/√x`, elementwise (SPEC §9b): two members of the smooth
//! [`Unary`] family, with the domain decided from data.
//!
//! * `sqrt`: the forward bound needs `x ≥ 0` guaranteed (`x̂ − ε ≥ 0`); at 0 its derivative is
//!   unbounded, so there the family's range bound `max(√(x̂+ε) − ŷ, ŷ − √(x̂−ε))` takes over
//!   (`√` is monotone), which stays finite. The VJP (`δ/(2√x)`) needs `x > 0` guaranteed.
//! * `rsqrt`: forward and VJP need `x > 0` guaranteed.
//!
//! Anywhere the margin is not certain the bound is `+∞`. Scale bounds are `+∞` like `log`'s:
//! the scale parts receive no eps, so nothing guarantees `x ≥ 0`, and outside the domain the
//! spec value is undefined. Suprema of the derivatives are computed with directed rounding
//! (`x^{−3/2}` of a subnormal `f64` would underflow in plain arithmetic).

use super::unary::{SmoothFn, Unary, unary};
use crate::handle::Var;
use crate::round::{div_up, mul_up, sqrt_down};
use crate::scalar::{Arith, Runtime, SpecScalar};
use crate::shape::Shape;

/// `1/√lo` rounded up (`+∞` at `±0`, and for anything not positive).
#[inline]
fn rsqrt_up(lo: f64) -> f64 {
    if lo > 0.0 {
        div_up(1.0, sqrt_down(lo))
    } else {
        f64::INFINITY
    }
}

/// `rᵏ` rounded up for `r ≥ 0`.
#[inline]
fn pow_up(r: f64, k: u32) -> f64 {
    (1..k).fold(r, |p, _| mul_up(p, r))
}

/// Marker: square root (domain `x ≥ 0`, derivative `1/(2√x)` for `x > 0`).
pub struct SqrtFn;
impl SmoothFn for SqrtFn {
    const NAME: &'static str = "sqrt";
    const POSITIVE: bool = true;
    const FWD_AT_ZERO: bool = true;
    fn spec<T: SpecScalar>(x: T) -> T {
        x.sqrt()
    }
    fn spec_d<T: SpecScalar>(x: T) -> T {
        let y = x.sqrt();
        T::one() / (y + y)
    }
    /// PyTorch's `sqrt` backward divides by `2·result`; here `1/(y + y)`, the runtime kernel's.
    fn runtime_d<T: SpecScalar>(_x: T, y: T) -> T {
        T::one() / (y + y)
    }
    fn rt<R: Runtime>(x: R) -> R {
        x.sqrt()
    }
    fn rt_d<R: Runtime>(x: R) -> R {
        let y = x.sqrt();
        R::one() / (y + y)
    }
    fn f_ref(x: f64) -> f64 {
        x.sqrt()
    }
    fn d_ref(x: f64) -> f64 {
        0.5 / x.sqrt()
    }
    fn sup_d1(lo: f64, _hi: f64) -> f64 {
        // f′ = ½·x^{−1/2}, decreasing.
        mul_up(0.5, rsqrt_up(lo))
    }
    fn sup_d2(lo: f64, _hi: f64) -> f64 {
        // |f″| = ¼·x^{−3/2}, decreasing.
        mul_up(0.25, pow_up(rsqrt_up(lo), 3))
    }
    fn sup_f(_b: f64) -> f64 {
        f64::INFINITY
    }
    fn sup_df(_b: f64) -> f64 {
        f64::INFINITY
    }
    const INCREASING: bool = true;
    fn range_ref(lo: f64, hi: f64) -> Option<(f64, f64)> {
        // Called with lo ≥ 0 only (the domain check comes first).
        Some((lo.sqrt(), hi.sqrt()))
    }
}

/// Marker: reciprocal square root (domain `x > 0`).
pub struct RsqrtFn;
impl SmoothFn for RsqrtFn {
    const NAME: &'static str = "rsqrt";
    const POSITIVE: bool = true;
    fn spec<T: SpecScalar>(x: T) -> T {
        T::one() / x.sqrt()
    }
    fn spec_d<T: SpecScalar>(x: T) -> T {
        let r = T::one() / x.sqrt();
        T::from_f64(-0.5) * (r * r * r)
    }
    /// PyTorch's `rsqrt` backward: `−½·result³`.
    fn runtime_d<T: SpecScalar>(_x: T, y: T) -> T {
        T::from_f64(-0.5) * (y * y * y)
    }
    fn rt<R: Runtime>(x: R) -> R {
        R::one() / x.sqrt()
    }
    fn rt_d<R: Runtime>(x: R) -> R {
        let y = R::one() / x.sqrt();
        <R as Arith>::lit(-0.5) * (y * y * y)
    }
    fn f_ref(x: f64) -> f64 {
        1.0 / x.sqrt()
    }
    fn d_ref(x: f64) -> f64 {
        // −½·r³ with r = x^{−1/2}: no underflowing intermediate (x·√x would underflow for
        // subnormal x); r³ overflows to ∞ instead, which makes the bound +∞.
        let r = 1.0 / x.sqrt();
        -0.5 * (r * r * r)
    }
    fn sup_d1(lo: f64, _hi: f64) -> f64 {
        // |f′| = ½·x^{−3/2}, decreasing.
        mul_up(0.5, pow_up(rsqrt_up(lo), 3))
    }
    fn sup_d2(lo: f64, _hi: f64) -> f64 {
        // |f″| = ¾·x^{−5/2}, decreasing.
        mul_up(0.75, pow_up(rsqrt_up(lo), 5))
    }
    fn sup_f(_b: f64) -> f64 {
        f64::INFINITY
    }
    fn sup_df(_b: f64) -> f64 {
        f64::INFINITY
    }
    fn range_ref(lo: f64, hi: f64) -> Option<(f64, f64)> {
        // Decreasing: the least value at `hi` (0 at +∞), the greatest at `lo > 0`.
        Some((1.0 / hi.sqrt(), 1.0 / lo.sqrt()))
    }
}

/// `√x`, elementwise.
pub type Sqrt<S, B> = Unary<S, B, SqrtFn>;
/// `1/√x`, elementwise.
pub type Rsqrt<S, B> = Unary<S, B, RsqrtFn>;

/// `sqrt(x) = √x`, elementwise; bounds are `+∞` unless `x ≥ 0` is guaranteed by the data
/// (`x̂ − ε ≥ 0`; for the gradient `x̂ − ε > 0`).
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, RevGraphScale, TList};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank1<2>,)>, Nil, _>::nil(scale_core::brand!());
/// let (g, r) = g.snoc(ops::sqrt(x));
/// let (g, s) = g.snoc(ops::sum(r));
/// let xr = TList::from_arrays(vec![ndarray::arr1(&[4.0f32, 2.0]).into_dyn()])?;
/// let (e, b) = g.exact_inputs(&xr);
/// let (seed, es, bs) = g.loss_seed(s);
/// let cert = g.certify(xr, &e, &b, &seed, &es, &bs);
/// assert!(cert.eps.get(r).get() < 1e-6);
/// assert_eq!(cert.grads.get(x).as_slice().unwrap()[0], 0.25); // 1/(2√4)
/// # Ok::<(), scale_core::Error>(())
/// ```
pub fn sqrt<S: Shape, B>(x: Var<S, B>) -> Sqrt<S, B> {
    unary(x)
}

/// `rsqrt(x) = 1/√x`, elementwise; bounds are `+∞` unless `x > 0` is guaranteed by the data
/// (`x̂ − ε > 0`).
pub fn rsqrt<S: Shape, B>(x: Var<S, B>) -> Rsqrt<S, B> {
    unary(x)
}
