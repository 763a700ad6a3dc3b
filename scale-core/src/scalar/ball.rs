//! [`Ball`]: midpoint-radius arithmetic, a fast rigorous spec scalar.
//!
//! A ball `⟨m, r⟩` encloses every real `x` with `|x − m| ≤ r`. Midpoints are computed in plain
//! `f64` round-to-nearest (the same kernels as an `f64` evaluation), radii by upper bounds on
//! the propagated radius plus the midpoint's own rounding error, finished with a proven
//! inflation ([`rad`]). So a ball evaluation costs a few `f64` operations per operation, while
//! an [`Interval`](super::Interval) evaluation needs directed rounding and correctly rounded
//! big-float transcendentals. The radius stays near `f64` precision: for an `f32` graph it is
//! about 10⁻⁹ of the runtime error, which is what makes the this-run mode of
//! [`certify`](crate::RevGraphScale::certify) tight (see [`crate::config::Config::enclose`]).
//!
//! Elementary functions rely on the documented `f64` libm assumption
//! ([`assumed_ulps`](crate::assumed_ulps)), like every runtime bound of this crate.

use super::elementary::assumed_ulps;
use crate::bound::rad;
use crate::round::{abs_diff_up, add_up, sub_down};
use crate::scalar::exp64;
use ndarray::{Array2, ArrayView2};
use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};

mod matmul;

/// `f64` unit roundoff.
const U: f64 = 1.1102230246251565e-16;
/// Smallest positive subnormal `f64` (twice the underflow term of one rounding).
const ETA: f64 = 5e-324;

/// Relative accuracy of an `f64` libm value and a couple more roundings (the libm assumption).
#[inline]
fn libm_rel() -> f64 {
    (4.0 * assumed_ulps() + 8.0) * U
}

/// Statistics of one row of a [`Ball`] matrix, the inputs of the rank-one radius bounds of the
/// ball product: `Σ|m|`, `Σr`, `max r`, `max|m|`, and the Euclidean norms `‖m‖₂`, `‖r‖₂` (NaN
/// where the sums of squares may have underflowed or overflowed: see [`norm2`]).
#[derive(Clone, Copy, Default)]
struct RowStats {
    abs: f64,
    rsum: f64,
    rad: f64,
    absmax: f64,
    norm: f64,
    rnorm: f64,
}

/// Upper bounds on `max |m|` and `max r` over a whole matrix, from its rows' statistics.
fn maxima(rows: &[RowStats]) -> (f64, f64) {
    let max = |a: f64, b: f64| if b > a { b } else { a };
    rows.iter()
        .fold((0.0, 0.0), |(m, r), s| (max(m, s.absmax), max(r, s.rad)))
}

/// `√s`, the Euclidean norm of a row of largest entry `max` whose squares summed to `s` in
/// `f64` — or NaN when the squares may have underflowed or overflowed (`max` outside
/// `[2⁻⁴⁰⁰, 2⁴⁰⁰]` and not 0), so that the caller falls back on the other bounds. Inside that
/// range each square's underflow error is at most `η`, so `k` of them add at most
/// `2⁻²⁷⁴·k·max²` (relative to the sum, ≥ `max²`): covered, with the roundings of the squares,
/// the sum and the root, by the slack factor of the product's radius.
#[inline]
fn norm2(s: f64, max: f64) -> f64 {
    const LO: f64 = 3.872591914849318e-121; // 2⁻⁴⁰⁰
    const HI: f64 = 2.5822498780869086e120; // 2⁴⁰⁰
    let ok = max == 0.0 || (LO..=HI).contains(&max);
    if ok { s.sqrt() } else { f64::NAN }
}

/// `[Σ|m|, Σr, max r, max|m|, Σm², Σr²]` of a row so far, in [`LANES`] independent lanes:
/// one accumulator per statistic would chain every addition through the previous one (about
/// four cycles per entry); lanes let the loop vectorise. Any order of these nonnegative sums
/// is within the rounding slack the product's radius allows for `k` terms. Radii are never
/// NaN (`Ball::new` maps a NaN radius to +∞), so plain selects give the maxima.
#[derive(Clone, Copy, Default)]
struct Lanes([[f64; LANES]; 6]);

/// Lanes of [`Lanes`] (four `f64`: one AVX2 register).
const LANES: usize = 4;

impl Lanes {
    #[inline]
    fn push(&mut self, l: usize, b: &Ball) {
        let max = |acc: f64, v: f64| if v > acc { v } else { acc };
        let [s, q, r, g, s2, r2] = &mut self.0;
        let a = b.m.abs();
        s[l] += a;
        q[l] += b.r;
        r[l] = max(r[l], b.r);
        g[l] = max(g[l], a);
        s2[l] += a * a;
        r2[l] += b.r * b.r;
    }

    /// Every entry of a row, lane `j mod LANES` for entry `j`.
    #[inline]
    fn row(row: &[Ball]) -> Lanes {
        let mut acc = Lanes::default();
        let mut chunks = row.chunks_exact(LANES);
        for c in &mut chunks {
            for (l, b) in c.iter().enumerate() {
                acc.push(l, b);
            }
        }
        for (l, b) in chunks.remainder().iter().enumerate() {
            acc.push(l, b);
        }
        acc
    }

