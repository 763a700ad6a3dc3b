//! Reductions: `sum`, `mean`, `sum_rows`.
//!
//! Summation error is bounded by `sum_err` in the mode of
//! [`config::dot_bound_mode`](crate::config::dot_bound_mode) (a posteriori for narrow runtimes,
//! order-free otherwise); the mean's division is measured against an `f64` reference.

use super::gemm::sum_err;
use super::kit::Op;
use super::linalg::{col_sums, col_sums_eps};
use super::node_type;
use super::util::{at, div_err, spec_b};
use crate::bound::{Bound, inflate};
use crate::handle::{Arg, Var};
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::{Rank0, Rank1, Rank2, Shape};
use crate::tensor::linf;
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

impl<S: Shape, B> Op for Sum<S, B> {
    const NAME: &'static str = "sum";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        ArrayD::from_elem(IxDyn(&[]), total(at(ctx, &self.args[0]), T::zero()))
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![ArrayD::from_elem(IxDyn(S::DIMS), scalar_of(delta))]
    }
    fn forward_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        ArrayD::from_elem(IxDyn(&[]), total(at(ctx, &self.args[0]), R::zero()))
    }
    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        // n ε_x for the inputs, plus the summation error (any order).
        let x = at(ctx, &self.args[0]);
        eps[self.args[0].pos].scale(x.len() as f64)
            + sum_err::<R>(x.iter().map(|v| v.to_spec()), scalar_of(out).to_spec())
    }
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(b[self.args[0].pos].scale(S::NUMEL as f64)).max(linf(out))
    }
    fn vjp_runtime<R: Runtime>(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![ArrayD::from_elem(IxDyn(S::DIMS), scalar_of(delta))]
    }
    fn vjp_eps<R: Runtime>(
        &self,
        _e: &[Bound],
        _c: &[ArrayD<R>],
        ed: Bound,
        _d: &ArrayD<R>,
    ) -> Vec<Bound> {
        vec![ed]
    }
    fn vjp_scale<R: Runtime>(
        &self,
        _b: &[Bound],
        _c: &[ArrayD<R>],
        bd: Bound,
        _d: &ArrayD<R>,
    ) -> Vec<Bound> {
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

impl<S: Shape, B> Op for Mean<S, B> {
    const NAME: &'static str = "mean";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let s = total(at(ctx, &self.args[0]), T::zero()) / T::from_f64(Self::n());
        ArrayD::from_elem(IxDyn(&[]), s)
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let v = scalar_of(delta) / T::from_f64(Self::n());
        vec![ArrayD::from_elem(IxDyn(S::DIMS), v)]
    }
    fn forward_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let s = total(at(ctx, &self.args[0]), R::zero()) / R::from_f64(Self::n());
        ArrayD::from_elem(IxDyn(&[]), s)
    }
    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        // |S/n − ŷ| ≤ (nε + |S_x̂ − ŝ|)/n + |ŝ/n − ŷ|.
        let x = at(ctx, &self.args[0]);
        let s = total(x, R::zero()).to_spec();
        let se = sum_err::<R>(x.iter().map(|v| v.to_spec()), s);
        let n = Bound::new(Self::n());
        eps[self.args[0].pos] + se / n + inflate(div_err(scalar_of(out).to_spec(), s, Self::n()), 3)
    }
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(b[self.args[0].pos]).max(linf(out))
    }
    fn vjp_runtime<R: Runtime>(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![Self::vjp_rt(delta)]
    }
    fn vjp_eps<R: Runtime>(
        &self,
        _e: &[Bound],
        _c: &[ArrayD<R>],
        ed: Bound,
        d: &ArrayD<R>,
    ) -> Vec<Bound> {
        // The runtime entry δ̂/n, computed as the VJP does (not read back from its output,
        // which is empty when the tensor has a zero-size dimension).
        let dv = scalar_of(d);
        let v = (dv / R::from_f64(Self::n())).to_spec();
        let local = inflate(div_err(v, dv.to_spec(), Self::n()), 3);
        vec![ed / Bound::new(Self::n()) + local]
    }
    fn vjp_scale<R: Runtime>(
        &self,
        _b: &[Bound],
        _c: &[ArrayD<R>],
        bd: Bound,
        d: &ArrayD<R>,
    ) -> Vec<Bound> {
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

impl<O: Shape, B> Op for SumRows<O, B> {
    const NAME: &'static str = "sum_rows";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        col_sums(at(ctx, &self.args[0]), T::zero())
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![self.bcast(delta)]
    }
    fn forward_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        col_sums(at(ctx, &self.args[0]), R::zero())
    }
    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let a = &self.args[0];
        col_sums_eps(at(ctx, a), eps[a.pos], out)
    }
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let rows = self.args[0].dims[0];
        spec_b(b[self.args[0].pos].scale(rows as f64)).max(linf(out))
    }
    fn vjp_runtime<R: Runtime>(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![self.bcast(delta)]
    }
    fn vjp_eps<R: Runtime>(
        &self,
        _e: &[Bound],
        _c: &[ArrayD<R>],
        ed: Bound,
        _d: &ArrayD<R>,
    ) -> Vec<Bound> {
        vec![ed]
    }
    fn vjp_scale<R: Runtime>(
        &self,
        _b: &[Bound],
        _c: &[ArrayD<R>],
        bd: Bound,
        _d: &ArrayD<R>,
    ) -> Vec<Bound> {
        vec![bd]
    }
}
