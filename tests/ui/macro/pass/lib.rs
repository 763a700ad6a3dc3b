//! `scale_graph!` programs that must compile and run (the pass half of `tests/ui/lib.rs`, whose
//! compile-fail cases trybuild checks). Nothing outside `cargo test`.
#![cfg(test)]
#![forbid(unsafe_code)]

mod all_ops;
mod fan_out;
mod generic_dims;
mod generic_runtime;
mod hostile_scope;
mod mlp_ops;
mod named_model;
mod nested_precedence;
mod norm_generic;
mod runtimes;
mod segments;
