//! Directed rounding of `f64` arithmetic, without touching the FPU rounding mode.
//!
//! Every function returns the exact real result of the operation when it is representable, and
//! otherwise the neighbouring `f64` in the requested direction. Exactness is decided with
//! error-free transformations (Fast2Sum, FMA-based TwoProd / remainder), so results are as tight as
//! directed rounding can be; near the underflow range, where those transformations stop being
//! exact, the functions fall back to stepping one ulp outward unconditionally.
//!
//! These are the only primitives that [`Bound`](crate::Bound) and the rigorous
//! [`Interval`](crate::Interval) spec use for arithmetic, so both rest on one audited piece.
//!
//! ```
//! use scale_core::round::{add_down, add_up};
//! let (lo, hi) = (add_down(0.1, 0.2), add_up(0.1, 0.2));
//! assert!(lo < hi && hi == lo.next_up()); // 0.1 + 0.2 is not representable
//! assert_eq!(add_up(1.0, 2.0), 3.0); // exact sums are not widened
//! ```

/// Below this magnitude the FMA remainder of a product or quotient may itself underflow,
/// so exactness can no longer be decided and results are widened unconditionally.
const TINY: f64 = 1.0e-290;

/// Operands above this magnitude could overflow Veltkamp's split `(2²⁷ + 1)·a`: [`prod_err`]
/// takes the FMA for them.
const DEKKER_MAX: f64 = 1.0e290;

/// `|a·b|` from which every partial product of Dekker's TwoProd is exact (well above Boldo's
/// condition `|ab| ≥ 2^(emin + 2p − 1) = 2⁻⁹¹⁷`); smaller products take the FMA.
const DEKKER_MIN: f64 = 1.5e-271;

/// `|a·b|` below which `ah·bh` (within `2⁻²⁵` of the product) cannot overflow; larger products
/// take the FMA.
const DEKKER_TOP: f64 = 1.0e300;

/// The high 26 bits of `a` and the rest, exactly (Veltkamp; `|a| ≤ DEKKER_MAX`).
#[inline]
fn split(a: f64) -> (f64, f64) {
    let c = 134_217_729.0 * a;
    let h = c - (c - a);
    (h, a - h)
}

/// The rounding error `a·b − p` of `p = fl(a·b)`, exactly (finite operands and `p`; for an
/// overflowed or NaN `p`, whatever the FMA gives). Dekker's TwoProd uses plain products and
/// sums, so it inlines and vectorises, where `f64::mul_add` is a library call on targets built
/// without the `fma` feature (the default for x86-64) — it was most of a certified transformer
/// step. Outside the range where TwoProd is error-free (huge operands, products near underflow
/// or overflow) the FMA, which is exact everywhere.
#[inline]
pub(crate) fn prod_err(a: f64, b: f64, p: f64) -> f64 {
    let q = p.abs();
    if a.abs() < DEKKER_MAX && b.abs() < DEKKER_MAX && q > DEKKER_MIN && q < DEKKER_TOP {
        let ((ah, al), (bh, bl)) = (split(a), split(b));
        ((ah * bh - p) + ah * bl + al * bh) + al * bl
    } else {
        a.mul_add(b, -p)
    }
}

/// Upward rounding of a result that overflowed: a finite exact value below `−MAX` rounds up to
/// `−MAX`, not to `−∞` (which is below every real); `+∞` and NaN pass through. `finite_exact`
/// says whether the exact result is a real number (finite operands).
#[inline]
fn overflow_up(r: f64, finite_exact: bool) -> f64 {
    if r == f64::NEG_INFINITY && finite_exact {
        f64::MIN
    } else {
        r
    }
}

/// `a + b` rounded toward +∞.
#[inline]
pub fn add_up(a: f64, b: f64) -> f64 {
    let s = a + b;
    if !s.is_finite() {
        return overflow_up(s, a.is_finite() && b.is_finite());
    }
    if sum_err(a, b, s) > 0.0 {
        s.next_up()
    } else {
        s
    }
}

/// The rounding error `(a + b) − s` of `s = fl(a + b)`, exactly, for finite `a`, `b`, `s`.
///
/// Fast2Sum (Dekker) on the operands ordered by magnitude, not Knuth's branch-free TwoSum: with
/// `|big| ≥ |small|`, `z = s − big` and `small − z` are exact, and no intermediate can overflow.
/// `s − big` equals `small − err` with `|err| ≤ ½ ulp(s)`; it could only exceed `f64::MAX` if
/// `|small| > MAX − 2⁹⁷⁰`, i.e. `|small| = |big| = MAX`, where the sum is either exact (`err = 0`)
/// or overflows (excluded by the caller). TwoSum's `s − a` instead overflows when `s` and `a`
/// have opposite signs in the top binade, e.g. `a = −MAX`, `b = 3·2⁹⁷⁰` (an exact tie), where it
/// made the error NaN and the sum was returned unwidened — below the exact value.
#[inline]
fn sum_err(a: f64, b: f64, s: f64) -> f64 {
    let (big, small) = if a.abs() >= b.abs() { (a, b) } else { (b, a) };
    small - (s - big)
}

