//! Linear algebra: `matmul`, `matvec`, `dot`, `transpose`, `add_bias`.
//!
//! Every product bound goes through one routine (`gemm_eps`): per output entry
//! `ε_A·Σ|B̂| + ε_B·Σ|Â| + local`, with the local rounding error measured a posteriori or bounded
//! order-free according to [`config::dot_bound_mode`](crate::config::dot_bound_mode).

use super::gemm::{AbsStats, SumErr, a_posteriori, gemm_eps, gemm_eps_with};
use super::kit::{Exact, Op, OpRuntime, Structural, out_linf};
use super::op_node;
use super::util::{at, lanes_max3, nan_max, scalar, scalar_of, spec_b, sum2_err, view1, view2};
use crate::bound::{Bound, inflate};
use crate::handle::{Arg, Var};
use crate::node::Saved;
use crate::scalar::{Arith, Runtime, SpecScalar};
use crate::shape::{Rank0, Rank1, Rank2, Rank3, Rank4, Shape};
use crate::tensor::{linf, to_standard};
use ndarray::{Array1, Array2, ArrayD, ArrayView2, Axis, CowArray, Ix2, IxDyn, Zip};

/// Spec matrix product, in the spec arithmetic's own kernel ([`SpecScalar::matmul`]).
fn spec_mm<T: SpecScalar>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T> {
    T::matmul(a, b)
}

/// Scale bound of a length-`k` dot product of factors bounded by `ba`, `bb` (spec side), maxed
/// with the measured runtime magnitude.
pub(crate) fn mm_scale(k: usize, ba: Bound, bb: Bound, rt: Bound) -> Bound {
    spec_b((ba * bb).scale(k as f64)).max(rt)
}

// --------------------------------------------------------------------------------------- matmul

/// Shapes `matmul` accepts: `[m, k] × [k, n] → [m, n]`, and a weight shared over leading axes,
/// `[…, m, k] × [k, n] → […, m, n]` (rank 3 or 4: PyTorch's `x @ W` on a sequence).
#[diagnostic::on_unimplemented(
    message = "matmul needs shapes `[…, m, k]` and `[k, n]`, found `{Self}` and `{X}`",
    label = "the first operand's last dimension must equal the second matrix's first"
)]
pub trait MatMulShapes<X> {
    /// The output shape `[…, m, n]`.
    type Out: Shape;
}
impl<const M: usize, const K: usize, const N: usize> MatMulShapes<Rank2<K, N>> for Rank2<M, K> {
    type Out = Rank2<M, N>;
}
impl<const BT: usize, const M: usize, const K: usize, const N: usize> MatMulShapes<Rank2<K, N>>
    for Rank3<BT, M, K>
{
    type Out = Rank3<BT, M, N>;
}
impl<const B1: usize, const B2: usize, const M: usize, const K: usize, const N: usize>
    MatMulShapes<Rank2<K, N>> for Rank4<B1, B2, M, K>
{
    type Out = Rank4<B1, B2, M, N>;
}

op_node! {
    /// Matrix product `A B` (the leading axes of `A`, if any, flattened into its rows).
    MatMul<O>[2] => O
}

/// `matmul(a, b) = A B` for `a: [m, k]`, `b: [k, n]`; for `a: […, m, k]` the same weight `b`
/// multiplies every matrix of `a` (one GEMM of the leading axes flattened into rows).
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank2, Rank3, RevGraphScale};
/// type Gamma = Seg<Nil, (Rank2<2, 3>, Rank2<3, 4>, Rank3<5, 2, 3>)>;
/// let (g, (a, b, x)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let (g, c) = g.snoc(ops::matmul(a, b)); // c: Var<Rank2<2, 4>, _>
/// let (_g, y) = g.snoc(ops::matmul(x, b)); // y: Var<Rank3<5, 2, 4>, _>
/// # let _ = (c, y);
/// ```
pub fn matmul<A, X, B>(a: Var<A, B>, b: Var<X, B>) -> MatMul<A::Out, B>
where
    A: Shape + MatMulShapes<X>,
    X: Shape,
{
    MatMul::new([a.arg(), b.arg()])
}

