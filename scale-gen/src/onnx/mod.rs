//! ONNX import: an `.onnx` file becomes a checked [`Model`] plus the values of its initializers.
//!
//! People export trained models to ONNX; this reads the `ModelProto` (protobuf types generated
//! by `prost` from the vendored schema, checked in so no `protoc` is needed), lowers every node
//! to ops of the one registry (`scale-dsl`), and checks the result with [`crate::check`] — the
//! same path as JSON descriptions, so the program, the module and the error messages are the
//! ones the rest of `scale-gen` produces. Errors are [`OnnxError`]s naming the node (its name,
//! index and op type), never panics.
//!
//! # Conventions
//!
//! * **Inputs.** Graph inputs (not initializers) come first, in order, with their static shapes;
//!   a symbolic or missing dimension is an error naming the input (export with fixed shapes).
//!   Float initializers used as operands become further inputs, in order of first use, and
//!   their values are kept ([`Imported::weights`]) so [`Imported::write`] can put them beside
//!   the generated module as `.npy` files. Integer initializers (Reshape's shape, Slice's
//!   bounds, axes) are read as constants and never become inputs.
//! * **Names.** ONNX names (`/fc1/Gemm_output_0`, `onnx::Gemm_5`) are turned into Rust
//!   identifiers: other characters become `_`, a leading digit or keyword gets a `v_` prefix,
//!   and clashes get a numeric suffix. Helper ops a node needs (a transpose of Gemm's `B`, the
//!   reshapes around a bias) are named after the node's output.
//! * **Loss.** An ONNX graph has no loss, but a certificate covers a backward pass from a
//!   scalar: [`Loss::Sum`] (the default) appends `loss = sum(output)` (or uses the output when
//!   it is already a scalar), [`Loss::Mse`] appends an input `target` of the output's shape and
//!   `loss = mse(output, target)`. Only the first graph output is used.
//! * **Runtime.** The element type of the first graph input: `f32` for FLOAT, `f64` for DOUBLE,
//!   `f16`, `bf16`.
//!
//! # Op types
//!
//! | ONNX | lowered to | conditions (anything else is an [`OnnxError`]) |
//! |---|---|---|
//! | `Gemm` | `matmul` (+ `transpose` of B) + `add_bias` / `add` | `transA = 0`, `alpha = beta = 1`; `C` of shape `[n]` or `[1, n]` (`add_bias`), or any shape broadcasting to `[m, n]` |
//! | `MatMul` | `matmul`, `bmm`, `matvec`, `dot` | `[…, m, k]·[k, n]`, equal leading axes, `[m, k]·[k]`, `[k]·[k]` |
//! | `Add` | `add`, `add_bias` | a bias over the last axis (`[n]`, `[1, …, 1, n]`; rank > 2 through exact reshapes) → `add_bias`; otherwise broadcasting as below |
//! | `Sub`, `Div` | `sub`, `div` | broadcasting as below; `Div` by a scalar constant whose reciprocal is exact (a power of two) → `scale` |
//! | `Mul` | `mul`, `scale` | one operand a one-element constant → `scale`; otherwise broadcasting as below |
//! | broadcasting of `Add`, `Sub`, `Mul`, `Div`, `Max`, `Min`, Gemm's `C` | per operand: an exact `reshape` dropping its broadcast size-1 axes (none when it has none), one `expand(·, axis, n)` per broadcast axis (missing leading axes included), then the same-shape op | numpy rules (aligned on the right, each pair of dimensions equal or one of them 1); result rank ≤ 4 |
//! | `Relu`, `Tanh`, `Sigmoid`, `Exp`, `Log`, `Softplus`, `Sqrt`, `Abs`, `Neg` | the op of the same name (`neg`) | |
//! | `LeakyRelu` | `leaky_relu(x, alpha)` | |
//! | `Max`, `Min` | `maximum`, `minimum` | two inputs (broadcasting as above) |
//! | `Softmax`, `LogSoftmax` | `softmax`, `log_softmax` | the last axis |
//! | `Gelu` | `gelu`, `gelu_tanh` | `approximate` `none` or `tanh` |
//! | `Div(x, √2)`, `Erf`, `Add(·, 1)`, `Mul(x, ·)`, `Mul(·, 0.5)` | `gelu` | PyTorch's exported erf form, consecutive nodes (`Constant` nodes between them are lowered first), intermediates used once |
//! | `LayerNormalization` | `layer_norm(x, scale, bias, epsilon)` | the last axis; one output; a missing bias becomes a zero input |
//! | `ReduceMean`, `Sub`, `Pow(·, 2)`, `ReduceMean`, `Add(·, eps)`, `Sqrt`, `Div`, `Mul(·, γ)`, `Add(·, β)` | `layer_norm(x, γ, β, eps)` | PyTorch's decomposed LayerNorm (opset < 17): last axis, `keepdims = 1`, consecutive nodes, private intermediates |
//! | `Transpose` | `transpose`, `permute` | rank ≤ 4 |
//! | `Reshape` | `reshape` | constant shape (`0` and `-1` resolved), `allowzero = 0` |
//! | `Flatten` | `reshape` | |
//! | `Concat` | `concat` (chained) | |
//! | `Slice` | `slice` (one per axis) | constant bounds, steps 1 |
//! | `ReduceSum`, `ReduceMean` | `sum`, `mean` (with axis) | one axis or all; `keepdims = 1` adds an exact `reshape` |
//! | `Conv` | `conv2d`, `conv1d` (+ exact permute/reshape around `add_bias` for a bias) | group 1, dilations 1, equal strides, equal pads, no `auto_pad` |
//! | `MaxPool`, `AveragePool` | `max_pool2d`, `avg_pool2d` | square kernel `k`, strides `k`, no pads, dilations 1, `ceil_mode = 0`, one output |
//! | `Identity`, `Dropout` (one output) | nothing (an alias) | |
//! | `Constant` | a constant (an input when used as an operand) | `value`, `value_float(s)`, `value_int(s)` |
//!
//! Refused with a typed error: every other op type (e.g. `Cos`, `Shape`, `Gather`, `Erf` outside
//! the GELU pattern, `Pow`, `ReduceMax`, `BatchNormalization`), shapes that do not broadcast
//! (`Unsupported broadcast of [2, 3] and [4]: dimensions 3 and 4 …`) or whose broadcast would
//! need rank > 4 (both shapes named), `MatMul` broadcasting of leading axes, external tensor data,
//! dynamic shapes and non-float inputs.
//!
//! ```
//! let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx/mlp.onnx"))?;
//! let imported = scale_gen::onnx::import(&bytes, &scale_gen::onnx::Options::named("mlp"))?;
//! assert_eq!(imported.checked.loss, "loss");
//! assert!(scale_gen::emit::program(&imported.checked, 0).contains("matmul"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    rustdoc::all,
    unreachable_pub
)]
mod proto;

use crate::{Checked, GenError, Input, Model, Op};
use prost::Message;
use proto::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Which scalar loss the imported graph gets (an ONNX graph has none; see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Loss {
    /// `loss = sum(output)`: every output entry gets cotangent 1.
    #[default]
    Sum,
    /// `loss = mse(output, target)` with a new input `target` of the output's shape.
    Mse,
}

/// How to import: the model's name and its loss.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The model's name (a Rust identifier after sanitising); `None` takes the graph's name.
    pub name: Option<String>,
    /// The loss convention.
    pub loss: Loss,
}

impl Options {
    /// Options with the given model name and the default loss.
    pub fn named(name: &str) -> Options {
        Options {
            name: Some(name.to_string()),
            loss: Loss::default(),
        }
    }
}

/// A float initializer that became an input, with its values (row-major), to be written as
/// `<name>.npy` so the model runs on its trained weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// The input's name in the [`Model`].
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values, row-major (converted to `f64` exactly from the file's `f32`/`f64`).
    pub values: Vec<f64>,
}

/// An imported, checked model and the values of its initializers.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The checked model (its [`Model`] is `checked.model`).
    pub checked: Checked,
    /// Initializers that became inputs, in the order of the model's inputs.
    pub weights: Vec<Weight>,
}

impl Imported {
    /// The imported model description.
    pub fn model(&self) -> &Model {
        &self.checked.model
    }

