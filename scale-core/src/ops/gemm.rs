//! Error bounds of sums, dot products and matrix products (SPEC §5), beside the linear algebra
//! that uses them: measured a posteriori against an `f64` recomputation for narrow runtimes, or
//! bounded order-free, according to [`config::dot_bound_mode`](crate::config::dot_bound_mode).

use super::util::{encl_gamma, lanes_max3, nan_max};
use crate::bound::{Bound, U64, inflate};
use crate::scalar::Runtime;
use crate::tensor::AbsMax;
use ndarray::{Array2, ArrayView2, Axis};
use std::borrow::Cow;

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
    order_free_with(order_free_coeffs::<R>(n, products), abs, s_hat)
}

/// [`order_free_local`] from its coefficients ([`order_free_coeffs`]), for callers that form
/// them once for many sums of one length.
#[inline]
fn order_free_with(coeffs: Option<(f64, f64)>, abs: f64, s_hat: f64) -> Bound {
    match coeffs {
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
    SumErr::new::<R>(n).of(s, a, s_hat)
}

/// [`sum_err`] for sums of `n` terms, from what it reads of them: their `f64` sum `s` and
/// `Σ|xᵢ|`, each accumulated in any order (the bound covers every order). The coefficients
/// depend on `n` and the mode alone, so they are formed once for the columns of a matrix
/// (per column, their directed roundings cost more than the column's sum).
pub(crate) struct SumErr {
    n: usize,
    /// `γ` of the interval spec's outward rounding.
    slack: Bound,
    /// A posteriori: `γₙ^{f64}`; order-free: `None`.
    post: Option<Bound>,
    /// Order-free: [`order_free_coeffs`] (`None`: no finite bound).
    coeffs: Option<(f64, f64)>,
}

impl SumErr {
    /// The coefficients for `n`-term sums in runtime `R` under the current mode.
    pub(crate) fn new<R: Runtime>(n: usize) -> SumErr {
        let post = a_posteriori::<R>().then(|| Bound::gamma(n, U64));
        SumErr {
            n,
            slack: encl_gamma(n),
            post,
            coeffs: if post.is_some() {
                None
            } else {
                order_free_coeffs::<R>(n, false)
            },
        }
    }

    /// The bound on `|Σxᵢ − ŝ|` from the summands' `f64` sum `s` and `a = Σ|xᵢ|`.
    pub(crate) fn of(&self, s: f64, a: f64, s_hat: f64) -> Bound {
        if !s_hat.is_finite() || a.is_nan() {
            return Bound::INF;
        }
        let abs = inflate(a, self.n);
        let slack = self.slack * abs;
        match self.post {
            Some(g) => inflate((s_hat - s).abs(), 1) + g * abs + slack,
            None => order_free_with(self.coeffs, abs.get(), s_hat) + slack,
        }
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
    if ea.is_infinite() || eb.is_infinite() {
        return Bound::INF;
    }
    // Propagation terms need Σₗ|Âᵢₗ| and Σₗ|B̂ₗⱼ| (the row sums of `Bᵀ`); the a-posteriori mode
    // also max |B̂|, the order-free mode the copies |Â|, |B̂| for its GEMM, made in the same pass.
    let copies = !a_posteriori::<R>();
    let (sa, sbt) = (
        AbsStats::of(a, copies, false),
        AbsStats::of(b.reversed_axes(), copies, false),
    );
    gemm_eps_with(a, sa.left(), ea, b, sbt.right_t(), eb, c)
}

/// [`gemm_eps`] with the operands' statistics given ([`AbsStats`], measured once per operand:
/// the forward bound of `A·B` keeps them for both VJP bounds, `D·Bᵀ` and `Aᵀ·D`).
pub(crate) fn gemm_eps_with<R: Runtime>(
    a: ArrayView2<'_, R>,
    sa: Side<'_, R>,
    ea: Bound,
    b: ArrayView2<'_, R>,
    sb: Side<'_, R>,
    eb: Bound,
    c: ArrayView2<'_, R>,
) -> Bound {
    let k = a.ncols();
    if ea.is_infinite() || eb.is_infinite() {
        return Bound::INF;
    }
    let (ra, cb, b_max) = (sa.sums, sb.sums, sb.max);
    if ra.len() != a.nrows() || cb.len() != b.ncols() {
        return Bound::INF;
    }
    // Overflowing sums (or NaN operands) would turn into NaNs below (0·∞): no finite bound.
    let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
    if !(finite(ra) && finite(cb) && b_max.is_finite()) {
        return Bound::INF;
    }
    let (fa, fb) = (ea.get(), eb.get());
    // The propagation term of each column, `εa·Σₗ|B̂ₗⱼ|`, formed once rather than per entry.
    let wa: Vec<f64> = cb.iter().map(|&cs| fa * cs).collect();
    let mut m = 0.0f64;
    let sl = encl_gamma(2 * k).get();
    // Each row's scan below is NaN exactly when an entry of `Ĉ` (or of `|Â||B̂|`) is NaN, and
    // +∞ when one is infinite: no separate finiteness pass over the products is needed.
    if a_posteriori::<R>() {
        // One f64 GEMM of the runtime operands (their products are exact in f64). Its own error is
        // at most γₖ^{f64}·Σₗ|âᵢₗ||b̂ₗⱼ| ≤ γₖ^{f64}·(Σₗ|âᵢₗ|)·max|B̂|: negligible, and cheap.
        let c64 = crate::kernel::matmul(
            a.mapv(|x| x.to_spec()).view(),
            b.mapv(|x| x.to_spec()).view(),
        );
        let g = Bound::gamma(k, U64).get() + sl;
        for (i, (ci, c64i)) in c.rows().into_iter().zip(c64.rows()).enumerate() {
            let ra = ra[i];
            let ds = c64i.to_slice().expect("a fresh GEMM result is contiguous");
            let row = with_row(ci, |cs| {
                lanes_max3(&wa, cs, ds, |w, c, d| w + (c.to_spec() - d).abs())
            });
            m = nan_max(m, row + fb * ra + g * ra * b_max);
        }
    } else {
        // One runtime-precision GEMM of the absolute values. Its own rounding: fl(S) ≥ (1 − γₖ)S − kη,
        // so S ≤ (fl(S) + kη)·F with F = 1/(1 − γₖ) rounded up; the plain f64 operations per
        // entry (at most eight, all on nonnegative terms) are counted in the final `inflate`.
        let (Some(abs_a), Some(abs_b)) = (sa.abs, sb.abs) else {
            return Bound::INF;
        };
        let denom = crate::round::sub_down(1.0, Bound::gamma(k, R::U).get());
        if denom <= 0.0 {
            return Bound::INF;
        }
        let f = crate::round::div_up(1.0, denom);
        let kx = k as f64 * R::ETA;
        // Per unit of (|Â||B̂|)ᵢⱼ and of |Ĉᵢⱼ| (see `order_free_local`, whose `f64` roundings
        // the final `inflate` covers here): the term `gt·((Sᵢⱼ + kη)·F)` is `α·Sᵢⱼ + β`.
        let Some((ct, gc)) = order_free_coeffs::<R>(k, true) else {
            return Bound::INF;
        };
        let gt = ct + sl;
        let (alpha, beta) = (gt * f, gt * kx * f);
        // `|Â||B̂|` by blocks of rows, each scanned while it is in cache, so a weight
        // gradient's whole `S` (1.6 MB for the MLP bench's `w1`) is never allocated: peak
        // memory of the order-free MLP step ÷ runtime 1.16 → 1.11, time unchanged (measured).
        // Any blocking is covered: the bound on `fl(S)` holds for any order of its sums.
        let rows = (SCAN_BLOCK / b.ncols().max(1)).max(8);
        let blocks = abs_a
            .axis_chunks_iter(Axis(0), rows)
            .zip(c.axis_chunks_iter(Axis(0), rows))
            .zip(ra.chunks(rows));
        for ((ab, cb), rb) in blocks {
            let s = R::matmul(ab, abs_b);
            for ((si, ci), &ra) in s.rows().into_iter().zip(cb.rows()).zip(rb) {
                let si = si.to_slice().expect("a fresh GEMM result is contiguous");
                let row = with_row(ci, |cs| {
                    lanes_max3(&wa, si, cs, |w, s, c| {
                        w + alpha * s.to_spec() + gc * c.to_spec().abs()
                    })
                });
                m = nan_max(m, row + beta + fb * ra);
            }
        }
        m += 2.0 * k as f64 * R::ETA;
    }
    if m.is_nan() {
        return Bound::INF;
    }
    inflate(m, 2 * k + 10) + (ea * eb).scale(k as f64)
}

/// Entries of `|Â||B̂|` per block of rows in the order-free bound's scan: 64 Ki (256 KiB of
/// `f32`, a quarter of a 1 MiB L2), at least 8 rows.
const SCAN_BLOCK: usize = 1 << 16;

/// Calls `f` on a row of `Ĉ` as a slice, copying it first when the row is strided (a
/// transposed result).
fn with_row<R: Runtime>(row: ndarray::ArrayView1<'_, R>, f: impl FnOnce(&[R]) -> f64) -> f64 {
    match row.to_slice() {
        Some(xs) => f(xs),
        None => f(&row.to_vec()),
    }
}

/// The statistics of `|X|` that the bound of a product reads, for a runtime matrix `X`:
/// `Σⱼ|xᵢⱼ|` of every row (in `f64`), with `cols` also `Σᵢ|xᵢⱼ|` of every column, `max|xᵢⱼ|`,
/// and with `copy` the matrix `|X|` in `X`'s memory order. One sweep in memory order, so a
/// transposed view costs the same as a plain one (the column sums of `B` are the row sums of
/// `Bᵀ`); the copy is made from the same read (each row is still in L1 for the second loop).
/// Only the sums a bound reads are formed: a row and a column statistic of every operand plus
/// a separate `|X|` pass were a sixth of an order-free MLP step. Sums use several accumulators
/// (any order is fine: callers bound them with `inflate`); a NaN entry gives a NaN sum, an
/// infinite one an infinite sum.
///
/// A product reads an operand's sums along its inner dimension; [`AbsStats::left`] and the
/// other views pick them for `X` or `Xᵀ` on either side. The forward bound of `A·B` keeps what
/// it measured of `A` and `Bᵀ` ([`OpRuntime::fwd_eps_saving`](super::kit::OpRuntime::fwd_eps_saving)):
/// its VJPs `D·Bᵀ` and `Aᵀ·D` read `A` and `B` again, transposed, and sum the other direction
/// from the kept `|A|`, `|Bᵀ|` ([`AbsStats::cols`]) only when they are bounded (a first layer's
/// `dX` is not, so its large `W` is never summed twice).
pub(crate) struct AbsStats<R> {
    rows: Vec<f64>,
    cols: Option<Vec<f64>>,
    max: f64,
    abs: Option<Array2<R>>,
}

/// One operand of a product as [`gemm_eps_with`] reads it: the sums of `|x|` along the inner
/// dimension (a left operand's row sums, a right operand's column sums), `max|x|` (read for a
/// right operand) and `|X|` (order-free mode).
#[derive(Clone, Copy)]
pub(crate) struct Side<'a, R> {
    sums: &'a [f64],
    max: f64,
    abs: Option<ArrayView2<'a, R>>,
}

impl<R: Runtime> AbsStats<R> {
    /// Measures `x` (see [`AbsStats`]).
    pub(crate) fn of(x: ArrayView2<'_, R>, copy: bool, cols: bool) -> AbsStats<R> {
        let (m, n) = x.dim();
        let mut rs = vec![0.0; m];
        let mut cs = vec![0.0; if cols { n } else { 0 }];
        let mut max = 0.0f64;
        let mut out = Vec::with_capacity(if copy { m * n } else { 0 });
        let mut keep = |xs: &[R]| {
            if copy {
                out.extend(xs.iter().map(|x| x.abs()));
            }
        };
        let col_major = if let Some(data) = x.to_slice().filter(|_| n > 0) {
            for (r, row) in rs.iter_mut().zip(data.chunks_exact(n)) {
                keep(row);
                let (s, mx) = lane_sum_max(row);
                *r = s;
                max = nan_max(max, mx);
                if cols {
                    add_abs_max(&mut cs, row);
                }
            }
            false
        } else if let Some(data) = x.reversed_axes().to_slice().filter(|_| m > 0) {
            for (j, col) in data.chunks_exact(m).enumerate() {
                keep(col);
                max = nan_max(max, add_abs_max(&mut rs, col));
                if cols {
                    cs[j] = lane_sum_max(col).0;
                }
            }
            true
        } else {
            for ((i, j), &v) in x.indexed_iter() {
                let v = v.to_spec().abs();
                rs[i] += v;
                if cols {
                    cs[j] += v;
                }
                max = nan_max(max, v);
            }
            let abs = copy.then(|| x.mapv(|v| v.abs()));
            return AbsStats {
                rows: rs,
                cols: cols.then_some(cs),
                max,
                abs,
            };
        };
        let abs = copy.then(|| {
            if col_major {
                Array2::from_shape_vec((n, m), out).map(|t| t.reversed_axes())
            } else {
                Array2::from_shape_vec((m, n), out)
            }
            .unwrap_or_else(|_| x.mapv(|v| v.abs()))
        });
        AbsStats {
            rows: rs,
            cols: cols.then_some(cs),
            max,
            abs,
        }
    }

    /// `X` as the left operand of a product (its row sums).
    pub(crate) fn left(&self) -> Side<'_, R> {
        self.side(&self.rows, false)
    }

    /// `Xᵀ` as the right operand (the row sums of `X`).
    pub(crate) fn right_t(&self) -> Side<'_, R> {
        self.side(&self.rows, true)
    }

    /// `Xᵀ` as the left operand, with `cols` from [`AbsStats::cols`].
    pub(crate) fn left_t<'a>(&'a self, cols: &'a [f64]) -> Side<'a, R> {
        self.side(cols, true)
    }

    /// `X` as the right operand, with `cols` from [`AbsStats::cols`].
    pub(crate) fn right<'a>(&'a self, cols: &'a [f64]) -> Side<'a, R> {
        self.side(cols, false)
    }

    /// `Σᵢ|xᵢⱼ|` of every column of `X`: the measured sums, or else summed now — from the kept
    /// `|X|` when there is one, else from `x`, which must be `X`. The same sums, in the same
    /// order, as measuring `Xᵀ` afresh.
    pub(crate) fn cols(&self, x: ArrayView2<'_, R>) -> Cow<'_, [f64]> {
        if let Some(cs) = &self.cols {
            return Cow::Borrowed(cs);
        }
        let src = self.abs.as_ref().map_or(x, |a| a.view());
        Cow::Owned(AbsStats::of(src.reversed_axes(), false, false).rows)
    }

    fn side<'a>(&'a self, sums: &'a [f64], t: bool) -> Side<'a, R> {
        let abs = self.abs.as_ref().map(|a| if t { a.t() } else { a.view() });
        Side {
            sums,
            max: self.max,
            abs,
        }
    }
}

