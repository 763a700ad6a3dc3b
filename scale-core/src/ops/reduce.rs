//! Reductions: `sum`, `mean`, `sum_rows`.
//!
//! Summation error is bounded by `sum_err` in the mode of
//! [`config::dot_bound_mode`](crate::config::dot_bound_mode) (a posteriori for narrow runtimes,
//! order-free otherwise); the mean's division is measured against an `f64` reference.

use super::linalg::{col_sums, col_sums_eps, spec_col_sums};
use super::util::{at, div_err, inflate, linf, spec_b, sum_err};
use super::{fwd_meta, node_type};
use crate::bound::Bound;
use crate::handle::{Arg, Var};
use crate::node::{FwdNode, FwdNodeScale, RevNode, RevNodeScale, SpecForward, SpecVjp};
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::{Rank0, Rank1, Rank2, Shape};
use ndarray::{ArrayD, IxDyn};
use std::marker::PhantomData;

fn scalar_of<T: Copy>(a: &ArrayD<T>) -> T {
    *a.iter().next().expect("invariant: scalar entry")
}

fn total<T: Copy + std::ops::Add<Output = T>>(x: &ArrayD<T>, zero: T) -> T {
    x.iter().fold(zero, |acc, &v| acc + v)
}

// ------------------------------------------------------------------------------------------ sum

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

impl<S: Shape, B, T: SpecScalar> SpecForward<T> for Sum<S, B> {
    fn forward_spec(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        ArrayD::from_elem(IxDyn(&[]), T::sum(at(ctx, &self.args[0]).iter().copied()))
    }
}

impl<S: Shape, B, T: SpecScalar> SpecVjp<T> for Sum<S, B> {
    fn vjp_spec(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![ArrayD::from_elem(IxDyn(S::DIMS), scalar_of(delta))]
    }
}

impl<S: Shape, B, R: Runtime> FwdNode<R> for Sum<S, B> {
    fwd_meta!("sum", Rank0);
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        ArrayD::from_elem(IxDyn(&[]), total(at(ctx, &self.args[0]), R::zero()))
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        // n ε_x for the inputs, plus the summation error (any order).
        let x = at(ctx, &self.args[0]);
        eps[self.args[0].pos].scale(x.len() as f64)
            + sum_err::<R>(x.iter().map(|v| v.to_spec()), scalar_of(out).to_spec())
    }
}

impl<S: Shape, B, R: Runtime> FwdNodeScale<R> for Sum<S, B> {
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(b[self.args[0].pos].scale(S::NUMEL as f64)).max(linf(out))
    }
}

impl<S: Shape, B, R: Runtime> RevNode<R> for Sum<S, B> {
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![ArrayD::from_elem(IxDyn(S::DIMS), scalar_of(delta))]
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

// ----------------------------------------------------------------------------------------- mean

/// Mean of all entries.
pub struct Mean<S, B> {
    args: [Arg; 1],
    _p: PhantomData<fn() -> (S, B)>,
}

impl<S: Shape, B> crate::node::NodeType for Mean<S, B> {
    type Out = Rank0;
    type Brand = B;
}

/// `mean(x) = sum(x) / numel`, a scalar. The runtime divides by `R::from_f64(numel)` (which may
/// round for `bf16`/`f16`; the bound covers it).
pub fn mean<S: Shape, B>(x: Var<S, B>) -> Mean<S, B> {
    Mean {
        args: [x.arg()],
        _p: PhantomData,
    }
}

impl<S: Shape, B> Mean<S, B> {
    fn n() -> f64 {
        S::NUMEL as f64
    }
    fn vjp_rt<R: Runtime>(delta: &ArrayD<R>) -> ArrayD<R> {
        let v = scalar_of(delta) / R::from_f64(Self::n());
        ArrayD::from_elem(IxDyn(S::DIMS), v)
    }
}

impl<S: Shape, B, T: SpecScalar> SpecForward<T> for Mean<S, B> {
    fn forward_spec(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let s = T::sum(at(ctx, &self.args[0]).iter().copied()) / T::from_f64(Self::n());
        ArrayD::from_elem(IxDyn(&[]), s)
    }
}

impl<S: Shape, B, T: SpecScalar> SpecVjp<T> for Mean<S, B> {
    fn vjp_spec(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let v = scalar_of(delta) / T::from_f64(Self::n());
        vec![ArrayD::from_elem(IxDyn(S::DIMS), v)]
    }
}

impl<S: Shape, B, R: Runtime> FwdNode<R> for Mean<S, B> {
    fwd_meta!("mean", Rank0);
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let s = total(at(ctx, &self.args[0]), R::zero()) / R::from_f64(Self::n());
        ArrayD::from_elem(IxDyn(&[]), s)
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        // |S/n − ŷ| ≤ (nε + |S_x̂ − ŝ|)/n + |ŝ/n − ŷ|.
        let x = at(ctx, &self.args[0]);
        let s = total(x, R::zero()).to_spec();
        let se = sum_err::<R>(x.iter().map(|v| v.to_spec()), s);
        let n = Bound::new(Self::n());
        eps[self.args[0].pos] + se / n + inflate(div_err(scalar_of(out).to_spec(), s, Self::n()), 3)
    }
}

