//! Convolutions (SPEC §9b): `conv2d(x, w, stride, padding)` on `[b, c, h, w] × [o, c, kh, kw]`
//! and `conv1d(x, w, stride, padding)` on `[b, c, l] × [o, c, k]`, cross-correlation with zero
//! padding as PyTorch computes it (no bias: add one with a broadcast add).
//!
//! Every part is a GEMM through im2col, so every bound is `gemm_eps`'s (SPEC §5) and the spec
//! side goes through [`SpecScalar::matmul`] (sound in every mode, including any-implementation):
//!
//! * forward: `cols · Wᵀ`, `cols` the `[b·h'·w', c·kh·kw]` matrix of input windows (padding
//!   entries are exact zeros), each output a dot of length `c·kh·kw`;
//! * `∂w`: `Δᵀ · cols`, each entry a dot of length `b·h'·w'`;
//! * `∂x`: `Δcols · W₂`, `Δcols` the `[b·h·w, o·kh·kw]` matrix of the output cotangents whose
//!   window covers each input position (zeros elsewhere), so each entry is one dot of length
//!   `o·kh·kw` — a single product, not a GEMM followed by a scatter-add, which keeps every
//!   cotangent entry inside one `gemm_eps` bound.
//!
//! Output sizes `h' = ⌊(h + 2p − kh)/s⌋ + 1` cannot be computed from const generics in stable
//! Rust, so the output shape is a type parameter of the constructor (the macro's shape rule
//! computes it and writes it at the push; typed callers annotate the handle), checked by an
//! inline `const` assertion when the constructor is instantiated (like `slice` and `concat`).
//! Stride and padding are type-level literals ([`Idx`]) for the same reason.

use super::axes::Idx;
use super::gemm::gemm_eps;
use super::kit::{Op, OpRuntime, out_linf};
use super::linalg::mm_scale;
use super::util::at;
use crate::bound::Bound;
use crate::handle::{Arg, Var};
use crate::scalar::{Arith, Runtime, SpecScalar};
use crate::shape::{Rank3, Rank4, Shape};
use crate::tensor::linf;
use ndarray::{Array2, ArrayD, ArrayView2, IxDyn};

/// Which convolution a [`Conv`] node is: its name (the geometry lives in the node).
pub trait ConvKind: Send + Sync + 'static {
    /// Op name for reports.
    const NAME: &'static str;
}

/// Marker of `conv2d`.
pub struct Conv2dKind;
impl ConvKind for Conv2dKind {
    const NAME: &'static str = "conv2d";
}

/// Marker of `conv1d` (a `conv2d` of height 1, without vertical padding).
pub struct Conv1dKind;
impl ConvKind for Conv1dKind {
    const NAME: &'static str = "conv1d";
}

/// The geometry of a convolution, every case as a 2-d one (`conv1d` has `h = kh = 1`, no
/// vertical padding).
#[derive(Debug, Clone, Copy)]
pub struct ConvGeom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    s: usize,
    ph: usize,
    pw: usize,
    oh: usize,
    ow: usize,
}

/// `⌊(len + 2·pad − k)/stride⌋ + 1`, or `None` where PyTorch rejects the call (stride 0, a
/// kernel longer than the padded input).
pub const fn conv_out_len(len: usize, k: usize, stride: usize, pad: usize) -> Option<usize> {
    let padded = len + 2 * pad;
    if stride == 0 || k > padded {
        None
    } else {
        Some((padded - k) / stride + 1)
    }
}

/// Whether `out` is the convolution output length for these sizes (for `const` assertions).
const fn out_is(len: usize, k: usize, stride: usize, pad: usize, out: usize) -> bool {
    matches!(conv_out_len(len, k, stride, pad), Some(v) if v == out)
}

impl ConvGeom {
    /// Rows of the window matrix (one per output position).
    fn rows(&self) -> usize {
        self.n * self.oh * self.ow
    }
    /// Window length `c·kh·kw` (the forward dot length).
    fn win(&self) -> usize {
        self.c * self.kh * self.kw
    }
    /// The input position `(y, x)` of kernel offset `(ki, kj)` of output position `(i, j)`,
    /// or `None` in the zero padding.
    #[inline]
    fn src(&self, i: usize, j: usize, ki: usize, kj: usize) -> Option<(usize, usize)> {
        let y = (i * self.s + ki).checked_sub(self.ph)?;
        let x = (j * self.s + kj).checked_sub(self.pw)?;
        (y < self.h && x < self.w).then_some((y, x))
    }
    /// The output index along one axis whose window puts offset `k` at input position `pos`.
    #[inline]
    fn dst(pos: usize, k: usize, pad: usize, s: usize, len: usize) -> Option<usize> {
        let t = (pos + pad).checked_sub(k)?;
        (t % s == 0 && t / s < len).then_some(t / s)
    }

