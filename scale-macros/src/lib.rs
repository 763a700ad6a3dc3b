//! # scale-macros
//!
//! The `scale_graph!` proc macro. Use it through the facade (`use scale_graph::scale_graph;`),
//! or directly as `scale_macros::scale_graph!` with `scale-core` as a dependency.
//!
//! This crate is a shim: the language lives in the `scale-dsl` library — **parse** (the grammar
//! below), **check** (names, arities, dimensions, literal shapes against its op registry; all
//! errors at once) and **expand** (code over the core's typed builder) — and this entry point
//! converts the token stream and calls it.
//!
//! ## Grammar
//!
//! ```text
//! scale_graph! {
//!     [[pub] model NAME ;]                     // optional, first: emit items (see below)
//!     [runtime = f32 | f64 | bf16 | f16 | TYPE ;]  // optional, default f32
//!     input NAME : [DIM, ...] ;                // one per entry of Γ, in order; [] is a scalar
//!     let NAME = EXPR ;                        // one or more
//! }
//! DIM  := positive integer literal | identifier of a const (e.g. a const generic parameter)
//! TYPE := a type parameter `R: Runtime` of the enclosing function (upper camel case), or a
//!         path (`half::bf16`)
//! EXPR := NAME | OP(ARG, ...) | EXPR + EXPR | EXPR - EXPR | EXPR * EXPR | -EXPR | (EXPR)
//! ARG  := EXPR | number literal (e.g. `0.5`, `-0.01`, `2`) | [DIM, ...]  (reshape's target)
//! ```
//!
//! `*` binds tighter than `+` and `-`, all are left-associative; `+ - *` are the elementwise
//! `add`, `sub`, `mul` and unary `-` is `neg`. Every op application is one node, innermost first
//! and left to right; a `let` names the node of its outermost op. Shapes have rank 0 to 4. The
//! ops and their shape rules (tabled in `scale_graph::docs::ops`): `add sub mul neg scale(x, c) relu
//! leaky_relu(x, a) tanh sigmoid exp log softplus square matmul matvec dot transpose add_bias sum
//! mean sum_rows reshape(x, [DIM, …]) softmax log_softmax mse cross_entropy`.
//!
//! ## What it returns
//!
//! A value of a generated struct (one per invocation, with a fresh brand type) with
//!
//! * `graph`: the `RevGraphScale<R, Γ, ss, Brand>`, built with `nil`, `open`, a `push` per node
//!   and one `seal_part` of the nodes' `Part`s; every op is a typed constructor call, so rustc
//!   checks shapes. `Γ` and `ss` are contexts of 64-shape segments joined as a balanced tree
//!   (`ctx![…]` for up to 64 entries), so their depth grows with log₂ of the graph's size;
//! * `vars`: one `pub` handle (`Var<Shape, Brand>`) per `input` and per `let`, by name;
//! * `zero_inputs()`: a struct with one `pub` fixed-rank `ndarray` per input, by name, whose
//!   `to_tlist()` returns the core's `TList` (shape-checked, `Result`, no panic);
//! * `certify(&inputs, loss)`: the certified pass with exact inputs and `loss` as seed.
//!
//! ```
//! use scale_core::Rank1;
//! let m = scale_macros::scale_graph! {
//!     runtime = f64;
//!     input x: [3];
//!     input w: [2, 3];
//!     let y = relu(matvec(w, x));
//!     let loss = sum(y * y);
//! };
//! let mut inputs = m.zero_inputs();
//! inputs.x.fill(1.0);
//! inputs.w.fill(0.5);
//! let cert = m.certify(&inputs, m.vars.loss)?;
//! assert_eq!(cert.values.get(m.vars.y).to_vec(), vec![1.5, 1.5]);
//! let _y: scale_core::Var<Rank1<2>, _> = m.vars.y;
//! println!("{:?}", cert.grad_tol(m.vars.w));
//! # Ok::<(), scale_core::Error>(())
//! ```
//!
//! The generated model also implements `scale_core::Model` (`scale_graph::Model`), whose
//! associated types (`Inputs`, `Runtime`, `Brand`, …) let generic code take any model.
//!
//! ## A model you can name: `model NAME;`
//!
//! With the header, the macro is written where items go and defines, with the header's
//! visibility, `NAME` (the model, built by `NAME::new()`), `NAMEInputs`, `NAMEVars` and
//! `NAMEBrand`, so the model can be a struct field or a return type:
//!
//! ```
//! use scale_core::{Model, Rank0, Var};
//! scale_macros::scale_graph! {
//!     pub model Mlp;
//!     input x: [3];
//!     input w: [2, 3];
//!     let y = relu(matvec(w, x));
//!     let loss = sum(y * y);
//! }
//! struct Stored { m: Mlp }
//! fn make() -> Stored { Stored { m: Mlp::new() } }
//! fn report<M: Model>(m: &M, i: &M::Inputs, loss: Var<Rank0, M::Brand>) -> usize {
//!     m.report(&m.certify(i, loss).unwrap()).rows.len()
//! }
//! let s = make();
//! let inputs: MlpInputs = s.m.zero_inputs();
//! assert!(report(&s.m, &inputs, s.m.vars.loss) > 0);
//! ```
//!
//! Const generic dimensions and a runtime type parameter become the model's parameters
//! (`model Layer; runtime = R; input x: [N];` defines `Layer<R: Runtime, const N: usize>`).
//! Every `NAME::new()` builds the same graph with the same brand.
//!
//! Const generic dimensions work; the macro leaves what it cannot judge to rustc:
//!
//! ```
//! fn layer<const H: usize>() -> usize {
//!     let m = scale_macros::scale_graph! { input w: [H, 4]; input x: [4]; let y = matvec(w, x); };
//!     m.graph.len()
//! }
//! assert_eq!(layer::<3>(), 3);
//! ```
//!
//! So does a generic runtime (`runtime = R;` with `R` a type parameter):
//!
//! ```
//! fn loss<R: scale_core::Runtime>(v: f64) -> f64 {
//!     let m = scale_macros::scale_graph! { runtime = R; input x: [2]; let loss = sum(x * x); };
//!     let mut inputs = m.zero_inputs();
//!     inputs.x.fill(R::from_f64(v));
//!     m.certify(&inputs, m.vars.loss).unwrap().values.get(m.vars.loss)[()].to_spec()
//! }
//! assert_eq!(loss::<f64>(0.5), 0.5);
//! assert_eq!(loss::<f32>(0.5), 0.5);
//! ```
//!
//! ## Errors
//!
//! Every mistake is a compile error at the offending tokens, saying what was expected and what
//! was found; all of them are reported at once, and nothing else: the failed macro's value has
//! rustc's error type, so the code that uses it adds no errors or warnings of its own. Two
//! graphs' handles mixed up read as two brands, named after the model or the graph's first
//! name and line (``expected `Var<Rank0, Brand_of_x_at_line_5>`, found `Var<Rank0,
//! Brand_of_x_at_line_4>` ``). One example per kind:
//!
//! Unknown name (with the known names and a suggestion):
//! ```compile_fail
//! scale_macros::scale_graph! { input x: [3]; let y = relu(z); };
//! // error: unknown name `z` (known names: `x`)
//! ```
//! Name defined twice:
//! ```compile_fail
//! scale_macros::scale_graph! { input x: [3]; let x = relu(x); };
//! // error: `x` is defined twice (first as an input); every name must be unique
//! ```
//! Use before definition:
//! ```compile_fail
//! scale_macros::scale_graph! { input x: [3]; let y = relu(h); let h = relu(x); };
//! // error: `h` is used before its definition; move its `let` above this line
//! ```
//! Unknown op:
//! ```compile_fail
//! scale_macros::scale_graph! { input x: [3]; let y = rleu(x); };
//! // error: unknown op `rleu`; did you mean `relu`? (the ops are listed in `scale_graph::docs::ops`)
//! ```
//! Wrong number of arguments:
//! ```compile_fail
//! scale_macros::scale_graph! { input x: [3]; let y = relu(x, x); };
//! // error: wrong number of arguments: `relu(x)` takes 1 argument, found 2
//! ```
//! Shape mismatch with literal dimensions:
//! ```compile_fail
//! scale_macros::scale_graph! { input w1: [128, 784]; input x: [783]; let h = matvec(w1, x); };
//! // error: matvec: `w1` has shape [128, 784] but `x` has [783]; expected [784]
//! ```
//! Shape mismatch with const generic dimensions (rejected by rustc's type check):
//! ```compile_fail
//! fn f<const H: usize, const W: usize>() {
//!     scale_macros::scale_graph! { input a: [H]; input b: [W]; let c = a + b; };
//!     // error[E0277]: shape mismatch: `Rank1<H>` and `Rank1<W>` must be the same shape
//! }
//! ```
//! A range past the end of a const generic axis (the macro cannot compare `3` with `N`; the
//! op's `const` assertion rejects the instantiation with `N = 2`, in a build: `cargo check`
//! does not instantiate generic functions, so it does not see this one):
//! ```compile_fail,E0080
//! fn head<const N: usize>() {
//!     let _m = scale_macros::scale_graph! { input x: [2, N]; let y = slice(x, 1, 0, 3); };
//!     // error[E0080]: evaluation panicked: slice: the range start..end must lie within the axis, …
//! }
//! fn main() {
//!     head::<2>();
//! }
//! ```
//! Bad dimension:
//! ```compile_fail
//! scale_macros::scale_graph! { input x: [0, 2.5]; let y = relu(x); };
//! // error: bad dimension: 0; dimensions must be positive
//! // error: bad dimension: expected a positive integer or the name of a const, found `2.5`, …
//! ```
//! Bad reshape:
//! ```compile_fail
//! scale_macros::scale_graph! { input x: [2, 3]; let y = reshape(x, [4, 2]); };
//! // error: reshape: cannot reshape `x` of shape [2, 3] (6 elements) to [4, 2] (8 elements)
//! ```
//! Empty graph:
//! ```compile_fail
//! scale_macros::scale_graph! { input x: [3]; };
//! // error: empty graph: expected at least one `let NAME = EXPR;` (e.g. `let y = relu(x);`)
//! ```
//! A bare `let`:
//! ```compile_fail
//! scale_macros::scale_graph! { input x: [3]; let y = x; };
//! // error: `let y = x;` only renames a value; a `let` must apply an op, e.g. `let y = relu(x);`
//! ```
//! Bad runtime:
//! ```compile_fail
//! scale_macros::scale_graph! { runtime = f8; input x: [3]; let y = relu(x); };
//! // error: unknown runtime `f8`: expected one of `f32`, `f64`, `bf16`, `f16`, or a type
//! //        parameter such as `R`
//! ```
//! Syntax errors (each statement is parsed on its own, so later statements are still checked):
//! ```compile_fail
//! scale_macros::scale_graph! { input x: [3]; let y = relu(x) x; };
//! // error: unexpected token: expected `+`, `-`, `*` or `;`
//! ```
//!
//! The macro never panics, whatever tokens it is given (checked by a property test, see
//! `scale-dsl/src/fuzz.rs`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Build a typed `RevGraphScale` and handles for every name; see the [crate docs](crate) for
/// the language, the generated API and the errors.
#[proc_macro]
pub fn scale_graph(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    scale_dsl::run(input.into()).into()
}