/// `x` as a matrix whose rows are its last axis (the leading axes flattened, row-major): the plain
/// rank-2 view for a matrix (so the 2-D product is unchanged), a reshaped view of a
/// standard-layout tensor of higher rank, a copy otherwise.
fn rows2<T: Clone>(x: &ArrayD<T>) -> CowArray<'_, T, Ix2> {
    if x.ndim() == 2 {
        return CowArray::from(view2(x));
    }
    let k = x.shape().last().copied().unwrap_or(1);
    let m = x.shape().iter().rev().skip(1).product::<usize>();
    match x.view().into_shape_with_order((m, k)) {
        Ok(v) => CowArray::from(v),
        Err(_) => CowArray::from(
            to_standard(x.view())
                .into_shape_with_order((m, k))
                .expect("invariant: same element count"),
        ),
    }
}

/// The inverse of [`rows2`] for a product's result: back to the dimensions `dims`.
fn unrows<T: Clone>(c: Array2<T>, dims: &[usize]) -> ArrayD<T> {
    if dims.len() == 2 {
        return c.into_dyn();
    }
    // A GEMM's result is in standard layout already: no copy then.
    let c = if c.is_standard_layout() {
        c
    } else {
        to_standard(c.view())
    };
    c.into_shape_with_order(IxDyn(dims))
        .expect("invariant: same element count")
}

impl<O: Shape, B> MatMul<O, B> {
    /// Rows of the flattened first operand (`m` of the 2-D case).
    fn rows(&self) -> usize {
        self.args[0].dims.iter().rev().skip(1).product()
    }
    fn vjp_rt<R: Runtime>(&self, ctx: &[ArrayD<R>], d: &ArrayD<R>) -> [ArrayD<R>; 2] {
        let (a, b) = (rows2(at(ctx, &self.args[0])), view2(at(ctx, &self.args[1])));
        let d = rows2(d);
        [
            unrows(R::matmul(d.view(), b.t()), self.args[0].dims),
            R::matmul(a.t(), d.view()).into_dyn(),
        ]
    }
}

impl<O: Shape, B> Op for MatMul<O, B> {
    const NAME: &'static str = "matmul";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let (a, b) = (rows2(at(ctx, &self.args[0])), view2(at(ctx, &self.args[1])));
        unrows(spec_mm(a.view(), b), O::DIMS)
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let some = self.vjp_spec_some(ctx, delta, &[true, true]);
        some.into_iter().flatten().collect()
    }
    // One GEMM per argument: none for an argument nobody differentiates (a data input).
    fn vjp_spec_some<T: SpecScalar>(
        &self,
        ctx: &[ArrayD<T>],
        delta: &ArrayD<T>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<T>>> {
        let (a, b) = (rows2(at(ctx, &self.args[0])), view2(at(ctx, &self.args[1])));
        let d = rows2(delta);
        vec![
            wants[0].then(|| unrows(spec_mm(d.view(), b.t()), self.args[0].dims)),
            wants[1].then(|| spec_mm(a.t(), d.view()).into_dyn()),
        ]
    }
}

