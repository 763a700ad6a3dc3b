//! The `scale_graph!` proc macro (placeholder until the macro lands).
#![forbid(unsafe_code)]
