//! [`Bound`]: the one type for error bounds (eps) and scale bounds (B).

use crate::round;
use std::fmt;
use std::ops::{Add, AddAssign, Mul};

/// A nonnegative real upper bound, stored as an `f64` and computed with upward rounding.
///
/// Invariants (SPEC §5): never NaN, never negative, possibly `+∞`. Every operation returns a value
/// at least as large as the exact real result of the same operation on the stored values, so a
/// chain of `Bound` arithmetic can only err on the loose side. A NaN input becomes `+∞`, a negative
/// one `0`.
///
/// ```
/// use scale_core::Bound;
/// let third = Bound::new(1.0) / Bound::new(3.0);
/// assert!(third.get() >= 1.0 / 3.0); // rounded up, never down
/// assert_eq!(Bound::new(f64::NAN), Bound::INF);
/// assert_eq!(Bound::new(-2.0), Bound::ZERO);
/// assert_eq!(Bound::new(0.25) + Bound::new(0.5), Bound::new(0.75)); // exact stays exact
/// ```
#[derive(Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Bound(f64);

impl Bound {
    /// The bound 0.
    pub const ZERO: Bound = Bound(0.0);
    /// The bound 1.
    pub const ONE: Bound = Bound(1.0);
    /// The vacuous bound `+∞`.
    pub const INF: Bound = Bound(f64::INFINITY);

    /// A bound from an `f64` that is already known to be an upper bound (NaN → +∞, negative → 0).
    #[inline]
    pub fn new(x: f64) -> Bound {
        if x.is_nan() {
            Bound::INF
        } else if x <= 0.0 {
            Bound::ZERO
        } else {
            Bound(x)
        }
    }

    /// The stored value.
    #[inline]
    pub fn get(self) -> f64 {
        self.0
    }

    /// Whether the bound is `+∞` (carries no information).
    #[inline]
    pub fn is_infinite(self) -> bool {
        self.0.is_infinite()
    }

    /// `|x|` as a bound (exact).
    #[inline]
    pub fn abs(x: f64) -> Bound {
        Bound::new(x.abs())
    }

    /// The larger of two bounds.
    #[inline]
    pub fn max(self, other: Bound) -> Bound {
        if other.0 > self.0 { other } else { self }
    }

    /// The smaller of two bounds (both are sound, so the smaller one is too).
    #[inline]
    pub fn min(self, other: Bound) -> Bound {
        if other.0 < self.0 { other } else { self }
    }

    /// `self · x` for a nonnegative factor `x` (NaN or negative factors give `+∞`: a caller bug must
    /// not produce a small bound).
    #[inline]
    pub fn scale(self, x: f64) -> Bound {
        if x.is_nan() || x < 0.0 {
            return Bound::INF;
        }
        self * Bound(x)
    }

    /// `self · (1 + u)`, the usual widening for one rounding of a quantity bounded by `self`.
    #[inline]
    pub fn widen(self, u: f64) -> Bound {
        self * Bound::new(round::add_up(1.0, u))
    }

    /// `self − other` rounded up, clamped at 0. Only meaningful when `other` is an exact quantity
    /// (e.g. a computed runtime magnitude), never when it is itself an upper bound.
    #[inline]
    pub fn sub_exact(self, other: f64) -> Bound {
        Bound::new(round::sub_up(self.0, other))
    }

    /// `γ_n = n·u / (1 − n·u)`, the classic bound for an `n`-term sum or dot product in any order
    /// (`+∞` when `n·u ≥ 1`).
    ///
    /// ```
    /// use scale_core::Bound;
    /// let g = Bound::gamma(1024, 2f64.powi(-24));
    /// assert!(g.get() > 1024.0 * 2f64.powi(-24));
    /// assert!(Bound::gamma(1 << 25, 2f64.powi(-24)).is_infinite());
    /// ```
    pub fn gamma(n: usize, u: f64) -> Bound {
        if n == 0 {
            return Bound::ZERO;
        }
        let nu = round::mul_up(n as f64, u);
        let denom = round::sub_down(1.0, nu);
        if denom <= 0.0 {
            return Bound::INF;
        }
        Bound::new(round::div_up(nu, denom))
    }

