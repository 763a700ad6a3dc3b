//! The model description: inputs with shapes, then ops in order (the JSON format).

use serde::{Deserialize, Serialize};

/// A model: what `scale_graph!` needs, as data.
///
/// ```json
/// { "name": "tiny", "runtime": "f32",
///   "inputs": [ { "name": "x", "shape": [4] }, { "name": "w", "shape": [2, 4] } ],
///   "ops": [ { "name": "h", "op": "matvec", "args": ["w", "x"] },
///            { "name": "a", "op": "leaky_relu", "args": ["h"], "params": [0.01] },
///            { "name": "loss", "op": "sum", "args": ["a"] } ] }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Model name (a Rust identifier; the generated file is `<name>.rs`).
    pub name: String,
    /// Runtime scalar: `f32` (default), `f64`, `bf16` or `f16`.
    #[serde(default = "default_runtime")]
    pub runtime: String,
    /// One-line description, copied into the generated file's doc comment.
    #[serde(default)]
    pub doc: String,
    /// Graph inputs `Γ`, in order.
    pub inputs: Vec<Input>,
    /// Ops in order; each is one node of `ss`.
    pub ops: Vec<Op>,
    /// Name of the scalar loss to backpropagate from (default: the last op).
    #[serde(default)]
    pub loss: Option<String>,
}

fn default_runtime() -> String {
    "f32".to_string()
}

/// One input of `Γ`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Name (a Rust identifier).
    pub name: String,
    /// Dimensions (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// Standard deviation of the random data generated for it (default 1).
    #[serde(default)]
    pub init_std: Option<f64>,
}

/// One op application, named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Op {
    /// Name of the result (a Rust identifier).
    pub name: String,
    /// Op name from SPEC §9 (`matmul`, `relu`, …).
    pub op: String,
    /// Names of the operands (inputs or earlier ops).
    pub args: Vec<String>,
    /// Float parameters (`scale`'s `c`, `leaky_relu`'s `a`).
    #[serde(default)]
    pub params: Vec<f64>,
    /// Target shape, for `reshape`.
    #[serde(default)]
    pub shape: Option<Vec<usize>>,
    /// A permutation of the axes, for `permute` (`"axes": [0, 2, 1]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub axes: Option<Vec<usize>>,
}

impl Op {
    /// The number of arguments of the call: operands, numbers, the shape and the axes. It picks
    /// the registry row where one name has several (`sum(x)`, `sum(x, axis)`).
    pub fn arity(&self) -> usize {
        self.args.len()
            + self.params.len()
            + usize::from(self.shape.is_some())
            + usize::from(self.axes.is_some())
    }
}

impl Model {
    /// Parse a JSON description; a malformed input or layer is reported with its index and name.
    ///
    /// ```
    /// let err = scale_gen::Model::from_json(r#"{ "name": "m", "inputs": [],
    ///   "ops": [ { "name": "h", "args": [] } ] }"#).unwrap_err();
    /// assert_eq!(err.to_string(), "layer 0 (`h`): missing field `op`");
    /// ```
    pub fn from_json(text: &str) -> Result<Model, crate::GenError> {
        let at_model = |msg: String| crate::GenError {
            at: "model".into(),
            msg,
        };
        let mut v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| at_model(e.to_string()))?;
        // Check each layer on its own first, so errors can name it.
        for (key, what) in [("inputs", "input"), ("ops", "layer")] {
            if let Some(items) = v.get(key).and_then(|x| x.as_array()) {
                for (i, item) in items.iter().enumerate() {
                    let name = item.get("name").and_then(|n| n.as_str()).unwrap_or("?");
                    let at = format!("{what} {i} (`{name}`)");
                    let res = if key == "inputs" {
                        serde_json::from_value::<Input>(item.clone()).map(|_| ())
                    } else {
                        serde_json::from_value::<Op>(item.clone()).map(|_| ())
                    };
                    res.map_err(|e| crate::GenError {
                        at,
                        msg: e.to_string(),
                    })?;
                }
            }
        }
        if let Some(obj) = v.as_object_mut() {
            obj.entry("runtime").or_insert_with(|| "f32".into());
        }
        serde_json::from_value(v).map_err(|e| at_model(e.to_string()))
    }
}
