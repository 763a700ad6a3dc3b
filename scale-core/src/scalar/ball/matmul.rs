//! The [`Ball`] matrix product: an `f64` GEMM for the midpoints and one nonnegative `f32` GEMM
//! for the radii ([`nonneg_sums`]: the radius only has to stay far below the runtime's error,
//! about 10⁻⁹ of it for an `f32` graph, not be accurate).

use super::{Ball, U};
use crate::config::beside;
use crate::scalar::nonneg_gemm::{NonnegSums, map_stored, nonneg_sums};
use ndarray::{Array2, ArrayView2};

/// Per-operand maxima of `|m|` and `r`, for the scaling.
struct Maxima {
    abs: f64,
    rad: f64,
}

impl Maxima {
    /// One pass in memory order (the maxima do not depend on it). Radii are never NaN
    /// (`Ball::new`), so plain selects give the maxima, `+∞` included.
    fn of(x: ArrayView2<'_, Ball>) -> Maxima {
        let fold = |(a, r): (f64, f64), b: &Ball| {
            let m = b.m.abs();
            (if m > a { m } else { a }, if b.r > r { b.r } else { r })
        };
        let (abs, rad) = match x.as_slice_memory_order() {
            Some(s) => s.iter().fold((0.0, 0.0), fold),
            None => x.iter().fold((0.0, 0.0), fold),
        };
        Maxima { abs, rad }
    }
}

/// Upper bounds on the radius sums of `A·B` by one nonnegative `f32` GEMM
/// ([`nonneg_sums`]), or `None` when no operand has a radius or a radius is not finite (then
/// the caller uses row and column statistics):
///
/// * only `A` has radii: `(A_r + γ|A_m|)·|B_m|`;
/// * only `B`: `|A_m|·(B_r + γ|B_m|)`;
/// * both: `|A_m|·(B_r + γ|B_m|) + A_r·(|B_m| + B_r)` as one product of inner dimension `2k`.
///
/// `γ|A_m||B_m|` bounds the midpoint GEMM's own rounding.
fn radius_sums(
    a: ArrayView2<'_, Ball>,
    b: ArrayView2<'_, Ball>,
    g: f64,
    (ma, mb): (Maxima, Maxima),
) -> Option<NonnegSums> {
    let (a_rad, b_rad) = (ma.rad > 0.0, mb.rad > 0.0);
    if a.ncols() == 0 || !(a_rad || b_rad) || !ma.rad.is_finite() || !mb.rad.is_finite() {
        return None;
    }
    let abs = |v: Ball, s: f64| v.m.abs() * s;
    let rounded = |v: Ball, s: f64| v.r * s + g * (v.m.abs() * s);
    let spread = |v: Ball, s: f64| v.m.abs() * s + v.r * s;
    let rad = |v: Ball, s: f64| v.r * s;
    let none = None::<fn(Ball, f64) -> f64>;
    match (a_rad, b_rad) {
        (true, false) => {
            let maxima = (ma.rad + g * ma.abs, mb.abs);
            nonneg_sums(a, b, maxima, (rounded, none), (abs, none))
        }
        (false, _) => {
            let maxima = (ma.abs, mb.rad + g * mb.abs);
            nonneg_sums(a, b, maxima, (abs, none), (rounded, none))
        }
        (true, true) => {
            let maxima = (ma.abs.max(ma.rad), mb.abs + mb.rad);
            nonneg_sums(a, b, maxima, (abs, Some(rad)), (rounded, Some(spread)))
        }
    }
}

/// `⟨p, r⟩` for a radius `r ≥ 0` or NaN: [`Ball::new`] with selects instead of branches (so
/// the loops building a product vectorise): a non-finite midpoint or a NaN radius gives the
/// whole line.
#[inline]
fn ball(p: f64, r: f64) -> Ball {
    let ok = p.is_finite() && !r.is_nan();
    Ball {
        m: if ok { p } else { 0.0 },
        r: if ok { r } else { f64::INFINITY },
    }
}

