//! Helpers of `tests/foreign_kernels.rs`: the foreign runtimes, the evaluator
//! they share, and the foreign optimizer updates.

pub mod eval;
pub mod kernels;
pub mod update;
