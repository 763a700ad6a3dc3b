//! Linear algebra: `matvec`.

use super::node_type;
use super::util::{at, dot_rounding, dot_scale, inflate, linf, product_rounding, view1, view2};
use crate::bound::Bound;
use crate::handle::{Arg, Var};
use crate::node::{FwdNode, FwdNodeScale, RevNode, RevNodeScale, SpecForward, SpecVjp};
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::{Rank1, Rank2, Shape};
use ndarray::{Array1, Array2, ArrayD, Axis};
use std::marker::PhantomData;

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

/// Matrix–vector product `W x`.
pub struct MatVec<O, B> {
    args: [Arg; 2],
    _p: PhantomData<fn() -> (O, B)>,
}
node_type!(MatVec<O> => O);

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
    MatVec {
        args: [w.arg(), x.arg()],
        _p: PhantomData,
    }
}

impl<O: Shape, B, T: SpecScalar> SpecForward<T> for MatVec<O, B> {
    fn forward_spec(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let (w, x) = (view2(at(ctx, &self.args[0])), view1(at(ctx, &self.args[1])));
        let y: Array1<T> = w
            .outer_iter()
            .map(|row| {
                row.iter()
                    .zip(x.iter())
                    .fold(T::zero(), |acc, (&a, &b)| acc + a * b)
            })
            .collect();
        y.into_dyn()
    }
}

impl<O: Shape, B, T: SpecScalar> SpecVjp<T> for MatVec<O, B> {
    fn vjp_spec(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let (w, x) = (view2(at(ctx, &self.args[0])), view1(at(ctx, &self.args[1])));
        let d = view1(delta);
        let dw = Array2::from_shape_fn(w.raw_dim(), |(i, j)| d[i] * x[j]);
        let dx: Array1<T> = w
            .axis_iter(Axis(1))
            .map(|col| {
                col.iter()
                    .zip(d.iter())
                    .fold(T::zero(), |acc, (&a, &b)| acc + a * b)
            })
            .collect();
        vec![dw.into_dyn(), dx.into_dyn()]
    }
}

impl<O: Shape, B, R: Runtime> FwdNode<R> for MatVec<O, B> {
    fn op_name(&self) -> &'static str {
        "matvec"
    }
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn out_dims(&self) -> &'static [usize] {
        O::DIMS
    }
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let (w, x) = (view2(at(ctx, &self.args[0])), view1(at(ctx, &self.args[1])));
        w.dot(&x).into_dyn()
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        let (aw, ax) = (&self.args[0], &self.args[1]);
        let (w, x) = (view2(at(ctx, aw)), view1(at(ctx, ax)));
        dot_rows_eps::<R>(w, eps[aw.pos], x, eps[ax.pos])
    }
}

/// Error of `W x` (one dot product per row of `W`, length `k`):
/// `max_i [ε_W(‖x̂‖₁ + k ε_x) + ε_x ‖Ŵ_i‖₁ + γ_k (|Ŵ||x̂|)_i + 2kη]`.
fn dot_rows_eps<R: Runtime>(
    w: ndarray::ArrayView2<'_, R>,
    ew: Bound,
    x: ndarray::ArrayView1<'_, R>,
    ex: Bound,
) -> Bound {
    let k = x.len();
    let xabs: Vec<f64> = x.iter().map(|v| v.to_spec().abs()).collect();
    let x1 = inflate(xabs.iter().sum(), k);
    let mut worst = Bound::ZERO;
    for row in w.outer_iter() {
        let (mut rabs, mut dabs) = (0.0f64, 0.0f64);
        for (&a, &b) in row.iter().zip(&xabs) {
            let a = a.to_spec().abs();
            rabs += a;
            dabs += a * b;
        }
        let e = ex * inflate(rabs, k) + dot_rounding::<R>(k, inflate(dabs, 2 * k));
        worst = worst.max(e);
    }
    ew * (x1 + ex.scale(k as f64)) + worst
}

impl<O: Shape, B, R: Runtime> FwdNodeScale<R> for MatVec<O, B> {
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let k = self.args[1].dims[0];
        (b[self.args[0].pos] * b[self.args[1].pos])
            .scale(k as f64)
            .max(linf(out))
    }
}

impl<O: Shape, B, R: Runtime> RevNode<R> for MatVec<O, B> {
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        let (w, x) = (view2(at(ctx, &self.args[0])), view1(at(ctx, &self.args[1])));
        let d = view1(delta);
        let dw = Array2::from_shape_fn(w.raw_dim(), |(i, j)| d[i] * x[j]);
        let dx = w.t().dot(&d);
        vec![dw.into_dyn(), dx.into_dyn()]
    }
    fn vjp_eps(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        ed: Bound,
        delta: &ArrayD<R>,
    ) -> Vec<Bound> {
        let (aw, ax) = (&self.args[0], &self.args[1]);
        let (w, x) = (view2(at(ctx, aw)), view1(at(ctx, ax)));
        let d = view1(delta);
        let (ew, ex) = (eps[aw.pos], eps[ax.pos]);
        // dW_ij = δ_i x_j: one product per entry; every term is monotone in |δ̂_i| and |x̂_j|,
        // so the maximum over (i, j) is attained at the largest of each.
        let (dmax, xmax) = (linf(delta), linf(at(ctx, ax)));
        let e_dw = ed * (xmax + ex) + dmax * ex + product_rounding::<R>(dmax * xmax);
        // dx = Wᵀ δ: one length-m dot product per column of W.
        let e_dx = dot_rows_eps::<R>(w.t(), ew, d, ed);
        let _ = x;
        vec![e_dw, e_dx]
    }
}

impl<O: Shape, B, R: Runtime> RevNodeScale<R> for MatVec<O, B> {
    fn vjp_scale(&self, b: &[Bound], _c: &[ArrayD<R>], bd: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        let m = self.args[0].dims[0];
        let (bw, bx) = (b[self.args[0].pos], b[self.args[1].pos]);
        vec![
            (bd * bx).widen(R::U) + Bound::new(R::ETA),
            dot_scale::<R>(m, bw, bd),
        ]
    }
}
