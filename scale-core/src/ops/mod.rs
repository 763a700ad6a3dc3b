//! The ops of SPEC §9, one file per family. Each op is a node type with all six parts (SPEC §4)
//! and a constructor function that takes handles and checks shapes through its signature.
//!
//! | family | ops |
//! |---|---|
//! | [`elementwise`] | `add`, `sub`, `mul`, `neg`, `scale`, `relu`, `leaky_relu` |
//! | [`abs`](mod@abs) | `abs` |
//! | [`unary`] | `tanh`, `sigmoid`, `exp`, `log`, `softplus`, `square` |
//! | [`linalg`] | `matmul`, `matvec`, `dot`, `transpose`, `add_bias` |
//! | [`reduce`] | `sum`, `mean`, `sum_rows` |
//! | [`reshape`](mod@reshape) | `reshape` |
//! | [`softmax`](mod@softmax) | `softmax`, `log_softmax` (last axis, rank 1 to 4) |
//! | [`loss`] | `mse`, `cross_entropy` |
//! | [`div`](mod@div) | `div` |
//! | [`sqrt`](mod@sqrt) | `sqrt`, `rsqrt` |
//! | [`extremum`] | `maximum`, `minimum` |
//! | [`gelu`](mod@gelu) | `gelu`, `gelu_tanh` |
//! | [`axes`] | `sum(x, axis)`, `mean(x, axis)`, `permute`, `slice`, `concat` (rank 1–4) |
//! | [`softmax_causal`](mod@softmax_causal) | `softmax_causal` (`[…, n, n]`) |
//! | [`norm`] | `layer_norm`, `rms_norm` (last axis, rank 1 to 4, with a stage-by-stage error trace) |
//! | [`conv`] | `conv2d`, `conv1d` (im2col GEMMs, literal stride and zero padding) |
//! | [`pool`] | `max_pool2d`, `avg_pool2d` (`k × k` windows, stride `k`, floor) |
//! | [`bmm`](mod@bmm) | `bmm` (`[…, m, k] × […, k, n]`; `matmul` also takes `[…, m, k] × [k, n]`) |
//! | [`attention`](mod@attention) | `attention`, `attention_causal` (fused, bounds stage by stage as the composition) |
//! | [`expand`](mod@expand) | `expand(x, axis, n)` (a new axis, the broadcast of a reduction back over its axis) |
//!
//! ## Adding an op
//!
//! An op is an [`kit::Op`] impl (name, arguments, spec semantics) and an [`kit::OpRuntime`] impl
//! (runtime forward, VJP and bounds); the node traits come from the kit. An op of a family is a
//! marker and its formulas instead: [`kit::Structural`] for exact structural ops,
//! [`kit::BinaryFn`] for elementwise binary ops, [`kit::Kink`] for piecewise-linear ones,
//! [`unary::SmoothFn`] for smooth functions. The struct, its `NodeType` and its `new` come from
//! the crate-internal `op_node!` declaration. Write spec and runtime formulas once over
//! [`Arith`](crate::Arith) where they are the same.
//!
//! ## How the bounds are built
//!
//! Every error bound is *propagated error + local rounding error*, per entry, then maximised:
//!
//! * **Propagation** uses the actual runtime operands (e.g. `ε_W·‖x̂‖₁ + ε_x·‖Ŵᵢ‖₁` for `matvec`)
//!   and, for smooth functions, the mean-value form `sup_{|t−x̂|≤ε}|f′(t)|·ε` evaluated per entry
//!   over the interval around the runtime input. Kinks (`relu`, `leaky_relu`) charge the
//!   branch-mismatch term only to entries within `ε` of the kink. Domains (`log`) give `+∞` as
//!   soon as positivity of the spec value is not guaranteed by `x̂ − ε > 0`.
//! * **Local rounding** of elementwise work is measured against an `f64` re-evaluation of the
//!   same real expression on the runtime operands (nearly exact for `f32`/`bf16`/`f16`, the usual
//!   `u·|ŷ|` model for `f64`); elementary functions rely on the documented libm accuracy
//!   assumption ([`assumed_ulps`](crate::assumed_ulps), applied to the `f64` reference).
//!   Sums and dot products use the mode of [`config::dot_bound_mode`](crate::config::dot_bound_mode).
//! * Per-entry terms are computed in plain `f64` from nonnegative quantities and finished with a
//!   rigorous upward inflation, so bound computation runs at float speed.
//!
//! Scale bounds take the maximum of a spec-side bound (from the input scale bounds) and the
//! measured magnitude of the runtime result (recomputed in the VJP scale parts).

