//! Ops on one axis of a rank-1…4 tensor (SPEC §9b): `sum(x, axis)`, `mean(x, axis)`,
//! `permute(x, [axes])`, `slice(x, axis, start, end)` and `concat(a, b, axis)`.
//!
//! Axes, slice bounds and permutations are *type-level* literals ([`Idx`], [`Perm1`] …
//! [`Perm4`]), so the output shape is a type computed by traits ([`DropAxis`], [`SetAxis`],
//! [`PermuteShape`]) and rustc rejects a bad axis without the macro. Stable Rust cannot compute
//! `END − START` or `A + B` of const generics, so `slice` and `concat` take their output shape
//! from the caller (the macro writes it; typed callers annotate the handle) and check it with an
//! inline `const` assertion, evaluated when the constructor is instantiated (like `reshape`).
//!
//! `permute`, `slice` and `concat` move entries without rounding: their bounds are their inputs'.
//! The reductions bound each output lane like the full `sum`/`mean` do (`n·ε + summation error`),
//! and their spec side sums through [`SpecScalar::sum`] so the any-implementation mode charges
//! every summation order.

use super::gemm::sum_err;
use super::kit::{Exact, Op, OpRuntime, Structural};
use super::op_node;
use super::util::{at, div_err, nan_max, spec_b};
use crate::bound::{Bound, inflate};
use crate::handle::{Arg, Var};
use crate::scalar::{Arith, Runtime, SpecScalar};
use crate::shape::{Rank0, Rank1, Rank2, Rank3, Rank4, Shape};
use crate::tensor::{linf, to_standard};
use ndarray::{ArrayD, ArrayView1, Axis, IxDyn, Slice, Zip};

/// A non-negative integer literal carried in the type (an axis, a slice bound): the value of
/// `ops::Idx::<1>` is what `scale_graph!` passes for the literal `1`, so the output shape is a
/// type rustc computes and checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Idx<const N: usize>;

// ------------------------------------------------------------------------------ shape traits

/// The shape without axis `AX` (`sum(x, axis)`, `mean(x, axis)`); implemented only for
/// `AX < rank`, so a bad axis is a type error.
#[diagnostic::on_unimplemented(
    message = "axis {AX} is out of range for shape `{Self}`",
    label = "the axis must be below the rank"
)]
pub trait DropAxis<const AX: usize>: Shape {
    /// The shape with axis `AX` removed.
    type Out: Shape;
}

/// The shape with the dimension of axis `AX` replaced by `N` (`slice`, `concat`); implemented
/// only for `AX < rank`. Two shapes that agree except along `AX` have the same
/// `SetAxis<AX, 0>::Out`, which is how `concat` and `slice` compare the other axes.
#[diagnostic::on_unimplemented(
    message = "axis {AX} is out of range for shape `{Self}`",
    label = "the axis must be below the rank"
)]
pub trait SetAxis<const AX: usize, const N: usize>: Shape {
    /// The shape with dimension `N` along `AX`.
    type Out: Shape;
}

macro_rules! axis_impls {
    ($($rank:ident [$($g:ident),+] $ax:literal => $drop:ty, $set:ty;)*) => {$(
        impl<$(const $g: usize),+> DropAxis<$ax> for $rank<$($g),+> {
            type Out = $drop;
        }
        impl<$(const $g: usize,)+ const N: usize> SetAxis<$ax, N> for $rank<$($g),+> {
            type Out = $set;
        }
    )*};
}

axis_impls! {
    Rank1 [A] 0 => Rank0, Rank1<N>;
    Rank2 [A, B] 0 => Rank1<B>, Rank2<N, B>;
    Rank2 [A, B] 1 => Rank1<A>, Rank2<A, N>;
    Rank3 [A, B, C] 0 => Rank2<B, C>, Rank3<N, B, C>;
    Rank3 [A, B, C] 1 => Rank2<A, C>, Rank3<A, N, C>;
    Rank3 [A, B, C] 2 => Rank2<A, B>, Rank3<A, B, N>;
    Rank4 [A, B, C, D] 0 => Rank3<B, C, D>, Rank4<N, B, C, D>;
    Rank4 [A, B, C, D] 1 => Rank3<A, C, D>, Rank4<A, N, C, D>;
    Rank4 [A, B, C, D] 2 => Rank3<A, B, D>, Rank4<A, B, N, D>;
    Rank4 [A, B, C, D] 3 => Rank3<A, B, C>, Rank4<A, B, C, N>;
}

