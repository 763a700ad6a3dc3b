//! Rigorous enclosures of `erf` and `erfc` of an `f64`, for the interval spec of `gelu`.
//!
//! `dashu-float` has no error function, so it is summed here with an error budget:
//!
//! * `|z| ≤ 9`: the Taylor series `erf z = (2/√π) Σ (−1)ⁿ z²ⁿ⁺¹/(n!(2n+1))` in a big float
//!   of `P = 128 + ⌈2.9·z²⌉` bits (the terms reach `e^{z²}` before they decay, and `erfc z` is
//!   as small as `e^{−z²}`: both cost `1.44·z²` bits), stopped past `n ≥ z²` (where the
//!   alternating terms decrease, so the remainder is at most the last term). Every big-float
//!   operation rounds to nearest (relative error `≤ 2⁻ᴾ`); the accumulated rounding is at
//!   most `(3N + 8)·2⁻ᴾ·Σ|terms|`, budgeted with a factor 2 on top. `erfc = 1 − erf` in the same
//!   precision keeps its relative accuracy for large `z`.
//! * `z > 9`: the asymptotic series `erfc z = e^{−z²}/(z√π)·Σ (−1)ⁿ(2n−1)!!/(2z²)ⁿ`, which
//!   envelops the function for real `z > 0` (the error of `N` terms is below the next one):
//!   20 terms leave a relative error below `10⁻²⁰`.
//! * `z² > 745.2`: `0 ≤ erfc z ≤ e^{−z²}` is below the smallest subnormal.
//!
//! The result is turned into `f64` endpoints outward (one ulp either side of the nearest, then
//! the error budget with directed rounding), so each enclosure is a few ulps wide.

use crate::round::{add_up, mul_up, sub_down, sub_up};
use dashu_float::FBig;
use dashu_float::round::mode::HalfEven;

type F = FBig<HalfEven, 2>;

fn big(x: f64, prec: usize) -> F {
    F::try_from(x)
        .map(|v| v.with_precision(prec).value())
        .unwrap_or(F::ZERO)
}

fn to_f64(v: &F) -> f64 {
    v.to_f64().value()
}

/// `2/√π` to `prec` bits (relative error `≤ 3·2⁻ᴾ`: π, the root and the quotient each round).
fn two_over_sqrt_pi(prec: usize) -> F {
    let pi = F::pi(prec);
    big(2.0, prec) / pi.sqrt()
}

/// An enclosure `[v − ulp − err, v + ulp + err]` of a big value known to within `err`.
fn enclose(v: &F, err: f64) -> (f64, f64) {
    let m = to_f64(v);
    if m == 0.0 {
        let e = add_up(err, f64::from_bits(1));
        return (-e, e);
    }
    (sub_down(m.next_down(), err), add_up(m.next_up(), err))
}

/// Precision for the series at `z`.
fn prec_for(z: f64) -> usize {
    128 + (2.9 * z * z).ceil() as usize
}

/// `(erf z, erfc z)` for `0 ≤ z ≤ 9` as big floats of precision `prec_for(z)`, with bounds on
/// their absolute errors (the first relative to `erf z`'s size, so tiny `z` keep their relative
/// accuracy).
fn series(z: f64) -> (F, F, f64, f64) {
    let prec = prec_for(z);
    let eps = 2f64.powi(-(prec as i32));
    let zb = big(z, prec);
    let z2 = &zb * &zb;
    let mut p = zb.clone(); // z^{2n+1}/n!
    let mut s = zb.clone();
    let (mut mags, mut n) = (z, 0u32);
    let last = loop {
        n += 1;
        p = &p * &z2 / big(f64::from(n), prec);
        let t = &p / big(f64::from(2 * n + 1), prec);
        let tm = to_f64(&t).abs();
        s = if n % 2 == 1 { &s - &t } else { &s + &t };
        mags += tm;
        if f64::from(n) >= z * z + 1.0 && (tm <= eps * 1e-3 * mags || tm == 0.0) {
            break tm;
        }
        if n > 100_000 {
            // Unreachable for z ≤ 9 (about 600 terms at most); an honest "no bound" if it were.
            return (F::ZERO, F::ZERO, f64::INFINITY, f64::INFINITY);
        }
    };
    let c = two_over_sqrt_pi(prec);
    let erf = &c * &s;
    let erfc = big(1.0, prec) - &erf;
    // A term carries ≤ 3n + 1 roundings (z², then a product and a quotient per step), each sum
    // one more of at most Σ|terms|: (4N + 1)·2⁻ᴾ·Σ|tₙ|; the constant and the product add
    // 4·2⁻ᴾ relative; the remainder is below the last term (they decrease from n ≥ z² on).
    // All scaled by 2/√π < 1.13, with a factor 2 of slack for this f64 evaluation itself.
    let err_erf = 2.0 * 1.13 * (f64::from(4 * n + 12) * eps * mags + last);
    // 1 − erf rounds once more, by at most 2⁻ᴾ (erfc ≤ 1).
    let err_erfc = err_erf + 2.0 * eps;
    (erf, erfc, err_erf, err_erfc)
}

