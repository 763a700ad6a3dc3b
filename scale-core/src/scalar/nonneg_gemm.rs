//! Upper bounds on products of nonnegative matrices by one `f32` GEMM: the radii of the ball
//! products ([`Ball`](super::Ball) and [`AnyRun`](super::AnyRun) matrix products).
//!
//! A radius only has to be an upper bound, and a few parts in 10⁴ of looseness in it cost
//! nothing (the this-run radius is ~10⁻⁹ of the runtime's error; the any-implementation radius
//! is a worst case that is itself far above any run's error), so it is computed at half the
//! width of the midpoints: operands scaled by powers of two into `f32`'s range and rounded up,
//! one `f32` GEMM (several radius terms side by side along the inner dimension), and the
//! result turned into an upper bound with the rounding error of a sum of nonnegative terms.
//! On `bench_mlp` this halved the cost of the radii (they had been two to three `f64` GEMMs,
//! each as wide as the midpoints').

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

/// `f32` unit roundoff.
const U32: f64 = 5.960464477539063e-8;
/// Smallest positive subnormal `f32`, as an `f64`.
const ETA32: f64 = 1.401298464324817e-45;
/// Longest inner dimension given to the `f32` GEMM: `(n + 1)·u₃₂ ≤ 1/2` is what the bound on
/// its rounding needs, with a wide margin.
const MAX_INNER: usize = 1 << 20;

