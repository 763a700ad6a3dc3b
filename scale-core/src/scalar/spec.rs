//! The spec scalar: the number type the exact-real semantics are evaluated in (SPEC §6).

use super::elementary;
use super::elementary::exp64;
use super::erf;
use super::interval::Interval;
use super::runtime::Runtime;
use ndarray::{Array2, ArrayView2};
use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A number type for spec (exact-real) semantics.
///
/// Two implementations: `f64` (fast, approximate reference: plain round-to-nearest arithmetic) and
/// [`Interval`] (rigorous: every result encloses the exact real result). Ops are written once,
/// generically over this trait; branch decisions go through [`SpecScalar::select_pos`] so that an
/// interval straddling a kink yields the hull of both branches.
///
/// ```
/// use scale_core::{Interval, SpecScalar};
/// let x = Interval::from_f64(0.1) + Interval::from_f64(0.2);
/// assert!(x.lo() <= 0.3 && 0.3 <= x.hi());
/// let e = <Interval as SpecScalar>::exp(Interval::from_f64(1.0));
/// assert!(e.lo() <= std::f64::consts::E && std::f64::consts::E <= e.hi());
/// ```
pub trait SpecScalar:
    Copy
    + Debug
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// Name used in reports.
    const NAME: &'static str;
    /// Whether results are rigorous enclosures of the exact real value.
    const RIGOROUS: bool;
    /// Whether the arithmetic models the runtime's rounding ([`AnyRun`](crate::AnyRun)): spec
    /// formulas then follow the operation order a runtime uses where an exact rewrite would
    /// change the rounding (softmax shifts by the row maximum, not by a constant).
    const MODELS_RUNTIME: bool = false;

    /// The exact value of an `f64` (spec constants such as `scale(x, 0.5)` are the `f64` nearest
    /// the literal).
    fn from_f64(x: f64) -> Self;
    /// The exact value of a runtime scalar (SPEC's `to_spec`).
    #[inline]
    fn from_runtime<R: Runtime>(x: R) -> Self {
        Self::from_f64(x.to_spec())
    }
    /// Zero.
    #[inline]
    fn zero() -> Self {
        Self::from_f64(0.0)
    }
    /// One.
    #[inline]
    fn one() -> Self {
        Self::from_f64(1.0)
    }
    /// Lower end of the enclosure (the value itself for `f64`).
    fn lo(self) -> f64;
    /// Upper end of the enclosure (the value itself for `f64`).
    fn hi(self) -> f64;
    /// A representative `f64` inside the enclosure.
    fn mid(self) -> f64;
    /// Whether this is exactly the point 0 (a cotangent that contributes nothing). Cheap
    /// overrides matter: backprop asks it of every element of a zero seed.
    #[inline]
    fn is_exact_zero(self) -> bool {
        self.lo() == 0.0 && self.hi() == 0.0
    }
    /// Smallest enclosure of both arguments.
    fn hull(self, other: Self) -> Self;
    /// `a` where `self > 0`, `b` where `self ≤ 0`; the hull of both where the sign is uncertain.
    /// This is how every derivative mask (relu, leaky_relu, abs) is evaluated.
    fn select_pos(self, a: Self, b: Self) -> Self;
    /// `|self|`.
    fn abs(self) -> Self;
    /// `max(self, other)`.
    fn max(self, other: Self) -> Self;
    /// `eˣ`.
    fn exp(self) -> Self;
    /// Natural logarithm; outside the domain the result is NaN (`f64`) or the whole line
    /// (`Interval`), never a wrong finite value.
    fn ln(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Logistic sigmoid `1 / (1 + e⁻ˣ)`.
    fn sigmoid(self) -> Self;
    /// `ln(1 + eˣ)`.
    fn softplus(self) -> Self;
    /// `max(self, 0)`.
    #[inline]
    fn relu(self) -> Self {
        self.max(Self::zero())
    }
    /// `self²` (tighter than `self * self` for intervals straddling 0).
    fn square(self) -> Self;
    /// `√self`; where the value may be negative the result is NaN (`f64`) or the whole line
    /// (rigorous scalars), never a wrong finite value (`√` of an enclosure that dips below 0 is
    /// not the root of the part above 0: the exact value may be the negative one).
    fn sqrt(self) -> Self;
    /// The error function `erf x = (2/√π)∫₀ˣ e^{−t²} dt`.
    fn erf(self) -> Self;
    /// `erfc x = 1 − erf x`, relatively accurate where it is tiny (large `x`): what the normal
    /// CDF `Φ(x) = erfc(−x/√2)/2` of `gelu` needs for negative `x`.
    fn erfc(self) -> Self;

    /// `Σ` of the terms (every sum of the ops' spec formulas goes through here, so a scalar that
    /// models rounding can charge the error of *any* summation order). Default: left to right.
    fn sum<I: IntoIterator<Item = Self>>(it: I) -> Self {
        it.into_iter().fold(Self::zero(), |a, b| a + b)
    }

    /// Whether the first contribution to an exactly zero cotangent may be taken as it is
    /// instead of computing `0 + v` entry by entry: true for enclosures of exact values, where
    /// `0 + v` is `v` (no tensor of zeros is allocated and no pass is made); false for the
    /// point and interval arithmetics, whose `0 + v` the literal definitions compute bit for
    /// bit (a `−0` becomes `+0`).
    const MOVES_INTO_ZERO: bool = false;

    /// Add one of the `terms` contributions of a fan-out to an accumulated cotangent (backprop
    /// adds them one at a time; a scalar that models rounding must cover every order of the
    /// `terms` additions). `acc_single` says `acc` holds exactly one contribution so far (the
    /// first addition). Default: `acc + v`.
    #[inline]
    fn accumulate(acc: Self, v: Self, terms: usize, acc_single: bool) -> Self {
        let _ = (terms, acc_single);
        acc + v
    }

    /// The matrix product `a · b` in this arithmetic (every matrix product of the ops goes
    /// through here). The default is plain loops, `Σₖ aᵢₖ·bₖⱼ` left to right; [`Ball`] overrides it
    /// with an `f64` GEMM and a cheap radius bound.
    ///
    /// [`Ball`]: crate::Ball
    fn matmul(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>) -> Array2<Self> {
        Array2::from_shape_fn((a.nrows(), b.ncols()), |(i, j)| {
            a.row(i)
                .iter()
                .zip(b.column(j).iter())
                .fold(Self::zero(), |acc, (&x, &y)| acc + x * y)
        })
    }
}