/// `Σ xᵢ` rounded toward +∞ as one sum, not one rounding per addition: the running sum in
/// round-to-nearest with each addition's exact error (two-sum) summed upward beside it, so
/// the result is within an ulp or two of the exact sum however many terms it has (an upward
/// fold drifts by up to one ulp of the partial sum per term). What the interval spec's sums use:
/// a reference that must decide bounds tighter than a fold's drift.
///
/// Once a term or the running sum is not finite, the rest is the upward fold ([`add_up`]) from
/// a bound of the sum so far: `+∞` if a term is `+∞`, NaN for `+∞` and `−∞` or a NaN term,
/// `−∞` if a term is `−∞` (or NaN where the finite part overflowed to `+∞` first), and `−MAX`
/// (not `−∞`) for a finite sum that overflowed downward. Never finite from a non-finite term.
/// It can differ from an upward fold only there: where the fold's partial sum overflows to `+∞`
/// before a `−∞` term (the fold gives NaN) and this sum's round-to-nearest one does not (this
/// gives the exact `−∞`).
///
/// ```
/// use scale_core::round::{add_up, SumUp};
/// let t = 2f64.powi(-60); // lost in each `1 + t`
/// let xs = [1.0, t, t, t, -1.0];
/// let mut s = SumUp::default();
/// xs.iter().for_each(|&x| s.add(x));
/// assert_eq!(s.up(), 3.0 * t); // exact
/// let fold = xs.iter().fold(0.0, |a, &x| add_up(a, x));
/// assert_eq!(fold, 3.0 * 2f64.powi(-52)); // 256 times the exact sum
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SumUp {
    s: f64,
    err: f64,
    folding: bool,
}

impl SumUp {
    /// Add one term.
    #[inline]
    pub fn add(&mut self, x: f64) {
        if self.folding {
            self.s = add_up(self.s, x);
            return;
        }
        let s = self.s + x;
        if s.is_finite() {
            self.err = add_up(self.err, sum_err(self.s, x, s));
            self.s = s;
        } else {
            self.s = add_up(self.up(), x);
            self.folding = true;
        }
    }

    /// The sum so far, rounded toward +∞.
    #[inline]
    pub fn up(&self) -> f64 {
        if self.folding {
            self.s
        } else {
            add_up(self.s, self.err)
        }
    }
}

/// `a + b` rounded toward −∞.
#[inline]
pub fn add_down(a: f64, b: f64) -> f64 {
    -add_up(-a, -b)
}

/// `a − b` rounded toward +∞.
#[inline]
pub fn sub_up(a: f64, b: f64) -> f64 {
    add_up(a, -b)
}

/// `a − b` rounded toward −∞.
#[inline]
pub fn sub_down(a: f64, b: f64) -> f64 {
    add_down(a, -b)
}

/// `a · b` rounded toward +∞.
#[inline]
pub fn mul_up(a: f64, b: f64) -> f64 {
    let p = a * b;
    if !p.is_finite() {
        return overflow_up(p, a.is_finite() && b.is_finite());
    }
    if a == 0.0 || b == 0.0 {
        return p;
    }
    if p == 0.0 {
        // Underflow to zero: the exact product is tiny, with the sign of a·b.
        return if (a > 0.0) == (b > 0.0) {
            f64::from_bits(1)
        } else {
            -0.0
        };
    }
    if p.abs() < TINY {
        return p.next_up();
    }
    if prod_err(a, b, p) > 0.0 {
        p.next_up()
    } else {
        p
    }
}

/// `a · b` rounded toward −∞.
#[inline]
pub fn mul_down(a: f64, b: f64) -> f64 {
    -mul_up(-a, b)
}

/// `(mul_down(a, b), mul_up(a, b))` from one product and one error term (interval products
/// need both ends of four products).
///
/// ```
/// use scale_core::round::mul_down_up;
/// let (lo, hi) = mul_down_up(0.1, 0.3);
/// assert!(hi == lo.next_up());
/// assert_eq!(mul_down_up(0.5, 3.0), (1.5, 1.5));
/// ```
#[inline]
pub fn mul_down_up(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    if !p.is_finite() || p.abs() < TINY {
        return (mul_down(a, b), mul_up(a, b));
    }
    let e = prod_err(a, b, p);
    let lo = if e < 0.0 { p.next_down() } else { p };
    let hi = if e > 0.0 { p.next_up() } else { p };
    (lo, hi)
}