impl<O: Shape, B, R: Runtime> OpRuntime<R> for MatMul<O, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let (a, b) = (rows2(at(ctx, &self.args[0])), view2(at(ctx, &self.args[1])));
        unrows(R::matmul(a.view(), b), O::DIMS)
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let (aa, ab) = (&self.args[0], &self.args[1]);
        let (a, b) = (rows2(at(ctx, aa)), view2(at(ctx, ab)));
        gemm_eps(a.view(), eps[aa.pos], b, eps[ab.pos], rows2(out).view())
    }
    // The operands' statistics (and the order-free mode's `|A|`, `|Bᵀ|`) are measured once here
    // and kept: the VJP bounds read `A` and `B` again, transposed.
    fn fwd_eps_saving(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        out: &ArrayD<R>,
    ) -> (Bound, Option<Saved>) {
        let (aa, ab) = (&self.args[0], &self.args[1]);
        let (a, b) = (rows2(at(ctx, aa)), view2(at(ctx, ab)));
        let (ea, eb) = (eps[aa.pos], eps[ab.pos]);
        if ea.is_infinite() || eb.is_infinite() {
            return (Bound::INF, None);
        }
        // What `gemm_eps` measures: the row sums of `A` and of `Bᵀ`, and the copies.
        let copy = !a_posteriori::<R>();
        let sa = AbsStats::of(a.view(), copy, false);
        let sbt = AbsStats::of(b.reversed_axes(), copy, false);
        let c = rows2(out);
        let e = gemm_eps_with(a.view(), sa.left(), ea, b, sbt.right_t(), eb, c.view());
        (e, Some(Box::new((sa, sbt))))
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let k = self.args[1].dims[0];
        mm_scale(k, b[self.args[0].pos], b[self.args[1].pos], linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        self.vjp_rt(ctx, delta).into()
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let outs: Vec<_> = self.vjp_runtime(ctx, d).into_iter().map(Some).collect();
        self.vjp_eps_some(eps, ctx, ed, d, &[true, true], &outs)
    }
    // Each argument's cotangent is a GEMM: compute only the wanted ones (no dX for data inputs).
    fn vjp_runtime_some(
        &self,
        ctx: &[ArrayD<R>],
        delta: &ArrayD<R>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<R>>> {
        let (a, b) = (rows2(at(ctx, &self.args[0])), view2(at(ctx, &self.args[1])));
        let d = rows2(delta);
        vec![
            wants[0].then(|| unrows(R::matmul(d.view(), b.t()), self.args[0].dims)),
            wants[1].then(|| R::matmul(a.t(), d.view()).into_dyn()),
        ]
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
        let (aa, ab) = (&self.args[0], &self.args[1]);
        let (a, b) = (rows2(at(ctx, aa)), view2(at(ctx, ab)));
        let d = rows2(delta);
        let get = |i: usize| outs.get(i).and_then(Option::as_ref);
        vec![
            get(0).map_or(Bound::INF, |da| {
                gemm_eps(d.view(), ed, b.t(), eps[ab.pos], rows2(da).view())
            }),
            get(1).map_or(Bound::INF, |db| {
                gemm_eps(a.t(), eps[aa.pos], d.view(), ed, view2(db))
            }),
        ]
    }
    // With the forward bound's statistics of `A` and `B`: only `D` is measured (once for both
    // products).
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
        type Kept<R> = (AbsStats<R>, AbsStats<R>);
        let Some((sa, sbt)) = kept.and_then(|k| k.downcast_ref::<Kept<R>>()) else {
            return self.vjp_eps_some(eps, ctx, ed, delta, wants, outs);
        };
        let (aa, ab) = (&self.args[0], &self.args[1]);
        let (a, b) = (rows2(at(ctx, aa)), view2(at(ctx, ab)));
        let d = rows2(delta);
        let get = |i: usize| outs.get(i).and_then(Option::as_ref);
        // `D` is the left operand of `D·Bᵀ` (its row sums) and the right one of `Aᵀ·D` (its
        // column sums, measured in the same pass when that product is bounded): one copy.
        let sd = AbsStats::of(d.view(), !a_posteriori::<R>(), get(1).is_some());
        let (ea, eb) = (eps[aa.pos], eps[ab.pos]);
        vec![
            get(0).map_or(Bound::INF, |da| {
                let bt_cols = sbt.cols(b.t());
                let sb = sbt.right(&bt_cols);
                gemm_eps_with(d.view(), sd.left(), ed, b.t(), sb, eb, rows2(da).view())
            }),
            get(1).map_or(Bound::INF, |db| {
                let (a_cols, d_cols) = (sa.cols(a.view()), sd.cols(d.view()));
                let (sa, sd) = (sa.left_t(&a_cols), sd.right(&d_cols));
                gemm_eps_with(a.t(), sa, ea, d.view(), sd, ed, view2(db))
            }),
        ]
    }
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let outs: Vec<_> = self.vjp_runtime(ctx, d).into_iter().map(Some).collect();
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
        // The weight's cotangent sums over every row of every leading index.
        let (m, n) = (self.rows(), self.args[1].dims[1]);
        let rt = |i: usize| out_linf(outs, mags, i);
        vec![
            rt(0).map_or(Bound::INF, |l| mm_scale(n, bd, b[self.args[1].pos], l)),
            rt(1).map_or(Bound::INF, |l| mm_scale(m, b[self.args[0].pos], bd, l)),
        ]
    }
}

// --------------------------------------------------------------------------------------- matvec

