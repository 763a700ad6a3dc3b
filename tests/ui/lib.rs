//! The compile-fail suites (trybuild): every case checked in one `cargo check` call.
//!
//! * `tests/ui/core/`: hand-built graphs — every mistake must be a short compile error naming what
//!   was expected and what was found (wrong context, wrong graph, shape mismatches incl. const
//!   generics).
//! * `tests/ui/macro/fail/`: `scale_graph!` — every error kind points at the offending token.
//!
//! The passing programs (nested expressions, generic dimensions, fan-out, every runtime, every op,
//! hostile names in scope) are the tests of the `scale-macro-pass` package in
//! `tests/ui/macro/pass/`: a trybuild pass case would make trybuild build every dependency again
//! and compile the cases one at a time. The one error only a build reports (a `const` assertion
//! in an instantiated generic function) is a `compile_fail,E0080` example in the macro's docs.
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test -p scale-ui`, then read every
//! `.stderr`: each must be short and point at the offending token. Paths in them are relative to
//! this package (`tests/ui/`).
#![cfg(test)]
#![forbid(unsafe_code)]

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("core/*.rs");
    t.compile_fail("macro/fail/*.rs");
}
