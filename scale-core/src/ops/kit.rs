//! The op kit: what every op shares, written once, so that an op is one short file.
//!
//! * [`Op`] and [`OpRuntime`]: the six parts of SPEC §4 as two traits, one `impl` each per op
//!   (the spec side generic over the spec scalar, the runtime side over the runtime). The node
//!   traits the graph stores ([`FwdNode`], [`RevNodeScale`], …) are implemented for every op here,
//!   once, so an op never repeats the plumbing (name, arguments, output dims, three spec scalars,
//!   four runtimes).
//! * Family adapters for the shapes that repeat, each a trait for the op's formulas and an `Op`
//!   built from it: [`Exact`] for structural ops with zero rounding ([`Structural`]: `neg`,
//!   `reshape`, `transpose`), [`Binary`] for elementwise binary ops ([`BinaryFn`]: `add`, `sub`,
//!   `mul`), [`Kink`] for piecewise-linear ops with the mask-flip rule (`relu`, `leaky_relu`), and
//!   `Unary` for smooth functions ([`SmoothFn`](super::unary::SmoothFn): `tanh`, `exp`, …). A
//!   member of a family states its formulas and any bound that differs from the family's; the
//!   family supplies the rest.
//!
//! Formulas that are the same for spec and runtime are written once over [`Arith`]: a family's
//! forward and VJP formulas serve the three spec scalars and the four runtimes alike.

use super::op_node;
use super::util::{LaneMax, at};
use crate::bound::{Bound, inflate};
use crate::handle::Arg;
use crate::node::{
    FwdNode, FwdNodeScale, NodeType, RevNode, RevNodeScale, Saved, SpecForward, SpecVjp,
};
use crate::scalar::{Arith, Runtime, SpecScalar};
use crate::shape::Shape;
use crate::tensor::linf;
use ndarray::{ArrayD, Zip};

/// An op's name, arguments and spec semantics (SPEC §4's `forward_spec` and `vjp_spec`), generic
/// over the spec scalar so one `impl` serves `f64`, [`Interval`](crate::Interval) and
/// [`Ball`](crate::Ball). Its runtime parts are [`OpRuntime`]; together they make every node
/// trait, through the implementations in this module.
pub trait Op: NodeType + Send + Sync {
    /// Op name for reports (e.g. `"matvec"`).
    const NAME: &'static str;
    /// Context entries the op reads, with the dimensions it was typed against.
    fn args(&self) -> &[Arg];
    /// Spec forward ([`SpecForward::forward_spec`]).
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T>;
    /// Spec VJP ([`SpecVjp::vjp_spec`]).
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>>;
    /// Spec VJP of the wanted arguments only ([`SpecVjp::vjp_spec_some`]); override it where
    /// the cotangents are computed separately.
    fn vjp_spec_some<T: SpecScalar>(
        &self,
        ctx: &[ArrayD<T>],
        delta: &ArrayD<T>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<T>>> {
        let all = self.vjp_spec(ctx, delta);
        all.into_iter()
            .zip(wants)
            .map(|(v, &w)| w.then_some(v))
            .collect()
    }
}

/// An op's runtime parts in runtime `R`: forward and VJP with their eps and scale bounds (the
/// methods of [`FwdNode`], [`FwdNodeScale`], [`RevNode`] and [`RevNodeScale`], same names and
/// meanings). Implemented once per op for every `R: Runtime`.
pub trait OpRuntime<R: Runtime>: Op {
    /// Runtime forward ([`FwdNode::forward_runtime`]).
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R>;
    /// [`FwdNode::forward_runtime_saving`]: override together with
    /// [`OpRuntime::vjp_runtime_saved`] where the VJP needs the forward's intermediates.
    fn forward_runtime_saving(&self, ctx: &[ArrayD<R>]) -> (ArrayD<R>, Option<Saved>) {
        (self.forward_runtime(ctx), None)
    }
    /// Forward error bound ([`FwdNode::fwd_eps`]).
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound;
    /// [`FwdNode::fwd_eps_saving`]: override together with [`OpRuntime::vjp_eps_kept`] where
    /// the VJP's bound needs the forward bound's intermediates.
    fn fwd_eps_saving(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        out: &ArrayD<R>,
    ) -> (Bound, Option<Saved>) {
        (self.fwd_eps(eps, ctx, out), None)
    }
    /// Forward scale bound ([`FwdNodeScale::fwd_scale`]).
    fn fwd_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound;
    /// [`FwdNode::fwd_stages`]: the error bounds of the op's named internal stages, for ops
    /// whose error builds up over several (none by default).
    fn fwd_stages(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        out: &ArrayD<R>,
    ) -> Vec<(&'static str, Bound)> {
        let _ = (eps, ctx, out);
        Vec::new()
    }
    /// Runtime VJP ([`RevNode::vjp_runtime`]).
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>>;
    /// VJP error bounds ([`RevNode::vjp_eps`]).
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound>;
    /// VJP scale bounds ([`RevNodeScale::vjp_scale`]).
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound>;

