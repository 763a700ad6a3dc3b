//! `maximum(a, b)` and `minimum(a, b)`, elementwise (SPEC §9b): a two-sided kink.
//!
//! One node, [`Extremum`], for both (`minimum(a, b) = −maximum(−a, −b)`: the marker only flips
//! the comparisons), with PyTorch's derivative convention: the cotangent goes to the larger
//! (smaller) operand, and at a tie it is split in halves, `δ/2` to each.
//!
//! * Forward: exact in floating point and 1-Lipschitz in the sup norm, so eps
//!   `max(ε_a, ε_b)` and scale `max(B_a, B_b)`.
//! * VJP, per entry: the runtime branch `r ∈ {0, ½, 1}` is read from `(â, b̂)`. Where
//!   `|â − b̂| > ε_a + ε_b` (a lower bound of the distance against an upper bound of the sum) the
//!   spec operands are ordered the same way, so the spec branch `s = r` and the error is at most
//!   `ε_δ` (0 where `r = 0`). Within that distance (SPEC §5's kink rule, two-sided: either
//!   operand may move) the spec branch may be any of `0, ½, 1`, and
//!   `|s·δ − r·δ̂| ≤ ε_δ + |s − r|·|δ̂|` with `|s − r| ≤ 1` (`≤ ½` at a runtime tie). With
//!   `ε_a = ε_b = 0` the spec operands are the runtime ones and the branch is certain. Halving
//!   may underflow: the measured `|v̂ − δ̂/2|` plus `η` is added where it happens.
//! * Any operand eps `+∞` gives `+∞` (no finite bound from a non-finite number).

use super::kit::{Op, OpRuntime};
use super::op_node;
use super::util::{at, nan_max};
use crate::bound::{Bound, inflate};
use crate::handle::{Arg, Var};
use crate::round::{add_up, sub_down};
use crate::scalar::{Arith, Runtime, SpecScalar};
use crate::shape::{SameShape, Shape};
use ndarray::{ArrayD, Zip};

/// Marker of an [`Extremum`]: `maximum` (`MIN = false`) or `minimum` (`MIN = true`).
pub struct ExtremumFn<const MIN: bool>;

op_node! {
    /// `maximum(a, b)` or `minimum(a, b)` (marker `K`), elementwise on shape `S`.
    Extremum<S; K>[2] => S
}

/// `maximum(a, b)`, elementwise.
pub type Maximum<S, B> = Extremum<S, B, ExtremumFn<false>>;
/// `minimum(a, b)`, elementwise.
pub type Minimum<S, B> = Extremum<S, B, ExtremumFn<true>>;

/// `maximum(a, b)` elementwise; shapes must be equal. The cotangent goes to the larger operand,
/// split in halves at a tie (PyTorch).
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, RevGraphScale, TList};
/// let (g, (a, b)) =
///     RevGraphScale::<f32, Seg<Nil, (Rank1<3>, Rank1<3>)>, Nil, _>::nil(scale_core::brand!());
/// let (g, m) = g.snoc(ops::maximum(a, b));
/// let (g, s) = g.snoc(ops::sum(m));
/// let xr = TList::from_arrays(vec![
///     ndarray::arr1(&[1.0f32, 2.0, 5.0]).into_dyn(),
///     ndarray::arr1(&[3.0f32, 2.0, 4.0]).into_dyn(),
/// ])?;
/// let (e, bs) = g.exact_inputs(&xr);
/// let (seed, es, b_seed) = g.loss_seed(s);
/// let cert = g.certify(xr, &e, &bs, &seed, &es, &b_seed);
/// assert_eq!(cert.value(s), 10.0);
/// assert_eq!(cert.grads.get(a).as_slice().unwrap(), &[0.0, 0.5, 1.0]); // tie: halves
/// # Ok::<(), scale_core::Error>(())
/// ```
pub fn maximum<S, S2, B>(a: Var<S, B>, b: Var<S2, B>) -> Maximum<S, B>
where
    S: Shape + SameShape<S2>,
    S2: Shape,
{
    Extremum::new([a.arg(), b.arg()])
}

/// `minimum(a, b)` elementwise; shapes must be equal. The cotangent goes to the smaller operand,
/// split in halves at a tie (PyTorch).
pub fn minimum<S, S2, B>(a: Var<S, B>, b: Var<S2, B>) -> Minimum<S, B>
where
    S: Shape + SameShape<S2>,
    S2: Shape,
{
    Extremum::new([a.arg(), b.arg()])
}

/// Which operand an extremum picks.
#[derive(Clone, Copy, PartialEq)]
enum Branch {
    /// The first operand (`a` is the larger for `maximum`).
    A,
    /// The second.
    B,
    /// A tie: halves.
    Tie,
    /// Unordered (a NaN): PyTorch passes the cotangent to both.
    Both,
}

impl<const MIN: bool> ExtremumFn<MIN> {
    /// The runtime branch at `(a, b)`.
    #[inline]
    fn branch<R: Runtime>(a: R, b: R) -> Branch {
        let (a, b) = if MIN { (-a, -b) } else { (a, b) };
        if a > b {
            Branch::A
        } else if b > a {
            Branch::B
        } else if a == b {
            Branch::Tie
        } else {
            Branch::Both
        }
    }

    /// The runtime value (NaN in, NaN out, as PyTorch's `maximum`).
    #[inline]
    fn value<R: Runtime>(a: R, b: R) -> R {
        match Self::branch(a, b) {
            Branch::A | Branch::Tie => a,
            Branch::B => b,
            Branch::Both => a + b,
        }
    }

