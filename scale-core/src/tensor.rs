//! Norms and finiteness of runtime tensors: what the graph engine, the certified pass and the
//! reports measure on values, kept apart from the ops so that neither depends on the other.

use crate::bound::Bound;
use crate::scalar::Runtime;
use ndarray::ArrayD;

/// `max |a_i|` as a bound (`+∞` if any element is not finite).
///
/// ```
/// use ndarray::arr1;
/// let b = scale_core::tensor::linf(&arr1(&[1.0f32, -3.0]).into_dyn());
/// assert_eq!(b.get(), 3.0);
/// ```
pub fn linf<R: Runtime>(a: &ArrayD<R>) -> Bound {
    let m = match a.as_slice_memory_order() {
        Some(s) => max_abs(s),
        None => a.iter().fold(0.0f64, |m, x| {
            let v = x.to_spec().abs();
            if v > m || v.is_nan() { v } else { m }
        }),
    };
    // NaN and ∞ both come out as a non-finite maximum.
    if m.is_finite() {
        Bound::new(m)
    } else {
        Bound::INF
    }
}

/// `max |xᵢ|` over a slice (NaN if any element is NaN), with 8 independent lanes so the loop
/// vectorises.
pub(crate) fn max_abs<R: Runtime>(xs: &[R]) -> f64 {
    let mut mx = [0.0f64; 8];
    let mut nan = false;
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            let v = c[l].to_spec().abs();
            nan |= v.is_nan();
            mx[l] = if v > mx[l] { v } else { mx[l] };
        }
    }
    for (l, x) in rest.iter().enumerate() {
        let v = x.to_spec().abs();
        nan |= v.is_nan();
        mx[l] = if v > mx[l] { v } else { mx[l] };
    }
    if nan {
        return f64::NAN;
    }
    mx.iter().fold(0.0, |a, &b| if b > a { b } else { a })
}

/// Whether every element is finite.
pub(crate) fn all_finite<R: Runtime>(a: &ArrayD<R>) -> bool {
    fold_elems(a, true, |ok, x| ok & x.is_finite())
}

/// Whether every element is exactly zero (a NaN is not).
pub(crate) fn is_zero<R: Runtime>(a: &ArrayD<R>) -> bool {
    fold_elems(a, true, |ok, x| ok & (x.to_spec() == 0.0))
}

/// Fold over the elements in memory order: a tight loop over a slice when the array is contiguous
/// (iterating a dynamic-rank array element by element is several times slower).
#[inline]
pub(crate) fn fold_elems<R: Copy, T>(a: &ArrayD<R>, init: T, f: impl Fn(T, R) -> T) -> T {
    match a.as_slice_memory_order() {
        Some(s) => s.iter().fold(init, |acc, &x| f(acc, x)),
        None => a.iter().fold(init, |acc, &x| f(acc, x)),
    }
}
