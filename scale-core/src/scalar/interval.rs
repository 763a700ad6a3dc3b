//! [`Interval`]: the rigorous spec scalar.

use crate::round::{
    SumUp, add_down, add_up, div_down, div_up, mul_down, mul_down_up, mul_up, sqrt_down, sqrt_up,
    sub_down, sub_up,
};
use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A closed interval `[lo, hi]` of reals with `f64` endpoints that encloses an exact real value.
///
/// Arithmetic rounds outward with [`crate::round`], so exact operations stay points and inexact
/// ones widen by one ulp per endpoint; elementary functions come from correctly rounded
/// big-float evaluations (see [`SpecScalar`](crate::SpecScalar)). Endpoints are never NaN; an
/// undefined result (division by an interval containing 0, `ln` of a non-positive value) is the
/// whole line [`Interval::ENTIRE`], which no finite bound covers — exactly what soundness wants.
///
/// ```
/// use scale_core::Interval;
/// let third = Interval::point(1.0) / Interval::point(3.0);
/// assert!(third.lo() < third.hi() && third.lo() <= 1.0 / 3.0 && 1.0 / 3.0 <= third.hi());
/// assert_eq!(Interval::point(2.0) * Interval::point(3.0), Interval::point(6.0));
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct Interval {
    lo: f64,
    hi: f64,
}

impl Default for Interval {
    fn default() -> Self {
        Interval::point(0.0)
    }
}

impl Interval {
    /// The whole real line.
    pub const ENTIRE: Interval = Interval {
        lo: f64::NEG_INFINITY,
        hi: f64::INFINITY,
    };

    /// `[lo, hi]`; NaN endpoints or `lo > hi` give [`Interval::ENTIRE`] (never a wrong enclosure).
    #[inline]
    pub fn new(lo: f64, hi: f64) -> Interval {
        if lo <= hi {
            Interval { lo, hi }
        } else {
            Interval::ENTIRE
        }
    }

    /// The point interval `[x, x]` (NaN gives [`Interval::ENTIRE`]).
    #[inline]
    pub fn point(x: f64) -> Interval {
        Interval::new(x, x)
    }

    /// Lower endpoint.
    #[inline]
    pub fn lo(self) -> f64 {
        self.lo
    }

    /// Upper endpoint.
    #[inline]
    pub fn hi(self) -> f64 {
        self.hi
    }

    /// Midpoint (finite when possible).
    pub fn mid(self) -> f64 {
        match (self.lo.is_finite(), self.hi.is_finite()) {
            (true, true) => self.lo / 2.0 + self.hi / 2.0,
            (true, false) => self.lo,
            (false, true) => self.hi,
            (false, false) => 0.0,
        }
    }

    /// Width `hi − lo`, rounded up.
    pub fn width(self) -> f64 {
        sub_up(self.hi, self.lo)
    }

    /// Whether `x` lies in the interval.
    pub fn contains(self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }

    /// Smallest interval containing both.
    #[inline]
    pub fn hull(self, o: Interval) -> Interval {
        Interval {
            lo: self.lo.min(o.lo),
            hi: self.hi.max(o.hi),
        }
    }

    /// `|x|` over the interval.
    pub fn abs(self) -> Interval {
        if self.lo >= 0.0 {
            self
        } else if self.hi <= 0.0 {
            -self
        } else {
            Interval::new(0.0, (-self.lo).max(self.hi))
        }
    }

    /// `max(x, y)` over both intervals.
    pub fn max(self, o: Interval) -> Interval {
        Interval::new(self.lo.max(o.lo), self.hi.max(o.hi))
    }

    /// `x²` (not `x·x`: the two factors are the same number).
    pub fn square(self) -> Interval {
        let a = self.abs();
        Interval::new(mul_down0(a.lo, a.lo), mul_up0(a.hi, a.hi))
    }