    /// [`RevNode::vjp_runtime_some`]; override where per-argument VJPs are expensive.
    fn vjp_runtime_some(
        &self,
        ctx: &[ArrayD<R>],
        delta: &ArrayD<R>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<R>>> {
        self.vjp_runtime(ctx, delta)
            .into_iter()
            .zip(wants)
            .map(|(v, &w)| w.then_some(v))
            .collect()
    }
    /// [`RevNode::vjp_runtime_saved`].
    fn vjp_runtime_saved(
        &self,
        ctx: &[ArrayD<R>],
        saved: Option<&Saved>,
        delta: &ArrayD<R>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<R>>> {
        let _ = saved;
        self.vjp_runtime_some(ctx, delta, wants)
    }
    /// [`RevNode::vjp_eps_some`]; override together with [`OpRuntime::vjp_runtime_some`].
    fn vjp_eps_some(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        eps_delta: Bound,
        delta: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
    ) -> Vec<Bound> {
        let _ = (wants, outs);
        self.vjp_eps(eps, ctx, eps_delta, delta)
    }
    /// [`RevNode::vjp_eps_kept`].
    #[allow(clippy::too_many_arguments)]
    fn vjp_eps_kept(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        eps_delta: Bound,
        delta: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
        kept: Option<&Saved>,
    ) -> Vec<Bound> {
        let _ = kept;
        self.vjp_eps_some(eps, ctx, eps_delta, delta, wants, outs)
    }
    /// [`RevNodeScale::vjp_scale_some`]; override together with
    /// [`OpRuntime::vjp_runtime_some`]. Read a cotangent's magnitude with [`out_linf`].
    #[allow(clippy::too_many_arguments)]
    fn vjp_scale_some(
        &self,
        b: &[Bound],
        ctx: &[ArrayD<R>],
        b_delta: Bound,
        delta: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
        mags: &[Option<Bound>],
    ) -> Vec<Bound> {
        let _ = (wants, outs, mags);
        self.vjp_scale(b, ctx, b_delta, delta)
    }
}

// The node traits, once for every op.

impl<N: Op, T: SpecScalar> SpecForward<T> for N {
    fn forward_spec(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        Op::forward_spec(self, ctx)
    }
}

impl<N: Op, T: SpecScalar> SpecVjp<T> for N {
    fn vjp_spec(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        Op::vjp_spec(self, ctx, delta)
    }
    fn vjp_spec_some(
        &self,
        ctx: &[ArrayD<T>],
        delta: &ArrayD<T>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<T>>> {
        Op::vjp_spec_some(self, ctx, delta, wants)
    }
}

impl<N: OpRuntime<R>, R: Runtime> FwdNode<R> for N {
    fn op_name(&self) -> &'static str {
        N::NAME
    }
    fn args(&self) -> &[Arg] {
        Op::args(self)
    }
    fn out_dims(&self) -> &'static [usize] {
        <N::Out as Shape>::DIMS
    }
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        OpRuntime::forward_runtime(self, ctx)
    }
    fn forward_runtime_saving(&self, ctx: &[ArrayD<R>]) -> (ArrayD<R>, Option<Saved>) {
        OpRuntime::forward_runtime_saving(self, ctx)
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        OpRuntime::fwd_eps(self, eps, ctx, out)
    }
    fn fwd_eps_saving(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        out: &ArrayD<R>,
    ) -> (Bound, Option<Saved>) {
        OpRuntime::fwd_eps_saving(self, eps, ctx, out)
    }
    fn fwd_stages(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        out: &ArrayD<R>,
    ) -> Vec<(&'static str, Bound)> {
        OpRuntime::fwd_stages(self, eps, ctx, out)
    }
}

impl<N: OpRuntime<R>, R: Runtime> FwdNodeScale<R> for N {
    fn fwd_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        OpRuntime::fwd_scale(self, b, ctx, out)
    }
}