/// Shapes `matvec` accepts: `[m, k] × [k] → [m]`.
#[diagnostic::on_unimplemented(
    message = "matvec needs shapes `[m, k]` and `[k]`, found `{Self}` and `{X}`",
    label = "the matrix's second dimension must equal the vector's length"
)]
pub trait MatVecShapes<X> {
    /// The output shape `[m]`.
    type Out: Shape;
}
impl<const M: usize, const K: usize> MatVecShapes<Rank1<K>> for Rank2<M, K> {
    type Out = Rank1<M>;
}

op_node! {
    /// Matrix–vector product `W x`.
    MatVec<O>[2] => O
}

/// `matvec(w, x) = W x` for `w: [m, k]`, `x: [k]`.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, Rank2, RevGraphScale};
/// type Gamma = Seg<Nil, (Rank2<2, 3>, Rank1<3>)>;
/// let (g, (w, x)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let (_g, y) = g.snoc(ops::matvec(w, x)); // y: Var<Rank1<2>, _>
/// # let _ = y;
/// ```
pub fn matvec<W, X, B>(w: Var<W, B>, x: Var<X, B>) -> MatVec<W::Out, B>
where
    W: Shape + MatVecShapes<X>,
    X: Shape,
{
    MatVec::new([w.arg(), x.arg()])
}

impl<O: Shape, B> MatVec<O, B> {
    fn vjp_rt<R: Runtime>(&self, ctx: &[ArrayD<R>], d: &ArrayD<R>) -> (Array2<R>, Array1<R>) {
        let (w, x) = (view2(at(ctx, &self.args[0])), view1(at(ctx, &self.args[1])));
        let d = view1(d);
        let dw = Array2::from_shape_fn(w.raw_dim(), |(i, j)| d[i] * x[j]);
        (dw, w.t().dot(&d))
    }
}

impl<O: Shape, B> Op for MatVec<O, B> {
    const NAME: &'static str = "matvec";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let (w, x) = (view2(at(ctx, &self.args[0])), view1(at(ctx, &self.args[1])));
        let y = spec_mm(w, x.insert_axis(Axis(1)));
        y.index_axis(Axis(1), 0).to_owned().into_dyn()
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let some = self.vjp_spec_some(ctx, delta, &[true, true]);
        some.into_iter().flatten().collect()
    }
    // An outer product and a matrix-vector product: skip the one nobody differentiates.
    fn vjp_spec_some<T: SpecScalar>(
        &self,
        ctx: &[ArrayD<T>],
        delta: &ArrayD<T>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<T>>> {
        let (w, x) = (view2(at(ctx, &self.args[0])), view1(at(ctx, &self.args[1])));
        let d = view1(delta);
        vec![
            wants[0].then(|| Array2::from_shape_fn(w.raw_dim(), |(i, j)| d[i] * x[j]).into_dyn()),
            wants[1].then(|| {
                let dx = spec_mm(w.t(), d.insert_axis(Axis(1)));
                dx.index_axis(Axis(1), 0).to_owned().into_dyn()
            }),
        ]
    }
}

impl<O: Shape, B, R: Runtime> OpRuntime<R> for MatVec<O, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let (w, x) = (view2(at(ctx, &self.args[0])), view1(at(ctx, &self.args[1])));
        w.dot(&x).into_dyn()
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let (aw, ax) = (&self.args[0], &self.args[1]);
        let (w, x) = (view2(at(ctx, aw)), view1(at(ctx, ax)));
        let y = view1(out).insert_axis(Axis(1));
        gemm_eps(w, eps[aw.pos], x.insert_axis(Axis(1)), eps[ax.pos], y)
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let k = self.args[1].dims[0];
        mm_scale(k, b[self.args[0].pos], b[self.args[1].pos], linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        let (dw, dx) = self.vjp_rt(ctx, delta);
        vec![dw.into_dyn(), dx.into_dyn()]
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let (aw, ax) = (&self.args[0], &self.args[1]);
        let (w, x) = (view2(at(ctx, aw)), view1(at(ctx, ax)));
        let (dw, dx) = self.vjp_rt(ctx, d);
        let d = view1(d);
        vec![
            // dW = δ xᵀ: a product with inner dimension 1.
            gemm_eps(
                d.insert_axis(Axis(1)),
                ed,
                x.insert_axis(Axis(0)),
                eps[ax.pos],
                dw.view(),
            ),
            // dx = Wᵀ δ.
            gemm_eps(
                w.t(),
                eps[aw.pos],
                d.insert_axis(Axis(1)),
                ed,
                dx.view().insert_axis(Axis(1)),
            ),
        ]
    }
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let m = self.args[0].dims[0];
        let (bw, bx) = (b[self.args[0].pos], b[self.args[1].pos]);
        let (dw, dx) = self.vjp_rt(ctx, d);
        vec![
            mm_scale(1, bd, bx, linf(&dw.into_dyn())),
            mm_scale(m, bw, bd, linf(&dx.into_dyn())),
        ]
    }
}