/// A permutation of the axes of a rank-`n` shape, as a type (`Perm3<2, 0, 1>`): what
/// `scale_graph!` passes for the literal `[2, 0, 1]`.
pub trait Axes: Send + Sync + 'static {
    /// Output axis `i` is input axis `AXES[i]` (PyTorch's `x.permute(*AXES)`).
    const AXES: &'static [usize];
}

/// Permutation of one axis (the identity).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Perm1<const A: usize>;
/// Permutation of two axes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Perm2<const A: usize, const B: usize>;
/// Permutation of three axes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Perm3<const A: usize, const B: usize, const C: usize>;
/// Permutation of four axes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Perm4<const A: usize, const B: usize, const C: usize, const D: usize>;

impl<const A: usize> Axes for Perm1<A> {
    const AXES: &'static [usize] = &[A];
}
impl<const A: usize, const B: usize> Axes for Perm2<A, B> {
    const AXES: &'static [usize] = &[A, B];
}
impl<const A: usize, const B: usize, const C: usize> Axes for Perm3<A, B, C> {
    const AXES: &'static [usize] = &[A, B, C];
}
impl<const A: usize, const B: usize, const C: usize, const D: usize> Axes for Perm4<A, B, C, D> {
    const AXES: &'static [usize] = &[A, B, C, D];
}

/// Shapes `permute` accepts with permutation `P`: implemented for every permutation of the
/// shape's own rank only, so a wrong length or a repeated axis is a type error.
#[diagnostic::on_unimplemented(
    message = "`{P}` is not a permutation of the axes of `{Self}`",
    label = "permute needs each axis of the input exactly once"
)]
pub trait PermuteShape<P: Axes>: Shape {
    /// The permuted shape.
    type Out: Shape;
}

macro_rules! permute_impls {
    ($($rank:ident $perm:ident [$($g:ident),+] [$($p:literal),+] => [$($o:ident),+];)*) => {$(
        impl<$(const $g: usize),+> PermuteShape<$perm<$($p),+>> for $rank<$($g),+> {
            type Out = $rank<$($o),+>;
        }
    )*};
}

permute_impls! {
    Rank1 Perm1 [A] [0] => [A];
    Rank2 Perm2 [A, B] [0, 1] => [A, B];
    Rank2 Perm2 [A, B] [1, 0] => [B, A];
    Rank3 Perm3 [A, B, C] [0, 1, 2] => [A, B, C];
    Rank3 Perm3 [A, B, C] [0, 2, 1] => [A, C, B];
    Rank3 Perm3 [A, B, C] [1, 0, 2] => [B, A, C];
    Rank3 Perm3 [A, B, C] [1, 2, 0] => [B, C, A];
    Rank3 Perm3 [A, B, C] [2, 0, 1] => [C, A, B];
    Rank3 Perm3 [A, B, C] [2, 1, 0] => [C, B, A];
    Rank4 Perm4 [A, B, C, D] [0, 1, 2, 3] => [A, B, C, D];
    Rank4 Perm4 [A, B, C, D] [0, 1, 3, 2] => [A, B, D, C];
    Rank4 Perm4 [A, B, C, D] [0, 2, 1, 3] => [A, C, B, D];
    Rank4 Perm4 [A, B, C, D] [0, 2, 3, 1] => [A, C, D, B];
    Rank4 Perm4 [A, B, C, D] [0, 3, 1, 2] => [A, D, B, C];
    Rank4 Perm4 [A, B, C, D] [0, 3, 2, 1] => [A, D, C, B];
    Rank4 Perm4 [A, B, C, D] [1, 0, 2, 3] => [B, A, C, D];
    Rank4 Perm4 [A, B, C, D] [1, 0, 3, 2] => [B, A, D, C];
    Rank4 Perm4 [A, B, C, D] [1, 2, 0, 3] => [B, C, A, D];
    Rank4 Perm4 [A, B, C, D] [1, 2, 3, 0] => [B, C, D, A];
    Rank4 Perm4 [A, B, C, D] [1, 3, 0, 2] => [B, D, A, C];
    Rank4 Perm4 [A, B, C, D] [1, 3, 2, 0] => [B, D, C, A];
    Rank4 Perm4 [A, B, C, D] [2, 0, 1, 3] => [C, A, B, D];
    Rank4 Perm4 [A, B, C, D] [2, 0, 3, 1] => [C, A, D, B];
    Rank4 Perm4 [A, B, C, D] [2, 1, 0, 3] => [C, B, A, D];
    Rank4 Perm4 [A, B, C, D] [2, 1, 3, 0] => [C, B, D, A];
    Rank4 Perm4 [A, B, C, D] [2, 3, 0, 1] => [C, D, A, B];
    Rank4 Perm4 [A, B, C, D] [2, 3, 1, 0] => [C, D, B, A];
    Rank4 Perm4 [A, B, C, D] [3, 0, 1, 2] => [D, A, B, C];
    Rank4 Perm4 [A, B, C, D] [3, 0, 2, 1] => [D, A, C, B];
    Rank4 Perm4 [A, B, C, D] [3, 1, 0, 2] => [D, B, A, C];
    Rank4 Perm4 [A, B, C, D] [3, 1, 2, 0] => [D, B, C, A];
    Rank4 Perm4 [A, B, C, D] [3, 2, 0, 1] => [D, C, A, B];
    Rank4 Perm4 [A, B, C, D] [3, 2, 1, 0] => [D, C, B, A];
}

