//! Elementwise ops: `add`, `mul`, `relu`.

use super::node_type;
use super::util::{at, inflate, linf, product_eps};
use crate::bound::Bound;
use crate::handle::{Arg, Var};
use crate::node::{FwdNode, FwdNodeScale, RevNode, RevNodeScale, SpecForward, SpecVjp};
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::{SameShape, Shape};
use ndarray::{ArrayD, Zip};
use std::marker::PhantomData;

/// `a + b`, elementwise.
pub struct Add<S, B> {
    args: [Arg; 2],
    _p: PhantomData<fn() -> (S, B)>,
}
node_type!(Add<S> => S);

/// `a + b` elementwise; shapes must be equal.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, RevGraphScale};
/// let (g, (a, b)) =
///     RevGraphScale::<f32, Seg<Nil, (Rank1<3>, Rank1<3>)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, _c) = g.snoc(ops::add(a, b));
/// ```
pub fn add<S, S2, B>(a: Var<S, B>, b: Var<S2, B>) -> Add<S, B>
where
    S: Shape + SameShape<S2>,
    S2: Shape,
{
    Add {
        args: [a.arg(), b.arg()],
        _p: PhantomData,
    }
}

impl<S: Shape, B, T: SpecScalar> SpecForward<T> for Add<S, B> {
    fn forward_spec(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        Zip::from(at(ctx, &self.args[0]))
            .and(at(ctx, &self.args[1]))
            .map_collect(|&x, &y| x + y)
    }
}

impl<S: Shape, B, T: SpecScalar> SpecVjp<T> for Add<S, B> {
    fn vjp_spec(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![delta.clone(), delta.clone()]
    }
}

impl<S: Shape, B, R: Runtime> FwdNode<R> for Add<S, B> {
    fn op_name(&self) -> &'static str {
        "add"
    }
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn out_dims(&self) -> &'static [usize] {
        S::DIMS
    }
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        Zip::from(at(ctx, &self.args[0]))
            .and(at(ctx, &self.args[1]))
            .map_collect(|&x, &y| x + y)
    }
    fn fwd_eps(&self, eps: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        // |fl(z) − z| ≤ u|z| ≤ u/(1−u)·|fl(z)|; sums have no underflow term.
        let (ea, eb) = (eps[self.args[0].pos], eps[self.args[1].pos]);
        let rounding = linf(out).scale(R::U).widen(2.0 * R::U);
        ea + eb + rounding
    }
}

impl<S: Shape, B, R: Runtime> FwdNodeScale<R> for Add<S, B> {
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        (b[self.args[0].pos] + b[self.args[1].pos]).max(linf(out))
    }
}

impl<S: Shape, B, R: Runtime> RevNode<R> for Add<S, B> {
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![delta.clone(), delta.clone()]
    }
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![ed, ed]
    }
}

impl<S: Shape, B, R: Runtime> RevNodeScale<R> for Add<S, B> {
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![bd, bd]
    }
}

/// `a · b`, elementwise.
pub struct Mul<S, B> {
    args: [Arg; 2],
    _p: PhantomData<fn() -> (S, B)>,
}
node_type!(Mul<S> => S);

/// `a · b` elementwise; shapes must be equal.
pub fn mul<S, S2, B>(a: Var<S, B>, b: Var<S2, B>) -> Mul<S, B>
where
    S: Shape + SameShape<S2>,
    S2: Shape,
{
    Mul {
        args: [a.arg(), b.arg()],
        _p: PhantomData,
    }
}

impl<S: Shape, B, T: SpecScalar> SpecForward<T> for Mul<S, B> {
    fn forward_spec(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        Zip::from(at(ctx, &self.args[0]))
            .and(at(ctx, &self.args[1]))
            .map_collect(|&x, &y| x * y)
    }
}

impl<S: Shape, B, T: SpecScalar> SpecVjp<T> for Mul<S, B> {
    fn vjp_spec(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let (a, b) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        vec![
            Zip::from(delta).and(b).map_collect(|&d, &y| d * y),
            Zip::from(delta).and(a).map_collect(|&d, &x| d * x),
        ]
    }
}

impl<S: Shape, B, R: Runtime> FwdNode<R> for Mul<S, B> {
    fn op_name(&self) -> &'static str {
        "mul"
    }
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn out_dims(&self) -> &'static [usize] {
        S::DIMS
    }
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        Zip::from(at(ctx, &self.args[0]))
            .and(at(ctx, &self.args[1]))
            .map_collect(|&x, &y| x * y)
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        let (a, b) = (&self.args[0], &self.args[1]);
        product_eps(at(ctx, a), eps[a.pos], at(ctx, b), eps[b.pos])
    }
}

impl<S: Shape, B, R: Runtime> FwdNodeScale<R> for Mul<S, B> {
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        (b[self.args[0].pos] * b[self.args[1].pos]).max(linf(out))
    }
}