// ------------------------------------------------------------------------------------------ dot

/// Shapes `dot` accepts: `[k] · [k] → []`.
#[diagnostic::on_unimplemented(
    message = "dot needs shapes `[k]` and `[k]`, found `{Self}` and `{X}`",
    label = "both vectors must have the same length"
)]
pub trait DotShapes<X> {}
impl<const K: usize> DotShapes<Rank1<K>> for Rank1<K> {}

op_node! {
    /// Inner product `a · b`.
    Dot<S>[2] => Rank0
}

/// `dot(a, b) = Σ aᵢbᵢ` for two vectors of the same length, a scalar.
pub fn dot<S, X, B>(a: Var<S, B>, b: Var<X, B>) -> Dot<S, B>
where
    S: Shape + DotShapes<X>,
    X: Shape,
{
    Dot::new([a.arg(), b.arg()])
}

impl<S: Shape, B> Dot<S, B> {
    /// `Σ aᵢbᵢ` left to right, in spec and runtime arithmetic alike.
    fn fwd<T: Arith>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let (a, b) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        scalar(
            a.iter()
                .zip(b.iter())
                .fold(T::lit(0.0), |acc, (&x, &y)| acc + x * y),
        )
    }
    /// `(δ·b, δ·a)`, in spec and runtime arithmetic alike.
    fn vjp<T: Arith>(&self, ctx: &[ArrayD<T>], d: &ArrayD<T>) -> [ArrayD<T>; 2] {
        let dv = scalar_of(d);
        [
            at(ctx, &self.args[1]).mapv(|y| dv * y),
            at(ctx, &self.args[0]).mapv(|x| dv * x),
        ]
    }
}

impl<S: Shape, B> Op for Dot<S, B> {
    const NAME: &'static str = "dot";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        // Through the spec scalar's sum (a scalar modelling rounding covers any order).
        let (a, b) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        scalar(T::sum(a.iter().zip(b.iter()).map(|(&x, &y)| x * y)))
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        self.vjp(ctx, delta).into()
    }
}

impl<S: Shape, B, R: Runtime> OpRuntime<R> for Dot<S, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        self.fwd(ctx)
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let (aa, ab) = (&self.args[0], &self.args[1]);
        let (a, b) = (view1(at(ctx, aa)), view1(at(ctx, ab)));
        let y = out.view().into_shape_with_order((1, 1)).expect("scalar");
        gemm_eps(
            a.insert_axis(Axis(0)),
            eps[aa.pos],
            b.insert_axis(Axis(1)),
            eps[ab.pos],
            y,
        )
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        mm_scale(
            S::NUMEL,
            b[self.args[0].pos],
            b[self.args[1].pos],
            linf(out),
        )
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        self.vjp(ctx, delta).into()
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let (aa, ab) = (&self.args[0], &self.args[1]);
        let [va, vb] = self.vjp(ctx, d);
        let dd = d.view().into_shape_with_order((1, 1)).expect("scalar");
        let one = |x: &ArrayD<R>, ex: Bound, v: &ArrayD<R>| {
            gemm_eps(
                view1(x).insert_axis(Axis(1)),
                ex,
                dd,
                ed,
                view1(v).insert_axis(Axis(1)),
            )
        };
        vec![
            one(at(ctx, ab), eps[ab.pos], &va),
            one(at(ctx, aa), eps[aa.pos], &vb),
        ]
    }
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let [va, vb] = self.vjp(ctx, d);
        vec![
            mm_scale(1, bd, b[self.args[1].pos], linf(&va)),
            mm_scale(1, bd, b[self.args[0].pos], linf(&vb)),
        ]
    }
}

