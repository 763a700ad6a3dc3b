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

/// A generated model's entry point.
pub type Run = fn(&crate::support::Options) -> Result<scale_graph::report::Report, Box<dyn std::error::Error>>;

/// Every generated model, by name.
pub const MODELS: &[(&str, Run)] = &[
    (mlp_deep::NAME, mlp_deep::run),
    (attention::NAME, attention::run),
    (residual::NAME, residual::run),
    (classifier::NAME, classifier::run),
    (chain::NAME, chain::run),
    (transformer_block::NAME, transformer_block::run),
    (cnn::NAME, cnn::run),
    (norm_zoo::NAME, norm_zoo::run),
    (sequential::NAME, sequential::run),
];