    /// Write `<dir>/<name>.rs` (the example module of [`crate::emit::module`]) and
    /// `<dir>/<name>/<input>.npy` for every initializer; returns the paths written. `source`
    /// names the ONNX file in the module's header.
    pub fn write(&self, dir: &Path, source: &str) -> Result<Vec<PathBuf>, OnnxError> {
        let name = &self.checked.model.name;
        let io = |p: &Path, e: &dyn fmt::Display| OnnxError::Io {
            path: p.display().to_string(),
            msg: e.to_string(),
        };
        let wdir = dir.join(name);
        std::fs::create_dir_all(&wdir).map_err(|e| io(&wdir, &e))?;
        let mut written = Vec::new();
        let module = dir.join(format!("{name}.rs"));
        std::fs::write(&module, crate::emit::module(&self.checked, source))
            .map_err(|e| io(&module, &e))?;
        written.push(module);
        let f64_runtime = self.checked.model.runtime == "f64";
        for w in &self.weights {
            let path = wdir.join(format!("{}.npy", w.name));
            let res = if f64_runtime {
                ndarray::ArrayD::from_shape_vec(w.shape.clone(), w.values.clone())
                    .map_err(|e| e.to_string())
                    .and_then(|a| ndarray_npy::write_npy(&path, &a).map_err(|e| e.to_string()))
            } else {
                // The values came from f32 data (or are exactly representable), so this is exact.
                let v: Vec<f32> = w.values.iter().map(|&x| x as f32).collect();
                ndarray::ArrayD::from_shape_vec(w.shape.clone(), v)
                    .map_err(|e| e.to_string())
                    .and_then(|a| ndarray_npy::write_npy(&path, &a).map_err(|e| e.to_string()))
            };
            res.map_err(|e| io(&path, &e))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Why an ONNX file could not be imported. Node errors name the node as
/// ``node 3 (`/fc/Gemm`, Gemm)`` (its index in the graph, its name when it has one, its op type).
#[derive(Debug, Clone, PartialEq)]
pub enum OnnxError {
    /// The file could not be read or an output written.
    Io {
        /// The path.
        path: String,
        /// The system's message.
        msg: String,
    },
    /// The bytes are not a valid `ModelProto` (truncated, not ONNX).
    Malformed(String),
    /// The graph as a whole is unusable (no graph, no output, an unknown value name…).
    Graph(String),
    /// A graph input has a symbolic or missing dimension.
    DynamicDim {
        /// The input's ONNX name.
        input: String,
        /// The axis.
        axis: usize,
        /// What was found instead of a number (`batch`, or `unknown`).
        found: String,
    },
    /// A node the importer cannot lower: an unknown op type, an unsupported attribute or
    /// operand shapes (`Unsupported broadcast …`, naming both), or a shape error found by the
    /// checker.
    Node {
        /// ``node 3 (`name`, OpType)``.
        node: String,
        /// What is wrong.
        msg: String,
    },
}

impl fmt::Display for OnnxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OnnxError::Io { path, msg } => write!(f, "{path}: {msg}"),
            OnnxError::Malformed(m) => write!(f, "malformed ONNX file: {m}"),
            OnnxError::Graph(m) => write!(f, "graph: {m}"),
            OnnxError::DynamicDim { input, axis, found } => write!(
                f,
                "input `{input}`: dimension {axis} is dynamic ({found}); export with static shapes"
            ),
            OnnxError::Node { node, msg } => write!(f, "{node}: {msg}"),
        }
    }
}

impl std::error::Error for OnnxError {}

/// Read and import an `.onnx` file; `Options::name` defaults to the file's stem.
pub fn import_file(path: &Path, opts: &Options) -> Result<Imported, OnnxError> {
    let bytes = std::fs::read(path).map_err(|e| OnnxError::Io {
        path: path.display().to_string(),
        msg: e.to_string(),
    })?;
    let mut opts = opts.clone();
    if opts.name.is_none() {
        opts.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    }
    import(&bytes, &opts)
}

/// Import the bytes of an `.onnx` file: decode, lower every node, check (see the module docs).
pub fn import(bytes: &[u8], opts: &Options) -> Result<Imported, OnnxError> {
    let proto = ModelProto::decode(bytes).map_err(|e| OnnxError::Malformed(e.to_string()))?;
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain().is_empty() || o.domain() == "ai.onnx")
        .map_or(1, |o| o.version());
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| OnnxError::Graph("the model has no graph".into()))?;
    let name = opts
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| graph.name().to_string());
    let mut lw = Lowering::new(opset);
    let model_name = sanitize(if name.is_empty() { "model" } else { &name });
    lw.lower_graph(graph, opts.loss)?;
    let model = Model {
        name: model_name,
        runtime: lw.runtime.clone(),
        doc: format!(
            "imported from ONNX ({} nodes, opset {opset}{})",
            graph.node.len(),
            if proto.producer_name().is_empty() {
                String::new()
            } else {
                format!(", produced by {}", proto.producer_name())
            }
        ),
        inputs: lw.inputs,
        ops: lw.ops,
        loss: Some(lw.loss),
    };
    let checked = crate::check(&model).map_err(|e| blame(&e, &model, &lw.origin, graph))?;
    Ok(Imported {
        checked,
        weights: lw.weights,
    })
}

/// Map a checker error on layer `i` back to the ONNX node that produced it.
fn blame(e: &GenError, m: &Model, origin: &[Option<usize>], g: &GraphProto) -> OnnxError {
    // `GenError::at` reads ``layer 5 (`h`, matvec)``.
    let layer = e.at.strip_prefix("layer ").and_then(|r| {
        let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<usize>().ok().filter(|&i| i < m.ops.len())
    });
    match layer.and_then(|i| origin.get(i).copied().flatten()) {
        Some(n) => OnnxError::Node {
            node: g
                .node
                .get(n)
                .map_or_else(|| format!("node {n}"), |p| label(n, p)),
            msg: format!("{} ({})", e.msg, e.at),
        },
        None => OnnxError::Graph(e.to_string()),
    }
}

fn label(i: usize, n: &NodeProto) -> String {
    if n.name().is_empty() {
        format!("node {i} ({})", n.op_type())
    } else {
        format!("node {i} (`{}`, {})", n.name(), n.op_type())
    }
}

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen", "input",
];

/// An ONNX name as a Rust identifier (see the module docs).
fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    while out.contains("__") {
        out = out.replace("__", "_");
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty()
        || out.starts_with(|c: char| c.is_ascii_digit())
        || KEYWORDS.contains(&out.as_str())
    {
        format!("v_{out}")
    } else {
        out
    }
}

/// A constant tensor (an initializer or a `Constant` node's value).
#[derive(Debug, Clone)]
struct Const {
    dims: Vec<usize>,
    data: Data,
}

#[derive(Debug, Clone)]
enum Data {
    Float(Vec<f64>),
    Int(Vec<i64>),
}

/// What an ONNX value name stands for while lowering.
#[derive(Debug, Clone)]
enum Slot {
    /// A value of the model: its identifier and shape.
    Val(String, Vec<usize>),
    /// A constant not (yet) used as an operand.
    Const(Const),
}

/// The float element types and their runtimes.
fn runtime_of(elem: i32) -> Option<&'static str> {
    use proto::tensor_proto::DataType as D;
    match D::try_from(elem).ok()? {
        D::Float => Some("f32"),
        D::Double => Some("f64"),
        D::Float16 => Some("f16"),
        D::Bfloat16 => Some("bf16"),
        _ => None,
    }
}