impl<N: OpRuntime<R>, R: Runtime> RevNode<R> for N {
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        OpRuntime::vjp_runtime(self, ctx, delta)
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        OpRuntime::vjp_eps(self, eps, ctx, ed, d)
    }
    fn vjp_runtime_some(
        &self,
        ctx: &[ArrayD<R>],
        delta: &ArrayD<R>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<R>>> {
        OpRuntime::vjp_runtime_some(self, ctx, delta, wants)
    }
    fn vjp_runtime_saved(
        &self,
        ctx: &[ArrayD<R>],
        saved: Option<&Saved>,
        delta: &ArrayD<R>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<R>>> {
        OpRuntime::vjp_runtime_saved(self, ctx, saved, delta, wants)
    }
    fn vjp_eps_some(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        ed: Bound,
        delta: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
    ) -> Vec<Bound> {
        OpRuntime::vjp_eps_some(self, eps, ctx, ed, delta, wants, outs)
    }
    fn vjp_eps_kept(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        ed: Bound,
        delta: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
        kept: Option<&Saved>,
    ) -> Vec<Bound> {
        OpRuntime::vjp_eps_kept(self, eps, ctx, ed, delta, wants, outs, kept)
    }
}

impl<N: OpRuntime<R>, R: Runtime> RevNodeScale<R> for N {
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        OpRuntime::vjp_scale(self, b, ctx, bd, d)
    }
    fn vjp_scale_some(
        &self,
        b: &[Bound],
        ctx: &[ArrayD<R>],
        bd: Bound,
        delta: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
        mags: &[Option<Bound>],
    ) -> Vec<Bound> {
        OpRuntime::vjp_scale_some(self, b, ctx, bd, delta, wants, outs, mags)
    }
}

// ------------------------------------------------------------------------- elementwise helpers

/// `f` applied to every entry.
#[inline]
pub(crate) fn map1<A: Copy, C>(a: &ArrayD<A>, f: impl Fn(A) -> C) -> ArrayD<C> {
    a.map(|&x| f(x))
}

/// `f` applied to every pair of entries of two tensors of one shape.
#[inline]
pub(crate) fn zip2<A: Copy, C>(a: &ArrayD<A>, b: &ArrayD<A>, f: impl Fn(A, A) -> C) -> ArrayD<C> {
    Zip::from(a).and(b).map_collect(|&x, &y| f(x, y))
}

// ------------------------------------------------------------------------------- exact family

/// A structural op: entries move (or change sign) but are never rounded, so its error and scale
/// bounds are its input's, forward and backward. One formula serves spec and runtime.
///
/// Implemented by the markers of `neg`, `reshape` and `transpose`; the node is [`Exact`].
pub trait Structural: Send + Sync + 'static {
    /// Op name.
    const NAME: &'static str;
    /// The output (of dimensions `out`) from the input: exact in every arithmetic.
    fn forward<T: Arith>(x: &ArrayD<T>, out: &[usize]) -> ArrayD<T>;
    /// The input's cotangent (of dimensions `input`) from the output's: the adjoint of
    /// [`Structural::forward`], exact too.
    fn backward<T: Arith>(d: &ArrayD<T>, input: &[usize]) -> ArrayD<T>;
}

op_node! {
    /// The node of a [`Structural`] op `K` with output shape `O` (e.g. `Reshape<O, B>`).
    Exact<O; K>[1] => O
}

impl<O: Shape, B, K: Structural> Op for Exact<O, B, K> {
    const NAME: &'static str = K::NAME;
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        K::forward(at(ctx, &self.args[0]), O::DIMS)
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![K::backward(delta, self.args[0].dims)]
    }
}

impl<O: Shape, B, K: Structural, R: Runtime> OpRuntime<R> for Exact<O, B, K> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        K::forward(at(ctx, &self.args[0]), O::DIMS)
    }
    fn fwd_eps(&self, eps: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        eps[self.args[0].pos]
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        b[self.args[0].pos]
    }
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![K::backward(delta, self.args[0].dims)]
    }
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![ed]
    }
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![bd]
    }
}

// ------------------------------------------------------------------------------ binary family

