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
    let err = a.mul_add(b, -p);
    if err > 0.0 { p.next_up() } else { p }
}

/// `a · b` rounded toward −∞.
#[inline]
pub fn mul_down(a: f64, b: f64) -> f64 {
    -mul_up(-a, b)
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
    // r = a − q·b exactly; a/b − q = r/b.
    let r = (-q).mul_add(b, a);
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
    let r = (-s).mul_add(s, a);
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
    let r = (-s).mul_add(s, a);
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