// ------------------------------------------------------------------------------------ transpose

/// Shapes `transpose` accepts: `[m, n] → [n, m]`.
#[diagnostic::on_unimplemented(
    message = "transpose needs a matrix `[m, n]`, found `{Self}`",
    label = "not a rank-2 shape"
)]
pub trait TransposeShape {
    /// The output shape `[n, m]`.
    type Out: Shape;
}
impl<const M: usize, const N: usize> TransposeShape for Rank2<M, N> {
    type Out = Rank2<N, M>;
}

/// Marker of `transpose` (the [`Exact`] family: entries move, nothing rounds).
pub struct TransposeFn;
impl Structural for TransposeFn {
    const NAME: &'static str = "transpose";
    fn forward<T: Arith>(x: &ArrayD<T>, _out: &[usize]) -> ArrayD<T> {
        tr(x)
    }
    fn backward<T: Arith>(d: &ArrayD<T>, _input: &[usize]) -> ArrayD<T> {
        tr(d)
    }
}

/// Matrix transpose (exact).
pub type Transpose<O, B> = Exact<O, B, TransposeFn>;

/// `transpose(x)`: `[m, n] → [n, m]`.
pub fn transpose<S, B>(x: Var<S, B>) -> Transpose<S::Out, B>
where
    S: Shape + TransposeShape,
{
    Exact::new([x.arg()])
}

fn tr<T: Clone>(a: &ArrayD<T>) -> ArrayD<T> {
    to_standard(view2(a).t()).into_dyn()
}

// ------------------------------------------------------------------------------------- add_bias

/// Shapes `add_bias` accepts: `[b, n] + [n] → [b, n]`.
#[diagnostic::on_unimplemented(
    message = "add_bias needs shapes `[b, n]` and `[n]`, found `{Self}` and `{X}`",
    label = "the bias length must equal the matrix's second dimension"
)]
pub trait AddBiasShapes<X> {}
impl<const M: usize, const N: usize> AddBiasShapes<Rank1<N>> for Rank2<M, N> {}

op_node! {
    /// `h + b` with `b` broadcast over the rows of `h`.
    AddBias<S>[2] => S
}

/// `add_bias(h, b)[i, j] = h[i, j] + b[j]`.
pub fn add_bias<S, X, B>(h: Var<S, B>, b: Var<X, B>) -> AddBias<S, B>
where
    S: Shape + AddBiasShapes<X>,
    X: Shape,
{
    AddBias::new([h.arg(), b.arg()])
}

/// `h + b` row by row, in spec and runtime arithmetic alike.
fn bias_fwd<T: Arith>(h: &ArrayD<T>, b: &ArrayD<T>) -> ArrayD<T> {
    let b = view1(b);
    let mut out = view2(h).to_owned();
    for mut row in out.rows_mut() {
        Zip::from(&mut row).and(&b).for_each(|o, &b| *o = *o + b);
    }
    out.into_dyn()
}

/// Column sums row by row, in spec and runtime arithmetic alike (the kernel of `sum_rows`).
pub(crate) fn col_sums<T: Arith>(x: &ArrayD<T>) -> ArrayD<T> {
    let x = view2(x);
    let mut acc = Array1::from_elem(x.ncols(), T::lit(0.0));
    for row in x.rows() {
        Zip::from(&mut acc).and(&row).for_each(|a, &v| *a = *a + v);
    }
    acc.into_dyn()
}

/// Spec column sums of a matrix, each through [`SpecScalar::sum`] (so a scalar that models
/// rounding covers any summation order).
pub(crate) fn spec_col_sums<T: SpecScalar>(x: &ArrayD<T>) -> ArrayD<T> {
    let x = view2(x);
    Array1::from_iter(x.columns().into_iter().map(|c| T::sum(c.iter().copied()))).into_dyn()
}