/// An elementwise binary op `f(a, b)` on two tensors of one shape: the formulas (the same for
/// spec and runtime) and the bounds in terms of whole operands; the node is [`Binary`].
///
/// Implemented by the markers of `add`, `sub` and `mul`.
pub trait BinaryFn: Send + Sync + 'static {
    /// Op name.
    const NAME: &'static str;
    /// `f(a, b)`.
    fn f<T: Arith>(a: T, b: T) -> T;
    /// The two cotangents `(d·∂f/∂a, d·∂f/∂b)` at `(a, b)` for the output cotangent `d`.
    fn df<T: Arith>(a: T, b: T, d: T) -> [T; 2];
    /// Forward error bound from the operands' bounds `eps`, the runtime operands `x` and the
    /// runtime result `out`.
    fn fwd_eps<R: Runtime>(x: Pair<R>, eps: [Bound; 2], out: &ArrayD<R>) -> Bound;
    /// Spec-side scale bound from the operands' scale bounds (the node maxes it with the
    /// measured runtime magnitude).
    fn fwd_scale(b: [Bound; 2]) -> Bound;
    /// Error bounds of the two cotangents, given the cotangent's bound `ed` and runtime value
    /// `d` ([`cotangents`] recomputes the runtime cotangents where a bound measures them).
    fn vjp_eps<R: Runtime>(x: Pair<R>, eps: [Bound; 2], ed: Bound, d: &ArrayD<R>) -> [Bound; 2];
    /// Scale bounds of the two cotangents.
    fn vjp_scale<R: Runtime>(x: Pair<R>, b: [Bound; 2], bd: Bound, d: &ArrayD<R>) -> [Bound; 2];
}

/// The two operands of a binary op.
pub type Pair<'a, T> = [&'a ArrayD<T>; 2];

op_node! {
    /// The node of an elementwise binary op `F` on shape `S` (e.g. `Add<S, B>`).
    Binary<S; F>[2] => S
}

impl<S, B, F> Binary<S, B, F> {
    fn operands<'a, T>(&self, ctx: &'a [ArrayD<T>]) -> Pair<'a, T> {
        [at(ctx, &self.args[0]), at(ctx, &self.args[1])]
    }
    fn of(&self, v: &[Bound]) -> [Bound; 2] {
        [v[self.args[0].pos], v[self.args[1].pos]]
    }
}

/// Both cotangents of the binary op `F` at operands `x` for the output cotangent `d`, in any
/// arithmetic (spec or runtime: one formula).
pub fn cotangents<F: BinaryFn, T: Arith>(x: Pair<T>, d: &ArrayD<T>) -> [ArrayD<T>; 2] {
    let one = |i: usize| {
        Zip::from(x[0])
            .and(x[1])
            .and(d)
            .map_collect(|&a, &b, &d| F::df(a, b, d)[i])
    };
    [one(0), one(1)]
}

impl<S: Shape, B, F: BinaryFn> Op for Binary<S, B, F> {
    const NAME: &'static str = F::NAME;
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let [a, b] = self.operands(ctx);
        zip2(a, b, F::f)
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        cotangents::<F, T>(self.operands(ctx), delta).into()
    }
}

impl<S: Shape, B, F: BinaryFn, R: Runtime> OpRuntime<R> for Binary<S, B, F> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let [a, b] = self.operands(ctx);
        zip2(a, b, F::f)
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        F::fwd_eps(self.operands(ctx), self.of(eps), out)
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        F::fwd_scale(self.of(b)).max(linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        cotangents::<F, R>(self.operands(ctx), delta).into()
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        F::vjp_eps(self.operands(ctx), self.of(eps), ed, d).into()
    }
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        F::vjp_scale(self.operands(ctx), self.of(b), bd, d).into()
    }
}

// ------------------------------------------------------------------------------ kinked family

/// A piecewise-linear elementwise op with its kink at 0: the identity where `x > 0`,
/// [`Kink::below`] elsewhere, and derivative masks taken PyTorch's way (`x > 0` passes `δ`).
///
/// Every `Kink` is an [`Op`]. The default bounds are those of a 0/1 mask that rounds nothing
/// (`relu`): 1-Lipschitz and exact forward, the mask-flip rule ([`mask_vjp_eps`]) backward; an
/// op with another slope below the kink (`leaky_relu`) overrides them.
pub trait Kink: NodeType + Send + Sync {
    /// Op name.
    const NAME: &'static str;
    /// The one argument.
    fn args(&self) -> &[Arg; 1];
    /// The branch taken where `x ≤ 0`, applied to `v` (the input forward, the cotangent
    /// backward): one formula for spec and runtime.
    fn below<T: Arith>(&self, v: T) -> T;
    /// The spec value at `x`; an enclosure straddling 0 gets the hull of both branches.
    fn spec_value<T: SpecScalar>(&self, x: T) -> T {
        x.select_pos(x, self.below(x))
    }
    /// Forward error bound from the input's bound `e`.
    fn forward_eps<R: Runtime>(&self, e: Bound, x: &ArrayD<R>, out: &ArrayD<R>) -> Bound {
        let _ = (x, out);
        e
    }
    /// Forward scale bound from the input's scale bound `b`.
    fn forward_scale<R: Runtime>(&self, b: Bound, out: &ArrayD<R>) -> Bound {
        let _ = out;
        b
    }
    /// Error bound of the input's cotangent.
    fn backward_eps<R: Runtime>(&self, e: Bound, x: &ArrayD<R>, ed: Bound, d: &ArrayD<R>) -> Bound {
        mask_vjp_eps(x, e, ed, d)
    }
    /// Scale bound of the input's cotangent.
    fn backward_scale<R: Runtime>(
        &self,
        b: Bound,
        x: &ArrayD<R>,
        bd: Bound,
        d: &ArrayD<R>,
    ) -> Bound {
        let _ = (b, x, d);
        bd
    }
}