/// `Σ|xᵢ|` and `max|xᵢ|` of a slice, with 8 independent lanes so the loop vectorises.
#[inline]
fn lane_sum_max<R: Runtime>(xs: &[R]) -> (f64, f64) {
    let mut acc = [0.0f64; 8];
    let mut mx = AbsMax::<R, 8>::new();
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        let v: [f64; 8] = std::array::from_fn(|l| c[l].to_spec().abs());
        acc = std::array::from_fn(|l| acc[l] + v[l]);
        mx.push_all(c);
    }
    for (a, &x) in acc.iter_mut().zip(rest) {
        *a += x.to_spec().abs();
    }
    mx.push_all(rest);
    (acc.iter().sum(), mx.get())
}

/// `acc[j] += |xⱼ|`, returning `max|xⱼ|` (independent lanes: vectorises).
#[inline]
fn add_abs_max<R: Runtime>(acc: &mut [f64], xs: &[R]) -> f64 {
    let mut mx = AbsMax::<R, 8>::new();
    let full = acc.len() - acc.len() % 8;
    for (a8, x8) in acc.chunks_exact_mut(8).zip(xs.chunks_exact(8)) {
        let v: [f64; 8] = std::array::from_fn(|l| x8[l].to_spec().abs());
        a8.iter_mut().zip(&v).for_each(|(a, v)| *a += v);
        mx.push_all(x8);
    }
    let (acc, rest) = (&mut acc[full..], &xs[full..]);
    for (a, &x) in acc.iter_mut().zip(rest) {
        *a += x.to_spec().abs();
    }
    mx.push_all(&rest[..acc.len().min(rest.len())]);
    mx.get()
}