/// `erfc z` for `z > 9` by the enveloping asymptotic series (20 terms) and its error.
fn asymptotic(z: f64) -> (f64, f64) {
    if z * z > 745.2 {
        return (0.0, f64::from_bits(1));
    }
    let prec = 160;
    let zb = big(z, prec);
    let z2 = &zb * &zb;
    let lead = (-z2.clone()).exp() / (&zb * F::pi(prec).sqrt());
    let inv = big(1.0, prec) / (big(2.0, prec) * &z2);
    let (mut s, mut t) = (big(1.0, prec), big(1.0, prec));
    for n in 1..=20u32 {
        t = -(&t * &inv) * big(f64::from(2 * n - 1), prec);
        s += t.clone();
    }
    let next = to_f64(&t).abs() * to_f64(&inv) * 41.0;
    let v = &lead * &s;
    let vm = to_f64(&v).abs();
    // Relative: the truncation (below the next term), and the big-float rounding (≤ 2⁻¹⁵⁰).
    enclose(&v, mul_up(vm, add_up(next, 1e-40)) * 2.0)
}

/// Lower and upper bound of `erf x`.
pub(crate) fn erf_bounds(x: f64) -> (f64, f64) {
    if x.is_nan() {
        return (f64::NEG_INFINITY, f64::INFINITY);
    }
    if x < 0.0 {
        let (lo, hi) = erf_bounds(-x);
        return (-hi, -lo);
    }
    if x == 0.0 {
        return (0.0, 0.0);
    }
    if x > 6.0 {
        // erfc 6 < 2.2·10⁻¹⁷ < 2⁻⁵³ = 1 − prev(1), and erf < 1.
        return ((1.0f64).next_down(), 1.0);
    }
    let (e, _, err, _) = series(x);
    let (lo, hi) = enclose(&e, err);
    (lo.max(0.0), hi.min(1.0))
}

/// Lower and upper bound of `erfc x`.
pub(crate) fn erfc_bounds(x: f64) -> (f64, f64) {
    if x.is_nan() {
        return (f64::NEG_INFINITY, f64::INFINITY);
    }
    if x < 0.0 {
        // erfc(−z) = 2 − erfc z.
        let (lo, hi) = erfc_bounds(-x);
        return (sub_down(2.0, hi), sub_up(2.0, lo.max(0.0)));
    }
    if x == 0.0 {
        return (1.0, 1.0);
    }
    if x > 9.0 {
        let (lo, hi) = asymptotic(x);
        return (lo.max(0.0), hi);
    }
    let (_, c, _, err) = series(x);
    let (lo, hi) = enclose(&c, err);
    (lo.max(0.0), hi.min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enclosures hold the platform's values (within a few ulps) and known constants, stay
    /// a few ulps wide, and keep erfc's relative accuracy far in the tail.
    #[test]
    fn bounds_hold_reference_values() {
        let close = |(lo, hi): (f64, f64), v: f64, what: &str| {
            assert!(lo <= hi, "{what}: {lo:e} > {hi:e}");
            let w = 8.0 * f64::EPSILON * v.abs() + 1e-300;
            assert!(
                lo <= v + w && v - w <= hi,
                "{what}: {v:e} ∉ [{lo:e}, {hi:e}]"
            );
            assert!(
                hi - lo <= 16.0 * f64::EPSILON * v.abs() + 1e-300,
                "{what}: too wide"
            );
        };
        for &x in &[1e-300, 1e-10, 0.1, 0.5, 1.0, 2.0, 3.5, 5.9, -0.7] {
            close(erf_bounds(x), libm::erf(x), &format!("erf {x}"));
        }
        for &x in &[1e-10, 0.3, 1.0, 2.5, 5.0, 8.9, 9.1, 15.0, 26.0, -1.0, -3.0] {
            close(erfc_bounds(x), libm::erfc(x), &format!("erfc {x}"));
        }
        // erf(1) = 0.8427007929497148693412206350826…
        let (lo, hi) = erf_bounds(1.0);
        assert!(lo <= 0.842_700_792_949_714_9 && 0.842_700_792_949_714_8 <= hi);
        assert_eq!(erfc_bounds(40.0), (0.0, f64::from_bits(1)));
        assert_eq!(erf_bounds(7.0), ((1.0f64).next_down(), 1.0));
        assert_eq!(erf_bounds(0.0), (0.0, 0.0));
    }
}
