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
    assert_eq!(
        e,
        "layer 0 (`h`, relux): unknown op `relux`; did you mean `relu`? (the ops are listed in `scale_graph::docs::ops`)"
    );
}

#[test]
fn shape_mismatch_names_the_layer_and_both_shapes() {
    let e = err(
        r#"{ "name": "m", "inputs": [ { "name": "w", "shape": [2, 3] }, { "name": "x", "shape": [4] } ],
        "ops": [ { "name": "y", "op": "matvec", "args": ["w", "x"] }, { "name": "s", "op": "sum", "args": ["y"] } ] }"#,
    );
    assert_eq!(
        e,
        "layer 0 (`y`, matvec): `w` has shape [2, 3] but `x` has [4]; expected [3]"
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
            "layer 0 (`h`, relu): unknown name `y` (known names: `x`)",
        ),
        (
            r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [3] } ], "ops": [ { "name": "h", "op": "add", "args": ["x"] } ] }"#,
            "layer 0 (`h`, add): wrong number of arguments: `add(a, b)` takes 2 arguments, found 1",
        ),
        (
            r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [3] } ], "ops": [ { "name": "x", "op": "relu", "args": ["x"] } ] }"#,
            "layer 0 (`x`, relu): `x` is defined twice (first as an input); every name must be unique",
        ),
        (
            r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [3] } ], "ops": [ { "name": "h", "op": "relu", "args": ["x"] } ] }"#,
            "model `m`: the loss `h` must be a scalar layer",
        ),
        (
            r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [6] } ], "ops": [ { "name": "h", "op": "reshape", "args": ["x"], "shape": [4, 2] } ] }"#,
            "layer 0 (`h`, reshape): cannot reshape `x` of shape [6] (6 elements) to [4, 2] (8 elements)",
        ),
        (
            r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [0] } ], "ops": [ { "name": "s", "op": "sum", "args": ["x"] } ] }"#,
            "input 0 (`x`): bad dimension: 0; dimensions must be positive",
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

/// Errors come from the language's checker (the macro's messages), mapped to the layer they are
/// in, also past the first layer and for literal parameters.
#[test]
fn checker_errors_map_to_their_layer() {
    let e = err(
        r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [2, 3] } ],
        "ops": [ { "name": "a", "op": "relu", "args": ["x"] },
                 { "name": "b", "op": "scale", "args": ["a"] },
                 { "name": "s", "op": "sum", "args": ["b"] } ] }"#,
    );
    assert_eq!(
        e,
        "layer 1 (`b`, scale): wrong number of arguments: `scale(x, c)` takes 2 arguments, found 1"
    );
    let e = err(
        r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [2, 3] } ],
        "ops": [ { "name": "a", "op": "reshape", "args": ["x"], "params": [0.5] },
                 { "name": "s", "op": "sum", "args": ["a"] } ] }"#,
    );
    assert_eq!(
        e,
        "layer 0 (`a`, reshape): `reshape(x, [DIM, …])`: the target must be a shape literal like `[3, 2]`, found a number"
    );
    let e = err(
        r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [2, 3] } ],
        "ops": [ { "name": "a", "op": "relu", "args": ["b"] },
                 { "name": "b", "op": "relu", "args": ["x"] },
                 { "name": "s", "op": "sum", "args": ["b"] } ] }"#,
    );
    assert!(
        e.starts_with("layer 0 (`a`, relu): `b` is used before its definition"),
        "{e}"
    );
    let e = err(
        r#"{ "name": "m", "inputs": [ { "name": "fn", "shape": [2] } ],
        "ops": [ { "name": "s", "op": "not an op", "args": ["x y"] } ] }"#,
    );
    assert_eq!(e, "input 0 (`fn`): the name must be a Rust identifier");
    let e = err(
        r#"{ "name": "m", "inputs": [ { "name": "x", "shape": [2] } ],
        "ops": [ { "name": "s", "op": "not an op", "args": ["x y"] } ] }"#,
    );
    assert_eq!(e, "layer 0 (`s`, not an op): unknown op `not an op`");
    let mut m = families::mlp("m", 2, &[3, 2]);
    m.ops[1].op = "leaky_relu".into();
    m.ops[1].params = vec![f64::NAN];
    let e = check(&m).expect_err("NaN parameter").to_string();
    assert!(e.ends_with("float parameters must be finite"), "{e}");
}
