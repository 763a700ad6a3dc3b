//! # scale-graph
//!
//! Write neural-network graphs inline in Rust and get, for every value and every gradient, a
//! provably sound abs+rel tolerance. This facade re-exports [`scale_core`] (the typed graph API,
//! bounds and ops) and the [`scale_graph!`] macro.
//!
//! ```
//! use scale_graph::scale_graph;
//!
//! let m = scale_graph! {
//!     input x: [3];
//!     input w: [2, 3];
//!     input b: [2];
//!     let h = relu(matvec(w, x) + b);
//!     let loss = sum(h * h);
//! };
//! // Inputs are passed by name …
//! let mut inputs = m.zero_inputs();
//! inputs.x.assign(&ndarray::arr1(&[1.0f32, -2.0, 0.5]));
//! inputs.w.fill(0.25);
//! let cert = m.certify(&inputs, m.vars.loss)?;
//! // … and every value, bound and tolerance is read by name.
//! let h = cert.values.get(m.vars.h);
//! assert_eq!(h.len(), 2);
//! let tol = cert.grad_tol(m.vars.w);
//! assert!(tol.abs >= 0.0 && tol.rel >= 0.0);
//! # Ok::<(), scale_graph::Error>(())
//! ```
//!
//! See [`scale_graph!`] for the language and the generated API, [`docs`] for what every op
//! computes and what every bound promises, and the repository README for a walkthrough. Graphs can also be built by hand with the typed API of [`scale_core`], whose
//! type-level shape lists are written with [`ctx!`]:
//!
//! ```
//! use scale_graph::{ctx, ops, Rank0, Rank1, RevGraphScale};
//! type Gamma = ctx![Rank1<3>, Rank1<3>];
//! let (g, (x, y)) = RevGraphScale::<f32, Gamma, ctx![], _>::nil(scale_graph::brand!());
//! let mut b = g.open();
//! let p = b.push(ops::mul(x, y));
//! let s = b.push(ops::sum(p));
//! let g: RevGraphScale<f32, Gamma, ctx![Rank1<3>, Rank0], _> = b.seal((p, s));
//! assert_eq!(g.len(), 4);
//! ```
#![forbid(unsafe_code)]

pub mod docs;

pub use scale_core::*;

/// The `half` crate, for `bf16` / `f16` runtime values (`half::bf16::from_f32(0.5)`) at the
/// version this crate uses.
pub use scale_core::__private::half;
/// The `ndarray` crate, for input arrays (`ndarray::arr1`, `Array2::zeros`) at the version
/// this crate uses.
pub use scale_core::__private::ndarray;

/// Build a typed `RevGraphScale` from a small graph language; see the [crate docs of
/// `scale_macros`](scale_macros::scale_graph) for the grammar, the generated model type and
/// every error the macro reports.
///
/// This wrapper passes `$crate` to the proc macro, so the generated code names this crate by an
/// absolute path whatever the user has in scope.
#[macro_export]
macro_rules! scale_graph {
    ($($t:tt)*) => {
        $crate::__private::scale_graph! { @crate $crate; $($t)* }
    };
}

/// The README's Rust snippets, compiled and run as doctests so the walkthrough stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// Implementation details of [`scale_graph!`] (not a public API).
#[doc(hidden)]
pub mod __private {
    pub use scale_core::__private::*;
    pub use scale_macros::scale_graph;
}