    /// `√x`, rounded outward; [`Interval::ENTIRE`] when the interval reaches below 0 (the exact
    /// value may be negative, where the root is undefined).
    pub fn sqrt(self) -> Interval {
        if !(self.lo >= 0.0) {
            return Interval::ENTIRE;
        }
        Interval::new(sqrt_down(self.lo), sqrt_up(self.hi))
    }

    /// Upper bound on `max |x − r|` over the interval: how far a runtime value `r` can be from the
    /// exact value enclosed (rounded up).
    pub fn max_dist(self, r: f64) -> f64 {
        sub_up(self.hi, r).max(sub_up(r, self.lo))
    }

    /// Upper bound on `|x|` over the interval.
    pub fn mag(self) -> f64 {
        (-self.lo).max(self.hi)
    }

    /// `Σ xᵢ`, each end summed as one sum ([`SumUp`]): within an ulp or two of the exact sum of
    /// the ends however many terms there are, where a fold of `+` widens by up to an ulp of the
    /// partial sum per term. A reference that checks bounds of long sums (eight-lane balls,
    /// compensated kernels) must not be wider than they are.
    ///
    /// ```
    /// use scale_core::Interval;
    /// let t = Interval::point(2f64.powi(-60));
    /// let xs = [Interval::point(1.0), t, t, t, Interval::point(-1.0)];
    /// assert_eq!(Interval::sum(xs), Interval::point(3.0 * 2f64.powi(-60)));
    /// let fold = xs.iter().fold(Interval::point(0.0), |a, &x| a + x);
    /// assert!(fold.width() > 1e-16);
    /// ```
    pub fn sum<I: IntoIterator<Item = Interval>>(it: I) -> Interval {
        let (mut lo, mut hi) = (SumUp::default(), SumUp::default());
        for x in it {
            lo.add(-x.lo);
            hi.add(x.hi);
        }
        Interval::new(-lo.up(), hi.up())
    }
}

/// Products where a zero factor wins over an infinite one (0 · [−∞, ∞] = 0 for real numbers).
#[inline]
fn mul_up0(a: f64, b: f64) -> f64 {
    if a == 0.0 || b == 0.0 {
        0.0
    } else {
        mul_up(a, b)
    }
}

#[inline]
fn mul_down0(a: f64, b: f64) -> f64 {
    if a == 0.0 || b == 0.0 {
        0.0
    } else {
        mul_down(a, b)
    }
}

impl Add for Interval {
    type Output = Interval;
    #[inline]
    fn add(self, o: Interval) -> Interval {
        Interval::new(add_down(self.lo, o.lo), add_up(self.hi, o.hi))
    }
}

impl Sub for Interval {
    type Output = Interval;
    #[inline]
    fn sub(self, o: Interval) -> Interval {
        Interval::new(sub_down(self.lo, o.hi), sub_up(self.hi, o.lo))
    }
}

impl Neg for Interval {
    type Output = Interval;
    #[inline]
    fn neg(self) -> Interval {
        Interval {
            lo: -self.hi,
            hi: -self.lo,
        }
    }
}

/// Both rounded ends of `a·b`, where a zero factor wins over an infinite one (0 · [−∞, ∞] = 0
/// for real numbers).
#[inline]
fn mul_ends0(a: f64, b: f64) -> (f64, f64) {
    if a == 0.0 || b == 0.0 {
        (0.0, 0.0)
    } else {
        mul_down_up(a, b)
    }
}

impl Interval {
    /// The product from all four end products: the general case of [`Mul`], and what the
    /// sign-case shortcuts are tested against.
    fn mul_general(self, o: Interval) -> Interval {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (a, b) in [
            (self.lo, o.lo),
            (self.lo, o.hi),
            (self.hi, o.lo),
            (self.hi, o.hi),
        ] {
            let (l, h) = mul_ends0(a, b);
            lo = lo.min(l);
            hi = hi.max(h);
        }
        Interval::new(lo, hi)
    }