pub mod abs;
pub mod axes;
pub mod elementwise;
mod gemm;
pub mod kit;
pub mod linalg;
pub mod loss;
pub mod reduce;
pub mod reshape;
pub mod softmax;
pub mod softmax_causal;
pub mod unary;
pub mod util;
// Elementwise ops of SPEC §9b (issue #12).
pub mod div;
pub mod extremum;
pub mod gelu;
pub mod sqrt;

pub use abs::abs;
pub use axes::{Idx, Perm1, Perm2, Perm3, Perm4, concat, mean_axis, permute, slice, sum_axis};
pub use elementwise::{add, leaky_relu, mul, neg, relu, scale, sub};
pub use linalg::{add_bias, dot, matmul, matvec, transpose};
pub use loss::{cross_entropy, mse};
pub use reduce::{mean, sum, sum_rows};
pub use reshape::reshape;
pub use softmax::{log_softmax, softmax};
pub use softmax_causal::softmax_causal;
pub use unary::{exp, log, sigmoid, softplus, square, tanh};
// Elementwise ops of SPEC §9b (issue #12).
pub use div::div;
pub use extremum::{maximum, minimum};
pub use gelu::{gelu, gelu_tanh};
pub use sqrt::{rsqrt, sqrt};

pub mod norm;
pub use norm::{layer_norm, rms_norm};

// Batched products and attention of SPEC §9b (issue #12).
pub mod attention;
pub mod bmm;
pub use attention::{attention, attention_causal};
pub use bmm::bmm;

/// Declares an op's node struct `Name<…, B>` (or `Name<…, B, K>` for a family node with marker
/// `K`, written `Name<…; K>`): the arguments it reads, any constant parameters, the phantom
/// shapes, brand and marker, its [`NodeType`](crate::node::NodeType) (output shape `$out`), and
/// `new`, which the op's constructor calls once it has checked what it must.
macro_rules! op_node {
    ($(#[$doc:meta])* $name:ident<$($g:ident),+ $(; $k:ident)?>[$n:literal $(, $p:ident: $t:ty)*]
        => $out:ty) => {
        $(#[$doc])*
        pub struct $name<$($g,)+ B $(, $k)?> {
            args: [$crate::handle::Arg; $n],
            $($p: $t,)*
            _p: $crate::ops::util::Ph<($($g,)+ B $(, $k)?)>,
        }
        impl<$($g: $crate::shape::Shape,)+ Br $(, $k)?> $crate::node::NodeType
            for $name<$($g,)+ Br $(, $k)?>
        {
            type Out = $out;
            type Brand = Br;
        }
        impl<$($g,)+ B $(, $k)?> $name<$($g,)+ B $(, $k)?> {
            pub(crate) fn new(args: [$crate::handle::Arg; $n] $(, $p: $t)*) -> Self {
                $name { args, $($p,)* _p: ::std::marker::PhantomData }
            }
        }
    };
}
pub(crate) use op_node;

// Convolution and pooling of SPEC §9b (issue #12).
pub mod conv;
pub use conv::{conv1d, conv2d};
pub mod pool;
pub use pool::{avg_pool2d, max_pool2d};

// The broadcast of SPEC §9b's reductions (issue #12).
pub mod expand;
pub use expand::expand;