    /// `cols[(b, i, j), (ci, ki, kj)] = x[b, ci, i·s + ki − p, j·s + kj − p]` (0 in the padding).
    fn im2col<T: Arith>(&self, x: &[T]) -> Array2<T> {
        let z = T::lit(0.0);
        let mut cols = Array2::from_elem((self.rows(), self.win()), z);
        for ((r, q), v) in cols.indexed_iter_mut() {
            let (b, ij) = (r / (self.oh * self.ow), r % (self.oh * self.ow));
            let (i, j) = (ij / self.ow, ij % self.ow);
            let (ci, k) = (q / (self.kh * self.kw), q % (self.kh * self.kw));
            if let Some((y, xx)) = self.src(i, j, k / self.kw, k % self.kw) {
                *v = x[((b * self.c + ci) * self.h + y) * self.w + xx];
            }
        }
        cols
    }

    /// `Δcols[(b, y, x), (oc, ki, kj)] = δ[b, oc, i, j]` for the output `(i, j)` whose window puts
    /// offset `(ki, kj)` at `(y, x)` (0 where none does): `∂x = Δcols · W₂`.
    fn dcols<T: Arith>(&self, d: &[T]) -> Array2<T> {
        let z = T::lit(0.0);
        let kk = self.kh * self.kw;
        let mut m = Array2::from_elem((self.n * self.h * self.w, self.o * kk), z);
        for ((r, q), v) in m.indexed_iter_mut() {
            let (b, yx) = (r / (self.h * self.w), r % (self.h * self.w));
            let (y, x) = (yx / self.w, yx % self.w);
            let (oc, k) = (q / kk, q % kk);
            let i = Self::dst(y, k / self.kw, self.ph, self.s, self.oh);
            let j = Self::dst(x, k % self.kw, self.pw, self.s, self.ow);
            if let (Some(i), Some(j)) = (i, j) {
                *v = d[((b * self.o + oc) * self.oh + i) * self.ow + j];
            }
        }
        m
    }

    /// The weights as `[o, c·kh·kw]` (their memory order).
    fn wmat<T: Arith>(&self, w: &[T]) -> Array2<T> {
        Array2::from_shape_vec((self.o, self.win()), w.to_vec())
            .expect("invariant: the weight has the shape the node was typed with")
    }

    /// `W₂[(oc, ki, kj), ci] = w[oc, ci, ki, kj]`.
    fn w2<T: Arith>(&self, w: &[T]) -> Array2<T> {
        let kk = self.kh * self.kw;
        Array2::from_shape_fn((self.o * kk, self.c), |(q, ci)| {
            w[(q / kk * self.c + ci) * kk + q % kk]
        })
    }

    /// The output cotangent as `Δ[(b, i, j), oc]`.
    fn dmat<T: Arith>(&self, d: &[T]) -> Array2<T> {
        let hw = self.oh * self.ow;
        Array2::from_shape_fn((self.rows(), self.o), |(r, oc)| {
            d[(r / hw * self.o + oc) * hw + r % hw]
        })
    }

    /// `Y[(b, i, j), oc]` back to `[b, oc, i, j]` with the output's dimensions `dims`.
    fn out_of<T: Arith>(&self, y: &Array2<T>, dims: &[usize]) -> ArrayD<T> {
        let hw = self.oh * self.ow;
        let v: Vec<T> = (0..self.rows() * self.o)
            .map(|e| {
                let (b, rest) = (e / (self.o * hw), e % (self.o * hw));
                y[(b * hw + rest % hw, rest / hw)]
            })
            .collect();
        ArrayD::from_shape_vec(IxDyn(dims), v).expect("invariant: output size")
    }

    /// `∂x[(b, y, x), ci]` back to `[b, ci, y, x]` with the input's dimensions `dims`.
    fn dx_of<T: Arith>(&self, m: &Array2<T>, dims: &[usize]) -> ArrayD<T> {
        let hw = self.h * self.w;
        let v: Vec<T> = (0..self.n * self.c * hw)
            .map(|e| {
                let (b, rest) = (e / (self.c * hw), e % (self.c * hw));
                m[(b * hw + rest % hw, rest / hw)]
            })
            .collect();
        ArrayD::from_shape_vec(IxDyn(dims), v).expect("invariant: input size")
    }

