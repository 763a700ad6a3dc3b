//! Shared pieces of op implementations: views, norms, and rigorous upper bounds on quantities
//! computed in plain floating point.

use crate::bound::Bound;
use crate::handle::Arg;
use crate::scalar::Runtime;
use ndarray::{Array2, ArrayD, ArrayView1, ArrayView2, Ix1, Ix2};

/// The context tensor an argument refers to.
#[inline]
pub(crate) fn at<'a, T>(ctx: &'a [ArrayD<T>], a: &Arg) -> &'a ArrayD<T> {
    &ctx[a.pos]
}

/// A rank-2 view (the node was typed against a rank-2 shape).
#[inline]
pub(crate) fn view2<T>(a: &ArrayD<T>) -> ArrayView2<'_, T> {
    a.view()
        .into_dimensionality::<Ix2>()
        .expect("invariant: entry has the rank its handle was typed with")
}

/// A rank-1 view.
#[inline]
pub(crate) fn view1<T>(a: &ArrayD<T>) -> ArrayView1<'_, T> {
    a.view()
        .into_dimensionality::<Ix1>()
        .expect("invariant: entry has the rank its handle was typed with")
}

/// `max |a_i|` as a bound (`+∞` if any element is not finite).
///
/// ```
/// use ndarray::arr1;
/// let b = scale_core::ops::util::linf(&arr1(&[1.0f32, -3.0]).into_dyn());
/// assert_eq!(b.get(), 3.0);
/// ```
pub fn linf<R: Runtime>(a: &ArrayD<R>) -> Bound {
    let mut m = 0.0f64;
    for &x in a.iter() {
        let v = x.to_spec().abs();
        if !(v <= m) {
            if v.is_nan() || v.is_infinite() {
                return Bound::INF;
            }
            m = v;
        }
    }
    Bound::new(m)
}

/// Whether every element is finite.
pub(crate) fn all_finite<R: Runtime>(a: &ArrayD<R>) -> bool {
    a.iter().all(|x| x.is_finite())
}

/// Upper bound on the exact value of a nonnegative quantity `c` that was computed in `f64`
/// round-to-nearest with at most `ops` roundings (sums and products of nonnegative terms):
/// `(c + ops·2⁻¹⁰⁷⁴) · (1 + (ops + 1)·2⁻⁵³)`, rounded up; NaN gives `+∞`.
///
/// This is what lets bounds be computed at plain-float speed and still be rigorous.
#[inline]
pub(crate) fn inflate(c: f64, ops: usize) -> Bound {
    if c.is_nan() {
        return Bound::INF;
    }
    let under = Bound::new(ops as f64 * 5e-324);
    (Bound::new(c) + under).widen((ops as f64 + 1.0) * 1.1102230246251565e-16)
}

/// Sum of `|a_i|` as an `f64` (inflate with `a.len()` operations for an upper bound).
pub(crate) fn abs_sum<R: Runtime>(a: &ArrayD<R>) -> f64 {
    a.iter().map(|x| x.to_spec().abs()).sum()
}

/// Upper bound on the rounding error of one product `fl(a·b)` with `|a·b| ≤ m`: `u·m + η`.
#[inline]
pub(crate) fn product_rounding<R: Runtime>(m: Bound) -> Bound {
    m.scale(R::U) + Bound::new(R::ETA)
}

/// Upper bound on `|Σ a_i b_i − fl(Σ a_i b_i)|` for a length-`n` dot product in any order, with
/// or without FMA, given an upper bound `s` on `Σ |a_i b_i|`: `γ_n · s + 2n·η`.
#[inline]
pub(crate) fn dot_rounding<R: Runtime>(n: usize, s: Bound) -> Bound {
    Bound::gamma(n, R::U) * s + Bound::new(R::ETA).scale(2.0 * n as f64)
}

/// Upper bound on the magnitude of a length-`n` dot product of factors bounded by `ba` and `bb`,
/// valid for the spec value and for the runtime value (which adds its rounding).
#[inline]
pub(crate) fn dot_scale<R: Runtime>(n: usize, ba: Bound, bb: Bound) -> Bound {
    let s = (ba * bb).scale(n as f64);
    s + dot_rounding::<R>(n, s)
}

/// Elementwise error of a product of two approximate tensors (broadcast-free, same shape):
/// `max_i [ε_a(|b̂_i| + ε_b) + |â_i| ε_b + u|â_i b̂_i| + η]`.
pub(crate) fn product_eps<R: Runtime>(a: &ArrayD<R>, ea: Bound, b: &ArrayD<R>, eb: Bound) -> Bound {
    let (fa, fb) = (ea.get(), eb.get());
    let mut m = 0.0f64;
    for (&x, &y) in a.iter().zip(b.iter()) {
        let (x, y) = (x.to_spec().abs(), y.to_spec().abs());
        let t = fa * y + x * fb + R::U * (x * y);
        if !(t <= m) {
            m = t;
        }
    }
    // 6 roundings per term; the ε_a·ε_b term and the underflow term are added exactly after.
    inflate(m, 6) + ea * eb + Bound::new(R::ETA)
}

/// Upper bounds on `(|A| · |B|)_ij` for runtime matrices, computed with the runtime GEMM on the
/// absolute values and inflated by that GEMM's own worst-case rounding (`k` = inner dimension).
#[allow(dead_code)] // used by matmul
pub(crate) fn abs_matmul_upper<R: Runtime>(
    a: ArrayView2<'_, R>,
    b: ArrayView2<'_, R>,
) -> Array2<Bound> {
    let k = a.ncols();
    let c = R::matmul(a.mapv(|x| x.abs()).view(), b.mapv(|x| x.abs()).view());
    // fl(S) ≥ (1 − γ_k)·S − k·η, so S ≤ (fl(S) + k·η) / (1 − γ_k).
    let g = Bound::gamma(k, R::U);
    let denom = crate::round::sub_down(1.0, g.get());
    let kx = Bound::new(R::ETA).scale(k as f64);
    c.mapv(|v| {
        if denom <= 0.0 || !v.is_finite() {
            Bound::INF
        } else {
            (Bound::new(v.to_spec()) + kx) / Bound::new(denom)
        }
    })
}