/// The runtime value of a kinked op's mask at `x` applied to `v`: `v` where `x > 0`, else
/// [`Kink::below`]`(v)`. With `v = x` it is the forward, with `v = δ` the VJP.
pub fn kink_runtime<K: Kink, R: Runtime>(k: &K, x: &ArrayD<R>, v: &ArrayD<R>) -> ArrayD<R> {
    zip2(x, v, |x, v| if x > R::zero() { v } else { k.below(v) })
}

impl<K: Kink> Op for K {
    const NAME: &'static str = <K as Kink>::NAME;
    fn args(&self) -> &[Arg] {
        Kink::args(self)
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        map1(at(ctx, &Kink::args(self)[0]), |x| self.spec_value(x))
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let x = at(ctx, &Kink::args(self)[0]);
        vec![zip2(x, delta, |x, d| x.select_pos(d, self.below(d)))]
    }
}

impl<K: Kink, R: Runtime> OpRuntime<R> for K {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let x = at(ctx, &Kink::args(self)[0]);
        kink_runtime(self, x, x)
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let a = &Kink::args(self)[0];
        self.forward_eps(eps[a.pos], at(ctx, a), out)
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        self.forward_scale(b[Kink::args(self)[0].pos], out)
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![kink_runtime(self, at(ctx, &Kink::args(self)[0]), delta)]
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let a = &Kink::args(self)[0];
        vec![self.backward_eps(eps[a.pos], at(ctx, a), ed, d)]
    }
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let a = &Kink::args(self)[0];
        vec![self.backward_scale(b[a.pos], at(ctx, a), bd, d)]
    }
}

/// `max|outs[i]|` of a runtime cotangent handed to [`OpRuntime::vjp_scale_some`] (`None` when
/// it was not computed): `mags[i]` where the backward sweep measured it (it checks every
/// cotangent's finiteness with that same pass), else measured here. `+∞` when an entry is not
/// finite, as [`linf`].
///
/// ```
/// use ndarray::{ArrayD, IxDyn};
/// use scale_core::ops::kit::out_linf;
/// use scale_core::Bound;
/// let outs = [Some(ArrayD::from_elem(IxDyn(&[2]), -3.0f32)), None];
/// assert_eq!(out_linf(&outs, &[], 0), Some(Bound::new(3.0)));
/// assert_eq!(out_linf(&outs, &[Some(Bound::new(3.0))], 0), Some(Bound::new(3.0)));
/// assert_eq!(out_linf(&outs, &[], 1), None);
/// ```
pub fn out_linf<R: Runtime>(
    outs: &[Option<ArrayD<R>>],
    mags: &[Option<Bound>],
    i: usize,
) -> Option<Bound> {
    let out = outs.get(i)?.as_ref()?;
    Some(mags.get(i).copied().flatten().unwrap_or_else(|| linf(out)))
}

/// VJP error of a 0/1 derivative mask with its kink at 0 (relu and friends), per SPEC §5:
/// where `x̂ > ε` both sides pass `δ` (error `ε_δ`), where `x̂ ≤ −ε` both give 0, and only the
/// entries within `ε` of the kink pay `|δ̂| + ε_δ` (spec and runtime may take different branches).
pub fn mask_vjp_eps<R: Runtime>(x: &ArrayD<R>, ex: Bound, ed: Bound, d: &ArrayD<R>) -> Bound {
    let mut acc = MaskScan::new(ex.get());
    match (x.as_slice(), d.as_slice()) {
        (Some(xs), Some(ds)) if xs.len() == ds.len() => acc.slices(xs, ds),
        _ => x
            .iter()
            .zip(d.iter())
            .for_each(|(&xi, &di)| acc.lane(0, xi, di)),
    }
    let (any_pass, kink) = acc.finish();
    let mut out = if any_pass { ed } else { Bound::ZERO };
    if let Some(kink) = kink {
        out = out.max(inflate(kink, 0) + ed);
    }
    out
}

