//! # scale-gen
//!
//! Writes `scale_graph!` programs: the model families of `examples/generated/` (MLP, attention
//! block, residual block, softmax classifier with cross-entropy, deep chain) and any model given
//! as a small JSON description (inputs with shapes, then ops in order — see [`Model`]), so a model
//! defined elsewhere (e.g. a PyTorch `nn.Sequential`, see the README) becomes a checked,
//! typed graph. ONNX files are imported by [`onnx`] into the same [`Model`].
//!
//! Descriptions are checked before anything is written ([`check`]): each is lowered to a program
//! of the `scale_graph!` language and checked by `scale-dsl` against the same op registry as the
//! macro, so unknown ops, wrong operand counts, undefined names and shape mismatches are rejected
//! with the macro's message, prefixed by the input or layer it concerns.
//!
//! ```
//! let m = scale_gen::families::mlp("tiny", 2, &[4, 3, 2]);
//! let checked = scale_gen::check(&m)?;
//! let program = scale_gen::emit::program(&checked, 0);
//! assert!(program.starts_with("scale_graph! {"));
//! # Ok::<(), scale_gen::GenError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod emit;
pub mod examples;
pub mod families;
mod model;
pub mod onnx;
mod validate;

pub use model::{Input, Model, Op};
pub use validate::{Checked, GenError, check};
