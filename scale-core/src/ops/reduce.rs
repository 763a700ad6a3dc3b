//! Reductions: `sum`.

use super::node_type;
use super::util::{abs_sum, at, inflate, linf};
use crate::bound::Bound;
use crate::handle::{Arg, Var};
use crate::node::{FwdNode, FwdNodeScale, RevNode, RevNodeScale, SpecForward, SpecVjp};
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::{Rank0, Shape};
use ndarray::{ArrayD, IxDyn};
use std::marker::PhantomData;

/// Sum of all entries.
pub struct Sum<S, B> {
    args: [Arg; 1],
    _p: PhantomData<fn() -> (S, B)>,
}

impl<S: Shape, B> crate::node::NodeType for Sum<S, B> {
    type Out = Rank0;
    type Brand = B;
}

/// `sum(x) = Σ x`, a scalar.
pub fn sum<S: Shape, B>(x: Var<S, B>) -> Sum<S, B> {
    Sum {
        args: [x.arg()],
        _p: PhantomData,
    }
}

// `node_type!` covers ops whose output is one of their parameters; Sum's is `Rank0`.
#[allow(unused_imports)]
use node_type as _;

impl<S: Shape, B, T: SpecScalar> SpecForward<T> for Sum<S, B> {
    fn forward_spec(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let s = at(ctx, &self.args[0])
            .iter()
            .fold(T::zero(), |acc, &x| acc + x);
        ArrayD::from_elem(IxDyn(&[]), s)
    }
}

impl<S: Shape, B, T: SpecScalar> SpecVjp<T> for Sum<S, B> {
    fn vjp_spec(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let d = *delta.iter().next().expect("invariant: scalar cotangent");
        vec![ArrayD::from_elem(IxDyn(S::DIMS), d)]
    }
}

impl<S: Shape, B, R: Runtime> FwdNode<R> for Sum<S, B> {
    fn op_name(&self) -> &'static str {
        "sum"
    }
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn out_dims(&self) -> &'static [usize] {
        &[]
    }
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let s = at(ctx, &self.args[0])
            .iter()
            .fold(R::zero(), |acc, &x| acc + x);
        ArrayD::from_elem(IxDyn(&[]), s)
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        // n ε_x for the inputs, γ_{n−1} Σ|x̂| for the summation in any order (no underflow term).
        let x = at(ctx, &self.args[0]);
        let n = x.len();
        eps[self.args[0].pos].scale(n as f64)
            + Bound::gamma(n.saturating_sub(1), R::U) * inflate(abs_sum(x), n)
    }
}

impl<S: Shape, B, R: Runtime> FwdNodeScale<R> for Sum<S, B> {
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        b[self.args[0].pos].scale(S::NUMEL as f64).max(linf(out))
    }
}

impl<S: Shape, B, R: Runtime> RevNode<R> for Sum<S, B> {
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        let d = *delta.iter().next().expect("invariant: scalar cotangent");
        vec![ArrayD::from_elem(IxDyn(S::DIMS), d)]
    }
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![ed]
    }
}

impl<S: Shape, B, R: Runtime> RevNodeScale<R> for Sum<S, B> {
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![bd]
    }
}