fn tensor(t: &TensorProto, what: &str) -> Result<Const, String> {
    use proto::tensor_proto::DataType as D;
    if !t.external_data.is_empty()
        || t.data_location() == proto::tensor_proto::DataLocation::External
    {
        return Err(format!("{what}: external tensor data is not supported"));
    }
    let mut dims = Vec::new();
    for &d in &t.dims {
        dims.push(usize::try_from(d).map_err(|_| format!("{what}: negative dimension {d}"))?);
    }
    let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let n = n.ok_or_else(|| format!("{what}: too many elements"))?;
    let raw = t.raw_data();
    let from_raw = |size: usize| -> Result<Vec<[u8; 8]>, String> {
        if raw.len() != n.saturating_mul(size) {
            return Err(format!(
                "{what}: raw data has {} bytes, expected {} for {n} elements",
                raw.len(),
                n.saturating_mul(size)
            ));
        }
        Ok(raw
            .chunks_exact(size)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..size].copy_from_slice(c);
                b
            })
            .collect())
    };
    let ty = D::try_from(t.data_type()).unwrap_or(D::Undefined);
    let data = match ty {
        D::Float if raw.is_empty() => {
            Data::Float(t.float_data.iter().map(|&x| f64::from(x)).collect())
        }
        D::Float => Data::Float(
            from_raw(4)?
                .into_iter()
                .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
        ),
        D::Double if raw.is_empty() => Data::Float(t.double_data.clone()),
        D::Double => Data::Float(from_raw(8)?.into_iter().map(f64::from_le_bytes).collect()),
        D::Int64 if raw.is_empty() => Data::Int(t.int64_data.clone()),
        D::Int64 => Data::Int(from_raw(8)?.into_iter().map(i64::from_le_bytes).collect()),
        D::Int32 if raw.is_empty() => {
            Data::Int(t.int32_data.iter().map(|&x| i64::from(x)).collect())
        }
        D::Int32 => Data::Int(
            from_raw(4)?
                .into_iter()
                .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
        ),
        other => {
            return Err(format!(
                "{what}: element type {} is not supported (FLOAT, DOUBLE, INT32, INT64)",
                other.as_str_name()
            ));
        }
    };
    let len = match &data {
        Data::Float(v) => v.len(),
        Data::Int(v) => v.len(),
    };
    if len != n {
        return Err(format!("{what}: {len} values for shape {dims:?}"));
    }
    Ok(Const { dims, data })
}

/// The state of one import: the model built so far and what every ONNX name stands for.
struct Lowering {
    opset: i64,
    runtime: String,
    slots: HashMap<String, Slot>,
    used: HashSet<String>,
    inputs: Vec<Input>,
    weights: Vec<Weight>,
    ops: Vec<Op>,
    /// The ONNX node each op came from (`None` for the loss).
    origin: Vec<Option<usize>>,
    loss: String,
    /// The node being lowered.
    node: usize,
}

/// A node being lowered, with its label for errors.
struct Ctx<'a> {
    n: &'a NodeProto,
    label: String,
}

type R<T> = Result<T, OnnxError>;

impl Ctx<'_> {
    fn err(&self, msg: impl Into<String>) -> OnnxError {
        OnnxError::Node {
            node: self.label.clone(),
            msg: msg.into(),
        }
    }

    fn attr(&self, name: &str) -> Option<&AttributeProto> {
        self.n.attribute.iter().find(|a| a.name() == name)
    }

    /// Refuse the first attribute the lowering does not read.
    fn only(&self, known: &[&str]) -> R<()> {
        match self.n.attribute.iter().find(|a| !known.contains(&a.name())) {
            Some(a) => Err(self.err(format!("attribute `{}` is not supported", a.name()))),
            None => Ok(()),
        }
    }

    fn int(&self, name: &str, default: i64) -> i64 {
        self.attr(name).map_or(default, |a| a.i())
    }

    fn float(&self, name: &str, default: f32) -> f64 {
        f64::from(self.attr(name).map_or(default, |a| a.f()))
    }

    fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.attr(name).map(|a| a.ints.clone())
    }

    fn string(&self, name: &str) -> Option<String> {
        self.attr(name)
            .map(|a| String::from_utf8_lossy(a.s()).into_owned())
    }

    /// Require attribute `name` to be `want` (or absent, meaning `default`).
    fn int_is(&self, name: &str, default: i64, want: i64) -> R<()> {
        let v = self.int(name, default);
        if v == want {
            Ok(())
        } else {
            Err(self.err(format!(
                "attribute `{name}` = {v} is not supported (expected {want})"
            )))
        }
    }

    /// The `i`-th input's ONNX name (empty when absent).
    fn input(&self, i: usize) -> &str {
        self.n.input.get(i).map_or("", String::as_str)
    }

    fn output(&self) -> R<&str> {
        match self.n.output.first() {
            Some(o) if !o.is_empty() => Ok(o),
            _ => Err(self.err("the node has no output")),
        }
    }

    /// Refuse extra (used) outputs.
    fn one_output(&self) -> R<()> {
        if self.n.output.iter().skip(1).any(|o| !o.is_empty()) {
            return Err(self.err(format!(
                "{} outputs are not supported (only the first)",
                self.n.output.len()
            )));
        }
        Ok(())
    }

    fn arity(&self, lo: usize, hi: usize) -> R<()> {
        let k = self.n.input.iter().filter(|s| !s.is_empty()).count();
        if k < lo || self.n.input.len() > hi {
            return Err(self.err(format!(
                "expected {lo}{} inputs, found {}",
                if hi > lo {
                    format!("..={hi}")
                } else {
                    String::new()
                },
                self.n.input.len()
            )));
        }
        Ok(())
    }
}

fn axis(c: &Ctx, a: i64, rank: usize, what: &str) -> R<usize> {
    let r = i64::try_from(rank).unwrap_or(i64::MAX);
    let k = if a < 0 { a + r } else { a };
    if (0..r).contains(&k) {
        Ok(k as usize)
    } else {
        Err(c.err(format!("{what} {a} is out of range for rank {rank}")))
    }
}

fn numel(s: &[usize]) -> usize {
    s.iter().product()
}

/// The typed refusal of a broadcast: the node, both operand shapes and why.
fn broadcast(c: &Ctx, a: &[usize], b: &[usize], why: &str) -> OnnxError {
    c.err(format!("Unsupported broadcast of {a:?} and {b:?}: {why}"))
}

/// The numpy-style (multidirectional) broadcast shape of `a` and `b`: the shapes aligned on the
/// right, each axis equal or 1 in one of them. `Err` says why there is none — a dimension that
/// is neither 1 nor equal, or a result of rank > 4 (the registry's shapes have at most 4 axes).
fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let r = a.len().max(b.len());
    let at = |s: &[usize], i: usize| {
        (i + s.len())
            .checked_sub(r)
            .and_then(|k| s.get(k).copied())
            .unwrap_or(1)
    };
    let mut out = Vec::with_capacity(r);
    for i in 0..r {
        let (x, y) = (at(a, i), at(b, i));
        out.push(match (x, y) {
            _ if x == y => x,
            (1, _) => y,
            (_, 1) => x,
            _ => {
                return Err(format!(
                    "dimensions {x} and {y} (axis {i} of the result) are neither equal nor 1"
                ));
            }
        });
    }
    if r > 4 {
        return Err(format!(
            "the result {out:?} would have rank {r} (shapes have at most 4 axes)"
        ));
    }
    Ok(out)
}

impl Lowering {
    fn new(opset: i64) -> Lowering {
        Lowering {
            opset,
            runtime: "f32".into(),
            slots: HashMap::new(),
            used: HashSet::new(),
            inputs: Vec::new(),
            weights: Vec::new(),
            ops: Vec::new(),
            origin: Vec::new(),
            loss: String::new(),
            node: 0,
        }
    }

    /// A fresh identifier based on `base`.
    fn fresh(&mut self, base: &str) -> String {
        let b = sanitize(base);
        let mut name = b.clone();
        let mut k = 1;
        while self.used.contains(&name) {
            name = format!("{b}_{k}");
            k += 1;
        }
        self.used.insert(name.clone());
        name
    }

    /// Append an op and return its result's identifier.
    #[allow(clippy::too_many_arguments)]
    fn op(
        &mut self,
        base: &str,
        op: &str,
        args: Vec<String>,
        params: Vec<f64>,
        shape: Option<Vec<usize>>,
        axes: Option<Vec<usize>>,
    ) -> String {
        let name = self.fresh(base);
        self.ops.push(Op {
            name: name.clone(),
            op: op.into(),
            args,
            params,
            shape,
            axes,
        });
        self.origin
            .push((self.node != usize::MAX).then_some(self.node));
        name
    }

    /// The value behind ONNX name `s` as an operand: a constant becomes an input (float only).
    fn val(&mut self, c: &Ctx, s: &str) -> R<(String, Vec<usize>)> {
        match self.slots.get(s).cloned() {
            Some(Slot::Val(n, sh)) => Ok((n, sh)),
            Some(Slot::Const(k)) => {
                let Data::Float(values) = k.data else {
                    return Err(c.err(format!(
                        "integer tensor `{s}` used as a float operand is not supported"
                    )));
                };
                let name = self.fresh(s);
                self.inputs.push(Input {
                    name: name.clone(),
                    shape: k.dims.clone(),
                    init_std: None,
                });
                self.weights.push(Weight {
                    name: name.clone(),
                    shape: k.dims.clone(),
                    values,
                });
                self.slots
                    .insert(s.to_string(), Slot::Val(name.clone(), k.dims.clone()));
                Ok((name, k.dims))
            }
            None if s.is_empty() => Err(c.err("a required input is missing")),
            None => Err(c.err(format!(
                "input `{s}` is not a graph input, an initializer or an earlier node's output"
            ))),
        }
    }

