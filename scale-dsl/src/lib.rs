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
pub use plan::{InputPlan, ModelHeader, NodePlan, Plan, RuntimeTy};
pub use registry::{OPS, OpDef, Param, ParamKind, edit_distance, lookup, suggest};

use proc_macro2::TokenStream;

/// Parse and check `input`: the plan, or every error combined.
pub fn compile(input: TokenStream) -> Result<Plan, syn::Error> {
    compile_program(input).1
}

/// [`compile`], also saying whether the input had a `model NAME;` header (the expansion is
/// then items, and so must be its fallback).
fn compile_program(input: TokenStream) -> (bool, Result<Plan, syn::Error>) {
    let mut cx = Ctxt::new();
    let program = parse(input, &mut cx);
    let is_item = program
        .stmts
        .iter()
        .any(|s| matches!(s, Stmt::Model { .. }));
    let plan = check(&program, &mut cx);
    let plan = cx.finish().and_then(|()| {
        // `check` returns a plan whenever nothing was reported.
        plan.ok_or_else(|| syn::Error::new(proc_macro2::Span::call_site(), "no plan"))
    });
    (is_item, plan)
}

/// The whole macro on a token stream: the generated code, or the compile errors.
///
/// In expression position the errors are a block whose value is the last `compile_error!`
/// itself: an expression of rustc's error type, which takes any type and any method call
/// without a further error, and (unlike a diverging `loop {}`) does not make the user's next
/// statement "unreachable".
pub fn run(input: TokenStream) -> TokenStream {
    match compile_program(input) {
        (_, Ok(plan)) => expand(&plan),
        (true, Err(e)) => e.to_compile_error(),
        (false, Err(e)) => {
            let mut errors: Vec<TokenStream> =
                e.into_iter().map(|e| e.to_compile_error()).collect();
            let last = errors.pop();
            quote::quote! {{ #(#errors)* (#last) }}
        }
    }
}