// ------------------------------------------------------------------------------ lane helpers

/// `f` of every lane of `x` along `axis`, in the order of the entries of the reduced shape.
pub(super) fn per_lane<T, C>(
    x: &ArrayD<T>,
    axis: usize,
    f: impl FnMut(ArrayView1<'_, T>) -> C,
) -> ArrayD<C> {
    x.map_axis(Axis(axis), f)
}

/// The largest of `f(lane, y)` over the lanes of `x` along `axis` and the matching entries `y`
/// of the reduced tensor `out` (`0` when there are none).
pub(super) fn lane_max<R: Runtime>(
    x: &ArrayD<R>,
    axis: usize,
    out: &ArrayD<R>,
    mut f: impl FnMut(ArrayView1<'_, R>, R) -> Bound,
) -> Bound {
    let mut m = Bound::ZERO;
    Zip::from(x.lanes(Axis(axis)))
        .and(out)
        .for_each(|l, &y| m = m.max(f(l, y)));
    m
}

/// `d` (of the reduced shape) repeated along `axis` to `dims`: the VJP of a reduction over
/// `axis`, exact in every arithmetic.
pub(super) fn spread<T: Clone>(d: &ArrayD<T>, axis: usize, dims: &[usize]) -> ArrayD<T> {
    d.view()
        .insert_axis(Axis(axis))
        .broadcast(IxDyn(dims))
        .expect("invariant: the reduced shape broadcasts back along its axis")
        .to_owned()
}

/// `Σ` of a lane left to right, in spec and runtime arithmetic alike (the runtime's order).
pub(super) fn total<T: Arith>(l: ArrayView1<'_, T>) -> T {
    l.iter().fold(T::lit(0.0), |acc, &v| acc + v)
}

// ------------------------------------------------------------------------------------ sum_axis

op_node! {
    /// Sum over one axis, which is dropped (`x.sum(axis)` in PyTorch).
    SumAxis<O>[1, axis: usize] => O
}

/// `sum(x, axis)`: the sum over `axis`, which is dropped. The language's `sum(x, 1)` calls
/// `sum_axis(x, Idx::<1>)`; `sum(x)` stays the full reduction [`sum`](super::sum).
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank3, RevGraphScale};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank3<2, 3, 4>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, y) = g.snoc(ops::sum_axis(x, ops::Idx::<1>)); // y: Var<Rank2<2, 4>, _>
/// # let _ = y;
/// ```
///
/// ```compile_fail
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank2, RevGraphScale};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank2<2, 3>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, y) = g.snoc(ops::sum_axis(x, ops::Idx::<2>)); // axis 2 of a rank-2 shape
/// ```
pub fn sum_axis<S, B, const AX: usize>(x: Var<S, B>, _axis: Idx<AX>) -> SumAxis<S::Out, B>
where
    S: DropAxis<AX>,
{
    SumAxis::new([x.arg()], AX)
}

