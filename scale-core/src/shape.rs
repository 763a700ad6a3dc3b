//! Const-generic shape types (SPEC §2): `Rank0` … `Rank4`.

use ndarray::{Dimension, Ix0, Ix1, Ix2, Ix3, Ix4};

/// A tensor shape known at compile time.
///
/// Dimensions are const generic parameters, so they may be literals or generic parameters of the
/// user's function; two shapes are equal exactly when rustc can prove their types equal.
///
/// ```
/// use scale_core::{Rank2, Shape};
/// assert_eq!(<Rank2<3, 4> as Shape>::DIMS, &[3, 4]);
/// assert_eq!(<Rank2<3, 4> as Shape>::NUMEL, 12);
/// fn numel<const H: usize>() -> usize { <Rank2<H, 8> as Shape>::NUMEL }
/// assert_eq!(numel::<2>(), 16);
/// ```
pub trait Shape: Send + Sync + 'static {
    /// Number of axes.
    const RANK: usize;
    /// The dimensions, outermost first.
    const DIMS: &'static [usize];
    /// Number of elements (product of the dimensions; 1 for a scalar).
    const NUMEL: usize;
    /// The matching fixed-rank ndarray dimension type.
    type Dim: Dimension;
    /// The ndarray dimension value.
    fn dim() -> Self::Dim;
    /// The shape written as in `scale_graph!`, e.g. `[128, 784]`.
    fn describe() -> String {
        describe_dims(Self::DIMS)
    }
}

/// Write dimensions as in `scale_graph!`, e.g. `[128, 784]` (`[]` for a scalar).
pub fn describe_dims(dims: &[usize]) -> String {
    let inner: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("[{}]", inner.join(", "))
}

/// A scalar (rank 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Rank0;
/// A vector of `A` entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Rank1<const A: usize>;
/// An `A × B` matrix (row-major: `A` rows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Rank2<const A: usize, const B: usize>;
/// A rank-3 tensor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Rank3<const A: usize, const B: usize, const C: usize>;
/// A rank-4 tensor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Rank4<const A: usize, const B: usize, const C: usize, const D: usize>;

impl Shape for Rank0 {
    const RANK: usize = 0;
    const DIMS: &'static [usize] = &[];
    const NUMEL: usize = 1;
    type Dim = Ix0;
    fn dim() -> Ix0 {
        Ix0()
    }
}

impl<const A: usize> Shape for Rank1<A> {
    const RANK: usize = 1;
    const DIMS: &'static [usize] = &[A];
    const NUMEL: usize = A;
    type Dim = Ix1;
    fn dim() -> Ix1 {
        ndarray::Dim([A])
    }
}

impl<const A: usize, const B: usize> Shape for Rank2<A, B> {
    const RANK: usize = 2;
    const DIMS: &'static [usize] = &[A, B];
    const NUMEL: usize = A * B;
    type Dim = Ix2;
    fn dim() -> Ix2 {
        ndarray::Dim([A, B])
    }
}

impl<const A: usize, const B: usize, const C: usize> Shape for Rank3<A, B, C> {
    const RANK: usize = 3;
    const DIMS: &'static [usize] = &[A, B, C];
    const NUMEL: usize = A * B * C;
    type Dim = Ix3;
    fn dim() -> Ix3 {
        ndarray::Dim([A, B, C])
    }
}

impl<const A: usize, const B: usize, const C: usize, const D: usize> Shape for Rank4<A, B, C, D> {
    const RANK: usize = 4;
    const DIMS: &'static [usize] = &[A, B, C, D];
    const NUMEL: usize = A * B * C * D;
    type Dim = Ix4;
    fn dim() -> Ix4 {
        ndarray::Dim([A, B, C, D])
    }
}

/// Proof that two shapes are the same: implemented only for `S: SameShape<S>`.
///
/// Elementwise ops require it, so a mismatch is reported as one line naming both shapes, with
/// literal and with const-generic dimensions alike.
#[diagnostic::on_unimplemented(
    message = "shape mismatch: `{Self}` and `{Other}` must be the same shape",
    label = "this operand has shape `{Other}`, the other has `{Self}`"
)]
pub trait SameShape<Other> {}
impl<S: Shape> SameShape<S> for S {}