    /// The constant behind `s`, if it is one (not yet turned into an input).
    fn constant(&self, s: &str) -> Option<&Const> {
        match self.slots.get(s) {
            Some(Slot::Const(k)) => Some(k),
            _ => None,
        }
    }

    /// Integer constant operand `i` (Reshape's shape, Slice's bounds, Reduce's axes).
    fn ints_operand(&self, c: &Ctx, i: usize, what: &str) -> R<Option<Vec<i64>>> {
        let s = c.input(i);
        if s.is_empty() {
            return Ok(None);
        }
        match self.constant(s).map(|k| &k.data) {
            Some(Data::Int(v)) => Ok(Some(v.clone())),
            _ => Err(c.err(format!(
                "the {what} (`{s}`) must be a constant integer tensor"
            ))),
        }
    }

    fn bind(&mut self, onnx: &str, name: String, shape: Vec<usize>) {
        self.slots.insert(onnx.to_string(), Slot::Val(name, shape));
    }

    fn lower_graph(&mut self, g: &GraphProto, loss: Loss) -> R<()> {
        for t in &g.initializer {
            let k = tensor(t, &format!("initializer `{}`", t.name())).map_err(OnnxError::Graph)?;
            self.slots.insert(t.name().to_string(), Slot::Const(k));
        }
        let mut first = true;
        for vi in &g.input {
            if self.slots.contains_key(vi.name()) {
                continue; // an initializer also listed as an input (IR < 4)
            }
            let Some(proto::type_proto::Value::TensorType(tt)) =
                vi.r#type.as_ref().and_then(|t| t.value.as_ref())
            else {
                return Err(OnnxError::Graph(format!(
                    "input `{}` is not a tensor",
                    vi.name()
                )));
            };
            let rt = runtime_of(tt.elem_type()).ok_or_else(|| {
                OnnxError::Graph(format!(
                    "input `{}`: element type {} is not a float type",
                    vi.name(),
                    tt.elem_type()
                ))
            })?;
            if first {
                self.runtime = rt.into();
                first = false;
            }
            let mut shape = Vec::new();
            let dims =
                tt.shape.as_ref().map(|s| s.dim.as_slice()).ok_or_else(|| {
                    OnnxError::Graph(format!("input `{}` has no shape", vi.name()))
                })?;
            for (axis, d) in dims.iter().enumerate() {
                use proto::tensor_shape_proto::dimension::Value as V;
                match &d.value {
                    Some(V::DimValue(v)) if *v >= 0 => shape.push(*v as usize),
                    other => {
                        return Err(OnnxError::DynamicDim {
                            input: vi.name().into(),
                            axis,
                            found: match other {
                                Some(V::DimParam(p)) => format!("`{p}`"),
                                Some(V::DimValue(v)) => format!("{v}"),
                                None => "unknown".into(),
                            },
                        });
                    }
                }
            }
            let name = self.fresh(vi.name());
            self.inputs.push(Input {
                name: name.clone(),
                shape: shape.clone(),
                init_std: None,
            });
            self.bind(vi.name(), name, shape);
        }
        // How often each value is read, for fusing patterns whose intermediates are private.
        let mut uses: HashMap<&str, usize> = HashMap::new();
        for n in &g.node {
            for i in &n.input {
                *uses.entry(i.as_str()).or_default() += 1;
            }
        }
        for o in &g.output {
            *uses.entry(o.name()).or_default() += 1;
        }
        // `Constant` nodes read nothing, so lowering them first keeps a valid order; PyTorch's
        // exporter puts one before each node that reads it, and the fused patterns (GELU's erf
        // form, the decomposed LayerNorm) then see their nodes consecutively. Labels and op
        // origins keep the file's node indices.
        let (consts, rest): (Vec<usize>, Vec<usize>) =
            (0..g.node.len()).partition(|&k| g.node[k].op_type() == "Constant");
        let order: Vec<usize> = consts.into_iter().chain(rest).collect();
        let nodes: Vec<NodeProto> = order.iter().map(|&k| g.node[k].clone()).collect();
        let mut i = 0;
        while i < nodes.len() {
            self.node = order[i];
            if let Some(skip) = self.gelu_erf(&nodes, i, &uses)? {
                i += skip;
                continue;
            }
            if let Some(skip) = self.layer_norm_decomposed(&nodes, i, &uses)? {
                i += skip;
                continue;
            }
            let n = &nodes[i];
            let c = Ctx {
                n,
                label: label(order[i], n),
            };
            if !(n.domain().is_empty() || n.domain() == "ai.onnx") {
                return Err(c.err(format!(
                    "op type `{}` of domain `{}` is not supported",
                    n.op_type(),
                    n.domain()
                )));
            }
            self.lower_node(&c)?;
            i += 1;
        }
        let out = g
            .output
            .first()
            .ok_or_else(|| OnnxError::Graph("the graph has no output".into()))?;
        let (y, shape) = match self.slots.get(out.name()).cloned() {
            Some(Slot::Val(n, s)) => (n, s),
            _ => {
                return Err(OnnxError::Graph(format!(
                    "output `{}` is not computed by any node",
                    out.name()
                )));
            }
        };
        self.origin_none();
        match loss {
            Loss::Sum if shape.is_empty() && self.ops.iter().any(|o| o.name == y) => {
                self.loss = y;
            }
            Loss::Sum => {
                self.loss = self.op("loss", "sum", vec![y], vec![], None, None);
            }
            Loss::Mse => {
                let t = self.fresh("target");
                self.inputs.push(Input {
                    name: t.clone(),
                    shape,
                    init_std: None,
                });
                self.loss = self.op("loss", "mse", vec![y, t], vec![], None, None);
            }
        }
        Ok(())
    }

    /// Ops appended from now on belong to no node (the loss).
    fn origin_none(&mut self) {
        self.node = usize::MAX;
    }

    /// Whether `n` is a `ReduceMean` over the last axis of a rank-`rank` value with `keepdims = 1`.
    fn mean_last_keep(&self, n: &NodeProto, rank: usize) -> bool {
        let attr = |name: &str| n.attribute.iter().find(|a| a.name() == name);
        if n.op_type() != "ReduceMean" || attr("keepdims").is_some_and(|a| a.i() != 1) {
            return false;
        }
        let axes = if self.opset >= 18 {
            match n.input.get(1).and_then(|s| self.constant(s)) {
                Some(Const {
                    data: Data::Int(v), ..
                }) => v.clone(),
                _ => return false,
            }
        } else {
            attr("axes").map(|a| a.ints.clone()).unwrap_or_default()
        };
        let r = i64::try_from(rank).unwrap_or(0);
        axes.len() == 1 && (axes[0] == -1 || axes[0] == r - 1)
    }