    /// The inverse of [`ConvGeom::out_of`]: `Y` from a runtime output `[b, oc, i, j]`.
    fn ymat<T: Arith>(&self, out: &[T]) -> Array2<T> {
        self.dmat(out)
    }

    /// The inverse of [`ConvGeom::dx_of`] (to measure a runtime `∂x`).
    fn dxmat<T: Arith>(&self, dx: &[T]) -> Array2<T> {
        let hw = self.h * self.w;
        Array2::from_shape_fn((self.n * hw, self.c), |(r, ci)| {
            dx[(r / hw * self.c + ci) * hw + r % hw]
        })
    }
}

/// A tensor's entries in memory (standard) order.
fn flat<T: Copy>(a: &ArrayD<T>) -> Vec<T> {
    a.iter().copied().collect()
}

// ----------------------------------------------------------------------------- shape traits

/// Shapes `conv2d` accepts: `[b, c, h, w] × [o, c, kh, kw] → [b, o, h', w']` (`Self` the input,
/// `W` the weight, `T` the output). Batch, channels and output channels are checked here; the
/// spatial sizes `h', w'` by the constructor's `const` assertion (stable Rust cannot compute
/// them at type level).
#[diagnostic::on_unimplemented(
    message = "conv2d needs shapes `[b, c, h, w]` and `[o, c, kh, kw]` with output `[b, o, h', w']`, found `{Self}` and `{W}` with output `{T}`",
    label = "the input's channels must equal the weight's second dimension"
)]
pub trait Conv2dShapes<W: Shape, T: Shape>: Shape {}
impl<
    const N: usize,
    const C: usize,
    const H: usize,
    const WD: usize,
    const O: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
> Conv2dShapes<Rank4<O, C, KH, KW>, Rank4<N, O, OH, OW>> for Rank4<N, C, H, WD>
{
}

/// Shapes `conv1d` accepts: `[b, c, l] × [o, c, k] → [b, o, l']`; the length `l'` is checked by
/// the constructor's `const` assertion.
#[diagnostic::on_unimplemented(
    message = "conv1d needs shapes `[b, c, l]` and `[o, c, k]` with output `[b, o, l']`, found `{Self}` and `{W}` with output `{T}`",
    label = "the input's channels must equal the weight's second dimension"
)]
pub trait Conv1dShapes<W: Shape, T: Shape>: Shape {}
impl<
    const N: usize,
    const C: usize,
    const L: usize,
    const O: usize,
    const K: usize,
    const OL: usize,
> Conv1dShapes<Rank3<O, C, K>, Rank3<N, O, OL>> for Rank3<N, C, L>
{
}

op_node! {
    /// A convolution (`conv2d`, `conv1d`: marker `K`) with output shape `O`.
    Conv<O; K>[2, g: ConvGeom] => O
}

/// `conv2d(x, w, stride, padding)`: PyTorch's `F.conv2d(x, w, stride=s, padding=p)` without a
/// bias, for `x: [b, c, h, w]`, `w: [o, c, kh, kw]`, output `T = [b, o, h', w']` with
/// `h' = ⌊(h + 2p − kh)/s⌋ + 1` (likewise `w'`). The caller names `T` (the macro writes it); an
/// inline `const` assertion rejects stride 0, a kernel larger than the padded input and a wrong
/// `T` when the call is instantiated.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank4, RevGraphScale, Var};
/// type Gamma = Seg<Nil, (Rank4<2, 3, 8, 8>, Rank4<4, 3, 3, 3>)>;
/// let (g, (x, w)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let (_g, y): (_, Var<Rank4<2, 4, 8, 8>, _>) =
///     g.snoc(ops::conv2d(x, w, ops::Idx::<1>, ops::Idx::<1>));
/// # let _ = y;
/// ```
///
/// ```compile_fail
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank4, RevGraphScale, Var};
/// type Gamma = Seg<Nil, (Rank4<2, 3, 8, 8>, Rank4<4, 2, 3, 3>)>; // 3 channels, weight for 2
/// let (g, (x, w)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let (_g, y): (_, Var<Rank4<2, 4, 8, 8>, _>) =
///     g.snoc(ops::conv2d(x, w, ops::Idx::<1>, ops::Idx::<1>));
/// ```
///
/// ```compile_fail
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank4, RevGraphScale, Var};
/// type Gamma = Seg<Nil, (Rank4<2, 3, 8, 8>, Rank4<4, 3, 3, 3>)>;
/// let (g, (x, w)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let (_g, y): (_, Var<Rank4<2, 4, 6, 6>, _>) = // with padding 1 the output is 8×8
///     g.snoc(ops::conv2d(x, w, ops::Idx::<1>, ops::Idx::<1>));
/// ```
pub fn conv2d<X, W, T, B, const S: usize, const P: usize>(
    x: Var<X, B>,
    w: Var<W, B>,
    _stride: Idx<S>,
    _padding: Idx<P>,
) -> Conv<T, B, Conv2dKind>
where
    X: Conv2dShapes<W, T>,
    W: Shape,
    T: Shape,
{
    const {
        assert!(
            out_is(X::DIMS[2], W::DIMS[2], S, P, T::DIMS[2])
                && out_is(X::DIMS[3], W::DIMS[3], S, P, T::DIMS[3]),
            "conv2d: the stride must be positive, the kernel must fit in the padded input, and \
             the output must be ⌊(h + 2p − kh)/s⌋ + 1 by ⌊(w + 2p − kw)/s⌋ + 1"
        )
    };
    let (xd, wd, td) = (X::DIMS, W::DIMS, T::DIMS);
    let g = ConvGeom {
        n: xd[0],
        c: xd[1],
        h: xd[2],
        w: xd[3],
        o: wd[0],
        kh: wd[2],
        kw: wd[3],
        s: S,
        ph: P,
        pw: P,
        oh: td[2],
        ow: td[3],
    };
    Conv::new([x.arg(), w.arg()], g)
}

