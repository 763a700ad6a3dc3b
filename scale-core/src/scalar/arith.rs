//! [`Arith`]: the field operations that spec and runtime scalars share.
//!
//! Many op formulas are the same on both sides (sums, products, constant factors, moving entries
//! around): only the scalar differs. Writing them once over this trait, instead of once over
//! [`SpecScalar`] and again over [`Runtime`], is what keeps the spec and the runtime of an op
//! from drifting apart. Where the two sides deliberately differ (elementary functions, kinks,
//! GEMM kernels) the op still writes each side itself.

use super::{Runtime, SpecScalar};
use half::{bf16, f16};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A scalar with `+ − × ÷`, negation and `f64` constants: every [`SpecScalar`] and every
/// [`Runtime`]. (`f64` is both; its constants are exact either way.)
///
/// ```
/// use scale_core::{Arith, Interval};
/// fn affine<T: Arith>(x: T) -> T {
///     T::lit(0.5) * x + T::lit(1.0)
/// }
/// assert_eq!(affine(2.0f32), 2.0);
/// let y = affine(<Interval as Arith>::lit(2.0));
/// assert!(y.lo() <= 2.0 && 2.0 <= y.hi());
/// ```
pub trait Arith:
    Copy
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// The constant `x` in this arithmetic: exact for spec scalars, rounded to nearest for
    /// runtimes (the rounding is what an op's bound accounts for).
    fn lit(x: f64) -> Self;
}

// Every spec scalar (including ones defined outside this crate) gets `Arith` from its own
// operations; the runtimes that are not spec scalars get it from their rounding conversion.
impl<T: SpecScalar> Arith for T {
    #[inline]
    fn lit(x: f64) -> T {
        T::from_f64(x)
    }
}

macro_rules! runtime_arith {
    ($($t:ty),*) => {$(
        impl Arith for $t {
            #[inline]
            fn lit(x: f64) -> $t {
                <$t as Runtime>::from_f64(x)
            }
        }
    )*};
}
runtime_arith!(f32, bf16, f16);
