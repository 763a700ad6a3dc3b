//! Error bounds of sums, dot products and matrix products (SPEC §5), beside the linear algebra
//! that uses them: measured a posteriori against an `f64` recomputation for narrow runtimes, or
//! bounded order-free, according to [`config::dot_bound_mode`](crate::config::dot_bound_mode).

use super::util::encl_gamma;
use crate::bound::{Bound, U64, inflate};
use crate::scalar::Runtime;
use crate::tensor::fold_elems;
use ndarray::ArrayView2;

/// Whether a-posteriori measurement applies to runtime `R` (narrower than `f64`, and the mode is
/// [`DotBound::APosteriori`](crate::config::DotBound)).
#[inline]
pub(crate) fn a_posteriori<R: Runtime>() -> bool {
    R::U > 1e-12 && crate::config::dot_bound_mode() == crate::config::DotBound::APosteriori
}

/// The order-free rounding bound of an `n`-term sum whose terms have `Σ|tᵢ| ≤ abs` and whose
/// computed value is `ŝ`, in any order or tree, with or without FMA: every intermediate sum is
/// a subset sum, at most `max(P, N) = (Σ|tᵢ| + |Σtᵢ|)/2` (`P`, `N`: the positive and negative
/// terms' magnitudes; see `AnyRun`'s `subset_sum_bound`), so the additions err by at most
/// `h·(Σ|tᵢ| + |Σtᵢ|)`, `h = γ_{n−1}(1 + u)/2`, and `products` adds each product's rounding
/// `u·|tᵢ|`. With `|Σtᵢ| ≤ |ŝ| + err`: `err ≤ ((p + h)·abs + h·|ŝ|)/(1 − h)`, `p = u` or 0. Up
/// to half of Higham's `γ·Σ|tᵢ|` when the signs are mixed; the same when they agree.
fn order_free_local<R: Runtime>(n: usize, abs: f64, s_hat: f64, products: bool) -> Bound {
    match order_free_coeffs::<R>(n, products) {
        Some((ct, cs)) => inflate(ct * abs + cs * s_hat.abs(), 2),
        None => Bound::INF,
    }
}

/// [`order_free_local`]'s coefficients of `Σ|tᵢ|` and `|ŝ|`, `((p + h)/(1 − h), h/(1 − h))`
/// rounded up; `None` when `h ≥ 1` (no finite bound).
fn order_free_coeffs<R: Runtime>(n: usize, products: bool) -> Option<(f64, f64)> {
    let p = if products { R::U } else { 0.0 };
    if n <= 1 {
        return Some((p, 0.0));
    }
    let h = crate::scalar::anyrun::half_gamma::<R>(n);
    let denom = crate::round::sub_down(1.0, h);
    if denom <= 0.0 || !h.is_finite() {
        return None;
    }
    let div = crate::round::div_up;
    Some((div((p + h) * (1.0 + 2.0 * U64), denom), div(h, denom)))
}

/// Rigorous bound on `|Σ xᵢ − ŝ|` for runtime summands `xᵢ` (as `f64`) and the runtime sum `ŝ`
/// computed in any order: a posteriori (`|ŝ − s₆₄| + γₙ^{f64}Σ|xᵢ|`) or order-free
/// ([`order_free_local`]; sums have no underflow term).
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
        order_free_local::<R>(n, abs.get(), s_hat, false) + slack
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
        order_free_local::<R>(n, abs.get(), s_hat, true)
            + Bound::new(R::ETA).scale(2.0 * n as f64)
            + slack
    }
}

