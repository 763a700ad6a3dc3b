//! `bmm`: batched matrix products `[…, m, k] × […, k, n] → […, m, n]` over equal leading axes
//! (SPEC §9b).
//!
//! A batched product is independent matrix products, one per batch slice, so every part reuses
//! the plain GEMM machinery slice by slice: the spec side is [`SpecScalar::matmul`] per slice (so
//! the any-implementation and this-run scalars bound each slice's products themselves), the error
//! bounds are `gemm_eps` per slice, maximised (each slice's entries depend on that slice only).

use super::gemm::gemm_eps;
use super::kit::{Op, OpRuntime, out_linf};
use super::linalg::mm_scale;
use super::op_node;
use super::util::at;
use crate::bound::Bound;
use crate::handle::{Arg, Var};
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::{Rank3, Rank4, Shape};
use crate::tensor::{linf, to_standard};
use ndarray::{Array2, ArrayD, ArrayView2, Axis, CowArray, Ix3, IxDyn};

/// Shapes `bmm` accepts: `[b, m, k] × [b, k, n] → [b, m, n]` and
/// `[b1, b2, m, k] × [b1, b2, k, n] → [b1, b2, m, n]`.
#[diagnostic::on_unimplemented(
    message = "bmm needs shapes `[…, m, k]` and `[…, k, n]` with equal leading axes (rank 3 or 4), found `{Self}` and `{X}`",
    label = "the batch axes must be equal and the first operand's last dimension must equal the second's next-to-last"
)]
pub trait BmmShapes<X> {
    /// The output shape `[…, m, n]`.
    type Out: Shape;
}
impl<const BT: usize, const M: usize, const K: usize, const N: usize> BmmShapes<Rank3<BT, K, N>>
    for Rank3<BT, M, K>
{
    type Out = Rank3<BT, M, N>;
}
impl<const B1: usize, const B2: usize, const M: usize, const K: usize, const N: usize>
    BmmShapes<Rank4<B1, B2, K, N>> for Rank4<B1, B2, M, K>
{
    type Out = Rank4<B1, B2, M, N>;
}

op_node! {
    /// Batched matrix product: `A[i] B[i]` for every batch index `i`.
    Bmm<O>[2] => O
}

/// `bmm(a, b)[…, :, :] = a[…, :, :] · b[…, :, :]` for `a: […, m, k]`, `b: […, k, n]` with the
/// same leading axes (rank 3 or 4; PyTorch's `torch.matmul` on equal batch shapes).
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank3, RevGraphScale};
/// type Gamma = Seg<Nil, (Rank3<2, 3, 4>, Rank3<2, 4, 5>)>;
/// let (g, (a, b)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let (_g, c) = g.snoc(ops::bmm(a, b)); // c: Var<Rank3<2, 3, 5>, _>
/// # let _ = c;
/// ```
pub fn bmm<A, X, B>(a: Var<A, B>, b: Var<X, B>) -> Bmm<A::Out, B>
where
    A: Shape + BmmShapes<X>,
    X: Shape,
{
    Bmm::new([a.arg(), b.arg()])
}

/// `x` as a stack of matrices `[batch, rows, cols]` (the leading axes collapsed, row-major): a
/// view when `x` is in standard layout (every entry the engine stores is), a copy otherwise.
pub(crate) fn batches<T: Clone>(x: &ArrayD<T>) -> CowArray<'_, T, Ix3> {
    let d = x.shape();
    let r = d.len();
    let (m, n) = (d[r - 2], d[r - 1]);
    let nb = d[..r - 2].iter().product::<usize>();
    match x.view().into_shape_with_order((nb, m, n)) {
        Ok(v) => CowArray::from(v),
        Err(_) => CowArray::from(
            to_standard(x.view())
                .into_shape_with_order((nb, m, n))
                .expect("invariant: same element count"),
        ),
    }
}

