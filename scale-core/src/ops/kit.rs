//! The op kit: what every op shares, written once, so that an op is one short file.
//!
//! * [`Op`]: the six parts of SPEC §4 as one trait with one `impl` per op. The node traits the
//!   graph stores ([`FwdNode`], [`RevNodeScale`], …) are implemented for every `Op` here, once,
//!   so an op never repeats the plumbing (name, arguments, output dims, three spec scalars).
//!
//! Formulas that are the same for spec and runtime are written once over
//! [`Arith`](crate::Arith).

use crate::bound::Bound;
use crate::handle::Arg;
use crate::node::{FwdNode, FwdNodeScale, NodeType, RevNode, RevNodeScale, SpecForward, SpecVjp};
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::Shape;
use ndarray::ArrayD;

/// An op: the six parts of SPEC §4 in one place. Every `Op` is a full reverse node with scale
/// bounds ([`RevNodeScale`]) through the implementations in this module.
///
/// The method names and meanings are those of the node traits ([`SpecForward`], [`SpecVjp`],
/// [`FwdNode`], [`FwdNodeScale`], [`RevNode`], [`RevNodeScale`]); the spec parts are generic over
/// the spec scalar and the runtime parts over the runtime, so one `impl` serves all of them.
pub trait Op: NodeType + Send + Sync {
    /// Op name for reports (e.g. `"matvec"`).
    const NAME: &'static str;
    /// Context entries the op reads, with the dimensions it was typed against.
    fn args(&self) -> &[Arg];
    /// Spec forward ([`SpecForward::forward_spec`]).
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T>;
    /// Spec VJP ([`SpecVjp::vjp_spec`]).
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>>;
    /// Runtime forward ([`FwdNode::forward_runtime`]).
    fn forward_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R>;
    /// Forward error bound ([`FwdNode::fwd_eps`]).
    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound;
    /// Forward scale bound ([`FwdNodeScale::fwd_scale`]).
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound;
    /// Runtime VJP ([`RevNode::vjp_runtime`]).
    fn vjp_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>>;
    /// VJP error bounds ([`RevNode::vjp_eps`]).
    fn vjp_eps<R: Runtime>(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        eps_delta: Bound,
        delta: &ArrayD<R>,
    ) -> Vec<Bound>;
    /// VJP scale bounds ([`RevNodeScale::vjp_scale`]).
    fn vjp_scale<R: Runtime>(
        &self,
        b: &[Bound],
        ctx: &[ArrayD<R>],
        b_delta: Bound,
        delta: &ArrayD<R>,
    ) -> Vec<Bound>;

    /// [`RevNode::vjp_runtime_some`]; override where per-argument VJPs are expensive.
    fn vjp_runtime_some<R: Runtime>(
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
    /// [`RevNode::vjp_eps_some`]; override together with [`Op::vjp_runtime_some`].
    fn vjp_eps_some<R: Runtime>(
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
    /// [`RevNodeScale::vjp_scale_some`]; override together with [`Op::vjp_runtime_some`].
    fn vjp_scale_some<R: Runtime>(
        &self,
        b: &[Bound],
        ctx: &[ArrayD<R>],
        b_delta: Bound,
        delta: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
    ) -> Vec<Bound> {
        let _ = (wants, outs);
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
}

impl<N: Op, R: Runtime> FwdNode<R> for N {
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
        Op::forward_runtime(self, ctx)
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        Op::fwd_eps(self, eps, ctx, out)
    }
}

impl<N: Op, R: Runtime> FwdNodeScale<R> for N {
    fn fwd_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        Op::fwd_scale(self, b, ctx, out)
    }
}

impl<N: Op, R: Runtime> RevNode<R> for N {
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        Op::vjp_runtime(self, ctx, delta)
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        Op::vjp_eps(self, eps, ctx, ed, d)
    }
    fn vjp_runtime_some(
        &self,
        ctx: &[ArrayD<R>],
        delta: &ArrayD<R>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<R>>> {
        Op::vjp_runtime_some(self, ctx, delta, wants)
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
        Op::vjp_eps_some(self, eps, ctx, ed, delta, wants, outs)
    }
}

impl<N: Op, R: Runtime> RevNodeScale<R> for N {
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        Op::vjp_scale(self, b, ctx, bd, d)
    }
    fn vjp_scale_some(
        &self,
        b: &[Bound],
        ctx: &[ArrayD<R>],
        bd: Bound,
        delta: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
    ) -> Vec<Bound> {
        Op::vjp_scale_some(self, b, ctx, bd, delta, wants, outs)
    }
}
