//! Generated models (`cargo run -p scale-gen -- write-examples`); do not edit.

#[rustfmt::skip]
pub mod mlp_deep;
#[rustfmt::skip]
pub mod attention;
#[rustfmt::skip]
pub mod residual;
#[rustfmt::skip]
pub mod classifier;
#[rustfmt::skip]
pub mod chain;
#[rustfmt::skip]
pub mod transformer_block;
#[rustfmt::skip]
pub mod cnn;
#[rustfmt::skip]
pub mod norm_zoo;
#[rustfmt::skip]
pub mod sequential;

use crate::support::Model;

/// A model's `run` in every runtime, in `support::Precision`'s order.
macro_rules! runs {
    ($m:ident) => {
        [
            $m::run::<f32>,
            $m::run::<scale_graph::half::bf16>,
            $m::run::<scale_graph::half::f16>,
        ]
    };
}

/// Every generated model, by name, with the runtime it declares and its entry points.
pub const MODELS: &[Model] = &[
    Model { name: mlp_deep::NAME, declared: <mlp_deep::Declared as scale_graph::Runtime>::NAME, runs: runs!(mlp_deep) },
    Model { name: attention::NAME, declared: <attention::Declared as scale_graph::Runtime>::NAME, runs: runs!(attention) },
    Model { name: residual::NAME, declared: <residual::Declared as scale_graph::Runtime>::NAME, runs: runs!(residual) },
    Model { name: classifier::NAME, declared: <classifier::Declared as scale_graph::Runtime>::NAME, runs: runs!(classifier) },
    Model { name: chain::NAME, declared: <chain::Declared as scale_graph::Runtime>::NAME, runs: runs!(chain) },
    Model { name: transformer_block::NAME, declared: <transformer_block::Declared as scale_graph::Runtime>::NAME, runs: runs!(transformer_block) },
    Model { name: cnn::NAME, declared: <cnn::Declared as scale_graph::Runtime>::NAME, runs: runs!(cnn) },
    Model { name: norm_zoo::NAME, declared: <norm_zoo::Declared as scale_graph::Runtime>::NAME, runs: runs!(norm_zoo) },
    Model { name: sequential::NAME, declared: <sequential::Declared as scale_graph::Runtime>::NAME, runs: runs!(sequential) },
];