    /// The statistics of one row whose entries went to all the lanes.
    fn stats(&self) -> RowStats {
        let sum = |v: &[f64; LANES]| (v[0] + v[1]) + (v[2] + v[3]);
        let max = |v: &[f64; LANES]| v.iter().fold(0.0, |a: f64, &b| if b > a { b } else { a });
        let [s, q, r, g, s2, r2] = &self.0;
        row_stats([sum(s), sum(q), max(r), max(g), sum(s2), sum(r2)])
    }

    /// The statistics of the row whose entries went to lane `l` (a column-major operand: one
    /// row per lane).
    fn lane(&self, l: usize) -> RowStats {
        row_stats(self.0.map(|v| v[l]))
    }
}

/// [`RowStats`] from `[Σ|m|, Σr, max r, max|m|, Σm², Σr²]`.
fn row_stats([abs, rsum, rad, absmax, sq, rsq]: [f64; 6]) -> RowStats {
    RowStats {
        abs,
        rsum,
        rad,
        absmax,
        norm: norm2(sq, absmax),
        rnorm: norm2(rsq, rad),
    }
}

/// [`RowStats`] of every row of `x`, and its midpoints as an `f64` matrix for the GEMM, in one
/// pass over `x` in memory order whichever way it is laid out: a transposed view (common:
/// `Aᵀ·D` in a VJP) gives a column-major midpoint matrix, which the GEMM reads as is. One pass
/// instead of two, because a large ball operand is read from memory, not from cache (`w1` of
/// the MLP bench is 6.4 MB); each row or column is in cache while its midpoints are copied out
/// and its statistics taken.
fn stats_and_mids(x: ArrayView2<'_, Ball>) -> (Vec<RowStats>, Array2<f64>) {
    let (rows, cols) = x.dim();
    let mut mids = Vec::with_capacity(x.len());
    if rows == 0 || cols == 0 {
        let stats = vec![Lanes::default().stats(); rows];
        return (stats, Array2::zeros((rows, cols)));
    }
    let (stats, mids) = if let Some(xs) = x.as_slice() {
        let stats = xs
            .chunks_exact(cols)
            .map(|row| {
                mids.extend(row.iter().map(|b| b.m));
                Lanes::row(row).stats()
            })
            .collect();
        (stats, Array2::from_shape_vec((rows, cols), mids))
    } else if let Some(xs) = x.t().as_slice() {
        // Column-major: walk the columns (contiguous), each row's statistics in the lane of
        // its row, `LANES` rows at a time (the rows are the lanes here).
        let mut acc = vec![Lanes::default(); rows.div_ceil(LANES)];
        for col in xs.chunks_exact(rows) {
            mids.extend(col.iter().map(|b| b.m));
            for (a, c) in acc.iter_mut().zip(col.chunks(LANES)) {
                for (l, b) in c.iter().enumerate() {
                    a.push(l, b);
                }
            }
        }
        let stats = acc
            .iter()
            .flat_map(|a| (0..LANES).map(move |l| a.lane(l)))
            .take(rows)
            .collect();
        let mids = Array2::from_shape_vec((cols, rows), mids).map(|t| t.reversed_axes());
        (stats, mids)
    } else {
        let stats = x
            .rows()
            .into_iter()
            .map(|row| {
                let row = row.to_vec();
                mids.extend(row.iter().map(|b| b.m));
                Lanes::row(&row).stats()
            })
            .collect();
        (stats, Array2::from_shape_vec((rows, cols), mids))
    };
    let mids = mids.expect("invariant: one midpoint per entry, in memory order");
    (stats, mids)
}

/// A midpoint-radius enclosure `⟨m, r⟩ = [m − r, m + r]` of an exact real value.
///
/// ```
/// use scale_core::{Ball, SpecScalar};
/// let x = Ball::from_f64(0.1) + Ball::from_f64(0.2);
/// assert!(x.lo() <= 0.3 && 0.3 <= x.hi());
/// let e = <Ball as SpecScalar>::exp(Ball::from_f64(1.0));
/// assert!(e.lo() <= std::f64::consts::E && std::f64::consts::E <= e.hi());
/// assert!(e.rad() < 1e-14);
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct Ball {
    m: f64,
    r: f64,
}

impl Ball {
    /// The whole real line (an undefined or unbounded result).
    pub const ENTIRE: Ball = Ball {
        m: 0.0,
        r: f64::INFINITY,
    };

    /// `⟨m, r⟩`; a non-finite midpoint, or a NaN or negative radius, gives [`Ball::ENTIRE`].
    #[inline]
    pub fn new(m: f64, r: f64) -> Ball {
        if m.is_finite() && r >= 0.0 {
            Ball { m, r }
        } else {
            Ball::ENTIRE
        }
    }

    /// The midpoint.
    #[inline]
    pub fn mid(self) -> f64 {
        self.m
    }