#[cfg(test)]
mod tests {
    use super::{AbsStats, order_free_local};
    use crate::scalar::anyrun::furthest_orders;
    use half::bf16;
    use ndarray::{Array2, ArrayView2, Axis, Slice};

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

    /// The order-free bound of a product whose `|Â||B̂|` spans several row blocks (300 × 300
    /// entries: blocks of 218 and 82 rows) covers the true error of every entry, and every
    /// block is scanned: a NaN or a large entry in the last rows still decides the bound.
    #[test]
    fn order_free_bound_scans_every_row_block() {
        use super::gemm_eps;
        use crate::bound::Bound;
        use crate::config::{Config, DotBound, scoped};
        let (m, k, n) = (300, 64, 300);
        assert!(m * n > super::SCAN_BLOCK && m % (super::SCAN_BLOCK / n) != 0);
        let a = Array2::from_shape_fn((m, k), |(i, j)| ((i * k + j) as f32 * 0.731).sin());
        let b = Array2::from_shape_fn((k, n), |(i, j)| ((i * n + j) as f32 * 0.377).cos());
        let bound = |a: &Array2<f32>, b: &Array2<f32>| {
            let c = <f32 as crate::Runtime>::matmul(a.view(), b.view());
            let cfg = Config::default().with_dot_bound(DotBound::OrderFree);
            let e = scoped(cfg, || {
                gemm_eps(a.view(), Bound::ZERO, b.view(), Bound::ZERO, c.view())
            });
            (c, e)
        };
        let (c, e) = bound(&a, &b);
        // Products of `f32`s are exact in `f64`; 64-term `f64` sums err by < 1e-13 relative.
        let exact = a.mapv(f64::from).dot(&b.mapv(f64::from));
        let err = c
            .iter()
            .zip(&exact)
            .fold(0.0f64, |mx, (&c, &x)| mx.max((f64::from(c) - x).abs()));
        assert!(
            e.get() >= err * (1.0 + 1e-9) && e.get().is_finite(),
            "{e:?} vs {err}"
        );
        // A row of the last block 1000× larger: the bound must grow with it.
        let mut big = a.clone();
        big.row_mut(m - 3).mapv_inplace(|x| x * 1000.0);
        assert!(bound(&big, &b).1.get() > 100.0 * e.get());
        // A NaN in the last block: no finite bound.
        let mut bad = a.clone();
        bad[[m - 1, 5]] = f32::NAN;
        assert!(bound(&bad, &b).1.is_infinite());
    }