    /// The quotient from all four end quotients (divisor not containing 0): what the sign-case
    /// picks of [`Div`] are tested against.
    #[cfg(test)]
    fn div_general(self, o: Interval) -> Interval {
        let c = [
            (self.lo, o.lo),
            (self.lo, o.hi),
            (self.hi, o.lo),
            (self.hi, o.hi),
        ];
        let lo = c
            .iter()
            .map(|&(a, b)| quot(a, b, false))
            .fold(f64::INFINITY, f64::min);
        let hi = c
            .iter()
            .map(|&(a, b)| quot(a, b, true))
            .fold(f64::NEG_INFINITY, f64::max);
        Interval::new(lo, hi)
    }
}

/// `a/b` rounded down or up (`b ≠ 0`), with `0/b = 0` and `∞/∞` taken over the reals: a
/// quotient of large numbers may be anything of that sign.
#[inline]
fn quot(a: f64, b: f64, up: bool) -> f64 {
    if a == 0.0 {
        return 0.0;
    }
    if a.is_infinite() && b.is_infinite() {
        let positive = (a > 0.0) == (b > 0.0);
        return match (positive, up) {
            (true, true) => f64::INFINITY,
            (true, false) | (false, true) => 0.0,
            (false, false) => f64::NEG_INFINITY,
        };
    }
    if up { div_up(a, b) } else { div_down(a, b) }
}

impl Mul for Interval {
    type Output = Interval;
    /// Where at most one factor straddles 0, the signs say which two end products are the
    /// ends of the result; where both do, all four.
    #[inline]
    fn mul(self, o: Interval) -> Interval {
        let (a, b) = (self, o);
        let ends = if a.lo >= 0.0 && b.lo >= 0.0 {
            ((a.lo, b.lo), (a.hi, b.hi))
        } else if a.hi <= 0.0 && b.hi <= 0.0 {
            ((a.hi, b.hi), (a.lo, b.lo))
        } else if a.lo >= 0.0 && b.hi <= 0.0 {
            ((a.hi, b.lo), (a.lo, b.hi))
        } else if a.hi <= 0.0 && b.lo >= 0.0 {
            ((a.lo, b.hi), (a.hi, b.lo))
        } else if b.lo >= 0.0 {
            // `a` straddles 0: its ends times the end of `b` of larger magnitude.
            ((a.lo, b.hi), (a.hi, b.hi))
        } else if b.hi <= 0.0 {
            ((a.hi, b.lo), (a.lo, b.lo))
        } else if a.lo >= 0.0 {
            ((a.hi, b.lo), (a.hi, b.hi))
        } else if a.hi <= 0.0 {
            ((a.lo, b.hi), (a.lo, b.lo))
        } else {
            return a.mul_general(b);
        };
        let ((x, y), (z, w)) = ends;
        Interval::new(mul_ends0(x, y).0, mul_ends0(z, w).1)
    }
}