/// [`mask_vjp_eps`]'s scan, in 8 independent lanes of selects: a fold over one tuple waited on
/// each entry's compare and mispredicted on every other entry of a relu layer (6 % of an
/// order-free MLP step, 5 ns per entry).
struct MaskScan {
    e: f64,
    /// Some entry has `x̂ > ε` (passes `δ` on both sides).
    pass: [bool; 8],
    /// Some entry is within `ε` of the kink.
    near: [bool; 8],
    /// The largest `|δ̂|` near the kink (NaN-propagating: a plain max would drop a NaN `δ̂`).
    kink: LaneMax,
}

impl MaskScan {
    fn new(e: f64) -> MaskScan {
        MaskScan {
            e,
            pass: [false; 8],
            near: [false; 8],
            kink: LaneMax::new(),
        }
    }

    #[inline(always)]
    fn lane<R: Runtime>(&mut self, l: usize, xi: R, di: R) {
        let xv = xi.to_spec();
        let pass = xv > self.e;
        // With ε = +∞ every entry is near the kink, even x̂ = −∞ (a forward overflow):
        // `−∞ ≤ −ε` must not classify it as "both sides give 0". A NaN x̂ is near too.
        let near = !pass && (self.e == f64::INFINITY || !(xv <= -self.e));
        self.kink
            .push(l, if near { di.to_spec().abs() } else { 0.0 });
        self.pass[l] |= pass;
        self.near[l] |= near;
    }

    fn slices<R: Runtime>(&mut self, xs: &[R], ds: &[R]) {
        let (xc, dc) = (xs.chunks_exact(8), ds.chunks_exact(8));
        let (xr, dr) = (xc.remainder(), dc.remainder());
        for (x8, d8) in xc.zip(dc) {
            for l in 0..8 {
                self.lane(l, x8[l], d8[l]);
            }
        }
        for (l, (&xi, &di)) in xr.iter().zip(dr).enumerate() {
            self.lane(l, xi, di);
        }
    }

    /// (some entry passes, the largest `|δ̂|` near the kink if some entry is near it).
    fn finish(&self) -> (bool, Option<f64>) {
        let pass = self.pass.iter().any(|&p| p);
        let near = self.near.iter().any(|&n| n);
        (pass, near.then_some(self.kink.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::mask_vjp_eps;
    use crate::Bound;
    use ndarray::{ArrayD, IxDyn};

    fn arr(v: &[f32]) -> ArrayD<f32> {
        ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).expect("one dimension")
    }

    /// The mask rule's three cases in lanes and remainders (19 entries): passing entries give
    /// `ε_δ`, entries near the kink `|δ̂| + ε_δ` (the largest such `|δ̂|`, wherever it sits), and a
    /// NaN `δ̂` near the kink `+∞`, while one where both sides give 0 changes nothing.
    #[test]
    fn mask_rule_in_lanes() {
        let (ex, ed) = (Bound::new(0.5), Bound::new(1e-3));
        let far = arr(&[-2.0; 19]);
        assert_eq!(mask_vjp_eps(&far, ex, ed, &arr(&[9.0; 19])), Bound::ZERO);
        assert_eq!(mask_vjp_eps(&arr(&[2.0; 19]), ex, ed, &arr(&[9.0; 19])), ed);
        for at in 0..19 {
            let mut x = [-2.0f32; 19];
            let mut d = [1.0f32; 19];
            x[at] = 0.25;
            d[at] = -7.0;
            let e = mask_vjp_eps(&arr(&x), ex, ed, &arr(&d));
            assert!(e.get() >= 7.0 + 1e-3 && e.get() < 7.01, "{at}: {e:?}");
            d[at] = f32::NAN;
            assert!(
                mask_vjp_eps(&arr(&x), ex, ed, &arr(&d)).is_infinite(),
                "{at}"
            );
            x[at] = -2.0;
            assert_eq!(
                mask_vjp_eps(&arr(&x), ex, ed, &arr(&d)),
                Bound::ZERO,
                "{at}"
            );
        }
    }
}