/// Error of runtime column sums `ŝ` of `x̂` against the spec column sums: `rows·ε + max_j local_j`.
/// Every column's `f64` sum and `Σ|x̂|` are accumulated row by row, in memory order (a column
/// of a row-major matrix is strided: walking it was 2 % of an order-free MLP step).
pub(crate) fn col_sums_eps<R: Runtime>(x: &ArrayD<R>, ex: Bound, s: &ArrayD<R>) -> Bound {
    let xv = view2(x);
    let (rows, n) = xv.dim();
    let (mut sum, mut abs) = (vec![0.0f64; n], vec![0.0f64; n]);
    let add = |(s, a): (&mut f64, &mut f64), x: R| {
        let v = x.to_spec();
        *s += v;
        *a += v.abs();
    };
    for row in xv.rows() {
        let cols = sum.iter_mut().zip(abs.iter_mut());
        match row.to_slice() {
            Some(r) => cols.zip(r).for_each(|(c, &x)| add(c, x)),
            None => cols.zip(row.iter()).for_each(|(c, &x)| add(c, x)),
        }
    }
    let err = SumErr::new::<R>(rows);
    let m = view1(s)
        .iter()
        .zip(sum.iter().zip(&abs))
        .fold(Bound::ZERO, |m, (&sj, (&s64, &a))| {
            m.max(err.of(s64, a, sj.to_spec()))
        });
    ex.scale(rows as f64) + m
}

impl<S: Shape, B> Op for AddBias<S, B> {
    const NAME: &'static str = "add_bias";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        bias_fwd(at(ctx, &self.args[0]), at(ctx, &self.args[1]))
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![delta.clone(), spec_col_sums(delta)]
    }
}

impl<S: Shape, B, R: Runtime> OpRuntime<R> for AddBias<S, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        bias_fwd(at(ctx, &self.args[0]), at(ctx, &self.args[1]))
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let (ah, ab) = (&self.args[0], &self.args[1]);
        let (h, b, y) = (view2(at(ctx, ah)), view1(at(ctx, ab)), view2(out));
        let t = |y: R, h: R, b: R| sum2_err(y.to_spec(), h.to_spec(), b.to_spec());
        let mut m = 0.0f64;
        for (yr, hr) in y.rows().into_iter().zip(h.rows()) {
            m = nan_max(
                m,
                match (yr.to_slice(), hr.to_slice(), b.to_slice()) {
                    (Some(ys), Some(hs), Some(bs)) => lanes_max3(ys, hs, bs, t),
                    _ => {
                        let mut r = 0.0f64;
                        Zip::from(&yr)
                            .and(&hr)
                            .and(&b)
                            .for_each(|&y, &h, &b| r = nan_max(r, t(y, h, b)));
                        r
                    }
                },
            );
        }
        eps[ah.pos] + eps[ab.pos] + inflate(m, 3)
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        (b[self.args[0].pos] + b[self.args[1].pos]).max(linf(out))
    }
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![delta.clone(), col_sums(delta)]
    }
    fn vjp_eps(&self, e: &[Bound], c: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        self.vjp_eps_some(e, c, ed, d, &[true, true], &[])
    }
    fn vjp_scale(&self, b: &[Bound], c: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        self.vjp_scale_some(b, c, bd, d, &[true, true], &[], &[])
    }
    // The bias's runtime cotangent (the column sums) as the backward sweep computed it, when
    // it did: summing `δ̂` again per part was a pass the propagated modes paid twice.
    fn vjp_eps_some(
        &self,
        _e: &[Bound],
        _c: &[ArrayD<R>],
        ed: Bound,
        d: &ArrayD<R>,
        _wants: &[bool],
        outs: &[Option<ArrayD<R>>],
    ) -> Vec<Bound> {
        let bias = match outs.get(1).and_then(Option::as_ref) {
            Some(s) => col_sums_eps(d, ed, s),
            None => col_sums_eps(d, ed, &col_sums(d)),
        };
        vec![ed, bias]
    }
    fn vjp_scale_some(
        &self,
        _b: &[Bound],
        _c: &[ArrayD<R>],
        bd: Bound,
        d: &ArrayD<R>,
        _wants: &[bool],
        outs: &[Option<ArrayD<R>>],
        mags: &[Option<Bound>],
    ) -> Vec<Bound> {
        let rows = self.args[0].dims[0];
        let rt = out_linf(outs, mags, 1).unwrap_or_else(|| linf(&col_sums(d)));
        vec![bd, spec_b(bd.scale(rows as f64)).max(rt)]
    }
}
