//! # scale-dsl
//!
//! The `scale_graph!` language (SPEC §8) as a plain library over `proc-macro2` tokens, so every
//! stage is unit-testable without rustc, and one op registry that the macro, the generator and
//! the tests all read.
//!
//! The stages, each reporting into one [`Ctxt`] so all mistakes come out at once:
//!
//! * [`parse()`]: tokens → [`Program`] (statements and expressions as written);
//! * [`check()`]: [`Program`] → [`Plan`] (names resolved, arities, literals and dimensions
//!   validated, every op's shape rule from [`OPS`] applied);
//! * [`expand()`]: [`Plan`] → Rust code over `scale_core`'s typed builder.
//!
//! [`run`] wires them (the `scale-macros` crate is a shim over it); a generator builds a
//! [`Program`] itself and calls [`check()`], mapping each [`Diagnostic`]'s statement back to
//! its own items.
//!
//! ```
//! let plan = scale_dsl::compile(quote::quote! {
//!     input w: [2, 3]; input x: [3];
//!     let y = relu(matvec(w, x));
//! })?;
//! let ops: Vec<&str> = plan.nodes.iter().map(|n| n.op.name).collect();
//! assert_eq!(ops, ["matvec", "relu"]);
//! assert_eq!(scale_dsl::shape::show(&plan.nodes[1].out), "[2]");
//!
//! let err = scale_dsl::compile(quote::quote! {
//!     input w: [2, 3]; input x: [4];
//!     let y = matvec(w, x);
//! }).unwrap_err();
//! assert_eq!(err.to_string(), "matvec: `w` has shape [2, 3] but `x` has [4]; expected [3]");
//! # Ok::<(), syn::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod build;
pub mod check;
pub mod ctxt;
pub mod expand;
#[cfg(test)]
mod fuzz;
pub mod parse;
pub mod plan;
pub mod registry;
pub mod rules;
pub mod shape;

pub use check::{check, check_with};
pub use ctxt::{Ctxt, Diagnostic};
pub use expand::expand;
pub use parse::{Dim, Expr, Infix, Program, Stmt, parse};
pub use plan::{InputPlan, NodePlan, Plan, RuntimeTy};
pub use registry::{OPS, OpDef, Param, ParamKind, edit_distance, lookup, suggest};

use proc_macro2::TokenStream;

/// Parse and check `input`: the plan, or every error combined.
pub fn compile(input: TokenStream) -> Result<Plan, syn::Error> {
    let mut cx = Ctxt::new();
    let program = parse(input, &mut cx);
    let plan = check(&program, &mut cx);
    cx.finish()?;
    // `check` returns a plan whenever nothing was reported.
    plan.ok_or_else(|| syn::Error::new(proc_macro2::Span::call_site(), "no plan"))
}

/// The whole macro on a token stream: the generated code, or the compile errors.
pub fn run(input: TokenStream) -> TokenStream {
    match compile(input) {
        Ok(plan) => expand(&plan),
        Err(e) => {
            let errors = e.to_compile_error();
            // Statement position inside a block; the block diverges so no type error follows.
            quote::quote! {{ #errors loop {} }}
        }
    }
}