impl<S: Shape, B, R: Runtime> FwdNodeScale<R> for Mean<S, B> {
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(b[self.args[0].pos]).max(linf(out))
    }
}

impl<S: Shape, B, R: Runtime> RevNode<R> for Mean<S, B> {
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![Self::vjp_rt(delta)]
    }
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        // The runtime entry δ̂/n, computed as the VJP does (not read back from its output,
        // which is empty when the tensor has a zero-size dimension).
        let dv = scalar_of(d);
        let v = (dv / R::from_f64(Self::n())).to_spec();
        let local = inflate(div_err(v, dv.to_spec(), Self::n()), 3);
        vec![ed / Bound::new(Self::n()) + local]
    }
}

impl<S: Shape, B, R: Runtime> RevNodeScale<R> for Mean<S, B> {
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        vec![spec_b(bd / Bound::new(Self::n())).max(linf(&Self::vjp_rt(d)))]
    }
}

// ------------------------------------------------------------------------------------- sum_rows

/// Shapes `sum_rows` accepts: `[b, n] → [n]`.
#[diagnostic::on_unimplemented(
    message = "sum_rows needs a matrix `[b, n]`, found `{Self}`",
    label = "not a rank-2 shape"
)]
pub trait SumRowsShape {
    /// The output shape `[n]`.
    type Out: Shape;
}
impl<const M: usize, const N: usize> SumRowsShape for Rank2<M, N> {
    type Out = Rank1<N>;
}

/// Column sums of a matrix (sum over the rows).
pub struct SumRows<O, B> {
    args: [Arg; 1],
    _p: PhantomData<fn() -> (O, B)>,
}
node_type!(SumRows<O> => O);

/// `sum_rows(x)[j] = Σᵢ x[i, j]`.
pub fn sum_rows<S, B>(x: Var<S, B>) -> SumRows<S::Out, B>
where
    S: Shape + SumRowsShape,
{
    SumRows {
        args: [x.arg()],
        _p: PhantomData,
    }
}

impl<O: Shape, B> SumRows<O, B> {
    fn bcast<T: Copy>(&self, d: &ArrayD<T>) -> ArrayD<T> {
        let dims = self.args[0].dims;
        let d = super::util::view1(d);
        ndarray::Array2::from_shape_fn((dims[0], dims[1]), |(_, j)| d[j]).into_dyn()
    }
}

impl<O: Shape, B, T: SpecScalar> SpecForward<T> for SumRows<O, B> {
    fn forward_spec(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        spec_col_sums(at(ctx, &self.args[0]))
    }
}

impl<O: Shape, B, T: SpecScalar> SpecVjp<T> for SumRows<O, B> {
    fn vjp_spec(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![self.bcast(delta)]
    }
}

impl<O: Shape, B, R: Runtime> FwdNode<R> for SumRows<O, B> {
    fwd_meta!("sum_rows", O);
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        col_sums(at(ctx, &self.args[0]), R::zero())
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let a = &self.args[0];
        col_sums_eps(at(ctx, a), eps[a.pos], out)
    }
}

impl<O: Shape, B, R: Runtime> FwdNodeScale<R> for SumRows<O, B> {
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let rows = self.args[0].dims[0];
        spec_b(b[self.args[0].pos].scale(rows as f64)).max(linf(out))
    }
}

impl<O: Shape, B, R: Runtime> RevNode<R> for SumRows<O, B> {
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![self.bcast(delta)]
    }
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![ed]
    }
}

impl<O: Shape, B, R: Runtime> RevNodeScale<R> for SumRows<O, B> {
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![bd]
    }
}