    /// The radius (`+∞` for an unbounded enclosure).
    #[inline]
    pub fn rad(self) -> f64 {
        self.r
    }

    /// Upper bound on `|x − v|` over the ball: how far `v` can be from the value enclosed.
    #[inline]
    pub fn max_dist(self, v: f64) -> f64 {
        add_up(abs_diff_up(v, self.m), self.r)
    }

    /// Upper bound on `|x|` over the ball.
    #[inline]
    pub fn mag(self) -> f64 {
        add_up(self.m.abs(), self.r)
    }

    /// The same midpoint with the radius grown by `w ≥ 0`, a quantity computed in plain `f64`
    /// from nonnegative terms with at most `ops` roundings (so the result stays rigorous).
    #[inline]
    pub(crate) fn widened(self, w: f64, ops: u32) -> Ball {
        if w == 0.0 {
            return self;
        }
        Ball::new(self.m, rad(self.r + w, ops + 1))
    }

    #[inline]
    fn from_ends(lo: f64, hi: f64) -> Ball {
        if !(lo <= hi) {
            return Ball::ENTIRE;
        }
        let m = 0.5 * lo + 0.5 * hi;
        // |hi − m| and |m − lo| in plain f64: two roundings each.
        Ball::new(m, rad((hi - m).max(m - lo), 2))
    }
}

impl Default for Ball {
    fn default() -> Self {
        Ball { m: 0.0, r: 0.0 }
    }
}

impl fmt::Debug for Ball {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "⟨{:e} ± {:e}⟩", self.m, self.r)
    }
}

impl Add for Ball {
    type Output = Ball;
    #[inline]
    fn add(self, o: Ball) -> Ball {
        let m = self.m + o.m;
        // |fl(a + b) − (a + b)| ≤ u·|fl(a + b)| (sums never lose to underflow).
        Ball::new(m, rad(self.r + o.r + U * m.abs(), 3))
    }
}

impl Sub for Ball {
    type Output = Ball;
    #[inline]
    fn sub(self, o: Ball) -> Ball {
        self + (-o)
    }
}

impl Neg for Ball {
    type Output = Ball;
    #[inline]
    fn neg(self) -> Ball {
        Ball {
            m: -self.m,
            r: self.r,
        }
    }
}

impl Mul for Ball {
    type Output = Ball;
    #[inline]
    fn mul(self, o: Ball) -> Ball {
        // A zero radius times anything is zero (0 · ∞ would be NaN).
        let t = |a: f64, r: f64| if r == 0.0 { 0.0 } else { a * r };
        let m = self.m * o.m;
        let spread = t(self.m.abs(), o.r) + t(o.m.abs(), self.r) + t(self.r, o.r);
        Ball::new(m, rad(spread + U * m.abs() + ETA, 7))
    }
}

impl Div for Ball {
    type Output = Ball;
    #[inline]
    fn div(self, o: Ball) -> Ball {
        // Divisor bounded away from 0: |y| ≥ d = |o.m| − o.r > 0.
        let d = sub_down(o.m.abs(), o.r);
        if !(d > 0.0) {
            return Ball::ENTIRE;
        }
        let m = self.m / o.m;
        // |x/y − a/b| ≤ (|x − a| + |a/b|·|y − b|)/|y|, and |a/b| ≤ |m|(1 + u) + η.
        let q = m.abs() * (1.0 + 2.0 * U) + ETA;
        let spread = if o.r == 0.0 { 0.0 } else { q * o.r };
        Ball::new(m, rad((self.r + spread) / d + U * m.abs() + ETA, 8))
    }
}

/// A smooth function on a ball: midpoint from the `f64` libm, radius from a bound `lip` on
/// `|f′|` over the ball plus the libm error at the midpoint.
#[inline]
fn smooth(m: f64, r: f64, lip: f64) -> Ball {
    let spread = if r == 0.0 { 0.0 } else { lip * r };
    Ball::new(m, rad(spread + libm_rel() * m.abs() + 1e-300, 4))
}

/// An upper bound of `e^{−s}` for `s ≥ 0` (or NaN: `+∞`), relatively within `s·2⁻²⁴ + 2⁻²¹`
/// of it (at most 6·10⁻⁶, for `s < 87`), from the
/// `f32` exponential: it only scales a radius, so it need not be accurate, and [`exp32`] is
/// branch-free and several times cheaper than the `f64` libm call. The argument is rounded up
/// (so `e^{−s} ≤ e^{y}`), `exp32` is within half an `f32` ulp of `e^y` on every argument
/// (tested exhaustively), and `1 + 2⁻²²` covers that and the product; below `e^{−87}` (where
/// `f32` results lose precision) the bound is `e^{−87}` itself.
///
/// [`exp32`]: crate::scalar::exp32
#[inline]
fn exp_neg_up(s: f64) -> f64 {
    if s.is_nan() {
        return f64::INFINITY;
    }
    if s >= 87.0 {
        return 1.7e-38;
    }
    let y = -s as f32;
    let y = if f64::from(y) < -s { y.next_up() } else { y };
    f64::from(crate::scalar::exp32(y)) * (1.0 + 2.4e-7)
}