/// `x`, or its transpose when `t`.
fn tr<T>(x: ArrayView2<'_, T>, t: bool) -> ArrayView2<'_, T> {
    if t { x.reversed_axes() } else { x }
}

/// `Aᵢ Bᵢ` per batch slice `i` (each operand transposed first when its flag says so), in any
/// arithmetic with a matrix product `mm`, stacked into a tensor of dimensions `dims`. Shared by
/// `bmm` and the products inside `attention`.
pub(crate) fn bmm_with<T: Clone>(
    (a, ta): (&ArrayD<T>, bool),
    (b, tb): (&ArrayD<T>, bool),
    dims: &[usize],
    mm: impl Fn(ArrayView2<'_, T>, ArrayView2<'_, T>) -> Array2<T>,
) -> ArrayD<T> {
    let (a3, b3) = (batches(a), batches(b));
    let mut data = Vec::with_capacity(dims.iter().product());
    for i in 0..a3.len_of(Axis(0)) {
        let c = mm(
            tr(a3.index_axis(Axis(0), i), ta),
            tr(b3.index_axis(Axis(0), i), tb),
        );
        // A memory copy for the (standard-layout) product, not an element iterator.
        match c.as_slice() {
            Some(s) => data.extend_from_slice(s),
            None => data.extend(c.iter().cloned()),
        }
    }
    ArrayD::from_shape_vec(IxDyn(dims), data).expect("invariant: batch slices fill the output")
}

/// The two cotangents per slice, `δᵢ Bᵢᵀ` and `Aᵢᵀ δᵢ`, of the wanted arguments, in any
/// arithmetic that has a matrix product `mm`.
fn vjp_with<T: Clone>(
    (a, b, d): (&ArrayD<T>, &ArrayD<T>, &ArrayD<T>),
    wants: &[bool],
    mm: impl Fn(ArrayView2<'_, T>, ArrayView2<'_, T>) -> Array2<T>,
) -> Vec<Option<ArrayD<T>>> {
    vec![
        wants[0].then(|| bmm_with((d, false), (b, true), a.shape(), &mm)),
        wants[1].then(|| bmm_with((a, true), (d, false), b.shape(), &mm)),
    ]
}

/// `max_i gemm_eps(Aᵢ, εa, Bᵢ, εb, Cᵢ)` over the slices of three stacks, `A` and `B` transposed
/// first when their flags say so (`+∞` when an operand bound is, even for an empty batch:
/// nothing finite comes from a non-finite number).
pub(crate) fn bmm_eps<R: Runtime>(
    (a, ea, ta): (&ArrayD<R>, Bound, bool),
    (b, eb, tb): (&ArrayD<R>, Bound, bool),
    c: &ArrayD<R>,
) -> Bound {
    if ea.is_infinite() || eb.is_infinite() {
        return Bound::INF;
    }
    let (a3, b3, c3) = (batches(a), batches(b), batches(c));
    let mut m = Bound::ZERO;
    for i in 0..c3.len_of(Axis(0)) {
        let ai = tr(a3.index_axis(Axis(0), i), ta);
        let bi = tr(b3.index_axis(Axis(0), i), tb);
        m = m.max(gemm_eps(ai, ea, bi, eb, c3.index_axis(Axis(0), i)));
    }
    m
}

impl<O: Shape, B> Bmm<O, B> {
    fn operands<'a, T>(&self, ctx: &'a [ArrayD<T>]) -> (&'a ArrayD<T>, &'a ArrayD<T>) {
        (at(ctx, &self.args[0]), at(ctx, &self.args[1]))
    }
    /// `(m, k, n)` of every slice.
    fn mkn(&self) -> (usize, usize, usize) {
        let (da, db) = (self.args[0].dims, self.args[1].dims);
        let r = da.len();
        (da[r - 2], da[r - 1], db[r - 1])
    }
}

impl<O: Shape, B> Op for Bmm<O, B> {
    const NAME: &'static str = "bmm";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let (a, b) = self.operands(ctx);
        bmm_with((a, false), (b, false), O::DIMS, |x, y| T::matmul(x, y))
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let some = self.vjp_spec_some(ctx, delta, &[true, true]);
        some.into_iter().flatten().collect()
    }
    // One batched GEMM per argument: none for an argument nobody differentiates.
    fn vjp_spec_some<T: SpecScalar>(
        &self,
        ctx: &[ArrayD<T>],
        delta: &ArrayD<T>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<T>>> {
        let (a, b) = self.operands(ctx);
        vjp_with((a, b, delta), wants, |x, y| T::matmul(x, y))
    }
}

impl<O: Shape, B, R: Runtime> OpRuntime<R> for Bmm<O, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let (a, b) = self.operands(ctx);
        bmm_with((a, false), (b, false), O::DIMS, |x, y| R::matmul(x, y))
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let (a, b) = self.operands(ctx);
        let (ea, eb) = (eps[self.args[0].pos], eps[self.args[1].pos]);
        bmm_eps((a, ea, false), (b, eb, false), out)
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let (_, k, _) = self.mkn();
        mm_scale(k, b[self.args[0].pos], b[self.args[1].pos], linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        let outs = self.vjp_runtime_some(ctx, delta, &[true, true]);
        outs.into_iter().flatten().collect()
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let outs = self.vjp_runtime_some(ctx, d, &[true, true]);
        self.vjp_eps_some(eps, ctx, ed, d, &[true, true], &outs)
    }
    fn vjp_runtime_some(
        &self,
        ctx: &[ArrayD<R>],
        delta: &ArrayD<R>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<R>>> {
        let (a, b) = self.operands(ctx);
        vjp_with((a, b, delta), wants, |x, y| R::matmul(x, y))
    }
    // Bounds of the wanted cotangents, measured against the runtime results already computed.
    fn vjp_eps_some(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        ed: Bound,
        delta: &ArrayD<R>,
        _wants: &[bool],
        outs: &[Option<ArrayD<R>>],
    ) -> Vec<Bound> {
        let (a, b) = self.operands(ctx);
        let (ea, eb) = (eps[self.args[0].pos], eps[self.args[1].pos]);
        let get = |i: usize| outs.get(i).and_then(Option::as_ref);
        vec![
            // dAᵢ = δᵢ Bᵢᵀ.
            get(0).map_or(Bound::INF, |da| {
                bmm_eps((delta, ed, false), (b, eb, true), da)
            }),
            // dBᵢ = Aᵢᵀ δᵢ.
            get(1).map_or(Bound::INF, |db| {
                bmm_eps((a, ea, true), (delta, ed, false), db)
            }),
        ]
    }
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let outs = self.vjp_runtime_some(ctx, d, &[true, true]);
        self.vjp_scale_some(b, ctx, bd, d, &[true, true], &outs, &[])
    }
    fn vjp_scale_some(
        &self,
        b: &[Bound],
        _ctx: &[ArrayD<R>],
        bd: Bound,
        _d: &ArrayD<R>,
        _wants: &[bool],
        outs: &[Option<ArrayD<R>>],
        mags: &[Option<Bound>],
    ) -> Vec<Bound> {
        let (m, _, n) = self.mkn();
        let rt = |i: usize| out_linf(outs, mags, i);
        vec![
            rt(0).map_or(Bound::INF, |l| mm_scale(n, bd, b[self.args[1].pos], l)),
            rt(1).map_or(Bound::INF, |l| mm_scale(m, b[self.args[0].pos], bd, l)),
        ]
    }
}