/// Error of a runtime matrix product `Ĉ = fl(Â·B̂)` against the exact product of the spec
/// operands, `|A − Â| ≤ εa`, `|B − B̂| ≤ εb` entrywise:
/// `max_ij [εa·Σₗ|B̂ₗⱼ| + εb·Σₗ|Âᵢₗ| + localᵢⱼ] + k·εa·εb`, where `localᵢⱼ` is the rounding error
/// of entry `(i, j)` — measured a posteriori against an `f64` recomputation (narrow runtimes) or
/// bounded order-free by `((u + h)·(|Â||B̂|)ᵢⱼ + h·|Ĉᵢⱼ|)/(1 − h) + 2kη`,
/// `h = γ_{k−1}(1 + u)/2` ([`order_free_local`]).
pub(crate) fn gemm_eps<R: Runtime>(
    a: ArrayView2<'_, R>,
    ea: Bound,
    b: ArrayView2<'_, R>,
    eb: Bound,
    c: ArrayView2<'_, R>,
) -> Bound {
    let k = a.ncols();
    // In memory order over a slice (the element iterator of a view was a tenth of an
    // order-free MLP step).
    let all_finite = |x: &ArrayView2<'_, R>| fold_elems(x, true, |ok, v| ok & v.is_finite());
    if ea.is_infinite() || eb.is_infinite() || !all_finite(&c) {
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
        // Per unit of (|Â||B̂|)ᵢⱼ and of |Ĉᵢⱼ| (see `order_free_local`, whose `f64` roundings
        // the final `inflate` covers here).
        let Some((ct, gc)) = order_free_coeffs::<R>(k, true) else {
            return Bound::INF;
        };
        let gt = ct + sl;
        for (i, (si, ci)) in s.rows().into_iter().zip(c.rows()).enumerate() {
            let si = si.to_slice().expect("a fresh GEMM result is contiguous");
            let t = |j: usize| gt * ((si[j].to_spec() + kx) * f);
            let row = match ci.to_slice() {
                Some(cs) => lanes_max(si.len(), |j| {
                    fa * sb.col_sum[j] + t(j) + gc * cs[j].to_spec().abs()
                }),
                None => lanes_max(si.len(), |j| {
                    fa * sb.col_sum[j] + t(j) + gc * ci[j].to_spec().abs()
                }),
            };
            m = m.max(row + fb * sa.row_sum[i]);
        }
        m += 2.0 * k as f64 * R::ETA;
        if !all_finite(&s.view()) {
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

#[cfg(test)]
mod tests {
    use super::order_free_local;
    use crate::scalar::anyrun::furthest_orders;
    use half::bf16;

    /// Empty and single-term sums, and terms near `f32::MAX` (where `γ` still holds but the
    /// bound must stay an upper bound, never NaN).
    #[test]
    fn order_free_local_edges() {
        assert!(order_free_local::<f32>(0, 0.0, 0.0, true).get() <= 1e-300);
        assert!(order_free_local::<f32>(1, 2.0, 2.0, false).get() <= 1e-300);
        assert!(order_free_local::<f32>(1, 2.0, 2.0, true).get() >= 2.0 * 2f64.powi(-24));
        let big = order_free_local::<f32>(4, 1e39, 1e39, true).get();
        assert!(big >= 4.0 * 2f64.powi(-24) * 1e39 && !big.is_nan());
        // No finite bound once γ reaches 1 (bf16, 300 terms).
        assert!(
            order_free_local::<bf16>(300, 1.0, 0.0, true)
                .get()
                .is_infinite()
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        /// The order-free bound of this run's sums and dot products against `bf16` runs in the
        /// orders that drive the partial sums furthest, with the products rounded or not (FMA):
        /// `bf16`'s `u = 2⁻⁸` makes every rounding count (the bound fails at 0.4 of its `h`).
        #[test]
        fn order_free_local_covers_the_furthest_orders(
            v in proptest::collection::vec((0.0f64..1.0, -6i32..6, 0.0f64..1.0, 0.0f64..1.0), 1..70),
            bias in 0.0f64..1.0,
        ) {
            let bf = |x: f64| f64::from(bf16::from_f64(x).to_f32());
            let xs: Vec<f64> = v.iter().map(|&(x, e, _, _)| bf(x * 2f64.powi(e))).collect();
            let ys: Vec<f64> = v
                .iter()
                .map(|&(_, e, y, sg)| bf(if sg < bias { -y } else { y } * 2f64.powi(-e)))
                .collect();
            let exact: Vec<f64> = xs.iter().zip(&ys).map(|(x, y)| x * y).collect();
            let rounded: Vec<f64> = exact.iter().map(|&t| bf(t)).collect();
            let n = exact.len();
            let (s, abs): (f64, f64) = (exact.iter().sum(), exact.iter().map(|t| t.abs()).sum());
            // f64 sums of these terms are within 10⁻¹² of exact; the bounds are 10⁻³ wide.
            let slack = 1e-12 * abs;
            for (terms, products) in [(&rounded, true), (&exact, true), (&ys, false)] {
                let (s, abs) = if products { (s, abs) } else {
                    (ys.iter().sum(), ys.iter().map(|t| t.abs()).sum())
                };
                let add = |a: f64, b: f64| bf(f64::from(a as f32 + b as f32));
                for r in furthest_orders(terms, add) {
                    let b = order_free_local::<bf16>(n, abs, r, products).get();
                    proptest::prop_assert!(
                        (r - s).abs() <= b + slack,
                        "{n} terms (products {products}): |{r} − {s}| > {b}"
                    );
                }
            }
        }
    }
}
