//! The checked program: what expansion (or any other back end) consumes.

use crate::registry::OpDef;
use crate::rules::LitArg;
use crate::shape::Shape;
use proc_macro2::{Span, TokenStream};
use syn::Ident;

/// Runtime scalar types.
#[derive(Debug, Clone)]
pub enum RuntimeTy {
    /// `f32` (default).
    F32,
    /// `f64`.
    F64,
    /// `half::bf16`.
    Bf16,
    /// `half::f16`.
    F16,
    /// A type parameter (`runtime = R;` inside `fn build<R: Runtime>()`): the generated items
    /// cannot see the enclosing function's generics, so it becomes a type parameter of each.
    Param(Ident),
    /// Any other type path (`half::bf16`), used as written.
    Path(TokenStream),
}

/// Equal when they name the same type as written (tokens have no equality of their own).
impl PartialEq for RuntimeTy {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Param(a), Self::Param(b)) => a == b,
            (Self::Path(a), Self::Path(b)) => a.to_string() == b.to_string(),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl Eq for RuntimeTy {}

/// The runtime names of the language, with their types.
pub const RUNTIMES: &[(&str, RuntimeTy)] = &[
    ("f32", RuntimeTy::F32),
    ("f64", RuntimeTy::F64),
    ("bf16", RuntimeTy::Bf16),
    ("f16", RuntimeTy::F16),
];

/// A graph input.
#[derive(Debug)]
pub struct InputPlan {
    /// Its name.
    pub name: Ident,
    /// Its shape.
    pub shape: Shape,
}

/// One node (one op application).
#[derive(Debug)]
pub struct NodePlan {
    /// The op's row.
    pub op: &'static OpDef,
    /// The span of the op's token in the input (`relu`, or the `+` of an infix).
    pub op_span: Span,
    /// Context entries read, with the span of the argument's first token.
    pub args: Vec<(usize, Span)>,
    /// Literal parameters, in the row's order.
    pub params: Vec<LitArg>,
    /// The output shape.
    pub out: Shape,
}

/// The `[pub] model NAME;` header: expansion emits named items instead of a block value.
#[derive(Debug, Clone)]
pub struct ModelHeader {
    /// The visibility of every emitted item (empty: private).
    pub vis: TokenStream,
    /// The model's type name (`Mlp`; the others are `MlpInputs`, `MlpVars`, `MlpBrand`).
    pub name: Ident,
}

/// A checked program, ready to expand.
#[derive(Debug)]
pub struct Plan {
    /// Path of the core crate (`::scale_core`, or the facade's `$crate`).
    pub krate: TokenStream,
    /// Runtime scalar.
    pub runtime: RuntimeTy,
    /// The `model NAME;` header, if given.
    pub model: Option<ModelHeader>,
    /// The inputs (`Γ`), in order: entry `i` is input `i`.
    pub inputs: Vec<InputPlan>,
    /// The nodes (`ss`), in order: entry `inputs.len() + k` is node `k`.
    pub nodes: Vec<NodePlan>,
    /// Every name with its entry, in declaration order (inputs and lets).
    pub names: Vec<(Ident, usize)>,
}
