//! Default accumulation rules for backprop (SPEC §4: "`add` is the accumulation rule for bounds").
//!
//! When node `k`'s VJP `v` is added into an earlier cotangent `c`, the runtime computes
//! `fl(c + v)` entrywise. Both rules receive the bounds of `c` and `v` and the two runtime tensors.

use crate::bound::{Bound, inflate};
use crate::ops::util::{lanes_max2, nan_max};
use crate::scalar::Runtime;
use ndarray::{ArrayD, Zip};

/// `max f(cᵢ, vᵢ)` of nonnegative terms, NaN-propagating: over plain slices in 8 lanes when
/// both arrays are contiguous in the same order (these rules run on every accumulation; one
/// compare at a time with a directed rounding per entry was 5 % of an order-free transformer
/// step), else through `Zip`.
#[inline]
fn max_pairs<R: Runtime>(c: &ArrayD<R>, v: &ArrayD<R>, f: impl Fn(R, R) -> f64) -> f64 {
    if c.is_standard_layout()
        && v.is_standard_layout()
        && let (Some(cs), Some(vs)) = (c.as_slice(), v.as_slice())
    {
        return lanes_max2(cs, vs, f);
    }
    let mut m = 0.0f64;
    Zip::from(c)
        .and(v)
        .for_each(|&a, &b| m = nan_max(m, f(a, b)));
    m
}

/// Sound eps rule: `e_c + e_v + u · max |c_i + v_i|` over the entries where the runtime addition can
/// round (both operands nonzero); `+∞` if a sum is not finite.
///
/// ```
/// use ndarray::arr1;
/// use scale_core::{eps_add, Bound};
/// let c = arr1(&[1.0f32, 0.0]).into_dyn();
/// let v = arr1(&[2.0f32, 5.0]).into_dyn();
/// let e = eps_add::<f32>(Bound::new(1e-6), Bound::new(1e-6), &c, &v);
/// assert!(e.get() >= 2e-6 + 3.0 * 2f64.powi(-24));
/// // Adding into zeros cannot round: the bound is exactly the addend's.
/// let zeros = arr1(&[0.0f32, 0.0]).into_dyn();
/// assert_eq!(eps_add::<f32>(Bound::ZERO, Bound::new(1e-6), &zeros, &v), Bound::new(1e-6));
/// ```
pub fn eps_add<R: Runtime>(e_c: Bound, e_v: Bound, c: &ArrayD<R>, v: &ArrayD<R>) -> Bound {
    // |a + b| ≤ |a| + |b|, and |fl(a + b) − (a + b)| ≤ u·|a + b| (no underflow term for sums).
    // `|a| + |b|` in plain f64 is within one rounding of the exact sum (`inflate` covers it);
    // a sum that is not finite gives +∞.
    let m = max_pairs(c, v, |a, b| {
        if !(a + b).is_finite() {
            f64::INFINITY
        } else if a != R::zero() && b != R::zero() {
            a.to_spec().abs() + b.to_spec().abs()
        } else {
            0.0
        }
    });
    if !m.is_finite() {
        return Bound::INF;
    }
    // No entry can round (m = 0): nothing added, not even `inflate`'s subnormal slack, so adding
    // into zeros stays exact (`add(0, e, zeros, v) = e`, which `Track::exact_into_zero` relies on).
    let round = if m > 0.0 {
        inflate(m, 1).scale(R::U)
    } else {
        Bound::ZERO
    };
    e_c + e_v + round
}

/// Sound scale rule: `max(b_c + b_v, max |fl(c_i + v_i)|)`: the spec sum is bounded by
/// `b_c + b_v`, the runtime sum is measured exactly; `+∞` if a sum is not finite.
pub fn scale_add<R: Runtime>(b_c: Bound, b_v: Bound, c: &ArrayD<R>, v: &ArrayD<R>) -> Bound {
    let m = max_pairs(c, v, |a, b| (a + b).to_spec().abs());
    if !m.is_finite() {
        return Bound::INF;
    }
    (b_c + b_v).max(Bound::new(m))
}
