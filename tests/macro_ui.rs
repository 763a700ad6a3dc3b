//! Compile-fail and compile-pass suite of `scale_graph!` (trybuild).
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test --test macro_ui`, then read every
//! `.stderr`: each must be short and point at the offending token.

#[test]
fn macro_ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/macro/fail/*.rs");
    t.pass("tests/ui/macro/pass/*.rs");
}