/// `M = A_m·B_m` by an `f64` GEMM (any order, FMA or not: off by at most
/// `γ_k·|A_m||B_m| + k·η`), and a radius bounding `|A_m|·(B_r + γ_k|B_m|)` and
/// `A_r·(|B_m| + B_r)` (the spread of the exact product over the balls, and the GEMM's
/// rounding): by [`radius_sums`] where an operand has radii, all finite; else (no radius, or an
/// infinite one) by the smaller of the two Hölder products `‖x_i‖₁·max_k y_kj` and
/// `max_k x_ik·‖y_j‖₁` of row and column statistics.
pub(super) fn matmul(a: ArrayView2<'_, Ball>, b: ArrayView2<'_, Ball>) -> Array2<Ball> {
    let (m, k) = a.dim();
    let n = b.ncols();
    let g = crate::bound::Bound::gamma(k, U).get();
    let (ma, mb) = (Maxima::of(a), Maxima::of(b));
    let (ma_rad, mb_rad) = (ma.rad, mb.rad);
    // The two GEMMs are independent: on two threads when the pass may use them.
    let (radius, prod) = beside(
        m * k * n,
        || radius_sums(a, b, g, (ma, mb)),
        || crate::kernel::matmul(map_stored(a, |v| v.m).view(), map_stored(b, |v| v.m).view()),
    );
    let mut out = Vec::with_capacity(m * n);
    if let Some(rs) = radius.as_ref().filter(|rs| rs.sums.dim() == (m, n)) {
        // `f64::MIN_POSITIVE` covers the midpoint GEMM's underflow (`(3k + 13)·η`, k < 10¹⁵)
        // and the scaling back's (`η/2` per multiplication).
        let fin = |p: f64, s: f32| ball(p, rs.bound(s) + f64::MIN_POSITIVE);
        for (prow, srow) in prod.rows().into_iter().zip(rs.sums.rows()) {
            match (prow.as_slice(), srow.as_slice()) {
                (Some(p), Some(s)) => out.extend(p.iter().zip(s).map(|(&p, &s)| fin(p, s))),
                _ => out.extend(prow.iter().zip(srow.iter()).map(|(&p, &s)| fin(p, s))),
            }
        }
    } else {
        // The statistics: `rad(spread + k·η, 2k + 12)`, with its underflow terms `(3k + 13)·η`
        // replaced by the larger normal number `f64::MIN_POSITIVE` (k < 10¹⁵): the same bound
        // without a subnormal operand per entry (each costs a microcode assist on x86).
        let c = 1.0 + (2.0 * k as f64 + 14.0) * (2.0 * U);
        let [row_abs, row_rsum, row_rad, row_absmax] = super::row_stats(a);
        let [col_abs, col_rsum, col_rad, col_absmax] = super::row_stats(b.t());
        // Plain products, and `min` as a select: where a product is 0·∞ = NaN the select
        // either returns the other arm (never below the true value of the pair, 0) or the NaN,
        // which `ball` turns into an infinite radius. No branches, and the radii of a row go
        // to a buffer of plain `f64`s first, so the loops vectorise.
        let min = |x: f64, y: f64| if x < y { x } else { y };
        let exact = ma_rad == 0.0 && mb_rad == 0.0;
        let mut rad = vec![0.0f64; n];
        let (ca, cs, cr, cm) = (
            &col_abs[..n],
            &col_rsum[..n],
            &col_rad[..n],
            &col_absmax[..n],
        );
        for (i, prow) in prod.rows().into_iter().enumerate() {
            let (ra, rs, rr, rm) = (row_abs[i], row_rsum[i], row_rad[i], row_absmax[i]);
            let Some(p) = prow.to_slice() else {
                out.extend(std::iter::repeat_n(Ball::ENTIRE, n));
                continue;
            };
            if exact {
                // Exact operands: the midpoint GEMM's rounding alone.
                for j in 0..n {
                    rad[j] = (g * min(ra * cm[j], rm * ca[j]) + f64::MIN_POSITIVE) * c;
                }
            } else {
                // Each product `Σ_k x_k·y_k` of nonnegative terms is bounded both ways Hölder
                // allows, `‖x‖₁·max y` and `max x·‖y‖₁`, and the smaller taken: radii
                // proportional to their midpoints (softmax probabilities, whose row sums are
                // 1) are bounded by their sum instead of n times their maximum.
                for j in 0..n {
                    let mid_rad = min(ra * cr[j], rm * cs[j]) + g * min(ra * cm[j], rm * ca[j]);
                    let rad_all = min(rr * (ca[j] + cs[j]), rs * (cm[j] + cr[j]));
                    rad[j] = (mid_rad + rad_all + f64::MIN_POSITIVE) * c;
                }
            }
            out.extend(p.iter().zip(&rad).map(|(&p, &r)| ball(p, r)));
        }
    }
    Array2::from_shape_vec((m, n), out).unwrap_or_else(|_| Array2::from_elem((m, n), Ball::ENTIRE))
}
