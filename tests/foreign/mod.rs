//! Helpers of `tests/foreign_kernels.rs`: the foreign runtimes and the evaluator they share.

pub mod eval;
pub mod kernels;
