//! Compile-fail tests for hand-built graphs: every mistake below must be a short compile error
//! naming what was expected and what was found (snapshots in `tests/ui/core/*.stderr`;
//! regenerate with `TRYBUILD=overwrite cargo test --test core_ui`).

#[test]
fn core_ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/core/*.rs");
}
