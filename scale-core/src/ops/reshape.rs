//! `reshape`: same elements, new shape, row-major (C) order. Exact.

use super::kit::Op;
use super::node_type;
use super::util::at;
use crate::bound::Bound;
use crate::handle::{Arg, Var};
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::Shape;
use ndarray::{ArrayD, IxDyn};
use std::marker::PhantomData;

/// Reshape to `T` (row-major order).
pub struct Reshape<T, B> {
    args: [Arg; 1],
    _p: PhantomData<fn() -> (T, B)>,
}
node_type!(Reshape<T> => T);

/// `reshape(x)` to shape `T`, keeping row-major (C) element order.
///
/// The element counts must agree. Stable Rust cannot compare the products of const generic
/// dimensions at type level, so the check is an inline `const` assertion, evaluated when the
/// function is instantiated (post-monomorphisation): a mismatch is still a **compile error**
/// (“evaluation of constant value failed … reshape: element counts differ”), just reported at
/// the instantiation rather than in the signature. `scale_graph!` checks literal dimensions
/// itself, with a message pointing at the tokens.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, Rank2, RevGraphScale};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank2<2, 3>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, y) = g.snoc(ops::reshape::<Rank1<6>, _, _>(x));
/// # let _ = y;
/// ```
///
/// ```compile_fail
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, Rank2, RevGraphScale};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank2<2, 3>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, y) = g.snoc(ops::reshape::<Rank1<5>, _, _>(x)); // 6 ≠ 5
/// ```
pub fn reshape<T: Shape, S: Shape, B>(x: Var<S, B>) -> Reshape<T, B> {
    const {
        assert!(
            S::NUMEL == T::NUMEL,
            "reshape: element counts differ between the source and target shapes"
        )
    };
    Reshape {
        args: [x.arg()],
        _p: PhantomData,
    }
}

fn to_dims<X: Clone>(a: &ArrayD<X>, dims: &[usize]) -> ArrayD<X> {
    a.as_standard_layout()
        .into_owned()
        .into_shape_with_order(IxDyn(dims))
        .expect("invariant: element counts checked at compile time")
}

impl<T: Shape, B> Op for Reshape<T, B> {
    const NAME: &'static str = "reshape";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<X: SpecScalar>(&self, ctx: &[ArrayD<X>]) -> ArrayD<X> {
        to_dims(at(ctx, &self.args[0]), T::DIMS)
    }
    fn vjp_spec<X: SpecScalar>(&self, _ctx: &[ArrayD<X>], delta: &ArrayD<X>) -> Vec<ArrayD<X>> {
        vec![to_dims(delta, self.args[0].dims)]
    }
    fn forward_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        to_dims(at(ctx, &self.args[0]), T::DIMS)
    }
    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        eps[self.args[0].pos]
    }
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        b[self.args[0].pos]
    }
    fn vjp_runtime<R: Runtime>(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![to_dims(delta, self.args[0].dims)]
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
