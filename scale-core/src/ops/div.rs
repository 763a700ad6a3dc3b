//! `div(a, b) = a / b`, elementwise (SPEC §9b), a member of the [`Binary`] family.
//!
//! The quotient is only defined, and only Lipschitz, away from `b = 0`; so every bound first
//! decides the precondition from data: per entry the runtime divisor must clear its own error,
//! `|b̂| > ε_b` (then the spec divisor is nonzero with the runtime one's sign, and
//! `|b| ≥ m = |b̂| − ε_b > 0`, rounded down). One entry without that margin makes the tensor's
//! bound `+∞`: a wrong finite number is never possible, a loose one is.
//!
//! Bounds are built with directed rounding ([`crate::round`]) from the margin `m`, so tiny
//! divisors and underflowing products cannot make a term come out below its exact value:
//!
//! * forward and `a`'s cotangent (`δ/b`): `ε_n/m + |n̂|·ε_b/(m·|b̂|)` for numerator `n` plus the
//!   measured rounding of `fl(n̂/b̂)`;
//! * `b`'s cotangent `−δ·((a/b)/b)` (PyTorch's formula):
//!   `ε_δ(|â| + ε_a)/m² + |δ̂|·(ε_a/m² + |â|·ε_b(2|b̂| + ε_b)/(m²·b̂²))` plus its measured rounding;
//! * scale bounds are `+∞` (like `log`'s): the scale parts receive no eps, and `|a/b|` is
//!   unbounded when only upper bounds of `|b|` are known. Reports tighten them to `|ŷ| + ε`.

use super::kit::{Binary, BinaryFn, Pair, cotangents};
use super::util::{TINY, div_err, nan_max, ref_dist};
use crate::bound::{Bound, U64, inflate};
use crate::handle::Var;
use crate::round::{add_up, div_up, mul_down, mul_up, sub_down};
use crate::scalar::{Arith, Runtime};
use crate::shape::{SameShape, Shape};
use ndarray::{ArrayD, Zip};

/// Marker of `div` (the [`Binary`] family).
pub struct DivFn;

/// `a / b`, elementwise.
pub type Div<S, B> = Binary<S, B, DivFn>;

/// `a / b` elementwise; shapes must be equal (checked by the types, like [`add`](super::add)).
/// Bounds are `+∞` unless every runtime divisor clears its error: `|b̂| > ε_b`.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, RevGraphScale, TList};
/// let (g, (a, b)) =
///     RevGraphScale::<f32, Seg<Nil, (Rank1<2>, Rank1<2>)>, Nil, _>::nil(scale_core::brand!());
/// let (g, q) = g.snoc(ops::div(a, b));
/// let (g, s) = g.snoc(ops::sum(q));
/// let xr = TList::from_arrays(vec![
///     ndarray::arr1(&[1.0f32, 3.0]).into_dyn(),
///     ndarray::arr1(&[4.0f32, -2.0]).into_dyn(),
/// ])?;
/// let (e, bs) = g.exact_inputs(&xr);
/// let (seed, es, b_seed) = g.loss_seed(s);
/// let cert = g.certify(xr, &e, &bs, &seed, &es, &b_seed);
/// assert_eq!(cert.value(s), -1.25);
/// assert!(cert.eps.get(q).get() < 1e-6); // exact inputs: only the rounding of 1/4, 3/−2
/// # Ok::<(), scale_core::Error>(())
/// ```
pub fn div<S, S2, B>(a: Var<S, B>, b: Var<S2, B>) -> Div<S, B>
where
    S: Shape + SameShape<S2>,
    S2: Shape,
{
    Binary::new([a.arg(), b.arg()])
}

/// `q/d` rounded up for nonnegative `q`, `d` (a zero numerator is 0 whatever `d`; `d = 0` gives
/// `+∞`, NaN stays NaN for the caller's [`nan_max`]).
#[inline]
fn quo_up(q: f64, d: f64) -> f64 {
    if q == 0.0 { 0.0 } else { div_up(q, d) }
}

/// The divisor's margin `|b̂| − ε_b`, rounded down; `None` where the precondition fails (the
/// spec divisor may be 0 or of the other sign, or `b̂` is not a finite nonzero number).
#[inline]
fn margin(b: f64, eb: f64) -> Option<f64> {
    let m = sub_down(b.abs(), eb);
    (m > 0.0 && b.is_finite()).then_some(m)
}

/// Error of an elementwise quotient `v̂ = fl(n̂/b̂)` against `n/b`:
/// `max_i [ε_n/m_i + |n̂_i|·ε_b/(m_i·|b̂_i|) + |v̂_i − n̂_i/b̂_i|]`, `+∞` where a margin fails.
fn quotient_eps<R: Runtime>(
    n: &ArrayD<R>,
    en: Bound,
    b: &ArrayD<R>,
    eb: Bound,
    out: &ArrayD<R>,
) -> Bound {
    let (fen, feb) = (en.get(), eb.get());
    if fen.is_infinite() || feb.is_infinite() {
        return Bound::INF;
    }
    let mut worst = 0.0f64;
    let mut ok = true;
    Zip::from(n).and(b).and(out).for_each(|&x, &y, &o| {
        let (x, y) = (x.to_spec(), y.to_spec());
        let Some(m) = margin(y, feb) else {
            ok = false;
            return;
        };
        let prop = add_up(
            quo_up(fen, m),
            quo_up(mul_up(x.abs(), feb), mul_down(m, y.abs())),
        );
        worst = nan_max(worst, add_up(prop, div_err(o.to_spec(), x, y)));
    });
    if !ok {
        return Bound::INF;
    }
    inflate(worst, 2)
}