/// `2^e` for `e` in `f64`'s normal exponent range (clamped to it).
fn pow2(e: i32) -> f64 {
    let e = e.clamp(-1022, 1023);
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// The power-of-two exponent `e` with `2^e ≤ x < 2^(e+1)` for a positive finite `x`, clamped
/// so that `2^-e` is a normal `f64`; 0 otherwise.
fn exponent(x: f64) -> i32 {
    if x > 0.0 && x.is_finite() {
        (x.log2().floor() as i32).clamp(-1022, 1022)
    } else {
        0
    }
}

/// `y` rounded up to an `f32` (`y ≥ 0` finite): the nearest `f32`, one step up where that is
/// below `y` (for a nonnegative finite `f32` the next one up is the next bit pattern, 0
/// included). Branch-free, so the packing loops vectorise.
#[inline]
fn up32(y: f64) -> f32 {
    let f = y as f32;
    f32::from_bits(f.to_bits() + u32::from(f64::from(f) < y))
}

/// An `f32` operand: one or two parts of `x`, side by side along `inner` (the product's inner
/// dimension: axis 1 of a left operand, axis 0 of a right one). Built in `x`'s memory order,
/// so a transposed view (common: `Aᵀ·D` in a VJP) becomes a column-major array the GEMM reads
/// as is.
fn pack<T, F, G>(x: ArrayView2<'_, T>, inner: Axis, f: &F, g: Option<&G>) -> Array2<f32>
where
    T: Copy,
    F: Fn(T) -> f32,
    G: Fn(T) -> f32,
{
    if !x.is_standard_layout() && x.t().is_standard_layout() {
        let other = Axis(1 - inner.index());
        return pack(x.t(), other, f, g).reversed_axes();
    }
    let (rows, cols) = x.dim();
    // Contiguous rows map over slices (a trusted length: the loops vectorise without a
    // capacity check per entry).
    fn put<T: Copy, H: Fn(T) -> f32>(out: &mut Vec<f32>, row: ArrayView1<'_, T>, h: &H) {
        match row.as_slice() {
            Some(r) => out.extend(r.iter().map(|&b| h(b))),
            None => out.extend(row.iter().map(|&b| h(b))),
        }
    }
    let mut out: Vec<f32> = Vec::with_capacity(2 * rows * cols);
    let shape = match (g, inner) {
        (None, _) => {
            x.rows().into_iter().for_each(|row| put(&mut out, row, f));
            (rows, cols)
        }
        (Some(g), Axis(1)) => {
            for row in x.rows() {
                put(&mut out, row, f);
                put(&mut out, row, g);
            }
            (rows, 2 * cols)
        }
        (Some(g), _) => {
            x.rows().into_iter().for_each(|row| put(&mut out, row, f));
            x.rows().into_iter().for_each(|row| put(&mut out, row, g));
            (2 * rows, cols)
        }
    };
    Array2::from_shape_vec(shape, out).unwrap_or_else(|_| Array2::from_elem((0, 0), 0.0))
}

/// One or two nonnegative parts of an operand, each `f(entry, scale)`: the part's value times
/// the power-of-two `scale` (applied inside, so nothing overflows or underflows on the way).
pub(crate) type Parts<F, G> = (F, Option<G>);

/// Scaled `f32` sums `S` of a nonnegative product, and how to turn each into an upper bound
/// on the exact sum ([`NonnegSums::bound`]).
///
/// Every term is nonnegative, so whatever the order, blocking or FMA use of the GEMM, each of
/// the at most `n + 1` roundings on a term's path loses at most a relative `u₃₂`, and the at
/// most `2n` roundings in the subnormal range an absolute `η₃₂/2` each; hence the exact sum is
/// at most `(s + n·η₃₂)·(1 + 2(n + 3)·u₃₂)` (`(1 − u)^-(n+1) ≤ 1 + 2(n+1)u`; the two spare
/// terms absorb the operands' own `f64` roundings and the caller's few, all relative `u₆₄`),
/// plus one more `η₃₂` for operand entries whose scaled `f64` value underflowed (each below
/// 2^-1074, times an entry below 4 of the other operand). This relies on faer's GEMM being a
/// classical product (no Strassen-like subtractions).
pub(crate) struct NonnegSums {
    /// The scaled `f32` sums, row-major `m × n`.
    pub(crate) sums: Array2<f32>,
    /// `(n + 1)·η₃₂`, added to each sum before scaling back.
    floor: f64,
    /// `(1 + 2(n + 3)·u₃₂)·2^(eA + eB)`: rounding slack and the scaling undone.
    factor: f64,
    /// The rest of `2^(eA + eB)` when it does not fit one factor.
    factor2: f64,
}

impl NonnegSums {
    /// The upper bound of the exact sum that `s` (an entry of `sums`) stands for. It may be
    /// `+∞` (an exact sum beyond `f64`), never NaN; below `f64::MIN_POSITIVE` it may have lost
    /// `η/2` to underflow, which callers cover with their own `f64::MIN_POSITIVE` term.
    #[inline]
    pub(crate) fn bound(&self, s: f32) -> f64 {
        (f64::from(s) + self.floor) * self.factor * self.factor2
    }
}

/// Upper bounds on the entries of `L·R`, where `L` is made of the parts `left` of `a`'s
/// entries side by side along the inner dimension and `R` of the parts `right` of `b`'s,
/// stacked (both operands need the same number of parts). `maxima` are upper bounds on the
/// entries of `L` and `R` (for the scaling; they need not be tight). `None` when an inner
/// dimension is too long for the `f32` bound or the parts do not match.
pub(crate) fn nonneg_sums<T, F1, F2, G1, G2>(
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    maxima: (f64, f64),
    left: Parts<F1, F2>,
    right: Parts<G1, G2>,
) -> Option<NonnegSums>
where
    T: Copy,
    F1: Fn(T, f64) -> f64,
    F2: Fn(T, f64) -> f64,
    G1: Fn(T, f64) -> f64,
    G2: Fn(T, f64) -> f64,
{
    let parts = 1 + usize::from(left.1.is_some());
    if parts != 1 + usize::from(right.1.is_some()) {
        return None;
    }
    let n_inner = parts * a.ncols();
    if n_inner > MAX_INNER {
        return None;
    }
    // Each operand scaled so its largest entry is near 1: every entry within 2^±126 of the
    // largest stays a normal `f32`, and no sum can overflow (n_inner·4 < 2^23).
    let (ea, eb) = (exponent(maxima.0), exponent(maxima.1));
    let (sa, sb) = (pow2(-ea), pow2(-eb));
    let (f1, f2) = (
        |v: T| up32((left.0)(v, sa)),
        left.1.map(|f| move |v: T| up32(f(v, sa))),
    );
    let (g1, g2) = (
        |v: T| up32((right.0)(v, sb)),
        right.1.map(|g| move |v: T| up32(g(v, sb))),
    );
    let l = pack(a, Axis(1), &f1, f2.as_ref());
    let r = pack(b, Axis(0), &g1, g2.as_ref());
    let sums = crate::kernel::matmul(l.view(), r.view());
    let slack = 1.0 + 2.0 * (n_inner as f64 + 3.0) * U32;
    let e = ea + eb;
    let (factor, factor2) = if (-1022..=1023).contains(&e) {
        (slack * pow2(e), 1.0)
    } else {
        (slack * pow2(ea), pow2(eb))
    };
    Some(NonnegSums {
        sums,
        floor: (n_inner + 1) as f64 * ETA32,
        factor,
        factor2,
    })
}
