//! # scale-core
//!
//! Typed computation graphs that carry, for every value and every gradient, a **provably sound**
//! error bound (eps: how far the runtime result can be from the exact real one) and scale bound
//! (B: how large it can be), following TorchLean's `RevGraphScale`.
//!
//! The pieces, one module each:
//!
//! * [`shape`]: const-generic shapes `Rank0` … `Rank4`;
//! * [`context`]: type-level lists of shapes (`Γ`, `ss`, `Γ ++ ss`), written with [`ctx!`];
//! * [`handle`]: typed indices (`Var<S, B>`) minted by a graph;
//! * [`lists`]: `TList` / `EList` / `BList` aligned with a context;
//! * [`bound`] and [`round`]: upward-rounded bound arithmetic;
//! * [`scalar`]: runtime types (`f32`, `f64`, `bf16`, `f16`) and spec types (`f64`, `Interval`);
//! * [`node`], [`graph`]: the four node kinds and graph kinds, with linear-time evaluation;
//! * [`ops`]: the SPEC §9 ops;
//! * [`config`]: the settings a bound computation runs under (per graph, never process-wide);
//! * [`memory`]: keeping freed memory in the process between certified steps (opt-in);
//! * [`model`]: the [`Model`] trait every `scale_graph!` model implements;
//! * [`random`]: seeded random inputs (`m.random_inputs(seed)`);
//! * [`tolerance`], [`check`]: abs+rel tolerances and the SPEC §3 predicates as checkers.
//!
//! ```
//! use ndarray::{arr1, arr2};
//! use scale_core::{ctx, ops, Interval, Rank1, Rank2, RevGraphScale, TList};
//!
//! type Gamma = ctx![Rank2<2, 3>, Rank1<3>]; // the inputs' shapes, as a type-level list
//! let (g, (w, x)) = RevGraphScale::<f32, Gamma, ctx![], _>::nil(scale_core::brand!());
//! let (g, h) = g.snoc(ops::matvec(w, x));
//! let (g, r) = g.snoc(ops::relu(h));
//! let (g, loss) = g.snoc(ops::sum(r));
//!
//! let xr = TList::<f32, Gamma>::from_arrays(vec![
//!     arr2(&[[0.5f32, -1.0, 2.0], [1.5, 0.25, -0.75]]).into_dyn(),
//!     arr1(&[0.1f32, 0.2, 0.3]).into_dyn(),
//! ])?;
//! let (eps_in, b_in) = g.exact_inputs(&xr);
//! let (seed, eps_seed, b_seed) = g.loss_seed(loss);
//! let xs = xr.to_spec::<Interval>();
//! let cert = g.certify(xr, &eps_in, &b_in, &seed, &eps_seed, &b_seed);
//!
//! // Check the gradient of w against the rigorous interval spec.
//! let spec_grads = g.backprop_spec(&xs, &seed.to_spec());
//! scale_core::check::approx_ctx(&spec_grads, &cert.grads, &cert.grad_eps).unwrap();
//! println!("atol/rtol for dL/dw: {:?}", cert.grad_tol(w));
//! # Ok::<(), scale_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Bound checks are written `!(x <= bound)` on purpose: a NaN must fail them.
#![allow(clippy::neg_cmp_op_on_partial_ord)]
// Phantom markers over several type parameters are the point of typed handles and nodes.
#![allow(clippy::type_complexity)]

pub mod bound;
pub mod check;
pub mod config;
pub mod context;
mod error;
pub mod graph;
pub mod handle;
pub mod kernel;
pub mod lists;
pub mod memory;
pub mod model;
pub mod node;
pub mod ops;
pub mod optim;
pub mod random;
pub mod report;
pub mod round;
pub mod scalar;
pub mod shape;
pub mod tensor;
pub mod tolerance;
pub mod trace;

pub use bound::Bound;
pub use config::{Config, DotBound, dot_bound_mode};
pub use context::{Append, Concat, Nil, Seg, Snoc};
pub use error::Error;
pub use graph::{
    Builder, Certificate, Enclosure, FwdGraph, FwdGraphScale, Graph, Part, Pusher, RevGraph,
    RevGraphScale, Unbounded, eps_add, scale_add,
};
pub use handle::{Arg, Var};
pub use lists::{BList, EList, TList};
pub use model::{Model, ModelCertificate};
pub use node::{FwdNode, FwdNodeScale, NodeType, RevNode, RevNodeScale, SpecForward, SpecVjp};
pub use scalar::{AnyRun, Arith, Ball, Est, Interval, LAMBDA, Runtime, SpecScalar, assumed_ulps};
pub use shape::{Rank0, Rank1, Rank2, Rank3, Rank4, SameShape, Shape};
pub use tolerance::ApproxTol;

/// Re-exports used by code that `scale_graph!` generates (not a public API).
#[doc(hidden)]
pub mod __private {
    pub use half;
    pub use ndarray;

    /// The report of a `scale_graph!` model, whose name list has one name per entry by
    /// construction.
    pub fn named_report<K: crate::graph::Kind, R: crate::Runtime, G, Ss, B, Ctx>(
        graph: &crate::Graph<K, R, G, Ss, B>,
        cert: &crate::Certificate<R, G, Ctx>,
        names: &[&str],
    ) -> crate::report::Report {
        match crate::report::Report::new(graph, cert, names) {
            Ok(r) => r,
            Err(e) => unreachable!("scale_graph! names every entry: {e}"),
        }
    }

    /// A node whose constant parameters `scale_graph!` has already checked to be finite
    /// literals, so the constructor's error case cannot occur.
    #[inline]
    pub fn literal_node<N>(node: Result<N, crate::Error>) -> N {
        match node {
            Ok(n) => n,
            Err(e) => unreachable!("scale_graph! accepts only finite literal constants: {e}"),
        }
    }
}
