//! Reductions: `sum`, `mean`, `sum_rows`.
//!
//! Summation error is bounded by `sum_err` in the mode of
//! [`config::dot_bound_mode`](crate::config::dot_bound_mode) (a posteriori for narrow runtimes,
//! order-free otherwise); the mean's division is measured against an `f64` reference.

use super::gemm::sum_err;
use super::kit::{Op, OpRuntime};
use super::linalg::{col_sums, col_sums_eps, spec_col_sums};
use super::op_node;
use super::util::{at, div_err, scalar, scalar_of, spec_b};
use crate::bound::{Bound, inflate};
use crate::handle::{Arg, Var};
use crate::scalar::{Arith, Runtime, SpecScalar};
use crate::shape::{Rank0, Rank1, Rank2, Shape};
use crate::tensor::linf;
use ndarray::{ArrayD, IxDyn};

/// `Σ x` left to right, in spec and runtime arithmetic alike.
fn total<T: Arith>(x: &ArrayD<T>) -> T {
    x.iter().fold(T::lit(0.0), |acc, &v| acc + v)
}

/// `v` broadcast to every entry of shape `S`: the VJP of a full reduction.
fn fill<S: Shape, T: Clone>(v: T) -> ArrayD<T> {
    ArrayD::from_elem(IxDyn(S::DIMS), v)
}

// ------------------------------------------------------------------------------------------ sum

op_node! {
    /// Sum of all entries.
    Sum<S>[1] => Rank0
}

/// `sum(x) = Σ x`, a scalar.
pub fn sum<S: Shape, B>(x: Var<S, B>) -> Sum<S, B> {
    Sum::new([x.arg()])
}

impl<S: Shape, B> Op for Sum<S, B> {
    const NAME: &'static str = "sum";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        scalar(T::sum(at(ctx, &self.args[0]).iter().copied()))
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![fill::<S, T>(scalar_of(delta))]
    }
}

impl<S: Shape, B, R: Runtime> OpRuntime<R> for Sum<S, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        scalar(total(at(ctx, &self.args[0])))
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        // n ε_x for the inputs, plus the summation error (any order).
        let x = at(ctx, &self.args[0]);
        eps[self.args[0].pos].scale(x.len() as f64)
            + sum_err::<R>(x.iter().map(|v| v.to_spec()), scalar_of(out).to_spec())
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(b[self.args[0].pos].scale(S::NUMEL as f64)).max(linf(out))
    }
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![fill::<S, R>(scalar_of(delta))]
    }
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![ed]
    }
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![bd]
    }
}

// ----------------------------------------------------------------------------------------- mean

op_node! {
    /// Mean of all entries.
    Mean<S>[1] => Rank0
}

/// `mean(x) = sum(x) / numel`, a scalar. The runtime divides by `R::from_f64(numel)` (which may
/// round for `bf16`/`f16`; the bound covers it).
pub fn mean<S: Shape, B>(x: Var<S, B>) -> Mean<S, B> {
    Mean::new([x.arg()])
}

impl<S: Shape, B> Mean<S, B> {
    fn n() -> f64 {
        S::NUMEL as f64
    }
    /// `x / n` in spec and runtime arithmetic alike (the runtime's `n` may round for `bf16`).
    fn per_entry<T: Arith>(x: T) -> T {
        x / T::lit(Self::n())
    }
    fn vjp<T: Arith>(delta: &ArrayD<T>) -> ArrayD<T> {
        fill::<S, T>(Self::per_entry(scalar_of(delta)))
    }
}

impl<S: Shape, B> Op for Mean<S, B> {
    const NAME: &'static str = "mean";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        scalar(Self::per_entry(T::sum(
            at(ctx, &self.args[0]).iter().copied(),
        )))
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![Self::vjp(delta)]
    }
}

impl<S: Shape, B, R: Runtime> OpRuntime<R> for Mean<S, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        scalar(Self::per_entry(total(at(ctx, &self.args[0]))))
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        // |S/n − ŷ| ≤ (nε + |S_x̂ − ŝ|)/n + |ŝ/n − ŷ|.
        let x = at(ctx, &self.args[0]);
        let s = total(x).to_spec();
        let se = sum_err::<R>(x.iter().map(|v| v.to_spec()), s);
        let n = Bound::new(Self::n());
        eps[self.args[0].pos] + se / n + inflate(div_err(scalar_of(out).to_spec(), s, Self::n()), 3)
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(b[self.args[0].pos]).max(linf(out))
    }
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![Self::vjp(delta)]
    }
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        // The runtime entry δ̂/n, computed as the VJP does (not read back from its output,
        // which is empty when the tensor has a zero-size dimension).
        let dv = scalar_of(d);
        let v = Self::per_entry(dv).to_spec();
        let local = inflate(div_err(v, dv.to_spec(), Self::n()), 3);
        vec![ed / Bound::new(Self::n()) + local]
    }
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        vec![spec_b(bd / Bound::new(Self::n())).max(linf(&Self::vjp(d)))]
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

op_node! {
    /// Column sums of a matrix (sum over the rows).
    SumRows<O>[1] => O
}

/// `sum_rows(x)[j] = Σᵢ x[i, j]`.
pub fn sum_rows<S, B>(x: Var<S, B>) -> SumRows<S::Out, B>
where
    S: Shape + SumRowsShape,
{
    SumRows::new([x.arg()])
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
        spec_col_sums(at(ctx, &self.args[0]))
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![self.bcast(delta)]
    }
}

impl<O: Shape, B, R: Runtime> OpRuntime<R> for SumRows<O, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        col_sums(at(ctx, &self.args[0]))
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let a = &self.args[0];
        col_sums_eps(at(ctx, a), eps[a.pos], out)
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let rows = self.args[0].dims[0];
        spec_b(b[self.args[0].pos].scale(rows as f64)).max(linf(out))
    }
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![self.bcast(delta)]
    }
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![ed]
    }
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![bd]
    }
}