    /// Sum of an iterator of bounds, rounded up.
    pub fn sum<I: IntoIterator<Item = Bound>>(it: I) -> Bound {
        it.into_iter().fold(Bound::ZERO, |a, b| a + b)
    }
}

impl Add for Bound {
    type Output = Bound;
    #[inline]
    fn add(self, rhs: Bound) -> Bound {
        Bound::new(round::add_up(self.0, rhs.0))
    }
}

impl AddAssign for Bound {
    #[inline]
    fn add_assign(&mut self, rhs: Bound) {
        *self = *self + rhs;
    }
}

impl Mul for Bound {
    type Output = Bound;
    #[inline]
    fn mul(self, rhs: Bound) -> Bound {
        // 0 · ∞ is NaN in IEEE; for bounds "≤ 0 times anything finite" is the honest reading only
        // when the infinite factor is a vacuous bound on a finite quantity, so stay sound: ∞.
        Bound::new(round::mul_up(self.0, rhs.0))
    }
}

impl std::ops::Div for Bound {
    type Output = Bound;
    /// Upward-rounded quotient; division by a zero bound gives `+∞` (and `0/0` too).
    #[inline]
    fn div(self, rhs: Bound) -> Bound {
        if rhs.0 == 0.0 {
            return Bound::INF;
        }
        Bound::new(round::div_up(self.0, rhs.0))
    }
}

impl fmt::Debug for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bound({:e})", self.0)
    }
}

/// Scientific notation, honouring width, precision, alignment and fill (`{:>10.3}`).
///
/// ```
/// use scale_core::Bound;
/// let b = Bound::new(0.000123456);
/// assert_eq!(format!("{b}"), "1.23456e-4");
/// assert_eq!(format!("{b:.2}"), "1.23e-4");
/// assert_eq!(format!("[{b:>9.2}]"), "[  1.23e-4]");
/// assert_eq!(format!("{b:.1e}"), "1.2e-4");
/// assert_eq!(format!("{}", Bound::INF), "inf");
/// ```
impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerExp::fmt(&self.0, f)
    }
}

/// The same as `Display` (`{:e}`, `{:.3e}`, with width and fill).
impl fmt::LowerExp for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerExp::fmt(&self.0, f)
    }
}

impl From<Bound> for f64 {
    fn from(b: Bound) -> f64 {
        b.0
    }
}

// ---------------------------------------------------------------------------------------------
// Rigorous upper bounds on quantities computed in plain `f64` (every op bound and the certified
// pass finish their per-entry sums this way, so bounds are computed at float speed).
// ---------------------------------------------------------------------------------------------

/// `f64` unit roundoff.
pub(crate) const U64: f64 = 1.1102230246251565e-16;

/// Relative slack for the interval spec's outward rounding (a few `f64` ulps per operation).
pub(crate) const ENCL: f64 = 8.0 * U64;

/// Upper bound on a nonnegative real `S` whose plain `f64` evaluation `s` used at most `n`
/// roundings (sums and products of nonnegative terms): each rounding loses at most a relative
/// `u` or, for a product in the subnormal range, an absolute `η/2`; so
/// `S ≤ (s + (n+1)·η)·(1 + 2(n+2)u)`, and evaluating that in round-to-nearest keeps it above
/// `S` (the extra `η` and the `n+2` absorb its own two roundings). NaN gives `+∞`.
#[inline]
pub(crate) fn rad(s: f64, n: u32) -> f64 {
    if s.is_nan() {
        return f64::INFINITY;
    }
    let c = 1.0 + f64::from(n + 2) * (2.0 * U64);
    (s + f64::from(n + 1) * 5e-324) * c
}

/// Upper bound on the exact value of a nonnegative quantity `c` that was computed in `f64`
/// round-to-nearest with at most `ops` roundings (sums and products of nonnegative terms), as a
/// [`Bound`]: [`rad`], which needs no directed rounding (the per-element finish of most bounds,
/// so it runs at plain-float speed); NaN gives `+∞`, a negative `c` zero.
///
/// This is what lets bounds be computed at plain-float speed and still be rigorous.
#[inline]
pub(crate) fn inflate(c: f64, ops: usize) -> Bound {
    Bound::new(rad(c, ops.min(1 << 20) as u32))
}
