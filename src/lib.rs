//! # scale-graph
//!
//! Write neural-network graphs inline in Rust and get, for every value and every gradient, a
//! provably sound abs+rel tolerance. This facade re-exports [`scale_core`] (the typed graph API,
//! bounds and ops).
//!
//! See the repository README for a walkthrough.
#![forbid(unsafe_code)]

pub use scale_core::*;