/// Error of `b`'s cotangent `v̂ = fl(−δ̂·fl(fl(â/b̂)/b̂))` against `−δ·a/b²` (see the module
/// docs), `+∞` where a margin fails.
fn divisor_vjp_eps<R: Runtime>(
    x: Pair<R>,
    e: [Bound; 2],
    ed: Bound,
    d: &ArrayD<R>,
    v: &ArrayD<R>,
) -> Bound {
    let (fea, feb, fed) = (e[0].get(), e[1].get(), ed.get());
    if fea.is_infinite() || feb.is_infinite() || fed.is_infinite() {
        return Bound::INF;
    }
    let mut worst = 0.0f64;
    let mut ok = true;
    Zip::from(x[0])
        .and(x[1])
        .and(d)
        .and(v)
        .for_each(|&a, &b, &dd, &vv| {
            let (a, b, dd) = (a.to_spec(), b.to_spec(), dd.to_spec());
            let Some(m) = margin(b, feb) else {
                ok = false;
                return;
            };
            let m2 = mul_down(m, m);
            let (aa, ba, da) = (a.abs(), b.abs(), dd.abs());
            // ε_δ·(|â| + ε_a)/m²: the cotangent's error times the largest |a/b²|.
            let t1 = quo_up(mul_up(fed, add_up(aa, fea)), m2);
            // |δ̂|·|a/b² − â/b̂²| ≤ |δ̂|·(ε_a/m² + |â|·|b̂² − b²|/(b²·b̂²)).
            let t2 = quo_up(fea, m2);
            let t3 = quo_up(
                mul_up(mul_up(aa, feb), add_up(add_up(ba, ba), feb)),
                mul_down(m2, mul_down(ba, ba)),
            );
            let prop = add_up(t1, mul_up(da, add_up(t2, t3)));
            // Rounding: against an f64 re-evaluation (three roundings, plus underflow).
            let w = -(dd * ((a / b) / b));
            let local = ref_dist(vv.to_spec(), w, 4.0 * U64) + TINY;
            worst = nan_max(worst, add_up(prop, local));
        });
    if !ok {
        return Bound::INF;
    }
    inflate(worst, 2)
}

impl BinaryFn for DivFn {
    const NAME: &'static str = "div";
    fn f<T: Arith>(a: T, b: T) -> T {
        a / b
    }
    /// PyTorch's `div` backward: `δ/b` and `−δ·((a/b)/b)`.
    fn df<T: Arith>(a: T, b: T, d: T) -> [T; 2] {
        [d / b, -(d * ((a / b) / b))]
    }
    fn fwd_eps<R: Runtime>(x: Pair<R>, e: [Bound; 2], out: &ArrayD<R>) -> Bound {
        quotient_eps(x[0], e[0], x[1], e[1], out)
    }
    fn fwd_scale(_b: [Bound; 2]) -> Bound {
        Bound::INF
    }
    fn vjp_eps<R: Runtime>(x: Pair<R>, e: [Bound; 2], ed: Bound, d: &ArrayD<R>) -> [Bound; 2] {
        let [va, vb] = cotangents::<Self, R>(x, d);
        [
            quotient_eps(d, ed, x[1], e[1], &va),
            divisor_vjp_eps(x, e, ed, d, &vb),
        ]
    }
    fn vjp_scale<R: Runtime>(_: Pair<R>, _: [Bound; 2], _: Bound, _: &ArrayD<R>) -> [Bound; 2] {
        [Bound::INF, Bound::INF]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    fn one(x: f32) -> ArrayD<f32> {
        arr1(&[x]).into_dyn()
    }

    /// The precondition is decided per entry from data: a divisor within its error of 0 (or 0
    /// itself, or of uncertain sign) makes the bound `+∞`; clearing it by a margin keeps it
    /// finite and of the size the first-order analysis predicts.
    #[test]
    fn precondition_from_data() {
        let (a, b) = (one(1.0), one(1e-3));
        let out = one(1.0 / 1e-3);
        let e = Bound::new(2e-3);
        assert!(quotient_eps(&a, Bound::ZERO, &b, e, &out).is_infinite());
        assert!(
            quotient_eps(&a, Bound::ZERO, &one(0.0), Bound::ZERO, &one(f32::INFINITY))
                .is_infinite()
        );
        let ok = quotient_eps(&a, Bound::ZERO, &b, Bound::new(1e-6), &out).get();
        // |1/b − 1/b̂| ≤ ε_b/(m·|b̂|) ≈ 1e-6/1e-6 = 1, plus the rounding of 1000.
        assert!(ok > 1.0 && ok < 1.01, "{ok}");
        assert!(quotient_eps(&a, Bound::INF, &one(2.0), Bound::ZERO, &one(0.5)).is_infinite());
        let vb = divisor_vjp_eps(
            [&a, &b],
            [Bound::ZERO, e],
            Bound::ZERO,
            &one(1.0),
            &one(-1e6),
        );
        assert!(vb.is_infinite());
    }
}