impl<O: Shape, B> Op for SumAxis<O, B> {
    const NAME: &'static str = "sum_axis";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        per_lane(at(ctx, &self.args[0]), self.axis, |l| {
            T::sum(l.iter().copied())
        })
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![spread(delta, self.axis, self.args[0].dims)]
    }
}

impl<O: Shape, B, R: Runtime> OpRuntime<R> for SumAxis<O, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        per_lane(at(ctx, &self.args[0]), self.axis, total)
    }
    /// Per output entry `n·ε_x` plus the summation error of its lane (any order).
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let x = at(ctx, &self.args[0]);
        let n = self.args[0].dims[self.axis];
        let local = lane_max(x, self.axis, out, |l, y| {
            sum_err::<R>(l.iter().map(|v| v.to_spec()), y.to_spec())
        });
        eps[self.args[0].pos].scale(n as f64) + local
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let n = self.args[0].dims[self.axis];
        spec_b(b[self.args[0].pos].scale(n as f64)).max(linf(out))
    }
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![spread(delta, self.axis, self.args[0].dims)]
    }
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![ed]
    }
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![bd]
    }
}

// ----------------------------------------------------------------------------------- mean_axis

op_node! {
    /// Mean over one axis, which is dropped (`x.mean(axis)` in PyTorch).
    MeanAxis<O>[1, axis: usize] => O
}

/// `mean(x, axis) = sum(x, axis) / n`, `n` the length of `axis`, which is dropped. The runtime
/// divides by `R::from_f64(n)` (which may round for `bf16`/`f16`; the bound covers it). The
/// language's `mean(x, 1)` calls `mean_axis(x, Idx::<1>)`.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank2, RevGraphScale};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank2<2, 3>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, y) = g.snoc(ops::mean_axis(x, ops::Idx::<0>)); // y: Var<Rank1<3>, _>
/// # let _ = y;
/// ```
pub fn mean_axis<S, B, const AX: usize>(x: Var<S, B>, _axis: Idx<AX>) -> MeanAxis<S::Out, B>
where
    S: DropAxis<AX>,
{
    MeanAxis::new([x.arg()], AX)
}

impl<O: Shape, B> MeanAxis<O, B> {
    /// The length of the reduced axis.
    fn n(&self) -> f64 {
        self.args[0].dims[self.axis] as f64
    }
    /// `v / n` in spec and runtime arithmetic alike (the runtime's `n` may round for `bf16`).
    fn per_entry<T: Arith>(&self, v: T) -> T {
        v / T::lit(self.n())
    }
    fn vjp<T: Arith>(&self, d: &ArrayD<T>) -> ArrayD<T> {
        spread(&d.mapv(|v| self.per_entry(v)), self.axis, self.args[0].dims)
    }
}

impl<O: Shape, B> Op for MeanAxis<O, B> {
    const NAME: &'static str = "mean_axis";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        per_lane(at(ctx, &self.args[0]), self.axis, |l| {
            self.per_entry(T::sum(l.iter().copied()))
        })
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![self.vjp(delta)]
    }
}

impl<O: Shape, B, R: Runtime> OpRuntime<R> for MeanAxis<O, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        per_lane(at(ctx, &self.args[0]), self.axis, |l| {
            self.per_entry(total(l))
        })
    }
    /// Per lane `|S/n − ŷ| ≤ (n·ε + |S_x̂ − ŝ|)/n + |ŝ/n − ŷ|`, `ŝ` the runtime lane sum.
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let x = at(ctx, &self.args[0]);
        let n = self.n();
        let local = lane_max(x, self.axis, out, |l, y| {
            let s = total(l).to_spec();
            let se = sum_err::<R>(l.iter().map(|v| v.to_spec()), s);
            se / Bound::new(n) + inflate(div_err(y.to_spec(), s, n), 3)
        });
        eps[self.args[0].pos] + local
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(b[self.args[0].pos]).max(linf(out))
    }
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![self.vjp(delta)]
    }
    /// `ε_δ/n` plus the rounding of each `δ̂/n` (recomputed here, not read back from the VJP's
    /// output, which is empty when the reduced axis has length 0).
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let n = self.n();
        let mut m = 0.0f64;
        for &dv in d {
            m = nan_max(m, div_err(self.per_entry(dv).to_spec(), dv.to_spec(), n));
        }
        vec![ed / Bound::new(n) + inflate(m, 3)]
    }
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        vec![spec_b(bd / Bound::new(self.n())).max(linf(&self.vjp(d)))]
    }
}