impl Div for Interval {
    type Output = Interval;
    /// For a divisor of one sign, the signs of the dividend's ends say which divisor end each
    /// result end comes from (`x/y` is monotone in each argument there).
    #[inline]
    fn div(self, o: Interval) -> Interval {
        if o.lo <= 0.0 && o.hi >= 0.0 {
            return Interval::ENTIRE;
        }
        let (a, b) = (self, o);
        let (lo, hi) = if b.lo > 0.0 {
            (
                quot(a.lo, if a.lo >= 0.0 { b.hi } else { b.lo }, false),
                quot(a.hi, if a.hi >= 0.0 { b.lo } else { b.hi }, true),
            )
        } else {
            (
                quot(a.hi, if a.hi >= 0.0 { b.hi } else { b.lo }, false),
                quot(a.lo, if a.lo >= 0.0 { b.lo } else { b.hi }, true),
            )
        };
        Interval::new(lo, hi)
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "[{:e}]", self.lo)
        } else {
            write!(f, "[{:e}, {:e}]", self.lo, self.hi)
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An end point: zeros, infinities, the extremes, subnormals, and ordinary values.
    fn end() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::MAX),
            Just(5e-324),
            -1e300f64..1e300,
            -4.0f64..4.0,
            (-1e-300f64..1e-300),
        ]
    }

    fn interval() -> impl Strategy<Value = Interval> {
        (end(), end()).prop_map(|(a, b)| Interval::new(a.min(b), a.max(b)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// The sign-case shortcuts of `*` and `/` pick the right ends: every corner's product
        /// (quotient) rounded to nearest lies inside, and the result lies within the ends of all
        /// four directed corner products (it may be tighter: `MAX/−∞` rounds up to the smallest
        /// subnormal, never an end here).
        #[test]
        fn sign_cases_pick_the_right_ends(a in interval(), b in interval()) {
            let corners = [(a.lo, b.lo), (a.lo, b.hi), (a.hi, b.lo), (a.hi, b.hi)];
            let inside = |x: Interval, v: f64| v.is_nan() || (x.lo <= v && v <= x.hi);
            let (p, g) = (a * b, a.mul_general(b));
            prop_assert!(g.lo <= p.lo && p.hi <= g.hi, "{:?}·{:?}: {:?} ⊄ {:?}", a, b, p, g);
            for (x, y) in corners {
                let v = if x == 0.0 || y == 0.0 { 0.0 } else { x * y };
                prop_assert!(inside(p, v), "{:?}·{:?} = {:?} misses {:e}", a, b, p, v);
            }
            if !(b.lo <= 0.0 && b.hi >= 0.0) {
                let (q, g) = (a / b, a.div_general(b));
                prop_assert!(g.lo <= q.lo && q.hi <= g.hi, "{:?}/{:?}: {:?} ⊄ {:?}", a, b, q, g);
                for (x, y) in corners {
                    prop_assert!(inside(q, x / y), "{:?}/{:?} = {:?} misses {:e}", a, b, q, x / y);
                }
            }
        }
    }

    /// Exact reals: at 4500 bits no sum of `f64` values rounds.
    type E = dashu_float::FBig<dashu_float::round::mode::Zero, 2>;

    fn ex(x: f64) -> E {
        E::try_from(x).unwrap().with_precision(4500).value()
    }

    /// Finite terms over 120 binades whose sum cancels: the terms, then most of them negated
    /// in another order, so the partial sums are far larger than the result. This is where a
    /// fold of `+` is wide (an ulp of a large partial sum per term) and a tight sum is not.
    fn cancelling_terms() -> impl Strategy<Value = Vec<Interval>> {
        let term = (-1.0f64..1.0, -60i32..60, 0.0f64..1e-3)
            .prop_map(|(m, e, w)| Interval::new(m * 2f64.powi(e), (m + w) * 2f64.powi(e)));
        (proptest::collection::vec(term, 1..40), any::<u64>()).prop_map(|(xs, seed)| {
            let mut back: Vec<Interval> = xs.iter().map(|&x| -x).collect();
            back.rotate_left((seed % xs.len() as u64) as usize);
            back.truncate(xs.len() - 1);
            xs.into_iter().chain(back).collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// `Interval::sum` encloses the exact sum of the ends and lies within two ulps of it
        /// plus the rounding of the summed errors (`n·2⁻¹⁰⁰·Σ|x|`: what is left of a fold's
        /// `n·2⁻⁵³·Σ|x|`); an end with a non-finite term is `±∞`, never finite, and `+∞`
        /// wherever `−∞` would not be sound (a `+∞` term, or either end unknown: NaN or
        /// `+∞ + −∞` make the sum ENTIRE).
        #[test]
        fn sums_enclose_the_exact_sum_tightly(xs in prop_oneof![
            proptest::collection::vec(interval(), 0..40),
            cancelling_terms(),
        ]) {
            let s = Interval::sum(xs.iter().copied());
            let n = xs.len() as f64;
            let ends_of = |pick: usize, sign: f64| -> Vec<f64> {
                xs.iter().map(|x| sign * if pick == 1 { x.hi } else { x.lo }).collect()
            };
            let unknown = |e: &[f64]| {
                e.iter().any(|v| v.is_nan())
                    || (e.contains(&f64::INFINITY) && e.contains(&f64::NEG_INFINITY))
            };
            let either_unknown = unknown(&ends_of(1, 1.0)) || unknown(&ends_of(0, -1.0));
            for (end, pick, sign) in [(s.hi, 1, 1.0), (s.lo, 0, -1.0)] {
                let ends = ends_of(pick, sign);
                let end = sign * end;
                if ends.iter().any(|e| !e.is_finite()) {
                    // `+∞` is the only sound end once either end is unknown or a term is `+∞`.
                    // Otherwise a `−∞` term makes the exact sum `−∞`; `+∞` (ENTIRE) is also
                    // sound there, and what a partial sum that overflowed to `+∞` gives.
                    if either_unknown || ends.contains(&f64::INFINITY) {
                        prop_assert_eq!(end, f64::INFINITY, "{:?}", xs);
                    } else {
                        prop_assert!(end.is_infinite(), "{:?}: finite end {:e}", xs, end);
                    }
                    continue;
                }
                let exact = ends.iter().map(|&e| ex(e)).fold(ex(0.0), |a, b| a + b);
                let mags: f64 = xs.iter().map(|x| x.lo.abs().max(x.hi.abs())).sum();
                if end == f64::INFINITY {
                    continue;
                }
                let got = ex(end);
                prop_assert!(got >= exact, "{:?}: end {:e} below the exact sum", xs, end);
                // `to_f64` rounds toward zero here, so an overflowed sum must be caught exactly.
                if exact.clone() > ex(f64::MAX) || exact < ex(-f64::MAX) {
                    continue; // an overflowed sum rounds to ±MAX or ±∞: sound, not tight
                }
                let near = exact.to_f64().value().abs();
                let slack = ex(4.0 * f64::EPSILON * near + 2.0 * 5e-324)
                    + ex((n * 2f64.powi(-100) * mags).min(f64::MAX));
                prop_assert!(got - exact <= slack, "{:?}: end {:e} not tight", xs, end);
            }
        }
    }

    /// The case CI's proptest found: the upper ends' finite part sums to just under `MAX` in
    /// round-to-nearest, but an upward fold overflows it to `+∞` before the `−∞` term and gives
    /// NaN (so ENTIRE); the exact extended-real sum of the upper ends is `−∞`.
    #[test]
    fn a_minus_infinity_term_after_a_near_overflow_sums_to_minus_infinity() {
        let xs = [
            Interval::new(f64::NEG_INFINITY, -3.8336136614211798),
            Interval::new(f64::NEG_INFINITY, f64::MAX),
            Interval::new(0.0, 3.3602339623411397),
            Interval::point(f64::NEG_INFINITY),
        ];
        let fold = xs.iter().fold(Interval::point(0.0), |a, &x| a + x);
        assert_eq!(fold, Interval::ENTIRE);
        let s = Interval::sum(xs);
        assert_eq!((s.lo(), s.hi()), (f64::NEG_INFINITY, f64::NEG_INFINITY));
    }

    #[test]
    fn encloses_basic_ops() {
        let a = Interval::new(-1.0, 2.0);
        let b = Interval::new(3.0, 4.0);
        assert_eq!(a * b, Interval::new(-4.0, 8.0));
        assert_eq!(a - b, Interval::new(-5.0, -1.0));
        assert!((a / b).contains(0.5) && (a / b).contains(-1.0 / 3.0));
        assert_eq!(b / a, Interval::ENTIRE);
        assert_eq!(a.square(), Interval::new(0.0, 4.0));
        assert_eq!(
            Interval::point(0.0) * Interval::ENTIRE,
            Interval::point(0.0)
        );
        assert_eq!(Interval::new(4.0, 9.0).sqrt(), Interval::new(2.0, 3.0));
        let r2 = Interval::point(2.0).sqrt();
        assert!(r2.lo() < r2.hi() && r2.contains(std::f64::consts::SQRT_2));
        assert_eq!(Interval::new(-1e-300, 1.0).sqrt(), Interval::ENTIRE);
        assert_eq!(Interval::new(0.0, f64::INFINITY).sqrt().hi(), f64::INFINITY);
    }
}
