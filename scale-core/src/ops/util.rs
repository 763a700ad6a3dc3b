//! Shared pieces of op implementations: views, norms, and rigorous upper bounds on quantities
//! computed in plain floating point.

use crate::bound::Bound;
use crate::handle::Arg;
use crate::scalar::Runtime;
use ndarray::{ArrayD, ArrayView1, ArrayView2, Ix1, Ix2};

/// The phantom marker op structs carry (variance-neutral, `Send + Sync`).
pub(crate) type Ph<T> = std::marker::PhantomData<fn() -> T>;

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

/// Fold over the elements in memory order: a tight loop over a slice when the array is contiguous
/// (iterating a dynamic-rank array element by element is several times slower).
#[inline]
pub(crate) fn fold_elems<R: Copy, T>(a: &ArrayD<R>, init: T, f: impl Fn(T, R) -> T) -> T {
    match a.as_slice_memory_order() {
        Some(s) => s.iter().fold(init, |acc, &x| f(acc, x)),
        None => a.iter().fold(init, |acc, &x| f(acc, x)),
    }
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

// ---------------------------------------------------------------------------------------------
// Reference-based local error bounds (used by every op).
//
// The runtime result `v̂` of a short product/quotient chain (or of one addition) is compared with
// an `f64` re-evaluation `w` of the same real expression on the same runtime operands. `w` has a
// relative error of at most a few `f64` roundings (plus `f64` underflow, covered by the absolute
// `TINY` term), so `|exact − v̂| ≤ |v̂ − w| + rel·|w| + TINY`. For `f32`/`bf16`/`f16` runtimes this
// is (nearly) the actual rounding error; for an `f64` runtime `v̂ = w` and the bound reduces to the
// usual `u·|v̂|` model. Every such per-entry quantity is computed in plain `f64` from nonnegative
// terms and finished with [`inflate`].
// ---------------------------------------------------------------------------------------------

/// `f64` unit roundoff.
pub(crate) const U64: f64 = 1.1102230246251565e-16;

/// Absolute slack covering `f64` underflow in reference evaluations (far below any runtime ulp).
pub(crate) const TINY: f64 = 1e-300;

/// Relative accuracy assumed for an `f64` reference value computed with the platform `f64` libm
/// and at most a few more roundings: `(4·assumed_ulps + 8)·2⁻⁵³` (SPEC §5's libm assumption,
/// applied to `f64`; checked by the test suite).
#[inline]
pub(crate) fn libm_rel() -> f64 {
    (4.0 * crate::scalar::assumed_ulps() + 8.0) * U64
}

/// An upper bound on a nonnegative quantity `v` computed with the `f64` libm and a few roundings
/// (NaN → `+∞`).
#[inline]
pub(crate) fn up(v: f64) -> f64 {
    if v.is_nan() {
        f64::INFINITY
    } else {
        v.abs() * (1.0 + libm_rel()) + TINY
    }
}

/// Bound (not yet inflated) on `|v̂ − z|` where `z` is the exact real value that `w` approximates
/// with relative error ≤ `rel` (plus `TINY`).
///
/// `ENCL·|w|` is added on top: the interval spec's own outward rounding (one `f64` ulp per
/// endpoint per operation) makes its enclosures slightly wider than the exact value, and SPEC §6
/// asks bounds to cover the whole enclosure.
#[inline]
pub(crate) fn ref_dist(v: f64, w: f64, rel: f64) -> f64 {
    (v - w).abs() + (rel + ENCL) * w.abs() + TINY
}

/// A spec-side scale bound widened for the interval spec's own outward rounding (SPEC §6: the
/// bound must cover the whole enclosure, which may exceed the exact value by a few ulps per
/// operation).
#[inline]
pub(crate) fn spec_b(b: Bound) -> Bound {
    b.widen(1e-9) + Bound::new(TINY)
}

/// Relative slack for the interval spec's outward rounding (a few `f64` ulps per operation).
pub(crate) const ENCL: f64 = 8.0 * U64;

/// `γ` for the interval spec's outward rounding of an `n`-term sum (4 ulps of each partial sum,
/// bounded by `Σ|terms|`).
#[inline]
pub(crate) fn encl_gamma(n: usize) -> Bound {
    Bound::gamma(4 * n + 4, U64)
}

/// Bound on `|v̂ − a·b|` (exact product of the runtime operands).
#[inline]
pub(crate) fn prod_err(v: f64, a: f64, b: f64) -> f64 {
    ref_dist(v, a * b, U64)
}

/// Bound on `|v̂ − (a + b)|`.
#[inline]
pub(crate) fn sum2_err(v: f64, a: f64, b: f64) -> f64 {
    ref_dist(v, a + b, U64)
}

/// Bound on `|v̂ − a/b|` (`b ≠ 0`).
#[inline]
pub(crate) fn div_err(v: f64, a: f64, b: f64) -> f64 {
    ref_dist(v, a / b, U64)
}

/// Max of nonnegative per-entry terms, NaN-propagating (a NaN term makes the result NaN, which
/// [`inflate`] turns into `+∞`).
#[inline]
pub(crate) fn nan_max(m: f64, t: f64) -> f64 {
    if m.is_nan() || t <= m { m } else { t }
}

/// Whether a-posteriori measurement applies to runtime `R` (narrower than `f64`, and the mode is
/// [`DotBound::APosteriori`](crate::config::DotBound)).
#[inline]
pub(crate) fn a_posteriori<R: Runtime>() -> bool {
    R::U > 1e-12 && crate::config::dot_bound_mode() == crate::config::DotBound::APosteriori
}

/// Rigorous bound on `|Σ xᵢ − ŝ|` for runtime summands `xᵢ` (as `f64`) and the runtime sum `ŝ`
/// computed in any order: a posteriori (`|ŝ − s₆₄| + γₙ^{f64}Σ|xᵢ|`) or order-free
/// (`γ_{n−1}·Σ|xᵢ|`; sums have no underflow term).
pub(crate) fn sum_err<R: Runtime>(xs: impl Iterator<Item = f64>, s_hat: f64) -> Bound {
    let (mut s, mut a, mut n) = (0.0f64, 0.0f64, 0usize);
    for x in xs {
        s += x;
        a += x.abs();
        n += 1;
    }
    if !s_hat.is_finite() || a.is_nan() {
        return Bound::INF;
    }
    let abs = inflate(a, n);
    let slack = encl_gamma(n) * abs;
    if a_posteriori::<R>() {
        inflate((s_hat - s).abs(), 1) + Bound::gamma(n, U64) * abs + slack
    } else {
        Bound::gamma(n.saturating_sub(1), R::U) * abs + slack
    }
}

/// Rigorous bound on `|Σ aᵢbᵢ − ŝ|` for a runtime dot product `ŝ` of runtime operands.
pub(crate) fn dot_err<R: Runtime>(pairs: impl Iterator<Item = (f64, f64)>, s_hat: f64) -> Bound {
    let (mut s, mut a, mut n) = (0.0f64, 0.0f64, 0usize);
    for (x, y) in pairs {
        s += x * y;
        a += (x * y).abs();
        n += 1;
    }
    if !s_hat.is_finite() || a.is_nan() {
        return Bound::INF;
    }
    let abs = inflate(a, 2 * n);
    let slack = encl_gamma(2 * n) * abs;
    if a_posteriori::<R>() {
        // Products of two narrow values are exact in f64; only the f64 summation rounds.
        inflate((s_hat - s).abs(), 1) + Bound::gamma(n, U64) * abs + slack
    } else {
        Bound::gamma(n, R::U) * abs + Bound::new(R::ETA).scale(2.0 * n as f64) + slack
    }
}

/// Error of a runtime matrix product `Ĉ = fl(Â·B̂)` against the exact product of the spec
/// operands, `|A − Â| ≤ εa`, `|B − B̂| ≤ εb` entrywise:
/// `max_ij [εa·Σₗ|B̂ₗⱼ| + εb·Σₗ|Âᵢₗ| + localᵢⱼ] + k·εa·εb`, where `localᵢⱼ` is the rounding error
/// of entry `(i, j)` — measured a posteriori against an `f64` recomputation (narrow runtimes) or
/// bounded order-free by `γₖ(|Â||B̂|)ᵢⱼ + 2kη`.
pub(crate) fn gemm_eps<R: Runtime>(
    a: ArrayView2<'_, R>,
    ea: Bound,
    b: ArrayView2<'_, R>,
    eb: Bound,
    c: ArrayView2<'_, R>,
) -> Bound {
    let k = a.ncols();
    if ea.is_infinite() || eb.is_infinite() || !c.iter().all(|x| x.is_finite()) {
        return Bound::INF;
    }
    // Propagation terms need Σₗ|Âᵢₗ| and Σₗ|B̂ₗⱼ|; the a-posteriori mode also max |B̂|.
    let sa = AbsStats::of(a);
    let sb = AbsStats::of(b);
    // Overflowing sums would turn into NaNs below (0·∞), which `lanes_max` must never see.
    let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
    if !(finite(&sa.row_sum) && finite(&sb.col_sum) && sa.max.is_finite() && sb.max.is_finite()) {
        return Bound::INF;
    }
    let (fa, fb) = (ea.get(), eb.get());
    let mut m = 0.0f64;
    let sl = encl_gamma(2 * k).get();
    if a_posteriori::<R>() {
        // One f64 GEMM of the runtime operands (their products are exact in f64). Its own error is
        // at most γₖ^{f64}·Σₗ|âᵢₗ||b̂ₗⱼ| ≤ γₖ^{f64}·(Σₗ|âᵢₗ|)·max|B̂|: negligible, and cheap.
        let c64 = crate::kernel::matmul(
            a.mapv(|x| x.to_spec()).view(),
            b.mapv(|x| x.to_spec()).view(),
        );
        let g = Bound::gamma(k, U64).get() + sl;
        for (i, (ci, c64i)) in c.rows().into_iter().zip(c64.rows()).enumerate() {
            let ra = sa.row_sum[i];
            let row = match (ci.to_slice(), c64i.to_slice()) {
                (Some(cs), Some(ds)) => lanes_max(cs.len(), |j| {
                    fa * sb.col_sum[j] + (cs[j].to_spec() - ds[j]).abs()
                }),
                _ => lanes_max(ci.len(), |j| {
                    fa * sb.col_sum[j] + (ci[j].to_spec() - c64i[j]).abs()
                }),
            };
            m = m.max(row + fb * ra + g * ra * sb.max);
        }
    } else {
        // One runtime-precision GEMM of the absolute values. Its own rounding: fl(S) ≥ (1 − γₖ)S − kη,
        // so S ≤ (fl(S) + kη)·F with F = 1/(1 − γₖ) rounded up; the two plain f64 operations per
        // entry are counted in the final `inflate`.
        let s = R::matmul(a.mapv(|x| x.abs()).view(), b.mapv(|x| x.abs()).view());
        let denom = crate::round::sub_down(1.0, Bound::gamma(k, R::U).get());
        if denom <= 0.0 {
            return Bound::INF;
        }
        let f = crate::round::div_up(1.0, denom);
        let kx = k as f64 * R::ETA;
        let g = Bound::gamma(k, R::U).get() + sl;
        for (i, si) in s.rows().into_iter().enumerate() {
            let si = si.to_slice().expect("a fresh GEMM result is contiguous");
            let row = lanes_max(si.len(), |j| {
                fa * sb.col_sum[j] + g * ((si[j].to_spec() + kx) * f)
            });
            m = m.max(row + fb * sa.row_sum[i]);
        }
        m += 2.0 * k as f64 * R::ETA;
        if s.iter().any(|x| !x.is_finite()) {
            return Bound::INF;
        }
    }
    if m.is_nan() {
        return Bound::INF;
    }
    inflate(m, 2 * k + 10) + (ea * eb).scale(k as f64)
}

/// `max_{j<n} f(j)` with 8 independent lanes (vectorises). `f` must not return NaN: callers
/// guarantee finite, nonnegative terms.
#[inline]
fn lanes_max(n: usize, f: impl Fn(usize) -> f64) -> f64 {
    let mut mx = [0.0f64; 8];
    let full = n - n % 8;
    for base in (0..full).step_by(8) {
        for (l, m) in mx.iter_mut().enumerate() {
            let t = f(base + l);
            *m = if t > *m { t } else { *m };
        }
    }
    for (l, j) in (full..n).enumerate() {
        let t = f(j);
        mx[l] = if t > mx[l] { t } else { mx[l] };
    }
    mx.iter().fold(0.0, |a, &b| if b > a { b } else { a })
}

/// Row sums and column sums of `|A|` and its largest entry (in `f64`, for finite entries),
/// computed in one pass in memory order, so a transposed view costs the same as a plain one.
/// Sums use several accumulators (any order is fine: callers bound them with `inflate`).
pub(crate) struct AbsStats {
    pub row_sum: Vec<f64>,
    pub col_sum: Vec<f64>,
    pub max: f64,
}

/// `Σ|xᵢ|` and `max|xᵢ|` of a slice, with 8 independent lanes so the loop vectorises.
#[inline]
fn lane_sum_max<R: Runtime>(xs: &[R]) -> (f64, f64) {
    let mut acc = [0.0f64; 8];
    let mut mx = [0.0f64; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            let v = c[l].to_spec().abs();
            acc[l] += v;
            mx[l] = if v > mx[l] { v } else { mx[l] };
        }
    }
    for (l, x) in rest.iter().enumerate() {
        let v = x.to_spec().abs();
        acc[l] += v;
        mx[l] = if v > mx[l] { v } else { mx[l] };
    }
    (
        acc.iter().sum(),
        mx.iter().fold(0.0, |a, &b| if b > a { b } else { a }),
    )
}