// ------------------------------------------------------------------------------------- permute

/// Marker of `permute` with permutation `P` (the [`Exact`] family: entries move, nothing rounds).
pub struct PermuteFn<P>(super::util::Ph<P>);

impl<P: Axes> Structural for PermuteFn<P> {
    const NAME: &'static str = "permute";
    fn forward<T: Arith>(x: &ArrayD<T>, _out: &[usize]) -> ArrayD<T> {
        to_standard(x.view().permuted_axes(IxDyn(P::AXES)))
    }
    fn backward<T: Arith>(d: &ArrayD<T>, _input: &[usize]) -> ArrayD<T> {
        let mut inv = vec![0; P::AXES.len()];
        for (i, &a) in P::AXES.iter().enumerate() {
            inv[a] = i;
        }
        to_standard(d.view().permuted_axes(IxDyn(&inv)))
    }
}

/// `permute(x, [axes])` with output shape `O`.
pub type Permute<O, B, P> = Exact<O, B, PermuteFn<P>>;

/// `permute(x, P)`: output axis `i` is input axis `P::AXES[i]` (PyTorch's `x.permute(…)`),
/// rank 1 to 4. The language's `permute(x, [2, 0, 1])` passes `Perm3::<2, 0, 1>`; a permutation
/// of the wrong length or with a repeated axis has no [`PermuteShape`] impl.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank3, RevGraphScale};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank3<2, 3, 4>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, y) = g.snoc(ops::permute(x, ops::Perm3::<2, 0, 1>)); // y: Var<Rank3<4, 2, 3>, _>
/// # let _ = y;
/// ```
///
/// ```compile_fail
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank3, RevGraphScale};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank3<2, 3, 4>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, y) = g.snoc(ops::permute(x, ops::Perm3::<0, 0, 1>)); // axis 0 twice
/// ```
pub fn permute<S, P, B>(x: Var<S, B>, _axes: P) -> Permute<S::Out, B, P>
where
    S: PermuteShape<P>,
    P: Axes,
{
    Exact::new([x.arg()])
}

// --------------------------------------------------------------------------------------- slice

/// Marker of `slice` along `AX` from `START` (the [`Exact`] family); the end is implied by the
/// output shape.
pub struct SliceFn<const AX: usize, const START: usize>;

impl<const AX: usize, const START: usize> Structural for SliceFn<AX, START> {
    const NAME: &'static str = "slice";
    fn forward<T: Arith>(x: &ArrayD<T>, out: &[usize]) -> ArrayD<T> {
        to_standard(x.slice_axis(Axis(AX), Slice::from(START..START + out[AX])))
    }
    /// The cotangent in the sliced range, exact zeros elsewhere.
    fn backward<T: Arith>(d: &ArrayD<T>, input: &[usize]) -> ArrayD<T> {
        let mut g = ArrayD::from_elem(IxDyn(input), T::lit(0.0));
        let len = d.shape()[AX];
        g.slice_axis_mut(Axis(AX), Slice::from(START..START + len))
            .assign(d);
        g
    }
}

/// `slice(x, axis, start, end)` with output shape `O`.
pub type SliceOp<O, B, const AX: usize, const START: usize> = Exact<O, B, SliceFn<AX, START>>;

