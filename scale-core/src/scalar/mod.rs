//! Scalars: runtime floating-point types and spec (exact-real) types.
//!
//! * [`Runtime`]: what the graph computes in (`f32`, `f64`, `bf16`, `f16`), with its rounding model.
//! * [`SpecScalar`]: what the spec semantics are evaluated in: `f64` (fast, approximate reference)
//!   or [`Interval`] (rigorous enclosure of the exact real result), or [`Ball`] (rigorous
//!   midpoint-radius enclosure at nearly `f64` speed, used by the this-run mode), or [`AnyRun`]
//!   (balls that also hold every conforming runtime result: the any-implementation mode), or
//!   [`Est`] (the probabilistic model of the estimate mode: not rigorous).

pub mod anyrun;
mod arith;
mod ball;
mod elementary;
mod erf;
pub mod estimate;
mod interval;
mod nonneg_gemm;
mod runtime;
mod runtime_fns;
mod spec;

pub use anyrun::AnyRun;
pub use arith::Arith;
pub use ball::Ball;
pub use elementary::{assumed_ulps, exp64};
pub use estimate::{Est, LAMBDA};
pub use interval::Interval;
pub use runtime::Runtime;
pub use runtime_fns::{erf32, exp32};
pub use spec::SpecScalar;