    /// The row and column sums, the maximum and the `|A|` copy on plain, transposed and strided
    /// views, against a naive loop; sizes past 8 and not a multiple of it (lanes and
    /// remainders); a NaN entry makes its row's and column's sums and the maximum NaN, an
    /// infinite one infinite. The four sides read the right sums and the copy transposed.
    #[test]
    fn abs_stats_on_every_layout() {
        let a = Array2::from_shape_fn((9, 21), |(i, j)| {
            ((i * 21 + j) as f32 * 0.37).sin() * 2f32.powi((i % 5) as i32 * 9 - 18)
        });
        let sums = |v: ArrayView2<'_, f32>| -> Vec<f64> {
            v.rows()
                .into_iter()
                .map(|r| r.iter().map(|x| f64::from(x.abs())).sum())
                .collect()
        };
        let close = |s: &[f64], want: &[f64]| {
            assert_eq!(s.len(), want.len());
            for (x, y) in s.iter().zip(want) {
                assert!((x - y).abs() <= 1e-12 * y, "{x} vs {y}");
            }
        };
        let strided = a.slice_axis(Axis(1), Slice::new(0, None, 2));
        for v in [a.view(), a.t(), strided, strided.reversed_axes()] {
            let max = v.iter().fold(0.0f64, |m, x| m.max(f64::from(x.abs())));
            let (rows, cols) = (sums(v), sums(v.t()));
            for copy in [false, true] {
                for both in [false, true] {
                    let st = AbsStats::of(v, copy, both);
                    assert_eq!(st.max, max);
                    close(&st.rows, &rows);
                    assert_eq!(st.cols.is_some(), both);
                    // Measured or summed afterwards (from the copy, or from `v`): the same.
                    let c = st.cols(v);
                    close(&c, &cols);
                    let fresh = AbsStats::of(v.t(), false, false).rows;
                    assert_eq!(&c[..], &fresh[..]);
                    assert_eq!(st.abs.is_some(), copy);
                    if let Some(abs) = &st.abs {
                        assert_eq!(abs, v.mapv(f32::abs));
                    }
                    let (l, lt, r, rt) = (st.left(), st.left_t(&c), st.right(&c), st.right_t());
                    assert!(l.sums == st.rows && rt.sums == st.rows);
                    assert!(lt.sums == &c[..] && r.sums == &c[..]);
                    if let (Some(x), Some(y)) = (l.abs, lt.abs) {
                        assert!(x == v.mapv(f32::abs) && y == v.t().mapv(f32::abs));
                    }
                }
            }
        }
        let mut b = a.clone();
        b[[4, 13]] = f32::NAN;
        b[[7, 2]] = f32::INFINITY;
        for v in [b.view(), b.t().reversed_axes()] {
            let st = AbsStats::of(v, true, true);
            let (s, c, m) = (&st.rows, st.cols(v), st.max);
            assert!(s[4].is_nan() && s[7].is_infinite() && m.is_nan());
            assert!(c[13].is_nan() && c[2].is_infinite());
            assert!(
                s.iter()
                    .enumerate()
                    .all(|(i, x)| i == 4 || i == 7 || x.is_finite())
            );
            assert!(
                c.iter()
                    .enumerate()
                    .all(|(j, x)| j == 13 || j == 2 || x.is_finite())
            );
        }
    }
}