/// `conv1d(x, w, stride, padding)`: PyTorch's `F.conv1d(x, w, stride=s, padding=p)` without a
/// bias, for `x: [b, c, l]`, `w: [o, c, k]`, output `T = [b, o, l']` with
/// `l' = ⌊(l + 2p − k)/s⌋ + 1`; `T` is the caller's and checked like [`conv2d`]'s.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank3, RevGraphScale, Var};
/// type Gamma = Seg<Nil, (Rank3<2, 3, 10>, Rank3<4, 3, 3>)>;
/// let (g, (x, w)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let (_g, y): (_, Var<Rank3<2, 4, 4>, _>) =
///     g.snoc(ops::conv1d(x, w, ops::Idx::<2>, ops::Idx::<0>));
/// # let _ = y;
/// ```
///
/// ```compile_fail
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank3, RevGraphScale, Var};
/// type Gamma = Seg<Nil, (Rank3<2, 3, 10>, Rank3<4, 3, 3>)>;
/// let (g, (x, w)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let (_g, y): (_, Var<Rank3<2, 4, 4>, _>) = // stride 0
///     g.snoc(ops::conv1d(x, w, ops::Idx::<0>, ops::Idx::<0>));
/// ```
pub fn conv1d<X, W, T, B, const S: usize, const P: usize>(
    x: Var<X, B>,
    w: Var<W, B>,
    _stride: Idx<S>,
    _padding: Idx<P>,
) -> Conv<T, B, Conv1dKind>
where
    X: Conv1dShapes<W, T>,
    W: Shape,
    T: Shape,
{
    const {
        assert!(
            out_is(X::DIMS[2], W::DIMS[2], S, P, T::DIMS[2]),
            "conv1d: the stride must be positive, the kernel must fit in the padded input, and \
             the output length must be ⌊(l + 2p − k)/s⌋ + 1"
        )
    };
    let (xd, wd, td) = (X::DIMS, W::DIMS, T::DIMS);
    let g = ConvGeom {
        n: xd[0],
        c: xd[1],
        h: 1,
        w: xd[2],
        o: wd[0],
        kh: 1,
        kw: wd[2],
        s: S,
        ph: 0,
        pw: P,
        oh: 1,
        ow: td[2],
    };
    Conv::new([x.arg(), w.arg()], g)
}

impl<O: Shape, B, K: ConvKind> Conv<O, B, K> {
    /// The three GEMM operands of the forward: window matrix, weight matrix.
    fn fwd_mats<T: Arith>(&self, ctx: &[ArrayD<T>]) -> (Array2<T>, Array2<T>) {
        let x = flat(at(ctx, &self.args[0]));
        let w = flat(at(ctx, &self.args[1]));
        (self.g.im2col(&x), self.g.wmat(&w))
    }
}

impl<O: Shape, B, K: ConvKind> Op for Conv<O, B, K> {
    const NAME: &'static str = K::NAME;
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let (cols, wm) = self.fwd_mats(ctx);
        self.g.out_of(&T::matmul(cols.view(), wm.t()), O::DIMS)
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let some = self.vjp_spec_some(ctx, delta, &[true, true]);
        some.into_iter().flatten().collect()
    }
    // One GEMM per argument: none for an argument nobody differentiates (the image input).
    fn vjp_spec_some<T: SpecScalar>(
        &self,
        ctx: &[ArrayD<T>],
        delta: &ArrayD<T>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<T>>> {
        vjp_with(self, ctx, delta, wants, |a, b| T::matmul(a, b))
    }
}

