//! The expansion does not depend on names in scope, and works with the two crates directly.
#![allow(dead_code, non_camel_case_types)]

mod ndarray {}
struct Result;
struct Vec;
struct Option;
struct f32;
fn relu() {}
fn add() {}
fn sum() {}
mod scale_core_shadow {}

#[test]
fn compiles_and_runs() {
    let m = scale_graph::scale_graph! {
        input x: [2];
        input w: [3, 2];
        let y = relu(matvec(w, x)) + relu(matvec(w, x));
        let loss = sum(y);
    };
    assert_eq!(m.graph.len(), 2 + 6);
    let inputs = m.zero_inputs();
    let _tlist = inputs.to_tlist().unwrap();

    // Directly through `scale_macros` (default path `::scale_core`).
    let d = scale_macros::scale_graph! { input x: [2]; let y = relu(x); };
    assert_eq!(d.graph.len(), 2);
    relu();
    add();
    sum();
}
