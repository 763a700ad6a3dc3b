//! `expand(x, axis, n)`: a new axis of length `n` inserted at `axis`, along which `x` is repeated
//! (PyTorch's `x.unsqueeze(axis).expand(…, n, …)`), input rank 0 to 3.
//!
//! It is the broadcast that lets a reduction over an axis meet the tensor it came from:
//! `[b, n]` minus `expand(mean(x, 1), 1, n)` centres the rows, and the ONNX importer lowers
//! broadcasting `Sub`/`Div`/`Mul`/`Add` to it. It is the adjoint of `sum(x, axis)`: the forward
//! copies (exact, so the bounds pass through), the VJP sums the cotangent over the new axis, so
//! its bounds are those of an `n`-term sum per entry (`n·ε_δ + summation error`, the same helper
//! `sum(x, axis)` bounds its forward with), and its spec side sums through [`SpecScalar::sum`] so
//! the any-implementation mode charges every summation order.
//!
//! Both `axis` and `n` are type-level literals ([`Idx`]): the output shape is the type
//! [`InsertAxis::Out`], which rustc computes and checks without the macro.

use super::axes::{Idx, lane_max, per_lane, spread, total};
use super::gemm::sum_err;
use super::kit::{Op, OpRuntime};
use super::util::{at, spec_b};
use crate::bound::Bound;
use crate::handle::{Arg, Var};
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::{Rank0, Rank1, Rank2, Rank3, Rank4, Shape};
use crate::tensor::linf;
use ndarray::ArrayD;

/// The shape with a new axis of length `N` inserted at position `AX` (`expand`); implemented
/// only for `AX ≤ rank` and ranks 0 to 3 (the output has at most 4 axes), so a bad axis is a
/// type error.
#[diagnostic::on_unimplemented(
    message = "cannot insert axis {AX} into shape `{Self}`",
    label = "expand's axis must be at most the input's rank, and the input's rank at most 3"
)]
pub trait InsertAxis<const AX: usize, const N: usize>: Shape {
    /// The shape with `N` inserted at `AX`.
    type Out: Shape;
}

macro_rules! insert_impls {
    ($($rank:ident [$($g:ident),+] $ax:literal => $out:ty;)*) => {$(
        impl<$(const $g: usize,)+ const N: usize> InsertAxis<$ax, N> for $rank<$($g),+> {
            type Out = $out;
        }
    )*};
}

// `Rank0` has no const parameters for the macro's `<…>` to list.
impl<const N: usize> InsertAxis<0, N> for Rank0 {
    type Out = Rank1<N>;
}

insert_impls! {
    Rank1 [A] 0 => Rank2<N, A>;
    Rank1 [A] 1 => Rank2<A, N>;
    Rank2 [A, B] 0 => Rank3<N, A, B>;
    Rank2 [A, B] 1 => Rank3<A, N, B>;
    Rank2 [A, B] 2 => Rank3<A, B, N>;
    Rank3 [A, B, C] 0 => Rank4<N, A, B, C>;
    Rank3 [A, B, C] 1 => Rank4<A, N, B, C>;
    Rank3 [A, B, C] 2 => Rank4<A, B, N, C>;
    Rank3 [A, B, C] 3 => Rank4<A, B, C, N>;
}

op_node! {
    /// `x` repeated along a new axis (`x.unsqueeze(axis).expand(…)` in PyTorch).
    Expand<O>[1, axis: usize] => O
}

/// `expand(x, axis, n)`: `x` repeated `n` times along a new axis inserted at `axis` (`0 ≤ axis ≤
/// rank`, input rank 0 to 3). The language's `expand(x, 1, 4)` calls
/// `expand(x, Idx::<1>, Idx::<4>)`; `n = 0` gives an empty output whose VJP is exactly zero.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, RevGraphScale, TList};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank1<2>,)>, Nil, _>::nil(scale_core::brand!());
/// let (g, y) = g.snoc(ops::expand(x, ops::Idx::<1>, ops::Idx::<3>)); // y: Var<Rank2<2, 3>, _>
/// let (g, s) = g.snoc(ops::sum(y));
/// let xr = TList::from_arrays(vec![ndarray::arr1(&[1.5f32, -2.0]).into_dyn()])?;
/// let (e, b) = g.exact_inputs(&xr);
/// let (seed, es, bs) = g.loss_seed(s);
/// let cert = g.certify(xr, &e, &b, &seed, &es, &bs);
/// assert_eq!(cert.value(s), -1.5);
/// assert_eq!(cert.grads.get(x).as_slice().unwrap(), &[3.0, 3.0]); // n copies, n cotangents
/// # Ok::<(), scale_core::Error>(())
/// ```
///
/// ```compile_fail
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank2, RevGraphScale};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank2<2, 3>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, y) = g.snoc(ops::expand(x, ops::Idx::<3>, ops::Idx::<4>)); // axis 3 of a rank-2 shape
/// ```
pub fn expand<S, B, const AX: usize, const N: usize>(
    x: Var<S, B>,
    _axis: Idx<AX>,
    _n: Idx<N>,
) -> Expand<S::Out, B>
where
    S: InsertAxis<AX, N>,
{
    Expand::new([x.arg()], AX)
}

impl<O: Shape, B> Expand<O, B> {
    /// The length `n` of the new axis.
    fn n(&self) -> usize {
        O::DIMS[self.axis]
    }
    fn copies<T: Clone>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        spread(at(ctx, &self.args[0]), self.axis, O::DIMS)
    }
}

impl<O: Shape, B> Op for Expand<O, B> {
    const NAME: &'static str = "expand";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        self.copies(ctx)
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![per_lane(delta, self.axis, |l| T::sum(l.iter().copied()))]
    }
}

/// Forward: every output entry is an input entry, unchanged, so the bounds are the input's. VJP:
/// each input entry's cotangent is a runtime sum of `n` cotangent entries.
impl<O: Shape, B, R: Runtime> OpRuntime<R> for Expand<O, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        self.copies(ctx)
    }
    fn fwd_eps(&self, eps: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        eps[self.args[0].pos]
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        b[self.args[0].pos]
    }
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![per_lane(delta, self.axis, total)]
    }
    /// Per input entry `n·ε_δ` plus the summation error of its lane (any order; `+∞` when the
    /// lane or its sum is not finite). With `n = 0` both sides are exact zeros: eps 0, even for
    /// `ε_δ = +∞`, which then bounds no entry at all.
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let n = self.n();
        if n == 0 {
            return vec![Bound::ZERO];
        }
        // Recomputed (deterministically, in the VJP's order) for the a-posteriori mode, which
        // compares each lane's runtime sum with an `f64` one.
        let sums = per_lane(d, self.axis, total);
        let local = lane_max(d, self.axis, &sums, |l, s| {
            sum_err::<R>(l.iter().map(|v| v.to_spec()), s.to_spec())
        });
        vec![ed.scale(n as f64) + local]
    }
    /// `n·B_δ` on the spec side (widened for the interval spec's enclosure), and the measured
    /// runtime sums.
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let n = self.n();
        if n == 0 {
            return vec![Bound::ZERO];
        }
        let sums = per_lane(d, self.axis, total);
        vec![spec_b(bd.scale(n as f64)).max(linf(&sums))]
    }
}