    /// The LayerNorm PyTorch exports below opset 17: `m = ReduceMean(x) → d = Sub(x, m) →
    /// Pow(d, 2) → ReduceMean → Add(·, eps) → Sqrt → Div(d, ·) → Mul(·, γ) → Add(·, β)`, over
    /// the last axis with `keepdims = 1`, on consecutive nodes whose intermediates are private.
    /// Its real-number semantics is `layer_norm(x, γ, β, eps)`'s, so it is lowered to that one op
    /// (the `Sub(x, m)` alone would need a broadcast). Returns the nodes consumed.
    fn layer_norm_decomposed(
        &mut self,
        nodes: &[NodeProto],
        i: usize,
        uses: &HashMap<&str, usize>,
    ) -> R<Option<usize>> {
        const OPS: [&str; 9] = [
            "ReduceMean",
            "Sub",
            "Pow",
            "ReduceMean",
            "Add",
            "Sqrt",
            "Div",
            "Mul",
            "Add",
        ];
        let Some(w) = nodes.get(i..i + OPS.len()) else {
            return Ok(None);
        };
        if w.iter().map(|n| n.op_type()).ne(OPS) {
            return Ok(None);
        }
        let out = |k: usize| w[k].output.first().map_or("", String::as_str);
        let ins = |k: usize| -> Vec<&str> { w[k].input.iter().map(String::as_str).collect() };
        let x = ins(0).first().copied().unwrap_or("");
        let Some(Slot::Val(_, shape)) = self.slots.get(x).cloned() else {
            return Ok(None);
        };
        let n = shape.last().copied().unwrap_or(0);
        let float = |s: &str| match self.constant(s) {
            Some(Const {
                data: Data::Float(v),
                ..
            }) if v.len() == 1 => Some(v[0]),
            _ => None,
        };
        // The operand of binary node `k` other than `this`.
        let other = |k: usize, this: &str| -> Option<String> {
            let v = ins(k);
            (v.len() == 2 && v.contains(&this)).then(|| {
                v.iter()
                    .find(|s| **s != this)
                    .map_or(this, |s| s)
                    .to_string()
            })
        };
        let vector = |s: &str| match self.slots.get(s) {
            Some(Slot::Val(_, sh)) => sh == &[n],
            Some(Slot::Const(k)) => k.dims == [n] && matches!(k.data, Data::Float(_)),
            None => false,
        };
        let eps = other(4, out(3)).and_then(|s| float(&s));
        let gamma = other(7, out(6)).filter(|s| vector(s));
        let beta = other(8, out(7)).filter(|s| vector(s));
        let ok = self.mean_last_keep(&w[0], shape.len())
            && ins(1) == [x, out(0)]
            && ins(2).first() == Some(&out(1))
            && ins(2).get(1).and_then(|s| float(s)) == Some(2.0)
            && self.mean_last_keep(&w[3], shape.len())
            && ins(3).first() == Some(&out(2))
            && ins(5) == [out(4)]
            && ins(6) == [out(1), out(5)]
            && eps.is_some_and(|e| e > 0.0 && e.is_finite());
        let private = [1, 2, 1, 1, 1, 1, 1, 1]
            .iter()
            .enumerate()
            .all(|(k, &u)| uses.get(out(k)).copied() == Some(u));
        let (Some(eps), Some(gamma), Some(beta)) = (eps, gamma, beta) else {
            return Ok(None);
        };
        if !ok || !private {
            return Ok(None);
        }
        let c = Ctx {
            n: &w[0],
            label: label(self.node, &w[0]),
        };
        let (xv, _) = self.val(&c, x)?;
        let (g, _) = self.val(&c, &gamma)?;
        let (b, _) = self.val(&c, &beta)?;
        let y = self.op(out(8), "layer_norm", vec![xv, g, b], vec![eps], None, None);
        self.bind(out(8), y, shape);
        Ok(Some(OPS.len()))
    }

    /// PyTorch's exact GELU export: `Div(x, √2) → Erf → Add(·, 1) → Mul(x, ·) → Mul(·, 0.5)`
    /// on consecutive nodes (once `Constant` nodes are moved first) whose intermediates are read
    /// once. Returns the nodes consumed.
    fn gelu_erf(
        &mut self,
        nodes: &[NodeProto],
        i: usize,
        uses: &HashMap<&str, usize>,
    ) -> R<Option<usize>> {
        let Some(w) = nodes.get(i..i + 5) else {
            return Ok(None);
        };
        let ops: Vec<&str> = w.iter().map(|n| n.op_type()).collect();
        if ops != ["Div", "Erf", "Add", "Mul", "Mul"] {
            return Ok(None);
        }
        let out = |k: usize| w[k].output.first().map_or("", String::as_str);
        let ins = |k: usize| -> Vec<&str> { w[k].input.iter().map(String::as_str).collect() };
        let scalar = |s: &str, want: f64| {
            matches!(self.constant(s), Some(Const { data: Data::Float(v), .. })
                if v.len() == 1 && (v[0] - want).abs() <= 1e-6 * want.abs())
        };
        let other = |k: usize, this: &str| -> Option<String> {
            let v = ins(k);
            (v.len() == 2 && v.contains(&this)).then(|| {
                v.iter()
                    .find(|s| **s != this)
                    .map_or(this, |s| s)
                    .to_string()
            })
        };
        let d = ins(0);
        if d.len() != 2 || !scalar(d[1], std::f64::consts::SQRT_2) {
            return Ok(None);
        }
        let x = d[0];
        let chain_ok = ins(1) == [out(0)]
            && other(2, out(1)).is_some_and(|s| scalar(&s, 1.0))
            && other(3, out(2)).as_deref() == Some(x)
            && other(4, out(3)).is_some_and(|s| scalar(&s, 0.5));
        let private = (0..4).all(|k| uses.get(out(k)).copied() == Some(1));
        if !chain_ok || !private {
            return Ok(None);
        }
        let c = Ctx {
            n: &w[0],
            label: label(self.node, &w[0]),
        };
        let (xv, shape) = self.val(&c, x)?;
        let y = self.op(out(4), "gelu", vec![xv], vec![], None, None);
        self.bind(out(4), y, shape);
        Ok(Some(5))
    }

    /// An exact reshape to `to` (nothing when the shape is already `to`).
    fn reshape(&mut self, base: &str, x: String, from: &[usize], to: &[usize]) -> String {
        if from == to {
            x
        } else {
            self.op(base, "reshape", vec![x], vec![], Some(to.to_vec()), None)
        }
    }

    /// `x` of shape `s` broadcast to `to` (a shape `s` broadcasts to, see [`broadcast_shape`]),
    /// through the registry's ops so the certificate covers it: one exact `reshape` drops the
    /// size-1 axes that are broadcast (and adds the leading ones `s` lacks where `to` has 1),
    /// then one `expand(·, axis, n)` per broadcast axis, in increasing order, so each new axis
    /// lands at its final position. Nothing when `s` is already `to`.
    fn expand_to(&mut self, base: &str, x: String, s: &[usize], to: &[usize]) -> String {
        if s == to {
            return x;
        }
        let off = to.len().saturating_sub(s.len());
        let padded: Vec<usize> = std::iter::repeat_n(1, off)
            .chain(s.iter().copied())
            .collect();
        let pairs = || padded.iter().zip(to).enumerate();
        let spread: Vec<(usize, usize)> = pairs()
            .filter(|(_, (p, t))| p != t)
            .map(|(i, (_, &t))| (i, t))
            .collect();
        let kept: Vec<usize> = pairs()
            .filter(|(_, (p, t))| p == t)
            .map(|(_, (_, &t))| t)
            .collect();
        let mut y = self.reshape(&format!("{base}_r"), x, s, &kept);
        for (k, &(i, n)) in spread.iter().enumerate() {
            let name = if k + 1 == spread.len() {
                base.to_string()
            } else {
                format!("{base}_{i}")
            };
            y = self.op(
                &name,
                "expand",
                vec![y],
                vec![i as f64, n as f64],
                None,
                None,
            );
        }
        y
    }

    /// `h + b` for a bias `b` over the last axis of `h`, through exact reshapes for rank ≠ 2.
    fn add_bias(&mut self, out: &str, h: (String, Vec<usize>), b: (String, Vec<usize>)) -> String {
        let n = h.1.last().copied().unwrap_or(1);
        let bv = self.reshape(&format!("{out}_bias"), b.0, &b.1, &[n]);
        if h.1.len() == 2 {
            return self.op(out, "add_bias", vec![h.0, bv], vec![], None, None);
        }
        let flat = [numel(&h.1) / n.max(1), n];
        let hf = self.reshape(&format!("{out}_rows"), h.0, &h.1, &flat);
        let s = self.op(
            &format!("{out}_biased"),
            "add_bias",
            vec![hf, bv],
            vec![],
            None,
            None,
        );
        self.reshape(out, s, &flat, &h.1)
    }

