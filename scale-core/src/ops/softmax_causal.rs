//! `softmax_causal(x)` on `[…, n, n]` (SPEC §9b): row `i` of each matrix is a softmax over its
//! entries `j ≤ i`; the entries `j > i` are masked: exactly 0, spec and runtime alike, with error 0
//! and a zero cotangent (they influence nothing).
//!
//! Each unmasked prefix is a softmax row, so the runtime kernel, the spec formulas and the
//! per-entry error analysis are `softmax`'s own (`row_analysis`, `softmax_row_vjp_err`), applied
//! to the prefix `x[i, ..=i]`: a masked entry adds no term to any bound.

use super::kit::{Op, OpRuntime};
use super::op_node;
use super::softmax::{
    row_analysis, rows_into, rows_into2, softmax_row_vjp_err, softmax_rt, softmax_vjp_rt, spec_row,
    spec_softmax_vjp_row,
};
use super::util::{at, nan_max, spec_b};
use crate::bound::{Bound, inflate};
use crate::handle::{Arg, Var};
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::{Rank2, Rank3, Rank4, Shape};
use crate::tensor::linf;
use ndarray::ArrayD;

/// Shapes `softmax_causal` accepts: `[…, n, n]`, rank 2 to 4 (square in the last two axes;
/// the leading axes are batches).
#[diagnostic::on_unimplemented(
    message = "softmax_causal needs a shape `[…, n, n]` (square in its last two axes, rank 2 to 4), found `{Self}`",
    label = "the last two dimensions must be equal"
)]
pub trait CausalShape: Shape {
    /// The size `n` of each square matrix.
    const N: usize;
}
impl<const N: usize> CausalShape for Rank2<N, N> {
    const N: usize = N;
}
impl<const A: usize, const N: usize> CausalShape for Rank3<A, N, N> {
    const N: usize = N;
}
impl<const A: usize, const B: usize, const N: usize> CausalShape for Rank4<A, B, N, N> {
    const N: usize = N;
}

op_node! {
    /// Causal softmax over the last axis of `[…, n, n]`.
    SoftmaxCausal<S>[1] => S
}

/// `softmax_causal(x)`: row `i` of every `n × n` matrix normalised over `j ≤ i`, the rest 0.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank3, RevGraphScale};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank3<2, 4, 4>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, p) = g.snoc(ops::softmax_causal(x)); // p: Var<Rank3<2, 4, 4>, _>
/// # let _ = p;
/// ```
///
/// ```compile_fail
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank3, RevGraphScale};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank3<2, 4, 5>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, p) = g.snoc(ops::softmax_causal(x)); // 4 × 5 is not square
/// ```
pub fn softmax_causal<S: CausalShape, B>(x: Var<S, B>) -> SoftmaxCausal<S, B> {
    SoftmaxCausal::new([x.arg()])
}

/// `f` of the unmasked prefix of every row (`x[.., i, ..=i]`), padded with `zero` to the row's
/// length.
pub(crate) fn causal_map<T: Copy, U: Clone>(
    x: &ArrayD<T>,
    n: usize,
    zero: U,
    mut f: impl FnMut(&[T]) -> Vec<U>,
) -> ArrayD<U> {
    let mut row = 0usize;
    rows_into(x, n, |r, out| {
        let k = (row % n.max(1) + 1).min(r.len());
        row += 1;
        let start = out.len();
        out.extend(f(&r[..k]));
        out.resize(start + r.len(), zero.clone());
    })
}

/// [`causal_map`] over two tensors of one shape (the input and the cotangent).
pub(crate) fn causal_map2<T: Copy, U: Clone>(
    x: &ArrayD<T>,
    d: &ArrayD<T>,
    n: usize,
    zero: U,
    mut f: impl FnMut(&[T], &[T]) -> Vec<U>,
) -> ArrayD<U> {
    let mut row = 0usize;
    rows_into2(x, d, n, |r, dr, out| {
        let k = (row % n.max(1) + 1).min(r.len());
        row += 1;
        let start = out.len();
        out.extend(f(&r[..k], &dr[..k]));
        out.resize(start + r.len(), zero.clone());
    })
}

impl<S: CausalShape, B> Op for SoftmaxCausal<S, B> {
    const NAME: &'static str = "softmax_causal";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        causal_map(at(ctx, &self.args[0]), S::N, T::zero(), |r| spec_row(r).0)
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let x = at(ctx, &self.args[0]);
        vec![causal_map2(x, delta, S::N, T::zero(), spec_softmax_vjp_row)]
    }
}

impl<S: CausalShape, B, R: Runtime> OpRuntime<R> for SoftmaxCausal<S, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        causal_map(at(ctx, &self.args[0]), S::N, R::zero(), softmax_rt)
    }
    /// `softmax`'s per-entry error of each prefix; masked entries are exact zeros.
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        let e = eps[self.args[0].pos].get();
        let mut m = 0.0f64;
        causal_map(at(ctx, &self.args[0]), S::N, (), |r| {
            m = row_analysis(r, e).ep.iter().fold(m, |m, &v| nan_max(m, v));
            vec![(); r.len()]
        });
        Bound::new(m)
    }
    fn fwd_scale(&self, _b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(Bound::ONE).max(linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        let x = at(ctx, &self.args[0]);
        vec![causal_map2(x, delta, S::N, R::zero(), softmax_vjp_rt)]
    }
    /// `softmax`'s VJP analysis of each prefix; the masked cotangents are exact zeros.
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let (e, fed) = (eps[self.args[0].pos].get(), ed.get());
        let mut m = 0.0f64;
        causal_map2(at(ctx, &self.args[0]), d, S::N, (), |r, dr| {
            m = nan_max(m, softmax_row_vjp_err(r, dr, e, fed));
            vec![(); r.len()]
        });
        vec![inflate(m, 12)]
    }
    fn vjp_scale(&self, _b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        // Per prefix |pⱼ(δⱼ − p·δ)| ≤ B_δ/2, as for softmax.
        let v = causal_map2(at(ctx, &self.args[0]), d, S::N, R::zero(), softmax_vjp_rt);
        vec![spec_b(bd.scale(0.5)).max(linf(&v))]
    }
}
