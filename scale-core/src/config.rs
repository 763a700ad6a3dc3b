//! Process-wide settings of the bound computations.
//!
//! * [`assumed_ulps`](crate::assumed_ulps) / [`set_assumed_ulps`](crate::set_assumed_ulps): the
//!   documented accuracy assumption on the platform's elementary functions.
//! * [`dot_bound_mode`] / [`set_dot_bound_mode`]: how the rounding error of sums and dot products
//!   (`sum`, `mean`, `sum_rows`, `dot`, `matvec`, `matmul`, and the sums inside `softmax`, `mse`,
//!   `cross_entropy`, `add_bias`'s VJP) is bounded.

use std::sync::atomic::{AtomicU8, Ordering};

/// How the local rounding error of a sum or dot product is bounded.
///
/// Both modes are rigorous for any summation order, with or without FMA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DotBound {
    /// A posteriori (default): when the runtime type is narrower than `f64` (`f32`, `bf16`,
    /// `f16`), the same sum is recomputed in `f64` from the runtime operands (products of two such
    /// values are exact in `f64`), and the local error is bounded by
    /// `|ŷ − y₆₄| + γₖ^{f64}·Σ|aᵢbᵢ|`: nearly the actual error. For an `f64` runtime a recomputation
    /// proves nothing, and the order-free bound is used.
    APosteriori,
    /// Order-free a-priori bound `γₖ·Σ|aᵢbᵢ| + 2kη` in the runtime type's unit roundoff.
    OrderFree,
}

static MODE: AtomicU8 = AtomicU8::new(0);

/// The current [`DotBound`] mode (default [`DotBound::APosteriori`]).
///
/// ```
/// use scale_core::config::{dot_bound_mode, DotBound};
/// assert_eq!(dot_bound_mode(), DotBound::APosteriori);
/// ```
pub fn dot_bound_mode() -> DotBound {
    match MODE.load(Ordering::Relaxed) {
        0 => DotBound::APosteriori,
        _ => DotBound::OrderFree,
    }
}

/// Set the [`DotBound`] mode for the whole process; returns the previous mode.
pub fn set_dot_bound_mode(mode: DotBound) -> DotBound {
    let v = match mode {
        DotBound::APosteriori => 0,
        DotBound::OrderFree => 1,
    };
    match MODE.swap(v, Ordering::Relaxed) {
        0 => DotBound::APosteriori,
        _ => DotBound::OrderFree,
    }
}