/// `acc[j] += |xⱼ|` (independent lanes: vectorises).
#[inline]
fn add_abs<R: Runtime>(acc: &mut [f64], xs: &[R]) {
    for (a, &x) in acc.iter_mut().zip(xs) {
        *a += x.to_spec().abs();
    }
}

impl AbsStats {
    pub(crate) fn of<R: Runtime>(a: ArrayView2<'_, R>) -> AbsStats {
        let (m, n) = a.dim();
        let mut st = AbsStats {
            row_sum: vec![0.0; m],
            col_sum: vec![0.0; n],
            max: 0.0,
        };
        if m == 0 || n == 0 {
            return st;
        }
        if let Some(data) = a.to_slice() {
            for (r, row) in st.row_sum.iter_mut().zip(data.chunks_exact(n)) {
                let (s, mx) = lane_sum_max(row);
                *r = s;
                st.max = st.max.max(mx);
                add_abs(&mut st.col_sum, row);
            }
        } else if let Some(data) = a.reversed_axes().to_slice() {
            for (c, col) in st.col_sum.iter_mut().zip(data.chunks_exact(m)) {
                let (s, mx) = lane_sum_max(col);
                *c = s;
                st.max = st.max.max(mx);
                add_abs(&mut st.row_sum, col);
            }
        } else {
            for ((i, j), &x) in a.indexed_iter() {
                let v = x.to_spec().abs();
                st.row_sum[i] += v;
                st.col_sum[j] += v;
                st.max = st.max.max(v);
            }
        }
        st
    }
}
