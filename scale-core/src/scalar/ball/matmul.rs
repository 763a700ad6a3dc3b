//! The [`Ball`] matrix product: an `f64` GEMM for the midpoints and one nonnegative `f32` GEMM
//! for the radii ([`nonneg_sums`]: the radius only has to stay far below the runtime's error,
//! about 10⁻⁹ of it for an `f32` graph, not be accurate).

use super::{Ball, RowStats, U};
use crate::config::beside;
use crate::scalar::nonneg_gemm::{NonnegSums, nonneg_sums};
use ndarray::{Array2, ArrayView2, Zip};

/// Upper bounds on `max |m|` and `max r` of one operand, for the scaling.
struct Maxima {
    abs: f64,
    rad: f64,
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

/// Whether a result of `len` entries is collected on rayon's pool: the pass may use two
/// threads and `len ≥ 2¹⁵` (the same entries either way).
fn parallel(len: usize) -> bool {
    len >= 1 << 15 && crate::config::current().threads >= 2
}

/// `zip.map_collect(f)`, on rayon's pool where [`parallel`].
macro_rules! collect {
    ($len:expr, $zip:expr, $f:expr) => {
        if parallel($len) {
            $zip.par_map_collect($f)
        } else {
            $zip.map_collect($f)
        }
    };
}

/// `M = A_m·B_m` by an `f64` GEMM (any order, FMA or not: off by at most
/// `γ_k·|A_m||B_m| + k·η`), and a radius bounding `|A_m|·(B_r + γ_k|B_m|)` and
/// `A_r·(|B_m| + B_r)` (the spread of the exact product over the balls, and the GEMM's
/// rounding): by [`radius_sums`] where an operand has radii, all finite; else (no radius, or an
/// infinite one) by [`rank_one`] bounds from row and column statistics (Hölder's and
/// Cauchy–Schwarz's). The operands are read once each ([`super::stats_and_mids`]); with two
/// threads the two operands' passes, the two GEMMs (or the midpoint GEMM's halves,
/// [`crate::kernel::matmul_halves`]) and the collection of the result run side by side, with
/// the same result as on one.
pub(super) fn matmul(a: ArrayView2<'_, Ball>, b: ArrayView2<'_, Ball>) -> Array2<Ball> {
    let (m, k) = a.dim();
    let n = b.ncols();
    let g = crate::bound::Bound::gamma(k, U).get();
    // One pass over each operand (statistics and midpoints); both side by side when the pass
    // may use two threads.
    let work = |x: usize| x.saturating_mul(32);
    let ((sb, b_mid_t), (sa, a_mid)) = beside(
        work(m * k).min(work(k * n)),
        || super::stats_and_mids(b.t()),
        || super::stats_and_mids(a),
    );
    let ((a_abs, a_rad), (b_abs, b_rad)) = (super::maxima(&sa), super::maxima(&sb));
    // Exact operands need no radius GEMM. Where radii exist, the GEMM's radii are kept even
    // when tiny: the rank-one bounds are up to ~5× looser per product, and on deep graphs the
    // looseness compounds into the radii that end near the runtime's error (measured: the
    // transformer block's this-run gradient bounds went from 2.07 to 7.41× the true error
    // with them wherever the operands' radii were below 10⁻¹¹ of their magnitudes, for no
    // time saved on the MLP bench).
    let by_stats = a_rad == 0.0 && b_rad == 0.0;
    let radius = || {
        let (ma, mb) = (
            Maxima {
                abs: a_abs,
                rad: a_rad,
            },
            Maxima {
                abs: b_abs,
                rad: b_rad,
            },
        );
        (!by_stats)
            .then(|| radius_sums(a, b, g, (ma, mb)))
            .flatten()
    };
    let midpoints = || crate::kernel::matmul_halves(a_mid.view(), b_mid_t.t());
    // The radius GEMM beside the midpoints; without one, the midpoints split in halves.
    let (radius, prod) = if by_stats {
        (None, midpoints())
    } else {
        beside(m * k * n, radius, midpoints)
    };
    if let Some(rs) = radius.as_ref().filter(|rs| rs.sums.dim() == (m, n)) {
        // `f64::MIN_POSITIVE` covers the midpoint GEMM's underflow (`(3k + 13)·η`, k < 10¹⁵)
        // and the scaling back's (`η/2` per multiplication).
        let fin = |&p: &f64, &s: &f32| ball(p, rs.bound(s) + f64::MIN_POSITIVE);
        // Both row-major (as the GEMMs return them): a flat loop, which vectorises (the
        // zip's collect writes through a drop guard, one entry at a time).
        if let (Some(ps), Some(ss)) = (prod.as_slice(), rs.sums.as_slice()) {
            let flat: Vec<Ball> = if parallel(m * n) {
                use rayon::prelude::*;
                ps.par_iter().zip(ss).map(|(p, s)| fin(p, s)).collect()
            } else {
                ps.iter().zip(ss).map(|(p, s)| fin(p, s)).collect()
            };
            if let Ok(c) = Array2::from_shape_vec((m, n), flat) {
                return c;
            }
        }
        return collect!(m * n, Zip::from(&prod).and(&rs.sums), fin);
    }
    let rows = ArrayView2::from_shape((m, 1), &sa[..]);
    let cols = ArrayView2::from_shape((1, n), &sb[..]);
    let (Ok(rows), Ok(cols)) = (rows, cols) else {
        return Array2::from_elem((m, n), Ball::ENTIRE);
    };
    let zip = Zip::from(&prod).and_broadcast(rows).and_broadcast(cols);
    let c = 1.0 + (2.0 * k as f64 + 18.0) * (2.0 * U);
    if a_rad == 0.0 && b_rad == 0.0 {
        // Exact operands: the midpoint GEMM's rounding alone.
        collect!(m * n, zip, |&p: &f64, r: &RowStats, s: &RowStats| {
            ball(
                p,
                (g * rank_one(r, s, Part::Mid, Part::Mid) + f64::MIN_POSITIVE) * c,
            )
        })
    } else {
        collect!(m * n, zip, |&p: &f64, r: &RowStats, s: &RowStats| {
            let mr = rank_one(r, s, Part::Mid, Part::Rad);
            let mm = rank_one(r, s, Part::Mid, Part::Mid);
            let ra_all = rank_one(r, s, Part::Rad, Part::Spread);
            ball(p, (mr + g * mm + ra_all + f64::MIN_POSITIVE) * c)
        })
    }
}

/// Which nonnegative part of a ball operand's entries a rank-one bound sums: `|m|`, `r` or
/// `|m| + r`.
#[derive(Clone, Copy)]
enum Part {
    Mid,
    Rad,
    Spread,
}

impl Part {
    /// `(‖x‖₁, max x, ‖x‖₂)` of the part `x` of a row (NaN for an out-of-range norm).
    #[inline]
    fn of(self, s: &RowStats) -> (f64, f64, f64) {
        match self {
            Part::Mid => (s.abs, s.absmax, s.norm),
            Part::Rad => (s.rsum, s.rad, s.rnorm),
            // `‖|m| + r‖₂ ≤ ‖m‖₂ + ‖r‖₂`.
            Part::Spread => (s.abs + s.rsum, s.absmax + s.rad, s.norm + s.rnorm),
        }
    }
}

/// An upper bound (before the rounding slack) on `Σ_k x_k·y_k` for the part `pa` of a row of
/// `A` and the part `pb` of a column of `B` (a row of `Bᵀ`), bounded three ways — Hölder's
/// `‖x‖₁·max y` and `max x·‖y‖₁`, and Cauchy–Schwarz's `‖x‖₂‖y‖₂` — and the smallest taken.
/// Radii proportional to their midpoints (softmax probabilities, whose row sums are 1) are
/// then bounded by their sum instead of `n` times their maximum, and random ones within about
/// `π/2` of the exact sum.
///
/// Plain products, and `min` as a select: where a Hölder product is 0·∞ = NaN the select
/// either returns the other arm (never below the true value of the pair, 0) or the NaN, which
/// [`ball`] turns into an infinite radius; a NaN Cauchy–Schwarz product (a norm out of range)
/// is never selected. No branches, so the loops vectorise.
#[inline]
fn rank_one(a: &RowStats, b: &RowStats, pa: Part, pb: Part) -> f64 {
    let ((l1a, maxa, l2a), (l1b, maxb, l2b)) = (pa.of(a), pb.of(b));
    let h = l1a * maxb;
    let h2 = maxa * l1b;
    let h = if h2 < h { h2 } else { h };
    let cs = l2a * l2b;
    if cs < h { cs } else { h }
}