/// An upper bound of `|erf′| = (2/√π)·e^{−t²}` over the ball (the `f64` constant within the
/// libm assumption's relative slack, `e^{−t²}` by [`exp_neg_up`], at the smallest `|t|`,
/// rounded down).
fn erf_lip(b: Ball) -> f64 {
    if b.r == 0.0 {
        return 0.0;
    }
    // The smallest |t| over the ball, rounded down: `fl(|m| − r)` errs by at most one unit
    // (and keeps the sign of the exact difference), `1 − 2u` more than covers it.
    let mig = (b.m.abs() - b.r) * (1.0 - 2.0 * U);
    let mig = if mig > 0.0 { mig } else { 0.0 };
    std::f64::consts::FRAC_2_SQRT_PI * exp_neg_up(mig * mig) * (1.0 + 4.0 * libm_rel()) + 1e-300
}

impl crate::scalar::SpecScalar for Ball {
    // An enclosure of v encloses 0 + v.
    const MOVES_INTO_ZERO: bool = true;
    const NAME: &'static str = "ball";
    const RIGOROUS: bool = true;
    #[inline]
    fn from_f64(x: f64) -> Ball {
        Ball::new(x, 0.0)
    }
    #[inline]
    fn lo(self) -> f64 {
        sub_down(self.m, self.r)
    }
    #[inline]
    fn hi(self) -> f64 {
        add_up(self.m, self.r)
    }
    #[inline]
    fn mid(self) -> f64 {
        self.m
    }
    #[inline]
    fn is_exact_zero(self) -> bool {
        self.m == 0.0 && self.r == 0.0
    }
    /// `Σ bᵢ`: the midpoints summed in eight lanes, then the lanes pairwise, each addition's
    /// rounding bounded by `u·|result|` (round to nearest; sums never lose to underflow) and
    /// those bounds summed beside it, so the radius is `(Σrᵢ + u·Σ|partial sums|)·(1 + γ_d)`,
    /// `γ_d` covering the roundings of these nonnegative sums (every term goes through at most
    /// `d = ⌈n/8⌉ + 4` of them) and `rad(·, 4)` the last four. A fold of ball additions had chained
    /// every step through the previous radius (the row sums of layer norm waited on it); this
    /// radius is the fold's without its per-step inflation.
    fn sum<I: IntoIterator<Item = Ball>>(it: I) -> Ball {
        let (mut m, mut e, mut r) = ([0.0f64; 8], [0.0f64; 8], [0.0f64; 8]);
        let mut n = 0usize;
        for b in it {
            let l = n % 8;
            m[l] += b.m;
            e[l] += m[l].abs();
            r[l] += b.r;
            n += 1;
        }
        if n == 0 {
            return Ball::from_f64(0.0);
        }
        // The midpoints' tree records its seven additions' roundings too.
        let mut e_tree = 0.0f64;
        let mut add = |x: f64, y: f64| {
            let s = x + y;
            e_tree += s.abs();
            s
        };
        let (m01, m23, m45, m67) = (
            add(m[0], m[1]),
            add(m[2], m[3]),
            add(m[4], m[5]),
            add(m[6], m[7]),
        );
        let (lo, hi) = (add(m01, m23), add(m45, m67));
        let mid = add(lo, hi);
        let tree = |v: [f64; 8]| ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
        let g = crate::bound::Bound::gamma(n.div_ceil(8) + 4, U).get();
        let (errs, rsum) = (tree(e) + e_tree, tree(r));
        Ball::new(mid, rad((rsum + U * errs) * (1.0 + g), 4))
    }

