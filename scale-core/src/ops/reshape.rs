//! `reshape`: same elements, new shape, row-major (C) order. Exact.

use super::kit::{Exact, Structural};
use crate::handle::Var;
use crate::scalar::Arith;
use crate::shape::Shape;
use crate::tensor::to_standard;
use ndarray::{ArrayD, IxDyn};

/// Marker of `reshape` (the [`Exact`] family: entries move, nothing rounds).
pub struct ReshapeFn;
impl Structural for ReshapeFn {
    const NAME: &'static str = "reshape";
    fn forward<X: Arith>(x: &ArrayD<X>, out: &[usize]) -> ArrayD<X> {
        to_dims(x, out)
    }
    fn backward<X: Arith>(d: &ArrayD<X>, input: &[usize]) -> ArrayD<X> {
        to_dims(d, input)
    }
}

/// Reshape to `T` (row-major order).
pub type Reshape<T, B> = Exact<T, B, ReshapeFn>;

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
    Exact::new([x.arg()])
}

fn to_dims<X: Clone>(a: &ArrayD<X>, dims: &[usize]) -> ArrayD<X> {
    to_standard(a.view())
        .into_shape_with_order(IxDyn(dims))
        .expect("invariant: element counts checked at compile time")
}