    fn lower_node(&mut self, c: &Ctx) -> R<()> {
        let op_type = c.n.op_type();
        let out = c.output()?.to_string();
        let unary = |t: &str| -> Option<&'static str> {
            Some(match t {
                "Relu" => "relu",
                "Tanh" => "tanh",
                "Sigmoid" => "sigmoid",
                "Exp" => "exp",
                "Log" => "log",
                "Softplus" => "softplus",
                "Sqrt" => "sqrt",
                "Abs" => "abs",
                "Neg" => "neg",
                _ => return None,
            })
        };
        if let Some(op) = unary(op_type) {
            c.only(&[])?;
            c.arity(1, 1)?;
            let (x, s) = self.val(c, c.input(0))?;
            let y = self.op(&out, op, vec![x], vec![], None, None);
            self.bind(&out, y, s);
            return Ok(());
        }
        match op_type {
            "Identity" | "Dropout" => {
                c.only(if op_type == "Dropout" { &["seed"] } else { &[] })?;
                c.one_output()?;
                c.arity(1, if op_type == "Dropout" { 3 } else { 1 })?;
                if op_type == "Dropout" && !c.input(2).is_empty() {
                    return Err(c.err("training mode is not supported"));
                }
                let slot = self
                    .slots
                    .get(c.input(0))
                    .cloned()
                    .ok_or_else(|| c.err(format!("input `{}` is undefined", c.input(0))))?;
                self.slots.insert(out, slot);
            }
            "Constant" => {
                let a = c.n.attribute.first().ok_or_else(|| c.err("no value"))?;
                let k = match a.name() {
                    "value" => tensor(a.t.as_ref().ok_or_else(|| c.err("no tensor"))?, "value")
                        .map_err(|e| c.err(e))?,
                    "value_float" => Const {
                        dims: vec![],
                        data: Data::Float(vec![f64::from(a.f())]),
                    },
                    "value_floats" => Const {
                        dims: vec![a.floats.len()],
                        data: Data::Float(a.floats.iter().map(|&x| f64::from(x)).collect()),
                    },
                    "value_int" => Const {
                        dims: vec![],
                        data: Data::Int(vec![a.i()]),
                    },
                    "value_ints" => Const {
                        dims: vec![a.ints.len()],
                        data: Data::Int(a.ints.clone()),
                    },
                    other => return Err(c.err(format!("attribute `{other}` is not supported"))),
                };
                self.slots.insert(out, Slot::Const(k));
            }
            "LeakyRelu" => {
                c.only(&["alpha"])?;
                c.arity(1, 1)?;
                let (x, s) = self.val(c, c.input(0))?;
                let a = c.float("alpha", 0.01);
                let y = self.op(&out, "leaky_relu", vec![x], vec![a], None, None);
                self.bind(&out, y, s);
            }
            "Gelu" => {
                c.only(&["approximate"])?;
                c.arity(1, 1)?;
                let op = match c.string("approximate").as_deref() {
                    None | Some("none") => "gelu",
                    Some("tanh") => "gelu_tanh",
                    Some(o) => {
                        return Err(
                            c.err(format!("attribute `approximate` = `{o}` is not supported"))
                        );
                    }
                };
                let (x, s) = self.val(c, c.input(0))?;
                let y = self.op(&out, op, vec![x], vec![], None, None);
                self.bind(&out, y, s);
            }
            "Softmax" | "LogSoftmax" => {
                c.only(&["axis"])?;
                c.arity(1, 1)?;
                let (x, s) = self.val(c, c.input(0))?;
                let def = if self.opset >= 13 { -1 } else { 1 };
                let k = axis(c, c.int("axis", def), s.len(), "axis")?;
                if k + 1 != s.len() {
                    return Err(c.err(format!(
                        "attribute `axis` = {} is not supported (only the last axis)",
                        c.int("axis", def)
                    )));
                }
                let op = if op_type == "Softmax" {
                    "softmax"
                } else {
                    "log_softmax"
                };
                let y = self.op(&out, op, vec![x], vec![], None, None);
                self.bind(&out, y, s);
            }
            "Max" | "Min" => {
                c.only(&[])?;
                c.arity(2, 2)?;
                let a = self.val(c, c.input(0))?;
                let b = self.val(c, c.input(1))?;
                let op = if op_type == "Max" {
                    "maximum"
                } else {
                    "minimum"
                };
                self.broadcast_op(c, &out, op, a, b)?;
            }
            "Add" | "Sub" | "Mul" | "Div" => self.binary(c, &out)?,
            "Gemm" => self.gemm(c, &out)?,
            "MatMul" => self.matmul(c, &out)?,
            "LayerNormalization" => {
                c.only(&["axis", "epsilon", "stash_type"])?;
                c.one_output()?;
                c.arity(2, 3)?;
                let (x, s) = self.val(c, c.input(0))?;
                let k = axis(c, c.int("axis", -1), s.len(), "axis")?;
                if k + 1 != s.len() {
                    return Err(c.err(format!(
                        "attribute `axis` = {} is not supported (only the last axis)",
                        c.int("axis", -1)
                    )));
                }
                let (g, _) = self.val(c, c.input(1))?;
                let b = if c.input(2).is_empty() {
                    let n = s.last().copied().unwrap_or(1);
                    let name = self.fresh(&format!("{out}_bias"));
                    self.inputs.push(Input {
                        name: name.clone(),
                        shape: vec![n],
                        init_std: None,
                    });
                    self.weights.push(Weight {
                        name: name.clone(),
                        shape: vec![n],
                        values: vec![0.0; n],
                    });
                    name
                } else {
                    self.val(c, c.input(2))?.0
                };
                let eps = c.float("epsilon", 1e-5);
                let y = self.op(&out, "layer_norm", vec![x, g, b], vec![eps], None, None);
                self.bind(&out, y, s);
            }
            "Transpose" => {
                c.only(&["perm"])?;
                c.arity(1, 1)?;
                let (x, s) = self.val(c, c.input(0))?;
                let r = s.len();
                let perm = match c.ints("perm") {
                    Some(p) => {
                        let mut v = Vec::new();
                        for a in p {
                            v.push(axis(c, a, r, "perm entry")?);
                        }
                        v
                    }
                    None => (0..r).rev().collect(),
                };
                let shape: Vec<usize> = perm.iter().filter_map(|&a| s.get(a).copied()).collect();
                if perm.iter().copied().eq(0..r) {
                    self.bind(&out, x, s);
                } else if r == 2 {
                    let y = self.op(&out, "transpose", vec![x], vec![], None, None);
                    self.bind(&out, y, shape);
                } else {
                    let y = self.op(&out, "permute", vec![x], vec![], None, Some(perm));
                    self.bind(&out, y, shape);
                }
            }
            "Reshape" => {
                c.only(&["allowzero"])?;
                c.int_is("allowzero", 0, 0)?;
                c.arity(2, 2)?;
                let (x, s) = self.val(c, c.input(0))?;
                let want = self.ints_operand(c, 1, "target shape")?.unwrap_or_default();
                let mut t = Vec::new();
                let mut infer = None;
                for (i, &d) in want.iter().enumerate() {
                    match d {
                        0 => t.push(s.get(i).copied().ok_or_else(|| {
                            c.err(format!(
                                "shape entry 0 at {i} has no input dimension to copy"
                            ))
                        })?),
                        -1 if infer.is_none() => {
                            infer = Some(i);
                            t.push(1);
                        }
                        d if d > 0 => t.push(d as usize),
                        d => return Err(c.err(format!("shape entry {d} is not supported"))),
                    }
                }
                if let Some(i) = infer {
                    let known = numel(&t);
                    if known == 0 || !numel(&s).is_multiple_of(known) {
                        return Err(c.err(format!("cannot reshape {s:?} to {want:?}")));
                    }
                    t[i] = numel(&s) / known;
                }
                let y = self.op(&out, "reshape", vec![x], vec![], Some(t.clone()), None);
                self.bind(&out, y, t);
            }
            "Flatten" => {
                c.only(&["axis"])?;
                c.arity(1, 1)?;
                let (x, s) = self.val(c, c.input(0))?;
                let a = c.int("axis", 1);
                let k = if a == i64::try_from(s.len()).unwrap_or(-1) {
                    s.len()
                } else {
                    axis(c, a, s.len(), "axis")?
                };
                let t = vec![numel(&s[..k]), numel(&s[k..])];
                let y = self.op(&out, "reshape", vec![x], vec![], Some(t.clone()), None);
                self.bind(&out, y, t);
            }
            "Concat" => {
                c.only(&["axis"])?;
                if c.n.input.len() < 2 {
                    return Err(c.err("Concat of fewer than 2 inputs is not supported"));
                }
                let (mut acc, mut s) = self.val(c, c.input(0))?;
                let a = c
                    .attr("axis")
                    .map(|a| a.i())
                    .ok_or_else(|| c.err("attribute `axis` is required"))?;
                let k = axis(c, a, s.len(), "axis")?;
                let last = c.n.input.len() - 1;
                for i in 1..=last {
                    let (b, sb) = self.val(c, c.input(i))?;
                    let base = if i == last {
                        out.clone()
                    } else {
                        format!("{out}_{i}")
                    };
                    acc = self.op(&base, "concat", vec![acc, b], vec![k as f64], None, None);
                    if let (Some(x), Some(y)) = (s.get_mut(k), sb.get(k)) {
                        *x += *y;
                    }
                }
                self.bind(&out, acc, s);
            }
            "Slice" => self.slice(c, &out)?,
            "ReduceSum" | "ReduceMean" => self.reduce(c, &out)?,
            "Conv" => self.conv(c, &out)?,
            "MaxPool" | "AveragePool" => self.pool(c, &out)?,
            other => {
                return Err(c.err(format!("op type `{other}` is not supported")));
            }
        }
        Ok(())
    }

    fn binary(&mut self, c: &Ctx, out: &str) -> R<()> {
        let t = c.n.op_type();
        c.only(&[])?;
        c.arity(2, 2)?;
        // A one-element constant factor: `scale` (Div only when 1/c is exact).
        for (k, j) in [(1usize, 0usize), (0, 1)] {
            let factor = match self.constant(c.input(k)) {
                Some(Const {
                    data: Data::Float(v),
                    ..
                }) if v.len() == 1 => v[0],
                _ => continue,
            };
            let f = match t {
                "Mul" => Some(factor),
                "Div" if k == 1 && factor != 0.0 && factor.is_finite() => {
                    let r = 1.0 / factor;
                    (r * factor == 1.0 && factor.abs().log2().fract() == 0.0).then_some(r)
                }
                _ => None,
            };
            if let Some(f) = f {
                let (x, s) = self.val(c, c.input(j))?;
                let y = self.op(out, "scale", vec![x], vec![f], None, None);
                self.bind(out, y, s);
                return Ok(());
            }
        }
        let a = self.val(c, c.input(0))?;
        let b = self.val(c, c.input(1))?;
        let is_bias = |h: &[usize], b: &[usize]| {
            h.len() >= 2
                && !b.is_empty()
                && b.len() <= h.len()
                && b.last() == h.last()
                && b[..b.len() - 1].iter().all(|&d| d == 1)
        };
        // A bias over the last axis: `add_bias` is one op with a tighter bound than expand + add.
        if t == "Add" && a.1 != b.1 && (is_bias(&a.1, &b.1) || is_bias(&b.1, &a.1)) {
            let (h, bias) = if is_bias(&a.1, &b.1) { (a, b) } else { (b, a) };
            let s = h.1.clone();
            let y = self.add_bias(out, h, bias);
            self.bind(out, y, s);
            return Ok(());
        }
        let op = t.to_ascii_lowercase();
        self.broadcast_op(c, out, &op, a, b)
    }

    /// `op(a, b)` for a same-shape binary op of the registry, with numpy-style broadcasting:
    /// each operand that needs it goes through [`Lowering::expand_to`] to the broadcast shape
    /// first. A typed error names the node and both shapes when they do not broadcast (or the
    /// result would need rank > 4).
    fn broadcast_op(
        &mut self,
        c: &Ctx,
        out: &str,
        op: &str,
        a: (String, Vec<usize>),
        b: (String, Vec<usize>),
    ) -> R<()> {
        // Equal shapes need no broadcast (a rank-5 pair is left to the checker's message).
        let to = if a.1 == b.1 {
            a.1.clone()
        } else {
            broadcast_shape(&a.1, &b.1).map_err(|why| broadcast(c, &a.1, &b.1, &why))?
        };
        let x = self.expand_to(&format!("{out}_{}", a.0), a.0, &a.1, &to);
        let y = self.expand_to(&format!("{out}_{}", b.0), b.0, &b.1, &to);
        let z = self.op(out, op, vec![x, y], vec![], None, None);
        self.bind(out, z, to);
        Ok(())
    }

    fn gemm(&mut self, c: &Ctx, out: &str) -> R<()> {
        c.only(&["alpha", "beta", "transA", "transB"])?;
        c.arity(2, 3)?;
        c.int_is("transA", 0, 0)?;
        for a in ["alpha", "beta"] {
            let v = c.float(a, 1.0);
            if v != 1.0 {
                return Err(c.err(format!(
                    "attribute `{a}` = {v} is not supported (expected 1)"
                )));
            }
        }
        let (a, sa) = self.val(c, c.input(0))?;
        let (mut b, mut sb) = self.val(c, c.input(1))?;
        if c.int("transB", 0) != 0 {
            let name = format!("{b}_t");
            b = self.op(&name, "transpose", vec![b], vec![], None, None);
            sb.reverse();
        }
        let m = sa.first().copied().unwrap_or(0);
        let n = sb.get(1).copied().unwrap_or(0);
        if c.input(2).is_empty() {
            let y = self.op(out, "matmul", vec![a, b], vec![], None, None);
            self.bind(out, y, vec![m, n]);
            return Ok(());
        }
        let z = self.op(
            &format!("{out}_mm"),
            "matmul",
            vec![a, b],
            vec![],
            None,
            None,
        );
        let (bias, sc) = self.val(c, c.input(2))?;
        let y = if sc == [m, n] {
            self.op(out, "add", vec![z, bias], vec![], None, None)
        } else if sc == [n] || sc == [1, n] {
            self.add_bias(out, (z, vec![m, n]), (bias, sc))
        } else {
            // Any other `C` broadcasts unidirectionally to `[m, n]`.
            let to = broadcast_shape(&[m, n], &sc)
                .ok()
                .filter(|t| t == &[m, n])
                .ok_or_else(|| {
                    broadcast(
                        c,
                        &[m, n],
                        &sc,
                        "Gemm's C must broadcast to the product's shape",
                    )
                })?;
            let e = self.expand_to(&format!("{out}_c"), bias, &sc, &to);
            self.op(out, "add", vec![z, e], vec![], None, None)
        };
        self.bind(out, y, vec![m, n]);
        Ok(())
    }

    fn matmul(&mut self, c: &Ctx, out: &str) -> R<()> {
        c.only(&[])?;
        c.arity(2, 2)?;
        let (a, sa) = self.val(c, c.input(0))?;
        let (b, sb) = self.val(c, c.input(1))?;
        let (op, shape) = match (sa.len(), sb.len()) {
            (1, 1) => ("dot", vec![]),
            (2, 1) => ("matvec", vec![sa[0]]),
            (r, 2) if r >= 2 => {
                let mut s = sa.clone();
                s[r - 1] = sb[1];
                ("matmul", s)
            }
            (r, q) if r == q && r >= 3 && sa[..r - 2] == sb[..r - 2] => {
                let mut s = sa.clone();
                s[r - 1] = sb[r - 1];
                ("bmm", s)
            }
            _ => {
                return Err(broadcast(
                    c,
                    &sa,
                    &sb,
                    "MatMul needs [m, k]·[k], [k]·[k], [.., m, k]·[k, n] or equal leading axes",
                ));
            }
        };
        let y = self.op(out, op, vec![a, b], vec![], None, None);
        self.bind(out, y, shape);
        Ok(())
    }

    fn slice(&mut self, c: &Ctx, out: &str) -> R<()> {
        let (starts, ends, axes, steps) = if self.opset >= 10 {
            c.only(&[])?;
            c.arity(3, 5)?;
            (
                self.ints_operand(c, 1, "starts")?.unwrap_or_default(),
                self.ints_operand(c, 2, "ends")?.unwrap_or_default(),
                self.ints_operand(c, 3, "axes")?,
                self.ints_operand(c, 4, "steps")?,
            )
        } else {
            c.only(&["starts", "ends", "axes"])?;
            (
                c.ints("starts").unwrap_or_default(),
                c.ints("ends").unwrap_or_default(),
                c.ints("axes"),
                None,
            )
        };
        if steps.as_ref().is_some_and(|s| s.iter().any(|&x| x != 1)) {
            return Err(c.err("steps other than 1 are not supported"));
        }
        if starts.len() != ends.len() {
            return Err(c.err("starts and ends differ in length"));
        }
        let (mut x, mut s) = self.val(c, c.input(0))?;
        let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
        let k = starts.len();
        for (i, ((&st, &en), &ax)) in starts.iter().zip(&ends).zip(&axes).enumerate() {
            let a = axis(c, ax, s.len(), "axis")?;
            let d = i64::try_from(s[a]).unwrap_or(i64::MAX);
            let clamp = |v: i64| (if v < 0 { v + d } else { v }).clamp(0, d) as usize;
            let (lo, hi) = (clamp(st), clamp(en));
            if lo >= hi {
                return Err(c.err(format!("empty slice {st}..{en} of axis {a}")));
            }
            if lo == 0 && hi == s[a] {
                continue;
            }
            let base = if i + 1 == k {
                out.to_string()
            } else {
                format!("{out}_{i}")
            };
            x = self.op(
                &base,
                "slice",
                vec![x],
                vec![a as f64, lo as f64, hi as f64],
                None,
                None,
            );
            s[a] = hi - lo;
        }
        self.bind(out, x, s);
        Ok(())
    }

    fn reduce(&mut self, c: &Ctx, out: &str) -> R<()> {
        let t = c.n.op_type();
        let axes_as_input = (t == "ReduceSum" && self.opset >= 13) || self.opset >= 18;
        let axes = if axes_as_input {
            c.only(&["keepdims", "noop_with_empty_axes"])?;
            c.arity(1, 2)?;
            self.ints_operand(c, 1, "axes")?
        } else {
            c.only(&["keepdims", "axes"])?;
            c.arity(1, 1)?;
            c.ints("axes")
        };
        c.int_is("noop_with_empty_axes", 0, 0)?;
        let keep = c.int("keepdims", 1) != 0;
        let (x, s) = self.val(c, c.input(0))?;
        let op = if t == "ReduceSum" { "sum" } else { "mean" };
        let axes = axes.unwrap_or_default();
        let (y, reduced, kept) = match axes.as_slice() {
            [] => {
                let base = if keep {
                    format!("{out}_all")
                } else {
                    out.to_string()
                };
                let y = self.op(&base, op, vec![x], vec![], None, None);
                (y, vec![], vec![1; s.len()])
            }
            [a] => {
                let k = axis(c, *a, s.len(), "axis")?;
                let base = if keep {
                    format!("{out}_drop")
                } else {
                    out.to_string()
                };
                let y = self.op(&base, op, vec![x], vec![k as f64], None, None);
                let mut r = s.clone();
                r.remove(k);
                let mut kept = s.clone();
                kept[k] = 1;
                (y, r, kept)
            }
            many => {
                return Err(c.err(format!(
                    "reducing {} axes at once is not supported (one axis or all)",
                    many.len()
                )));
            }
        };
        if keep {
            let z = self.op(out, "reshape", vec![y], vec![], Some(kept.clone()), None);
            self.bind(out, z, kept);
        } else {
            self.bind(out, y, reduced);
        }
        Ok(())
    }

    /// Equal entries of an int list attribute (`strides`, `pads`, …), or `default`.
    fn uniform(c: &Ctx, name: &str, default: i64) -> R<usize> {
        let v = c.ints(name).unwrap_or_default();
        let x = v.first().copied().unwrap_or(default);
        if v.iter().any(|&y| y != x) || x < 0 {
            return Err(c.err(format!(
                "attribute `{name}` = {v:?} is not supported (equal non-negative entries only)"
            )));
        }
        Ok(x as usize)
    }

    fn conv(&mut self, c: &Ctx, out: &str) -> R<()> {
        c.only(&[
            "auto_pad",
            "dilations",
            "group",
            "kernel_shape",
            "pads",
            "strides",
        ])?;
        c.arity(2, 3)?;
        if let Some(p) = c.string("auto_pad").filter(|p| p != "NOTSET") {
            return Err(c.err(format!("attribute `auto_pad` = `{p}` is not supported")));
        }
        c.int_is("group", 1, 1)?;
        if Self::uniform(c, "dilations", 1)? != 1 {
            return Err(c.err("attribute `dilations` other than 1 is not supported"));
        }
        let stride = Self::uniform(c, "strides", 1)?;
        let pad = Self::uniform(c, "pads", 0)?;
        let (x, sx) = self.val(c, c.input(0))?;
        let (w, sw) = self.val(c, c.input(1))?;
        if let Some(k) = c.ints("kernel_shape") {
            let ks: Vec<usize> = sw.iter().skip(2).copied().collect();
            if k.iter().map(|&v| v as usize).ne(ks.iter().copied()) {
                return Err(c.err(format!(
                    "attribute `kernel_shape` = {k:?} does not match the weight's {ks:?}"
                )));
            }
        }
        let op = match sx.len() {
            4 => "conv2d",
            3 => "conv1d",
            r => {
                return Err(c.err(format!(
                    "rank-{r} input is not supported (conv1d or conv2d)"
                )));
            }
        };
        if stride == 0 || sw.len() != sx.len() {
            return Err(c.err(format!(
                "input {sx:?} and weight {sw:?} do not form a convolution"
            )));
        }
        let mut shape = vec![sx[0], sw[0]];
        for (d, k) in sx[2..].iter().zip(&sw[2..]) {
            let padded = d + 2 * pad;
            if padded < *k {
                return Err(c.err(format!(
                    "kernel {k} is larger than the padded input {padded}"
                )));
            }
            shape.push((padded - k) / stride + 1);
        }
        let params = vec![stride as f64, pad as f64];
        if c.input(2).is_empty() {
            let y = self.op(out, op, vec![x, w], params, None, None);
            self.bind(out, y, shape);
            return Ok(());
        }
        let z = self.op(&format!("{out}_conv"), op, vec![x, w], params, None, None);
        let (b, sb) = self.val(c, c.input(2))?;
        // Channels last, a bias over rows, and back: permute and reshape are exact.
        let r = shape.len();
        let to_last: Vec<usize> = std::iter::once(0)
            .chain(2..r)
            .chain(std::iter::once(1))
            .collect();
        let back: Vec<usize> = std::iter::once(0)
            .chain(std::iter::once(r - 1))
            .chain(1..r - 1)
            .collect();
        let last_shape: Vec<usize> = to_last.iter().map(|&a| shape[a]).collect();
        let p = self.op(
            &format!("{out}_cl"),
            "permute",
            vec![z],
            vec![],
            None,
            Some(to_last),
        );
        let biased = self.add_bias(&format!("{out}_cl_b"), (p, last_shape), (b, sb));
        let y = self.op(out, "permute", vec![biased], vec![], None, Some(back));
        self.bind(out, y, shape);
        Ok(())
    }

    fn pool(&mut self, c: &Ctx, out: &str) -> R<()> {
        let t = c.n.op_type();
        c.only(&[
            "auto_pad",
            "ceil_mode",
            "count_include_pad",
            "dilations",
            "kernel_shape",
            "pads",
            "storage_order",
            "strides",
        ])?;
        c.one_output()?;
        c.arity(1, 1)?;
        if let Some(p) = c.string("auto_pad").filter(|p| p != "NOTSET") {
            return Err(c.err(format!("attribute `auto_pad` = `{p}` is not supported")));
        }
        c.int_is("ceil_mode", 0, 0)?;
        c.int_is("storage_order", 0, 0)?;
        if Self::uniform(c, "dilations", 1)? != 1 {
            return Err(c.err("attribute `dilations` other than 1 is not supported"));
        }
        if Self::uniform(c, "pads", 0)? != 0 {
            return Err(c.err("attribute `pads` other than 0 is not supported"));
        }
        let k = Self::uniform(c, "kernel_shape", 0)?;
        let stride = Self::uniform(c, "strides", 1)?;
        if stride != k || c.ints("kernel_shape").map_or(0, |v| v.len()) != 2 {
            return Err(c.err(format!(
                "attribute `strides` = {stride} is not supported (a square {k}×{k} window with stride {k} only)"
            )));
        }
        let (x, s) = self.val(c, c.input(0))?;
        if s.len() != 4 || k == 0 {
            return Err(c.err(format!("input {s:?} is not [b, c, h, w]")));
        }
        let shape = vec![s[0], s[1], s[2] / k, s[3] / k];
        let op = if t == "MaxPool" {
            "max_pool2d"
        } else {
            "avg_pool2d"
        };
        let y = self.op(out, op, vec![x], vec![k as f64], None, None);
        self.bind(out, y, shape);
        Ok(())
    }
}
