//! Bad descriptions are rejected with a message naming the layer; good ones check out.

use scale_gen::{Model, check, families};

fn err(json: &str) -> String {
    match Model::from_json(json) {
        Err(e) => e.to_string(),
        Ok(m) => check(&m).expect_err("should be rejected").to_string(),
    }
}

#[test]
fn families_check() {
    for m in [
        families::mlp("m", 4, &[8, 6, 3]),
        families::attention("a", 5, 8, 4),
        families::residual("r", 4, 6, 10),
        families::classifier("c", 4, 6, 3),
        families::chain("d", 64, 8),
    ] {
        let c = check(&m).unwrap_or_else(|e| panic!("{}: {e}", m.name));
        assert_eq!(c.shapes.len(), m.inputs.len() + m.ops.len());
        assert_eq!(c.shapes.last(), Some(&vec![]));
    }
}

#[test]
fn unknown_op_names_the_layer() {
    let e = err(
        r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [3] } ],
        "ops": [ { "name": "h", "op": "relux", "args": ["x"] } ] }"#,
    );
    assert_eq!(e, "layer 0 (`h`, relux): unknown op `relux`");
}

#[test]
fn shape_mismatch_names_the_layer_and_both_shapes() {
    let e = err(
        r#"{ "name": "m", "inputs": [ { "name": "w", "shape": [2, 3] }, { "name": "x", "shape": [4] } ],
        "ops": [ { "name": "y", "op": "matvec", "args": ["w", "x"] }, { "name": "s", "op": "sum", "args": ["y"] } ] }"#,
    );
    assert_eq!(
        e,
        "layer 0 (`y`, matvec): matvec needs [m, k] and [k], found [2, 3] and [4]"
    );
}

#[test]
fn missing_field_names_the_layer() {
    let e = err(
        r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [3] } ],
        "ops": [ { "name": "h", "op": "relu" } ] }"#,
    );
    assert_eq!(e, "layer 0 (`h`): missing field `args`");
    let e = err(r#"{ "name": "m", "inputs": [ { "name": "x" } ], "ops": [] }"#);
    assert_eq!(e, "input 0 (`x`): missing field `shape`");
}

#[test]
fn other_mistakes() {
    let cases = [
        (
            r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [3] } ], "ops": [ { "name": "h", "op": "relu", "args": ["y"] } ] }"#,
            "layer 0 (`h`, relu): `y` is not an input or an earlier layer",
        ),
        (
            r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [3] } ], "ops": [ { "name": "h", "op": "add", "args": ["x"] } ] }"#,
            "layer 0 (`h`, add): takes 2 operand(s), found 1",
        ),
        (
            r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [3] } ], "ops": [ { "name": "x", "op": "relu", "args": ["x"] } ] }"#,
            "layer 0 (`x`, relu): name defined twice",
        ),
        (
            r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [3] } ], "ops": [ { "name": "h", "op": "relu", "args": ["x"] } ] }"#,
            "model `m`: the loss `h` must be a scalar layer",
        ),
        (
            r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [6] } ], "ops": [ { "name": "h", "op": "reshape", "args": ["x"], "shape": [4, 2] } ] }"#,
            "layer 0 (`h`, reshape): reshape from [6] (6 elements) to [4, 2] (8 elements)",
        ),
        (
            r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [0] } ], "ops": [ { "name": "s", "op": "sum", "args": ["x"] } ] }"#,
            "input 0 (`x`): bad shape [0]: rank 0 to 4, every dimension ≥ 1",
        ),
        (
            r#"{ "name": "m", "inputs": [], "ops": [] }"#,
            "model `m`: no ops: a graph needs at least one",
        ),
        (
            r#"{ "name": "m", "runtime": "f8", "inputs": [], "ops": [] }"#,
            "model `m`: unknown runtime `f8` (expected f32, f64, bf16 or f16)",
        ),
    ];
    for (json, want) in cases {
        assert_eq!(err(json), want, "{json}");
    }
}
