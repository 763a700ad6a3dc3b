//! Default accumulation rules for backprop (SPEC §4: "`add` is the accumulation rule for bounds").
//!
//! When node `k`'s VJP `v` is added into an earlier cotangent `c`, the runtime computes
//! `fl(c + v)` entrywise. Both rules receive the bounds of `c` and `v` and the two runtime tensors.

use crate::bound::Bound;
use crate::scalar::Runtime;
use ndarray::{ArrayD, Zip};

/// Visit `(c_i, v_i)` pairs: over plain slices when both arrays are contiguous in the same order
/// (fast), else through `Zip`.
#[inline]
fn zip_elems<R: Runtime>(c: &ArrayD<R>, v: &ArrayD<R>, mut f: impl FnMut(R, R)) {
    if c.is_standard_layout()
        && v.is_standard_layout()
        && let (Some(cs), Some(vs)) = (c.as_slice(), v.as_slice())
    {
        cs.iter().zip(vs).for_each(|(&a, &b)| f(a, b));
        return;
    }
    Zip::from(c).and(v).for_each(|&a, &b| f(a, b));
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
/// ```
pub fn eps_add<R: Runtime>(e_c: Bound, e_v: Bound, c: &ArrayD<R>, v: &ArrayD<R>) -> Bound {
    let mut m = 0.0f64;
    let mut finite = true;
    zip_elems(c, v, |a, b| {
        let s = a + b;
        finite &= s.is_finite();
        if a != R::zero() && b != R::zero() {
            // |a + b| ≤ |a| + |b|, and |fl(a + b) − (a + b)| ≤ u·|a + b| (no underflow term for sums).
            m = m.max(crate::round::add_up(a.to_spec().abs(), b.to_spec().abs()));
        }
    });
    if !finite {
        return Bound::INF;
    }
    e_c + e_v + Bound::new(m).scale(R::U)
}

/// Sound scale rule: `max(b_c + b_v, max |fl(c_i + v_i)|)`: the spec sum is bounded by
/// `b_c + b_v`, the runtime sum is measured exactly; `+∞` if a sum is not finite.
pub fn scale_add<R: Runtime>(b_c: Bound, b_v: Bound, c: &ArrayD<R>, v: &ArrayD<R>) -> Bound {
    let m = if c.is_standard_layout()
        && v.is_standard_layout()
        && let (Some(cs), Some(vs)) = (c.as_slice(), v.as_slice())
    {
        // 8 independent lanes, so the loop vectorises.
        let mut mx = [0.0f64; 8];
        let mut bad = false;
        for (cc, vv) in cs.chunks(8).zip(vs.chunks(8)) {
            for (l, (&a, &b)) in cc.iter().zip(vv).enumerate() {
                let s = (a + b).to_spec().abs();
                bad |= !s.is_finite();
                mx[l] = if s > mx[l] { s } else { mx[l] };
            }
        }
        if bad {
            f64::INFINITY
        } else {
            mx.iter().fold(0.0, |x, &y| if y > x { y } else { x })
        }
    } else {
        let mut m = 0.0f64;
        zip_elems(c, v, |a, b| {
            let s = (a + b).to_spec().abs();
            m = if s > m || !s.is_finite() { s } else { m };
        });
        m
    };
    if !m.is_finite() {
        return Bound::INF;
    }
    (b_c + b_v).max(Bound::new(m))
}