/// The cotangents of the wanted arguments with the matrix product `mm` (the spec's or the
/// runtime's): `∂x = Δcols·W₂`, `∂w = Δᵀ·cols`.
fn vjp_with<O: Shape, B, K: ConvKind, T: Arith>(
    node: &Conv<O, B, K>,
    ctx: &[ArrayD<T>],
    delta: &ArrayD<T>,
    wants: &[bool],
    mm: impl Fn(ArrayView2<'_, T>, ArrayView2<'_, T>) -> Array2<T>,
) -> Vec<Option<ArrayD<T>>> {
    let g = &node.g;
    let (ax, aw) = (&node.args[0], &node.args[1]);
    let d = flat(delta);
    let dx = wants[0].then(|| {
        let w = flat(at(ctx, aw));
        g.dx_of(&mm(g.dcols(&d).view(), g.w2(&w).view()), ax.dims)
    });
    let dw = wants[1].then(|| {
        let x = flat(at(ctx, ax));
        let m = mm(g.dmat(&d).t(), g.im2col(&x).view());
        ArrayD::from_shape_vec(IxDyn(aw.dims), m.iter().copied().collect())
            .expect("invariant: weight size")
    });
    vec![dx, dw]
}

impl<O: Shape, B, K: ConvKind, R: Runtime> OpRuntime<R> for Conv<O, B, K> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let (cols, wm) = self.fwd_mats(ctx);
        self.g.out_of(&R::matmul(cols.view(), wm.t()), O::DIMS)
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let (cols, wm) = self.fwd_mats(ctx);
        let y = self.g.ymat(&flat(out));
        let (ex, ew) = (eps[self.args[0].pos], eps[self.args[1].pos]);
        gemm_eps(cols.view(), ex, wm.t(), ew, y.view())
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let (bx, bw) = (b[self.args[0].pos], b[self.args[1].pos]);
        mm_scale(self.g.win(), bx, bw, linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        let some = self.vjp_runtime_some(ctx, delta, &[true, true]);
        some.into_iter().flatten().collect()
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let outs = self.vjp_runtime_some(ctx, d, &[true, true]);
        self.vjp_eps_some(eps, ctx, ed, d, &[true, true], &outs)
    }
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let outs = self.vjp_runtime_some(ctx, d, &[true, true]);
        self.vjp_scale_some(b, ctx, bd, d, &[true, true], &outs, &[])
    }
    fn vjp_runtime_some(
        &self,
        ctx: &[ArrayD<R>],
        delta: &ArrayD<R>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<R>>> {
        vjp_with(self, ctx, delta, wants, |a, b| R::matmul(a, b))
    }
    // Each cotangent measured against the runtime result already computed, as the GEMM it is.
    fn vjp_eps_some(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        ed: Bound,
        delta: &ArrayD<R>,
        _wants: &[bool],
        outs: &[Option<ArrayD<R>>],
    ) -> Vec<Bound> {
        let g = &self.g;
        let (ax, aw) = (&self.args[0], &self.args[1]);
        let d = flat(delta);
        let get = |i: usize| outs.get(i).and_then(Option::as_ref);
        vec![
            get(0).map_or(Bound::INF, |dx| {
                let w = flat(at(ctx, aw));
                let m = g.dxmat(&flat(dx));
                gemm_eps(
                    g.dcols(&d).view(),
                    ed,
                    g.w2(&w).view(),
                    eps[aw.pos],
                    m.view(),
                )
            }),
            get(1).map_or(Bound::INF, |dw| {
                let x = flat(at(ctx, ax));
                let m = g.wmat(&flat(dw));
                gemm_eps(
                    g.dmat(&d).t(),
                    ed,
                    g.im2col(&x).view(),
                    eps[ax.pos],
                    m.view(),
                )
            }),
        ]
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
        let g = &self.g;
        let rt = |i: usize| out_linf(outs, mags, i);
        let (bx, bw) = (b[self.args[0].pos], b[self.args[1].pos]);
        vec![
            // Each `∂x` entry: at most `o·kh·kw` products of a cotangent and a weight.
            rt(0).map_or(Bound::INF, |l| mm_scale(g.o * g.kh * g.kw, bd, bw, l)),
            // Each `∂w` entry: `b·h'·w'` products of a cotangent and an input.
            rt(1).map_or(Bound::INF, |l| mm_scale(g.rows(), bd, bx, l)),
        ]
    }
}
