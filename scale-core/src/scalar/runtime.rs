//! Runtime scalar types and their rounding model (SPEC §5).

use super::Arith;
use half::{bf16, f16};
use ndarray::{Array2, ArrayView2, LinalgScalar};
use num_traits::Float;
use std::fmt::{Debug, Display};

/// A floating-point type a graph runs in, with the constants of its rounding model.
///
/// A basic operation satisfies `|fl(z) − z| ≤ U·|z| + ETA`. [`Runtime::to_spec`]
/// is exact: every runtime value is an `f64` value.
///
/// ```
/// use scale_core::Runtime;
/// assert_eq!(<f32 as Runtime>::U, 2f64.powi(-24));
/// assert_eq!(<f64 as Runtime>::to_spec(0.1), 0.1);
/// assert_eq!(<f32 as Runtime>::from_f64(0.1).to_spec(), 0.1f32 as f64);
/// ```
pub trait Runtime:
    Arith + Float + LinalgScalar + Debug + Display + Default + Send + Sync + 'static
{
    /// Name used in reports and by `scale_graph!`'s `runtime = …;`.
    const NAME: &'static str;
    /// Unit roundoff `u`.
    const U: f64;
    /// Underflow term `η`: half the smallest positive subnormal.
    const ETA: f64;

    /// Exact conversion to `f64` (every value of these types is an `f64`).
    fn to_spec(self) -> f64;
    /// Round an `f64` to the nearest value of this type.
    fn from_f64(x: f64) -> Self;

    /// The error function, platform-independent code: [`erf32`](crate::scalar::erf32) for `f32`
    /// and, through `f32`, the half types; the `libm` crate's `erf` for `f64`. Bounds never trust it: they
    /// measure it against an `f64` reference (see [`assumed_ulps`](crate::assumed_ulps)).
    fn erf(self) -> Self;

    /// `eˣ` in the runtime kernels (softmax and log-softmax, attention, gelu, sigmoid, `exp`,
    /// softplus, the losses): platform-independent code, not the platform's `expf`/`exp` that
    /// [`Float::exp`] calls — [`exp32`](crate::scalar::exp32) for `f32` and, through `f32`, the
    /// half types, the `libm` crate's `exp` for `f64`. Why: the same
    /// results on every platform, and no dependence on the vector state other code leaves
    /// (glibc's are VEX-encoded: after `private-gemm-x86`'s AVX-512 kernels, which this
    /// workspace no longer builds — see `kernel.rs` — each call paid an SSE↔AVX transition,
    /// 3.8 → 130 ns, `docs/benchmarks.md`). The bounds never trust it either: results are
    /// measured against `f64` references.
    fn libm_exp(self) -> Self;

    /// Matrix product, the hot kernel of `matmul`/`matvec`. `f32` and `f64` use the faer kernel
    /// (see `kernel.rs`); the default (half types) uses ndarray's `dot`.
    fn matmul(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>) -> Array2<Self> {
        a.dot(&b)
    }
}

impl Runtime for f32 {
    const NAME: &'static str = "f32";
    const U: f64 = 5.960464477539063e-8; // 2^-24
    const ETA: f64 = 7.006492321624085e-46; // 2^-150
    #[inline]
    fn to_spec(self) -> f64 {
        self as f64
    }
    #[inline]
    fn from_f64(x: f64) -> f32 {
        x as f32
    }
    // Always inlined: inside a vectorised loop (`tensor::map_vectorised`) a call would stay a
    // scalar call.
    #[inline(always)]
    fn erf(self) -> f32 {
        super::erf32(self)
    }
    #[inline(always)]
    fn libm_exp(self) -> f32 {
        super::exp32(self)
    }
    fn matmul(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
        crate::kernel::matmul(a, b)
    }
}

impl Runtime for f64 {
    const NAME: &'static str = "f64";
    const U: f64 = 1.1102230246251565e-16; // 2^-53
    const ETA: f64 = 5e-324; // 2^-1075 is not an f64: use the smallest subnormal 2^-1074 above it
    #[inline]
    fn to_spec(self) -> f64 {
        self
    }
    #[inline]
    fn from_f64(x: f64) -> f64 {
        x
    }
    #[inline]
    fn erf(self) -> f64 {
        libm::erf(self)
    }
    #[inline]
    fn libm_exp(self) -> f64 {
        libm::exp(self)
    }
    fn matmul(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array2<f64> {
        crate::kernel::matmul(a, b)
    }
}

// The half types compute through f32 and round back. A product of two half values is exact in
// f32, so it is rounded once; a sum may be rounded twice (f32, then half). The unit roundoff below
// adds the f32 rounding to the half one (u_h + u_f32·(1 + u_h)), which covers double rounding.

impl Runtime for bf16 {
    const NAME: &'static str = "bf16";
    const U: f64 = 0.00390625 + 5.960464477539063e-8 * 1.00390625; // 2^-8 + 2^-24(1 + 2^-8)
    const ETA: f64 = 4.6e-41; // ≥ 2^-134 + 2^-150: half a bf16 subnormal plus the f32 step before it
    #[inline]
    fn to_spec(self) -> f64 {
        bf16::to_f64(self)
    }
    #[inline]
    fn from_f64(x: f64) -> bf16 {
        bf16::from_f64(x)
    }
    #[inline]
    fn erf(self) -> bf16 {
        bf16::from_f32(super::erf32(self.to_f32()))
    }
    #[inline]
    fn libm_exp(self) -> bf16 {
        bf16::from_f32(super::exp32(self.to_f32()))
    }
}

impl Runtime for f16 {
    const NAME: &'static str = "f16";
    const U: f64 = 0.00048828125 + 5.960464477539063e-8 * 1.00048828125; // 2^-11 + 2^-24(1 + 2^-11)
    const ETA: f64 = 2.9802322387695312e-8; // 2^-25
    #[inline]
    fn to_spec(self) -> f64 {
        f16::to_f64(self)
    }
    #[inline]
    fn from_f64(x: f64) -> f16 {
        f16::from_f64(x)
    }
    #[inline]
    fn erf(self) -> f16 {
        f16::from_f32(super::erf32(self.to_f32()))
    }
    #[inline]
    fn libm_exp(self) -> f16 {
        f16::from_f32(super::exp32(self.to_f32()))
    }
}