/// `a / b` rounded toward +∞ (`b ≠ 0`; a zero divisor gives IEEE's ±∞ or NaN, left to callers).
#[inline]
pub fn div_up(a: f64, b: f64) -> f64 {
    let q = a / b;
    if !q.is_finite() {
        return overflow_up(q, a.is_finite() && b.is_finite() && b != 0.0);
    }
    if a == 0.0 {
        return q;
    }
    if q.abs() < TINY || a.abs() < TINY || b.abs() < TINY {
        return q.next_up();
    }
    // r = a − q·b exactly; a/b − q = r/b. With p = fl(q·b), a − p is exact (Sterbenz: p is
    // within a factor 2 of a), so r = (a − p) − (q·b − p) and the one rounding keeps its sign.
    let p = q * b;
    let r = if p.is_finite() && p != 0.0 {
        (a - p) - prod_err(q, b, p)
    } else {
        (-q).mul_add(b, a)
    };
    if (r > 0.0) == (b > 0.0) && r != 0.0 {
        q.next_up()
    } else {
        q
    }
}

/// `a / b` rounded toward −∞.
#[inline]
pub fn div_down(a: f64, b: f64) -> f64 {
    -div_up(-a, b)
}

/// `a − s²` for `s = fl(√a)`, exactly (`a ≥ TINY`): `a − fl(s²)` is exact (Sterbenz), and the
/// one rounding of subtracting `s² − fl(s²)` keeps the sign.
#[inline]
fn sqrt_rem(a: f64, s: f64) -> f64 {
    let p = s * s;
    (a - p) - prod_err(s, s, p)
}

/// `√a` rounded toward +∞ (`a ≥ 0`).
#[inline]
pub fn sqrt_up(a: f64) -> f64 {
    let s = a.sqrt();
    if !s.is_finite() || s == 0.0 {
        return s;
    }
    if a < TINY {
        return s.next_up();
    }
    let r = sqrt_rem(a, s);
    if r > 0.0 { s.next_up() } else { s }
}

/// `√a` rounded toward −∞ (`a ≥ 0`).
#[inline]
pub fn sqrt_down(a: f64) -> f64 {
    let s = a.sqrt();
    if !s.is_finite() || s == 0.0 {
        // √+∞ = +∞ is exact; a huge finite `a` never has an infinite root.
        return s;
    }
    if a < TINY {
        return s.next_down().max(0.0);
    }
    let r = sqrt_rem(a, s);
    if r < 0.0 { s.next_down() } else { s }
}

/// `|a − b|` rounded toward +∞.
#[inline]
pub fn abs_diff_up(a: f64, b: f64) -> f64 {
    if a >= b { sub_up(a, b) } else { sub_up(b, a) }
}

#[cfg(test)]
mod tests {
    use super::*;

    use dashu_float::FBig;
    use dashu_float::round::mode::Zero;

    /// `x` as an exact big float (3000 bits hold any f64 sum exactly).
    fn exact(x: f64) -> FBig<Zero, 2> {
        FBig::<Zero, 2>::try_from(x)
            .unwrap()
            .with_precision(3000)
            .value()
    }

    fn cmp_sum(x: f64, a: f64, b: f64) -> std::cmp::Ordering {
        exact(x).cmp(&(exact(a) + exact(b)))
    }

    #[test]
    fn add_brackets_exact_sum() {
        let vals = [
            0.1,
            0.2,
            1e300,
            -1e-300,
            3.0,
            5e-324,
            -7.25,
            1.0 + f64::EPSILON,
        ];
        for &a in &vals {
            for &b in &vals {
                let (lo, hi) = (add_down(a, b), add_up(a, b));
                assert_ne!(cmp_sum(hi, a, b), std::cmp::Ordering::Less, "{a}+{b}");
                assert_ne!(cmp_sum(lo, a, b), std::cmp::Ordering::Greater, "{a}+{b}");
                assert!(hi == lo || hi == lo.next_up());
            }
        }
    }

    /// Regression (issue #9 item 4): TwoSum's `s − a` overflowed at an exact tie in the top
    /// binade, so the rounding error read as NaN and `add_up` returned the round-to-nearest sum,
    /// which is below the exact one.
    #[test]
    fn add_sub_top_binade_tie() {
        let a = 3.0 * 2f64.powi(970);
        let b = -f64::MAX;
        let up = add_up(a, b);
        let down = add_down(a, b);
        assert_ne!(
            cmp_sum(up, a, b),
            std::cmp::Ordering::Less,
            "add_up = {up:e}"
        );
        assert_ne!(
            cmp_sum(down, a, b),
            std::cmp::Ordering::Greater,
            "add_down = {down:e}"
        );
        assert!(up == down.next_up(), "{down:e} {up:e}");
        // Same tie through the other entry points and argument orders.
        assert_ne!(cmp_sum(add_up(b, a), a, b), std::cmp::Ordering::Less);
        assert_ne!(cmp_sum(sub_up(a, -b), a, b), std::cmp::Ordering::Less);
        assert_ne!(cmp_sum(sub_down(a, -b), a, b), std::cmp::Ordering::Greater);
        assert_ne!(cmp_sum(-add_down(-a, -b), a, b), std::cmp::Ordering::Less);
    }