    fn hull(self, o: Ball) -> Ball {
        if self.r.is_infinite() || o.r.is_infinite() {
            return Ball::ENTIRE;
        }
        Ball::from_ends(self.lo().min(o.lo()), self.hi().max(o.hi()))
    }
    #[inline]
    fn select_pos(self, a: Ball, b: Ball) -> Ball {
        if self.lo() > 0.0 {
            a
        } else if self.hi() <= 0.0 {
            b
        } else {
            a.hull(b)
        }
    }
    #[inline]
    fn abs(self) -> Ball {
        if self.m.abs() >= self.r {
            // 1-Lipschitz and exact on the midpoint; the ball stays on one side of 0.
            Ball {
                m: self.m.abs(),
                r: self.r,
            }
        } else {
            // Straddling 0: |x| ∈ [0, |m| + r] (a ball around |m| would dip below 0, and code
            // that evaluates an even function at the ends of |x| relies on the low end ≥ 0).
            // `h/2` is exact (above the subnormal range), so the ball is exactly [0, h].
            let h = add_up(self.m.abs(), self.r);
            Ball::new(0.5 * h, 0.5 * h)
        }
    }
    #[inline]
    fn max(self, o: Ball) -> Ball {
        // max is 1-Lipschitz in the sup norm and exact on the midpoints.
        Ball {
            m: self.m.max(o.m),
            r: self.r.max(o.r),
        }
    }
    fn exp(self) -> Ball {
        let m = exp64(self.m);
        // |exp′| ≤ e^{m + r} = e^m·e^r over the ball. e^m is within the libm slack ε of the
        // midpoint's value (so ≤ fl(e^m)·(1 + 2ε)), and e^r ≤ 1 + 2r for r ≤ 1 (`4u` covers
        // the three products): no second libm call. A wider ball takes e^{m + r} itself.
        let lip = if self.r <= 1.0 {
            m * (1.0 + 2.0 * libm_rel()) * (1.0 + 2.0 * self.r) * (1.0 + 4.0 * U)
        } else {
            exp64(add_up(self.m, self.r)) * (1.0 + libm_rel())
        };
        smooth(m, self.r, lip)
    }
    fn ln(self) -> Ball {
        let lo = self.lo();
        if !(lo > 0.0) {
            return Ball::ENTIRE;
        }
        smooth(self.m.ln(), self.r, (1.0 / lo) * (1.0 + 2.0 * U))
    }
    fn tanh(self) -> Ball {
        smooth(self.m.tanh(), self.r, 1.0)
    }
    fn sigmoid(self) -> Ball {
        smooth(
            <f64 as crate::scalar::SpecScalar>::sigmoid(self.m),
            self.r,
            0.25,
        )
    }
    fn softplus(self) -> Ball {
        smooth(
            <f64 as crate::scalar::SpecScalar>::softplus(self.m),
            self.r,
            1.0,
        )
    }
    /// `√x` where the ball lies in `x ≥ 0` (else the whole line): midpoint `fl(√m)`, radius
    /// `min(r/(√lo + √m), √r)` (`|√x − √m| = |x − m|/(√x + √m)` with `√x ≥ √lo` over the ball,
    /// and `≤ √|x − m|`) plus its rounding. (`r/√m` alone, as before the sixteenth session,
    /// was twice the interval's half-width for a narrow ball: a layer norm's `σ` carried it.)
    fn sqrt(self) -> Ball {
        let lo = self.lo();
        if !(lo >= 0.0) {
            return Ball::ENTIRE;
        }
        let m = self.m.sqrt();
        let spread = if self.r == 0.0 {
            0.0
        } else if m > 0.0 {
            // A lower bound on `√lo + √m`: the two roots and the sum each round by at most
            // one unit, and `1 − 4u` covers them and its own product.
            let den = (lo.sqrt() + m) * (1.0 - 4.0 * U);
            (self.r / den).min(self.r.sqrt())
        } else {
            self.r.sqrt()
        };
        Ball::new(m, rad(spread + U * m, 5))
    }
    /// `erf` from the `f64` libm (the libm assumption), radius from `|erf′| = (2/√π)e^{−t²}` at
    /// the point of the ball nearest 0.
    fn erf(self) -> Ball {
        smooth(libm::erf(self.m), self.r, erf_lip(self))
    }
    /// `erfc`, likewise (relatively accurate in the tail: the radius follows `e^{−t²}`).
    fn erfc(self) -> Ball {
        smooth(libm::erfc(self.m), self.r, erf_lip(self))
    }
    /// The product of ball matrices: an `f64` GEMM for the midpoints, and one nonnegative `f32`
    /// GEMM for the radii where an operand has them (rounded outwards: an upper bound a few
    /// parts in 10⁴ above the exact radius sums), or else row and column statistics.
    fn matmul(a: ArrayView2<'_, Ball>, b: ArrayView2<'_, Ball>) -> Array2<Ball> {
        matmul::matmul(a, b)
    }

