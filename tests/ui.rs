//! Compile-fail and compile-pass suites (trybuild), in one run so the dependencies are built once.
//!
//! * `tests/ui/core/`: hand-built graphs — every mistake must be a short compile error naming what
//!   was expected and what was found (wrong context, wrong graph, shape mismatches incl. const
//!   generics).
//! * `tests/ui/macro/fail/`, `tests/ui/macro/pass/`: `scale_graph!` — every error kind points at
//!   the offending token; the passing cases cover nested expressions, generic dimensions, fan-out,
//!   every runtime, every op, hostile names in scope.
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test --test ui`, then read every
//! `.stderr`: each must be short and point at the offending token.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/core/*.rs");
    t.compile_fail("tests/ui/macro/fail/*.rs");
    t.pass("tests/ui/macro/pass/*.rs");
}