/// `slice(x, axis, start, end)`: entries `start..end` along `axis` (`x.narrow(axis, start,
/// end − start)` in PyTorch). The output shape `T` is `x`'s with `end − start` along `axis`;
/// stable Rust cannot compute it, so the caller names it (the macro writes it) and an inline
/// `const` assertion checks `start ≤ end ≤ dim` and `T`'s length when the call is instantiated.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank2, RevGraphScale, Var};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank2<2, 5>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, y): (_, Var<Rank2<2, 3>, _>) =
///     g.snoc(ops::slice(x, ops::Idx::<1>, ops::Idx::<1>, ops::Idx::<4>));
/// # let _ = y;
/// ```
///
/// ```compile_fail
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank2, RevGraphScale, Var};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank2<2, 5>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, y): (_, Var<Rank2<2, 3>, _>) = // 4..7 is past the end of a dimension of 5
///     g.snoc(ops::slice(x, ops::Idx::<1>, ops::Idx::<4>, ops::Idx::<7>));
/// ```
pub fn slice<S, T, B, const AX: usize, const START: usize, const END: usize>(
    x: Var<S, B>,
    _axis: Idx<AX>,
    _start: Idx<START>,
    _end: Idx<END>,
) -> SliceOp<T, B, AX, START>
where
    S: SetAxis<AX, 0>,
    T: SetAxis<AX, 0, Out = <S as SetAxis<AX, 0>>::Out>,
{
    const {
        assert!(
            START <= END && END <= S::DIMS[AX] && T::DIMS[AX] == END - START,
            "slice: the range start..end must lie within the axis, and the output shape must \
             have end − start entries along it"
        )
    };
    Exact::new([x.arg()])
}

// -------------------------------------------------------------------------------------- concat

op_node! {
    /// Two tensors joined along one axis (`torch.cat([a, b], axis)`).
    Concat<O>[2, axis: usize] => O
}

/// `concat(a, b, axis)`: `a` then `b` along `axis`; the other axes must agree. The output shape
/// `T` has the sum of both lengths along `axis`; stable Rust cannot add const generics, so the
/// caller names it (the macro writes it) and an inline `const` assertion checks the sum.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank2, RevGraphScale, Var};
/// type Gamma = Seg<Nil, (Rank2<2, 3>, Rank2<2, 4>)>;
/// let (g, (a, b)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let (_g, y): (_, Var<Rank2<2, 7>, _>) = g.snoc(ops::concat(a, b, ops::Idx::<1>));
/// # let _ = y;
/// ```
///
/// ```compile_fail
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank2, RevGraphScale, Var};
/// type Gamma = Seg<Nil, (Rank2<2, 3>, Rank2<3, 4>)>; // 2 rows and 3 rows
/// let (g, (a, b)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let (_g, y): (_, Var<Rank2<2, 7>, _>) = g.snoc(ops::concat(a, b, ops::Idx::<1>));
/// ```
pub fn concat<A, X, T, B, const AX: usize>(
    a: Var<A, B>,
    b: Var<X, B>,
    _axis: Idx<AX>,
) -> Concat<T, B>
where
    A: SetAxis<AX, 0>,
    X: SetAxis<AX, 0, Out = <A as SetAxis<AX, 0>>::Out>,
    T: SetAxis<AX, 0, Out = <A as SetAxis<AX, 0>>::Out>,
{
    const {
        assert!(
            T::DIMS[AX] == A::DIMS[AX] + X::DIMS[AX],
            "concat: the output's length along the axis must be the sum of the operands'"
        )
    };
    Concat::new([a.arg(), b.arg()], AX)
}

impl<O: Shape, B> Concat<O, B> {
    fn join<T: Clone>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let (a, b) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        ndarray::concatenate(Axis(self.axis), &[a.view(), b.view()])
            .expect("invariant: the other axes agree (checked by the types)")
            .as_standard_layout()
            .into_owned()
    }
    /// The cotangent split back into the operands' parts.
    fn split<T: Clone>(&self, d: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let na = self.args[0].dims[self.axis];
        let part = |s: Slice| to_standard(d.slice_axis(Axis(self.axis), s));
        vec![part(Slice::from(..na)), part(Slice::from(na..))]
    }
}

impl<O: Shape, B> Op for Concat<O, B> {
    const NAME: &'static str = "concat";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        self.join(ctx)
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        self.split(delta)
    }
}

/// Every entry of the output is an entry of one operand, unchanged, and every cotangent entry
/// goes back unchanged: the bounds are the operands' (forward) and the cotangent's (backward).
impl<O: Shape, B, R: Runtime> OpRuntime<R> for Concat<O, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        self.join(ctx)
    }
    fn fwd_eps(&self, eps: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        eps[self.args[0].pos].max(eps[self.args[1].pos])
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        b[self.args[0].pos].max(b[self.args[1].pos])
    }
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        self.split(delta)
    }
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![ed, ed]
    }
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, _d: &ArrayD<R>) -> Vec<Bound> {
        vec![bd, bd]
    }
}
