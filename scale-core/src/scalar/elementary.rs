//! Rigorous enclosures of elementary functions, and the documented accuracy assumption for the
//! platform's runtime versions.
//!
//! Spec side: `exp`, `expm1`, `ln` and `ln_1p` of an `f64` are computed with `dashu-float`, whose
//! transcendental functions are correctly rounded in the requested rounding mode (pure Rust: no
//! GMP/MPFR to build). Rounding toward −∞ at 53 bits gives the largest `f64` below the exact value,
//! rounding toward +∞ the smallest above, so every enclosure here is at most one ulp wide per call.
//! `tanh`, `sigmoid` and `softplus` are monotone compositions of those, finished with the
//! directed-rounding helpers of [`crate::round`].
//!
//! Runtime side: the bounds trust the platform's **`f64`** `exp`, `ln`, `ln_1p` and `tanh` (and
//! the pure-Rust `libm` crate's `f64` `erf`/`erfc`, for `gelu`), each assumed within
//! [`assumed_ulps`] `f64` ulps of the exact value (default 4). A narrow runtime
//! (`f32`, `bf16`, `f16`) calls its own functions (`exp32`, `erf32`, the platform's `logf`, …), but every op measures that result against an `f64`
//! reference computed with the `f64` libm and charges only the reference with the assumption
//! (`(4·assumed_ulps + 8)·2⁻⁵³` relative: up to two calls plus a few roundings), so the accuracy
//! of `expf`/`logf`/`tanhf` needs no assumption. Measured on this platform (glibc, 10⁶ arguments
//! per function over the ranges the ops use, `scale-core/tests/libm_ulps.rs`): `f64` `tanh` up to
//! 2.17 ulps, `exp`/`ln`/`ln_1p` below 1. This is an explicit assumption, checked by the test
//! suite (10⁴ arguments per function in every run); change it per graph with
//! [`Config::with_assumed_ulps`](crate::config::Config::with_assumed_ulps).

use crate::round::{add_down, add_up, div_down, div_up};
use dashu_float::FBig;
use dashu_float::round::mode::{Down, Up};

type Lo = FBig<Down, 2>;
type Hi = FBig<Up, 2>;

/// Bits kept by the big-float evaluations: the width of an `f64` significand, so that the
/// directed result converts to `f64` exactly (or with the same direction near over/underflow).
const PREC: usize = 53;

/// `eˣ` in `f64`, for every reference and enclosure that charges the libm assumption
/// ([`assumed_ulps`]): the pure-Rust `libm` crate's `exp` (musl's algorithm, below 1 ulp;
/// measured by the `libm_ulps` test). Not the platform's: glibc's `exp` ran ~30× slower after an
/// AVX-512 GEMM that leaves the upper vector registers dirty (faer's `private-gemm-x86`, no
/// longer built: `kernel.rs`) — it was a third of a certified transformer step. The workspace's `clippy.toml` rejects `f64::exp`, so this stays
/// the one `f64` exponential.
///
/// ```
/// assert_eq!(scale_core::scalar::exp64(0.0), 1.0);
/// assert!((scale_core::scalar::exp64(1.0) - std::f64::consts::E).abs() <= 4.5e-16);
/// ```
#[inline]
pub fn exp64(x: f64) -> f64 {
    libm::exp(x)
}

/// The accuracy, in `f64` ulps per call, assumed for the `f64` elementary functions (the
/// platform's `ln`, `ln_1p`, `tanh`; [`exp64`] and the `libm` crate's `erf`, `erfc`), which compute the references that narrow runtime results are
/// measured against (see the module docs), by the bound computation running on this thread: its
/// [`Config`](crate::config::Config)'s, or the default 4 outside one. Set it per graph with
/// [`Config::with_assumed_ulps`](crate::config::Config::with_assumed_ulps).
///
/// ```
/// assert_eq!(scale_core::assumed_ulps(), 4.0);
/// ```
pub fn assumed_ulps() -> f64 {
    crate::config::current().assumed_ulps()
}

fn lo_of(x: f64) -> Lo {
    // `x` is finite here; conversion is exact, then the working precision is fixed.
    Lo::try_from(x)
        .map(|v| v.with_precision(PREC).value())
        .unwrap_or(Lo::ZERO)
}

fn hi_of(x: f64) -> Hi {
    Hi::try_from(x)
        .map(|v| v.with_precision(PREC).value())
        .unwrap_or(Hi::ZERO)
}

/// Largest `f64` not above `v` (checked exactly, whatever the conversion did at the range ends).
fn lo_to_f64(v: &Lo) -> f64 {
    let mut r = v.to_f64().value();
    while r.is_finite() && Lo::try_from(r).is_ok_and(|rr| rr > *v) {
        r = r.next_down();
    }
    if r == f64::INFINITY && !v.repr().is_infinite() {
        r = f64::MAX;
    }
    r
}