impl SpecScalar for f64 {
    const NAME: &'static str = "f64";
    const RIGOROUS: bool = false;
    #[inline]
    fn from_f64(x: f64) -> f64 {
        x
    }
    #[inline]
    fn lo(self) -> f64 {
        self
    }
    #[inline]
    fn hi(self) -> f64 {
        self
    }
    #[inline]
    fn mid(self) -> f64 {
        self
    }
    #[inline]
    fn hull(self, other: f64) -> f64 {
        0.5 * (self + other)
    }
    #[inline]
    fn select_pos(self, a: f64, b: f64) -> f64 {
        if self > 0.0 { a } else { b }
    }
    #[inline]
    fn abs(self) -> f64 {
        f64::abs(self)
    }
    #[inline]
    fn max(self, other: f64) -> f64 {
        f64::max(self, other)
    }
    #[inline]
    fn exp(self) -> f64 {
        exp64(self)
    }
    #[inline]
    fn ln(self) -> f64 {
        f64::ln(self)
    }
    #[inline]
    fn tanh(self) -> f64 {
        f64::tanh(self)
    }
    #[inline]
    fn sigmoid(self) -> f64 {
        if self >= 0.0 {
            1.0 / (1.0 + exp64(-self))
        } else {
            let e = exp64(self);
            e / (1.0 + e)
        }
    }
    #[inline]
    fn softplus(self) -> f64 {
        if self > 0.0 {
            self + exp64(-self).ln_1p()
        } else {
            exp64(self).ln_1p()
        }
    }
    #[inline]
    fn square(self) -> f64 {
        self * self
    }
    #[inline]
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    #[inline]
    fn erf(self) -> f64 {
        libm::erf(self)
    }
    #[inline]
    fn erfc(self) -> f64 {
        libm::erfc(self)
    }
}

impl SpecScalar for Interval {
    const NAME: &'static str = "interval";
    const RIGOROUS: bool = true;
    /// Each end as one sum ([`Interval::sum`]), not a fold that widens per term.
    fn sum<I: IntoIterator<Item = Interval>>(it: I) -> Interval {
        Interval::sum(it)
    }
    #[inline]
    fn from_f64(x: f64) -> Interval {
        Interval::point(x)
    }
    #[inline]
    fn lo(self) -> f64 {
        Interval::lo(self)
    }
    #[inline]
    fn hi(self) -> f64 {
        Interval::hi(self)
    }
    #[inline]
    fn mid(self) -> f64 {
        Interval::mid(self)
    }
    #[inline]
    fn hull(self, other: Interval) -> Interval {
        Interval::hull(self, other)
    }
    #[inline]
    fn select_pos(self, a: Interval, b: Interval) -> Interval {
        if self.lo() > 0.0 {
            a
        } else if self.hi() <= 0.0 {
            b
        } else {
            a.hull(b)
        }
    }
    #[inline]
    fn abs(self) -> Interval {
        Interval::abs(self)
    }
    #[inline]
    fn max(self, other: Interval) -> Interval {
        Interval::max(self, other)
    }
    fn exp(self) -> Interval {
        elementary::monotone_up(self, elementary::exp_down, elementary::exp_up)
    }
    fn ln(self) -> Interval {
        if !(self.lo() > 0.0) {
            return Interval::ENTIRE;
        }
        elementary::monotone_up(self, elementary::ln_down, elementary::ln_up)
    }
    fn tanh(self) -> Interval {
        elementary::monotone_up(self, elementary::tanh_down, elementary::tanh_up)
    }
    fn sigmoid(self) -> Interval {
        elementary::monotone_up(self, elementary::sigmoid_down, elementary::sigmoid_up)
    }
    fn softplus(self) -> Interval {
        elementary::monotone_up(self, elementary::softplus_down, elementary::softplus_up)
    }
    fn square(self) -> Interval {
        Interval::square(self)
    }
    fn sqrt(self) -> Interval {
        Interval::sqrt(self)
    }
    fn erf(self) -> Interval {
        // Increasing; each end enclosed by `erf_bounds`.
        Interval::new(erf::erf_bounds(self.lo()).0, erf::erf_bounds(self.hi()).1)
    }
    fn erfc(self) -> Interval {
        // Decreasing.
        Interval::new(erf::erfc_bounds(self.hi()).0, erf::erfc_bounds(self.lo()).1)
    }
}