    /// The two runtime cotangents for `δ`.
    #[inline]
    fn grads<R: Runtime>(a: R, b: R, d: R) -> [R; 2] {
        match Self::branch(a, b) {
            Branch::A => [d, R::zero()],
            Branch::B => [R::zero(), d],
            Branch::Tie => {
                let h = d * <R as Arith>::lit(0.5);
                [h, h]
            }
            Branch::Both => [d, d],
        }
    }

    /// The spec value: the hull of both operands where the order is uncertain is what
    /// [`SpecScalar::max`] gives.
    #[inline]
    fn spec<T: SpecScalar>(a: T, b: T) -> T {
        if MIN { -(-a).max(-b) } else { a.max(b) }
    }

    /// The spec cotangents: certain order → `δ` to one side; certain tie (both points, equal)
    /// → `δ/2` each; otherwise each side is one of `0, δ/2, δ`, enclosed by the hull of `0`
    /// and `δ`.
    fn spec_grads<T: SpecScalar>(a: T, b: T, d: T) -> [T; 2] {
        let (a, b) = if MIN { (-a, -b) } else { (a, b) };
        if a.lo() > b.hi() {
            [d, T::zero()]
        } else if b.lo() > a.hi() {
            [T::zero(), d]
        } else if a.lo() == a.hi() && b.lo() == b.hi() && a.lo() == b.lo() {
            let h = d * T::from_f64(0.5);
            [h, h]
        } else {
            let u = d.hull(T::zero());
            [u, u]
        }
    }
}

impl<S: Shape, B, const MIN: bool> Op for Extremum<S, B, ExtremumFn<MIN>> {
    const NAME: &'static str = if MIN { "minimum" } else { "maximum" };
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let (a, b) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        Zip::from(a)
            .and(b)
            .map_collect(|&a, &b| ExtremumFn::<MIN>::spec(a, b))
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let (a, b) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        let g = |i: usize| {
            Zip::from(a)
                .and(b)
                .and(delta)
                .map_collect(|&a, &b, &d| ExtremumFn::<MIN>::spec_grads(a, b, d)[i])
        };
        vec![g(0), g(1)]
    }
}

impl<S: Shape, B, const MIN: bool> Extremum<S, B, ExtremumFn<MIN>> {
    fn grads_rt<R: Runtime>(&self, ctx: &[ArrayD<R>], d: &ArrayD<R>) -> [ArrayD<R>; 2] {
        let (a, b) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        let g = |i: usize| {
            Zip::from(a)
                .and(b)
                .and(d)
                .map_collect(|&a, &b, &d| ExtremumFn::<MIN>::grads(a, b, d)[i])
        };
        [g(0), g(1)]
    }
}

/// VJP error of one side of an extremum (see the module docs): `side` is the operand whose
/// cotangent `v` is bounded (`Branch::A` or `Branch::B`).
fn side_eps<R: Runtime, const MIN: bool>(
    x: [&ArrayD<R>; 2],
    e: [Bound; 2],
    ed: Bound,
    d: &ArrayD<R>,
    v: &ArrayD<R>,
    side: Branch,
) -> Bound {
    let (fed, near_width) = (ed.get(), add_up(e[0].get(), e[1].get()));
    let certain_everywhere = near_width == 0.0;
    let mut worst = 0.0f64;
    Zip::from(x[0])
        .and(x[1])
        .and(d)
        .and(v)
        .for_each(|&a, &b, &dd, &vv| {
            let r = ExtremumFn::<MIN>::branch(a, b);
            let (af, bf, df) = (a.to_spec(), b.to_spec(), dd.to_spec());
            let dist = if af >= bf {
                sub_down(af, bf)
            } else {
                sub_down(bf, af)
            };
            // How much of δ̂ the runtime passes to this side (a NaN runtime operand: all of it).
            let share = match r {
                Branch::Tie => 0.5,
                Branch::Both => 1.0,
                r if r == side => 1.0,
                _ => 0.0,
            };
            let local = if r == Branch::Tie {
                (vv.to_spec() - 0.5 * df).abs() + R::ETA
            } else {
                0.0
            };
            let t = if certain_everywhere || dist > near_width {
                // Same order on both sides.
                if share > 0.0 { fed } else { 0.0 }
            } else {
                // Near the kink: the spec share may be 0, ½ or 1.
                let flip = if r == Branch::Tie { 0.5 } else { 1.0 };
                fed + flip * df.abs()
            };
            worst = nan_max(worst, t + local);
        });
    inflate(worst, 4)
}

impl<S: Shape, B, const MIN: bool, R: Runtime> OpRuntime<R> for Extremum<S, B, ExtremumFn<MIN>> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let (a, b) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        Zip::from(a)
            .and(b)
            .map_collect(|&a, &b| ExtremumFn::<MIN>::value(a, b))
    }
    /// 1-Lipschitz in the sup norm and exact: `max(ε_a, ε_b)`.
    fn fwd_eps(&self, eps: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        eps[self.args[0].pos].max(eps[self.args[1].pos])
    }
    /// `|max(a, b)| ≤ max(|a|, |b|)` (likewise `min`), spec and runtime alike.
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        b[self.args[0].pos].max(b[self.args[1].pos])
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        self.grads_rt(ctx, delta).into()
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let e = [eps[self.args[0].pos], eps[self.args[1].pos]];
        if e[0].is_infinite() || e[1].is_infinite() || ed.is_infinite() {
            return vec![Bound::INF; 2];
        }
        let x = [at(ctx, &self.args[0]), at(ctx, &self.args[1])];
        let [va, vb] = self.grads_rt(ctx, d);
        vec![
            side_eps::<R, MIN>(x, e, ed, d, &va, Branch::A),
            side_eps::<R, MIN>(x, e, ed, d, &vb, Branch::B),
        ]
    }
    /// Each cotangent is `δ`, `δ/2` or 0, spec and runtime: `B_δ`.
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![bd, bd]
    }
}