/// Smallest `f64` not below `v`.
fn hi_to_f64(v: &Hi) -> f64 {
    let mut r = v.to_f64().value();
    while r.is_finite() && Hi::try_from(r).is_ok_and(|rr| rr < *v) {
        r = r.next_up();
    }
    if r == f64::NEG_INFINITY && !v.repr().is_infinite() {
        r = f64::MIN;
    }
    r
}

/// `eˣ` rounded down.
pub(crate) fn exp_down(x: f64) -> f64 {
    if x == f64::NEG_INFINITY || x < -746.0 {
        return 0.0;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x > 710.0 {
        return f64::MAX;
    }
    lo_to_f64(&lo_of(x).exp())
}

/// `eˣ` rounded up.
pub(crate) fn exp_up(x: f64) -> f64 {
    if x == f64::NEG_INFINITY {
        return 0.0;
    }
    if x < -746.0 {
        return f64::from_bits(1);
    }
    if x == 0.0 {
        return 1.0;
    }
    if x > 710.0 {
        return f64::INFINITY;
    }
    hi_to_f64(&hi_of(x).exp())
}

fn expm1_down(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    if x < -40.0 {
        return -1.0;
    }
    if x > 710.0 {
        return f64::MAX;
    }
    lo_to_f64(&lo_of(x).exp_m1())
}

fn expm1_up(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    if x < -40.0 {
        return (-1.0f64).next_up();
    }
    if x > 710.0 {
        return f64::INFINITY;
    }
    hi_to_f64(&hi_of(x).exp_m1())
}

/// `ln x` rounded down (`x > 0`).
pub(crate) fn ln_down(x: f64) -> f64 {
    if x == f64::INFINITY {
        return f64::MAX;
    }
    if x == 1.0 {
        return 0.0;
    }
    lo_to_f64(&lo_of(x).ln())
}

/// `ln x` rounded up (`x > 0`).
pub(crate) fn ln_up(x: f64) -> f64 {
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    if x == 1.0 {
        return 0.0;
    }
    hi_to_f64(&hi_of(x).ln())
}

fn ln1p_down(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    if x == f64::INFINITY {
        return f64::MAX;
    }
    lo_to_f64(&lo_of(x).ln_1p())
}

fn ln1p_up(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    hi_to_f64(&hi_of(x).ln_1p())
}

/// `tanh x` rounded down, via `tanh x = m / (m + 2)` with `m = expm1(2x)` for `x ≥ 0` (no
/// cancellation near 0) and oddness below.
pub(crate) fn tanh_down(x: f64) -> f64 {
    if x < 0.0 {
        return -tanh_up(-x);
    }
    if x > 20.0 {
        // tanh x ≥ 1 − 2e^{−2x} > 1 − 2^-57 for x > 20: the largest f64 below 1 is a lower bound.
        return (1.0f64).next_down();
    }
    let m = expm1_down(2.0 * x); // doubling is exact below the overflow threshold
    div_down(m, add_up(m, 2.0)).max(0.0)
}

/// `tanh x` rounded up.
pub(crate) fn tanh_up(x: f64) -> f64 {
    if x < 0.0 {
        return -tanh_down(-x);
    }
    if x > 20.0 {
        return 1.0;
    }
    if x != 0.0 && x < 1e-300 {
        // 2x may be subnormal and inexact; tanh x ≤ x.
        return x;
    }
    let m = expm1_up(2.0 * x);
    div_up(m, add_down(m, 2.0)).min(1.0)
}

/// `σ(x) = 1 / (1 + e⁻ˣ)` rounded down.
pub(crate) fn sigmoid_down(x: f64) -> f64 {
    if x >= 0.0 {
        div_down(1.0, add_up(1.0, exp_up(-x)))
    } else {
        // e^x / (1 + e^x): relative accuracy for very negative x.
        div_down(exp_down(x), add_up(1.0, exp_up(x)))
    }
}

/// `σ(x)` rounded up.
pub(crate) fn sigmoid_up(x: f64) -> f64 {
    if x >= 0.0 {
        div_up(1.0, add_down(1.0, exp_down(-x))).min(1.0)
    } else {
        div_up(exp_up(x), add_down(1.0, exp_down(x)))
    }
}

/// `softplus(x) = ln(1 + eˣ)` rounded down.
pub(crate) fn softplus_down(x: f64) -> f64 {
    if x > 0.0 {
        // x + ln1p(e^{-x}) avoids overflow of e^x.
        add_down(x, ln1p_down(exp_down(-x)))
    } else {
        ln1p_down(exp_down(x))
    }
}

/// `softplus(x)` rounded up.
pub(crate) fn softplus_up(x: f64) -> f64 {
    if x > 0.0 {
        add_up(x, ln1p_up(exp_up(-x)))
    } else {
        ln1p_up(exp_up(x))
    }
}

/// Enclosure of a monotone increasing function over an interval.
///
/// `down` and `up` accept infinite arguments and return the limits there (`tanh_up(+∞) = 1`,
/// `sigmoid_down(−∞) = 0`, `exp_up(+∞) = +∞`, …), so a half-infinite input interval gives the
/// bounded enclosure a bounded function has (`tanh([0, +∞]) = [0, 1]`), not `+∞`.
pub(crate) fn monotone_up(
    x: super::Interval,
    down: fn(f64) -> f64,
    up: fn(f64) -> f64,
) -> super::Interval {
    let hi = up(x.hi());
    let lo = down(x.lo());
    super::Interval::new(lo.min(hi), hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_libm() {
        for &x in &[
            -800.0, -745.0, -20.0, -1.0, -1e-300, 1e-310, 1e-8, 0.5, 1.0, 3.0, 50.0, 709.0,
        ] {
            let (lo, hi) = (exp_down(x), exp_up(x));
            assert!(
                lo <= hi && (hi == lo || hi <= lo.next_up()) || x.abs() > 700.0,
                "{x}"
            );
            let e = exp64(x);
            assert!(lo <= e.next_up() && e.next_down() <= hi, "exp {x}");
            let (lo, hi) = (tanh_down(x), tanh_up(x));
            let t = x.tanh();
            assert!(
                lo <= t.next_up() && t.next_down() <= hi,
                "tanh {x}: {lo} {t} {hi}"
            );
            let (lo, hi) = (sigmoid_down(x), sigmoid_up(x));
            assert!(lo <= hi, "sigmoid {x}");
            let (lo, hi) = (softplus_down(x), softplus_up(x));
            assert!(lo <= hi && lo >= 0.0, "softplus {x}");
        }
        for &x in &[1e-300, 0.5, 1.0, 2.0, 1e300] {
            let (lo, hi) = (ln_down(x), ln_up(x));
            let l = x.ln();
            assert!(
                lo <= l.next_up() && l.next_down() <= hi && lo <= hi,
                "ln {x}"
            );
        }
        // Limits at ±∞ (used for half-infinite intervals).
        assert_eq!(
            (exp_down(f64::NEG_INFINITY), exp_up(f64::INFINITY)),
            (0.0, f64::INFINITY)
        );
        assert_eq!(
            (tanh_down(f64::NEG_INFINITY), tanh_up(f64::INFINITY)),
            (-1.0, 1.0)
        );
        assert_eq!(
            (sigmoid_down(f64::NEG_INFINITY), sigmoid_up(f64::INFINITY)),
            (0.0, 1.0)
        );
        assert_eq!(softplus_down(f64::NEG_INFINITY), 0.0);
        assert_eq!(
            (ln_up(f64::INFINITY), softplus_up(f64::INFINITY)),
            (f64::INFINITY, f64::INFINITY)
        );
        // Relative accuracy near 0 (no cancellation): a few ulps wide.
        assert!(tanh_down(1e-10) > 0.0 && tanh_up(1e-10) - tanh_down(1e-10) < 1e-25);
    }

    /// Regression (issue #9, undecidable harness checks): `tanh`/`sigmoid` of a half-infinite
    /// interval were `+∞` above although both functions are bounded.
    #[test]
    fn bounded_functions_of_unbounded_intervals() {
        use crate::{Interval, SpecScalar};
        let right = Interval::new(0.5, f64::INFINITY);
        let left = Interval::new(f64::NEG_INFINITY, 0.5);
        let t = right.tanh();
        assert!(t.hi() == 1.0 && t.lo() > 0.46, "{t:?}");
        assert_eq!(Interval::ENTIRE.tanh(), Interval::new(-1.0, 1.0));
        let s = right.sigmoid();
        assert!(s.hi() == 1.0 && s.lo() > 0.62, "{s:?}");
        assert_eq!(Interval::ENTIRE.sigmoid(), Interval::new(0.0, 1.0));
        let sp = left.softplus();
        assert!(sp.lo() == 0.0 && sp.hi() < 0.98 && sp.hi() > 0.97, "{sp:?}");
        assert_eq!(left.exp().lo(), 0.0);
        assert!(right.softplus().hi() == f64::INFINITY && right.exp().hi() == f64::INFINITY);
    }
}