    fn square(self) -> Ball {
        let m = self.m * self.m;
        // |x² − a²| = |x − a|·|x + a| ≤ r(2|a| + r).
        let spread = if self.r == 0.0 {
            0.0
        } else {
            self.r * (2.0 * self.m.abs() + self.r)
        };
        Ball::new(m, rad(spread + U * m + ETA, 5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::{Interval, SpecScalar};

    /// Both enclose the same real: the ball must contain the interval's midpoint neighbourhood
    /// for exact operations, and at least overlap otherwise.
    fn overlaps(b: Ball, i: Interval) -> bool {
        b.lo() <= i.hi() && i.lo() <= b.hi()
    }

    #[test]
    fn operations_enclose() {
        let vals = [0.1, -0.3, 2.5, 1e-300, -7.0, 1e10, 3.0e-8, 0.0];
        for &a in &vals {
            for &b in &vals {
                let (ba, bb) = (Ball::from_f64(a), Ball::from_f64(b));
                let (ia, ib) = (Interval::point(a), Interval::point(b));
                assert!(overlaps(ba + bb, ia + ib), "{a} + {b}");
                assert!(overlaps(ba - bb, ia - ib), "{a} - {b}");
                assert!(overlaps(ba * bb, ia * ib), "{a} * {b}");
                if b != 0.0 {
                    assert!(overlaps(ba / bb, ia / ib), "{a} / {b}");
                }
            }
            let (ba, ia) = (Ball::new(a, a.abs() * 1e-12), Interval::point(a));
            for (x, y) in [
                (ba.exp(), ia.exp()),
                (ba.tanh(), ia.tanh()),
                (ba.sigmoid(), ia.sigmoid()),
                (ba.softplus(), ia.softplus()),
                (ba.square(), ia.square()),
            ] {
                assert!(x.lo() <= y.lo() && y.hi() <= x.hi(), "{a}: {x:?} vs {y:?}");
            }
        }
        assert_eq!(Ball::from_f64(-1.0).ln().rad(), f64::INFINITY);
        assert_eq!(
            (Ball::from_f64(1.0) / Ball::new(0.0, 1.0)).rad(),
            f64::INFINITY
        );
        assert_eq!(Ball::from_f64(f64::NAN).rad(), f64::INFINITY);
        // |x| of a ball straddling 0 starts at 0, never below.
        let a = Ball::new(0.1, 0.5).abs();
        assert!(a.lo() == 0.0 && a.hi() >= 0.6);
    }

    /// The `e^{−s}` bound behind `erf`'s radius is above the interval `exp` everywhere (NaN,
    /// ±∞ and `f64::MAX` included) and close to it below `s = 87`.
    #[test]
    fn exp_neg_up_bounds_from_above_and_stays_close() {
        let grid = [
            0.0, 5e-324, 1e-300, 1e-10, 1e-3, 0.5, 1.0, 7.25, 40.0, 86.99, 87.0, 1e3,
        ];
        for &s in grid.iter().chain(&[f64::MAX, f64::INFINITY]) {
            let exact = <Interval as SpecScalar>::exp(Interval::point(-s));
            let up = exp_neg_up(s);
            assert!(up >= exact.hi(), "e^-{s:e}: {up:e} below {exact:?}");
            if s < 87.0 {
                let close = 1.0 + s * 6e-8 + 5e-7;
                assert!(up <= exact.hi() * close, "e^-{s:e}: {up:e} vs {exact:?}");
            }
        }
        assert_eq!(exp_neg_up(f64::NAN), f64::INFINITY);
    }

    /// Radii from one libm call stay sound where the ball is not finite or overflows: the
    /// whole line in gives the whole line out, `exp` of a huge ball is unbounded, and a ball
    /// just below `exp`'s overflow still holds the value at its top end.
    #[test]
    fn smooth_radii_of_unbounded_balls_are_infinite() {
        let entire = Ball::new(f64::NAN, 1.0);
        for f in [
            <Ball as SpecScalar>::exp,
            <Ball as SpecScalar>::erf,
            <Ball as SpecScalar>::erfc,
            <Ball as SpecScalar>::sqrt,
        ] {
            assert_eq!(f(entire).rad(), f64::INFINITY);
            assert_eq!(f(Ball::new(0.5, f64::INFINITY)).rad(), f64::INFINITY);
        }
        assert_eq!(
            <Ball as SpecScalar>::exp(Ball::new(f64::MAX, 1.0)).rad(),
            f64::INFINITY
        );
        // Near overflow the ball still reaches the top end's value, e^{709.5} ≈ 1.35e308.
        let near = <Ball as SpecScalar>::exp(Ball::new(709.0, 0.5));
        let top = <Interval as SpecScalar>::exp(Interval::point(709.5));
        assert!(
            near.hi() >= top.hi() && near.lo() <= exp64(708.5),
            "{near:?}"
        );
    }

    /// `√` of a ball holds the outward-rounded root of every point, also with the radius as
    /// large as the midpoint (the `√r` branch) and at 0; a ball reaching below 0 is the line.
    #[test]
    fn sqrt_encloses() {
        for &a in &[0.0, 1e-300, 3.0e-8, 0.1, 2.0, 2.5, 1e10, 1e300] {
            for rel in [0.0, 1e-12, 0.5, 1.0] {
                let b = Ball::new(a, a * rel);
                let i = Interval::new(b.lo(), b.hi()).sqrt();
                let s = b.sqrt();
                assert!(
                    s.lo() <= i.lo() && i.hi() <= s.hi(),
                    "√{b:?}: {s:?} vs {i:?}"
                );
                // A narrow ball's root is as narrow as the interval's (not twice as wide).
                if rel == 1e-12 && a >= 0.1 {
                    let half = (i.hi() - i.lo()) / 2.0;
                    assert!(
                        s.rad() <= 1.01 * half + 8.0 * U * s.mid(),
                        "√{b:?}: {s:?} vs {i:?}"
                    );
                }
            }
        }
        assert_eq!(Ball::new(0.0, 1e-20).sqrt().rad(), f64::INFINITY);
        assert_eq!(Ball::from_f64(-1.0).sqrt().rad(), f64::INFINITY);
        assert_eq!(
            Ball::from_f64(4.0).sqrt(),
            Ball::new(2.0, Ball::from_f64(4.0).sqrt().rad())
        );
    }
}

#[cfg(test)]
mod matmul_tests {
    use super::*;
    use crate::scalar::SpecScalar;
    use ndarray::Array2;
    use proptest::prelude::*;

    /// A midpoint of any magnitude the bound must survive: signs, cancellation, huge, tiny,
    /// subnormal and exact zeros.
    fn mid() -> impl Strategy<Value = f64> {
        prop_oneof![
            -4.0f64..4.0,
            Just(0.0),
            (-1.0f64..1.0).prop_map(|x| x * 1e150),
            (-1.0f64..1.0).prop_map(|x| x * 1e-300),
            (-1.0f64..1.0).prop_map(|x| x * 4e-320),
            (-1.0f64..1.0).prop_map(|x| x * f64::MAX),
        ]
    }

    /// Radii in the patterns the Hölder pairs choose between: none, uniform, proportional to
    /// the midpoint (softmax rows), a single wide entry, and unbounded.
    fn balls(n: usize) -> impl Strategy<Value = Vec<Ball>> {
        (
            prop::collection::vec(mid(), n),
            0usize..5,
            0usize..n.max(1),
            -20.0f64..0.0,
        )
            .prop_map(move |(ms, pattern, at, e)| {
                let w = 10f64.powf(e);
                ms.iter()
                    .enumerate()
                    .map(|(i, &m)| {
                        let r = match pattern {
                            0 => 0.0,
                            1 => w,
                            2 => m.abs() * w,
                            3 => {
                                if i == at {
                                    w
                                } else {
                                    0.0
                                }
                            }
                            _ => {
                                if i == at {
                                    f64::INFINITY
                                } else {
                                    w * 1e-3
                                }
                            }
                        };
                        Ball::new(m, r)
                    })
                    .collect()
            })
    }

    /// Exact reals: at 4500 bits no sum or product of these `f64` values rounds.
    type E = dashu_float::FBig<dashu_float::round::mode::Zero, 2>;

    fn ex(x: f64) -> E {
        E::try_from(x).unwrap().with_precision(4500).value()
    }

    /// The exact range of `Σ_k a_k·b_k` over the balls, or `None` when it is unbounded. Each
    /// variable occurs once, so the range is the sum of the per-term ranges, each spanned by
    /// the four corners.
    fn exact_range(a: &[Ball], b: &[Ball]) -> Option<(E, E)> {
        let (mut lo, mut hi) = (ex(0.0), ex(0.0));
        for (x, y) in a.iter().zip(b) {
            if x.is_exact_zero() || y.is_exact_zero() {
                continue;
            }
            if x.rad().is_infinite() || y.rad().is_infinite() {
                return None;
            }
            let ends = |v: &Ball| [ex(v.mid()) - ex(v.rad()), ex(v.mid()) + ex(v.rad())];
            let (xs, ys) = (ends(x), ends(y));
            let ps: Vec<E> = xs
                .iter()
                .flat_map(|p| ys.iter().map(move |q| p.clone() * q.clone()))
                .collect();
            lo += ps.iter().min().unwrap().clone();
            hi += ps.iter().max().unwrap().clone();
        }
        Some((lo, hi))
    }

    /// Midpoints where the radius GEMM runs in `f32`: one scale per matrix, entries spread over
    /// 2^±140 of it (some below `f32`'s subnormals once scaled), zeros and `f64` subnormals.
    fn mid32() -> impl Strategy<Value = f64> {
        prop_oneof![
            -4.0f64..4.0,
            Just(0.0),
            (-1.0f64..1.0, -140i32..10).prop_map(|(x, e)| x * 2f64.powi(e)),
            (-1.0f64..1.0).prop_map(|x| x * 4e-320),
        ]
    }

    /// Balls for the `f32` radius path: radii none, uniform, relative, scattered tiny and huge
    /// (finite), at any overall scale `2^s`.
    fn balls32(n: usize) -> impl Strategy<Value = Vec<Ball>> {
        (
            prop::collection::vec((mid32(), 0usize..4, -200i32..20), n),
            -900i32..900,
            0usize..3,
        )
            .prop_map(move |(v, s, pattern)| {
                let scale = 2f64.powi(s);
                v.iter()
                    .map(|&(m, kind, e)| {
                        let r = match (pattern, kind) {
                            (0, _) | (_, 0) => 0.0,
                            (1, _) => 2f64.powi(e),
                            _ => m.abs() * 2f64.powi(e.min(0)),
                        };
                        Ball::new(m * scale, r * scale)
                    })
                    .collect()
            })
    }

    /// `x` as stored (row-major, layout 0), as the transpose of a row-major array
    /// (column-major, 1) — the two layouts the kernels read without a copy — or every other
    /// column of a wider array (strided, 2: neither).
    fn laid_out(x: Array2<Ball>, layout: u8) -> Array2<Ball> {
        match layout {
            1 => x.t().as_standard_layout().into_owned().reversed_axes(),
            2 => {
                let (m, k) = x.dim();
                let mut wide = Array2::from_shape_fn((m, 2 * k), |(i, j)| {
                    if j % 2 == 0 {
                        x[(i, j / 2)]
                    } else {
                        Ball::ENTIRE
                    }
                });
                wide.slice_axis_inplace(ndarray::Axis(1), ndarray::Slice::new(0, None, 2));
                wide
            }
            _ => x,
        }
    }

    /// Every entry of the ball product against the exact range of its dot product.
    fn check_product(a: &Array2<Ball>, b: &Array2<Ball>) -> Result<(), TestCaseError> {
        let ball = Ball::matmul(a.view(), b.view());
        prop_assert_eq!(ball.dim(), (a.nrows(), b.ncols()));
        for ((i, j), x) in ball.indexed_iter() {
            let row: Vec<Ball> = a.row(i).to_vec();
            let col: Vec<Ball> = b.column(j).to_vec();
            match exact_range(&row, &col) {
                None => prop_assert!(x.rad().is_infinite(), "{x:?} must be unbounded"),
                Some((lo, hi)) => {
                    // An end at ±∞ (near `f64::MAX`) encloses everything on its side.
                    let below = x.lo() == f64::NEG_INFINITY || ex(x.lo()) <= lo;
                    let above = x.hi() == f64::INFINITY || hi <= ex(x.hi());
                    if x.rad().is_finite() {
                        prop_assert!(below && above, "({i}, {j}): {x:?} vs [{lo}, {hi}]");
                    }
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// The `f32` radius GEMM (both, one or no operand with radii; either layout; inner
        /// dimensions up to 40) encloses the exact product.
        #[test]
        fn f32_radius_path_encloses(
            (m, k, n) in (0usize..5, 0usize..41, 0usize..5),
            a in balls32(4 * 40),
            b in balls32(40 * 4),
            (ta, tb) in (0u8..3, 0u8..3),
        ) {
            let a = laid_out(Array2::from_shape_fn((m, k), |(i, j)| a[i * 40 + j]), ta);
            let b = laid_out(Array2::from_shape_fn((k, n), |(i, j)| b[i * 4 + j]), tb);
            check_product(&a, &b)?;
        }

        /// The ball sum (eight lanes and a tree, any length) contains the exact sum of every
        /// choice of points of the balls, and is unbounded where that is.
        #[test]
        fn sum_encloses_the_sum_of_every_point_of_the_balls(
            k in 0usize..41,
            a in prop_oneof![balls(40), balls32(40)],
        ) {
            let a = &a[..k];
            let x = <Ball as SpecScalar>::sum(a.iter().copied());
            match exact_range(a, &vec![Ball::from_f64(1.0); k]) {
                None => prop_assert!(x.rad().is_infinite(), "{x:?} must be unbounded"),
                Some((lo, hi)) => {
                    let below = x.lo() == f64::NEG_INFINITY || ex(x.lo()) <= lo;
                    let above = x.hi() == f64::INFINITY || hi <= ex(x.hi());
                    prop_assert!(below && above, "{k}: {x:?} vs [{lo}, {hi}]");
                }
            }
        }

        /// The ball product must contain the exact product of every choice of points of the
        /// operand balls (computed exactly), and be unbounded where that is.
        #[test]
        fn matmul_encloses_the_product_of_every_point_of_the_balls(
            (m, k, n) in (0usize..5, 0usize..7, 0usize..5),
            a in balls(4 * 6),
            b in balls(6 * 4),
            (ta, tb) in (0u8..3, 0u8..3),
        ) {
            let a = laid_out(Array2::from_shape_fn((m, k), |(i, j)| a[i * 6 + j]), ta);
            let b = laid_out(Array2::from_shape_fn((k, n), |(i, j)| b[i * 4 + j]), tb);
            check_product(&a, &b)?;
        }
    }

    /// The `f32` radius is tight: within 10⁻³ of the radius sum computed entry by entry in
    /// `f64` (what the two `f64` radius GEMMs gave before), for every operand pattern and a
    /// 784-long inner dimension.
    #[test]
    fn f32_radius_is_as_tight_as_the_f64_sums() {
        let (m, k, n) = (3, 784, 5);
        let g = crate::bound::Bound::gamma(k, U).get();
        for (ra, rb) in [(true, false), (false, true), (true, true)] {
            let normal =
                crate::random::gaussian::<f64, _>(&mut crate::random::rng(7), 2 * k * 8, 1.0);
            let mut z = normal.iter();
            let mut ball = |rad: bool, scale: f64| {
                let x = z.next().copied().unwrap_or(1.0) * scale;
                Ball::new(x, if rad { x.abs() * 1e-9 + 1e-12 } else { 0.0 })
            };
            let a = Array2::from_shape_fn((m, k), |_| ball(ra, 0.7));
            let b = Array2::from_shape_fn((k, n), |_| ball(rb, 0.03));
            let c = Ball::matmul(a.view(), b.view());
            for ((i, j), x) in c.indexed_iter() {
                let want: f64 = (0..k)
                    .map(|t| {
                        let (p, q) = (a[(i, t)], b[(t, j)]);
                        p.m.abs() * (q.r + g * q.m.abs()) + p.r * (q.m.abs() + q.r)
                    })
                    .sum();
                assert!(x.rad() >= want, "{x:?} below {want:e}");
                assert!(
                    x.rad() <= want * 1.001,
                    "({ra}, {rb}): {:e} vs {want:e}",
                    x.rad()
                );
            }
        }
    }
}