    /// A finite `f64` from any binade (subnormals included), with a full or a short mantissa
    /// (short ones make exact products, ties and exact quotients common).
    fn wide() -> impl proptest::strategy::Strategy<Value = f64> {
        use proptest::prelude::*;
        (any::<bool>(), 0u64..2047, any::<u64>(), 0u32..53).prop_map(|(neg, e, m, keep)| {
            let m = (m & ((1u64 << 52) - 1)) >> keep << keep;
            let x = f64::from_bits((e << 52) | m);
            if neg { -x } else { x }
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(20_000))]

        /// Dekker's TwoProd is the exact error wherever it is taken (the FMA is exact always).
        #[test]
        fn prod_err_is_exact(a in wide(), b in wide(), scale in -60i32..60) {
            let b = b * 2f64.powi(scale);
            let p = a * b;
            if p.is_finite() && p != 0.0 {
                let e = prod_err(a, b, p);
                proptest::prop_assert_eq!(e.to_bits(), a.mul_add(b, -p).to_bits(), "{:e}·{:e}", a, b);
            }
        }

        /// Products, quotients and roots bracket the exact result, one ulp apart at most.
        #[test]
        fn mul_div_sqrt_bracket_exact(a in wide(), b in wide()) {
            use std::cmp::Ordering::{Greater, Less};
            let (lo, hi) = (mul_down(a, b), mul_up(a, b));
            let both = mul_down_up(a, b);
            proptest::prop_assert_eq!((both.0.to_bits(), both.1.to_bits()), (lo.to_bits(), hi.to_bits()));
            if lo.is_finite() && hi.is_finite() {
                let x = exact(a) * exact(b);
                proptest::prop_assert!(exact(lo) <= x && exact(hi) >= x, "{:e}·{:e}", a, b);
                // (Near underflow the result is widened unconditionally.)
                proptest::prop_assert!(hi == lo || hi == lo.next_up() || lo.abs() < 1e-280);
            }
            if b != 0.0 {
                let (lo, hi) = (div_down(a, b), div_up(a, b));
                if lo.is_finite() && hi.is_finite() {
                    // lo ≤ a/b ≤ hi ⇔ lo·b ≤ a ≤ hi·b for b > 0 (reversed for b < 0).
                    let (ql, qh) = (exact(lo) * exact(b), exact(hi) * exact(b));
                    let (below, above) = if b > 0.0 { (ql, qh) } else { (qh, ql) };
                    proptest::prop_assert_ne!(below.cmp(&exact(a)), Greater, "{:e}/{:e}", a, b);
                    proptest::prop_assert_ne!(above.cmp(&exact(a)), Less, "{:e}/{:e}", a, b);
                    let normal = [lo, a, b].iter().all(|v| v.abs() > 1e-280);
                    proptest::prop_assert!(hi == lo || hi == lo.next_up() || !normal);
                }
            }
            let a = a.abs();
            let (lo, hi) = (sqrt_down(a), sqrt_up(a));
            proptest::prop_assert!(exact(lo) * exact(lo) <= exact(a), "√{:e}", a);
            proptest::prop_assert!(exact(hi) * exact(hi) >= exact(a), "√{:e}", a);
            proptest::prop_assert!(hi == lo || hi == lo.next_up() || a < 1e-280);
        }
    }

    #[test]
    fn mul_div_direction() {
        assert!(mul_up(0.1, 0.1) > mul_down(0.1, 0.1));
        assert_eq!(mul_up(0.5, 0.25), 0.125);
        assert!(div_up(1.0, 3.0) > div_down(1.0, 3.0));
        assert_eq!(div_up(1.0, 4.0), 0.25);
        assert!(mul_up(1e-200, 1e-200) > 0.0);
        assert_eq!(mul_down(1e-200, 1e-200), 0.0);
        assert!(sqrt_up(2.0) * sqrt_up(2.0) >= 2.0);
        assert!(sqrt_down(2.0) * sqrt_down(2.0) <= 2.0 && sqrt_down(2.0) < sqrt_up(2.0));
        assert_eq!((sqrt_down(4.0), sqrt_up(4.0)), (2.0, 2.0));
        assert!(sqrt_down(5e-324) <= 5e-324f64.sqrt() && sqrt_down(5e-324) > 0.0);
    }
}