impl<S: Shape, B, R: Runtime> RevNode<R> for Mul<S, B> {
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        let (a, b) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        vec![
            Zip::from(delta).and(b).map_collect(|&d, &y| d * y),
            Zip::from(delta).and(a).map_collect(|&d, &x| d * x),
        ]
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let (a, b) = (&self.args[0], &self.args[1]);
        vec![
            product_eps(d, ed, at(ctx, b), eps[b.pos]),
            product_eps(d, ed, at(ctx, a), eps[a.pos]),
        ]
    }
}

impl<S: Shape, B, R: Runtime> RevNodeScale<R> for Mul<S, B> {
    fn vjp_scale(&self, b: &[Bound], _c: &[ArrayD<R>], bd: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        // Spec ≤ B_δ·B_other; runtime adds one rounding.
        let one = |bo: Bound| (bd * bo).widen(R::U) + Bound::new(R::ETA);
        vec![one(b[self.args[1].pos]), one(b[self.args[0].pos])]
    }
}

/// `max(x, 0)`, elementwise, with derivative `1` where `x > 0`, else `0` (PyTorch's convention).
pub struct Relu<S, B> {
    args: [Arg; 1],
    _p: PhantomData<fn() -> (S, B)>,
}
node_type!(Relu<S> => S);

/// `relu(x) = max(x, 0)`.
pub fn relu<S: Shape, B>(x: Var<S, B>) -> Relu<S, B> {
    Relu {
        args: [x.arg()],
        _p: PhantomData,
    }
}

impl<S: Shape, B, T: SpecScalar> SpecForward<T> for Relu<S, B> {
    fn forward_spec(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        at(ctx, &self.args[0]).mapv(|x| x.relu())
    }
}

impl<S: Shape, B, T: SpecScalar> SpecVjp<T> for Relu<S, B> {
    fn vjp_spec(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![
            Zip::from(at(ctx, &self.args[0]))
                .and(delta)
                .map_collect(|&x, &d| x.select_pos(d, T::zero())),
        ]
    }
}

impl<S: Shape, B, R: Runtime> FwdNode<R> for Relu<S, B> {
    fn op_name(&self) -> &'static str {
        "relu"
    }
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn out_dims(&self) -> &'static [usize] {
        S::DIMS
    }
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        at(ctx, &self.args[0]).mapv(|x| if x > R::zero() { x } else { R::zero() })
    }
    fn fwd_eps(&self, eps: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        // relu is 1-Lipschitz and exact in floating point.
        eps[self.args[0].pos]
    }
}

impl<S: Shape, B, R: Runtime> FwdNodeScale<R> for Relu<S, B> {
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        b[self.args[0].pos]
    }
}

impl<S: Shape, B, R: Runtime> RevNode<R> for Relu<S, B> {
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![
            Zip::from(at(ctx, &self.args[0]))
                .and(delta)
                .map_collect(|&x, &d| if x > R::zero() { d } else { R::zero() }),
        ]
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        vec![mask_vjp_eps(
            at(ctx, &self.args[0]),
            eps[self.args[0].pos],
            ed,
            d,
        )]
    }
}

/// VJP error of a 0/1 derivative mask with its kink at 0 (relu and friends), per SPEC §5:
/// where `x̂ > ε` both sides pass `δ` (error `ε_δ`), where `x̂ ≤ −ε` both give 0, and only the
/// entries within `ε` of the kink pay `|δ̂| + ε_δ` (spec and runtime may take different branches).
/// With `ε = +∞` (e.g. the input overflowed in the forward pass) every entry is within `ε` of the
/// kink.
pub(crate) fn mask_vjp_eps<R: Runtime>(
    x: &ArrayD<R>,
    ex: Bound,
    ed: Bound,
    d: &ArrayD<R>,
) -> Bound {
    let e = ex.get();
    let mut any_pass = false;
    let mut kink = 0.0f64;
    let mut kink_any = false;
    for (&xi, &di) in x.iter().zip(d.iter()) {
        let xv = xi.to_spec();
        if xv > e {
            any_pass = true;
        } else if e.is_infinite() || !(xv <= -e) {
            // With ε = +∞ every entry is near the kink, even x̂ = −∞ (a forward overflow):
            // `−∞ ≤ −ε` must not classify it as "both sides give 0".
            kink_any = true;
            let dv = di.to_spec().abs();
            if !(dv <= kink) {
                kink = dv;
            }
        }
    }
    let mut out = if any_pass { ed } else { Bound::ZERO };
    if kink_any {
        out = out.max(inflate(kink, 0) + ed);
    }
    out
}

impl<S: Shape, B, R: Runtime> RevNodeScale<R> for Relu<S, B> {
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![bd]
    }
}
