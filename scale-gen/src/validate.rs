//! Checking a [`Model`]: names, ops, arities and shapes, with errors that name the layer.

use crate::model::Model;
use crate::signature;
use std::collections::HashMap;
use std::fmt;

/// A rejected model description.
#[derive(Debug, Clone, PartialEq)]
pub struct GenError {
    /// Where: `input 2 (`w1`)` or `layer 5 (`h`, matvec)`, or the whole model.
    pub at: String,
    /// What is wrong.
    pub msg: String,
}

impl fmt::Display for GenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.msg)
    }
}

impl std::error::Error for GenError {}

/// A model whose every name, op and shape checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The model.
    pub model: Model,
    /// Shape of every input, then of every op result, in order.
    pub shapes: Vec<Vec<usize>>,
    /// Name of the scalar loss.
    pub loss: String,
}

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen", "input",
];

fn ident_ok(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch == '_' || ch.is_ascii_alphabetic())
        && c.all(|ch| ch == '_' || ch.is_ascii_alphanumeric())
        && !KEYWORDS.contains(&s)
        && !s.starts_with("__")
}

/// Check a model description.
///
/// ```
/// let m: scale_gen::Model = serde_json::from_str(r#"{ "name": "t",
///   "inputs": [ { "name": "x", "shape": [3] } ],
///   "ops": [ { "name": "y", "op": "relu", "args": ["x"] }, { "name": "s", "op": "sum", "args": ["y"] } ] }"#)?;
/// let c = scale_gen::check(&m)?;
/// assert_eq!(c.shapes, vec![vec![3], vec![3], vec![]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check(m: &Model) -> Result<Checked, GenError> {
    let whole = |msg: String| GenError {
        at: format!("model `{}`", m.name),
        msg,
    };
    if !ident_ok(&m.name) {
        return Err(whole("the model name must be a Rust identifier".into()));
    }
    if !["f32", "f64", "bf16", "f16"].contains(&m.runtime.as_str()) {
        return Err(whole(format!(
            "unknown runtime `{}` (expected f32, f64, bf16 or f16)",
            m.runtime
        )));
    }
    if m.ops.is_empty() {
        return Err(whole("no ops: a graph needs at least one".into()));
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut shapes: Vec<Vec<usize>> = Vec::new();
    for (i, inp) in m.inputs.iter().enumerate() {
        let at = || format!("input {i} (`{}`)", inp.name);
        if !ident_ok(&inp.name) {
            return Err(GenError {
                at: at(),
                msg: "the name must be a Rust identifier".into(),
            });
        }
        if index.insert(&inp.name, shapes.len()).is_some() {
            return Err(GenError {
                at: at(),
                msg: "name defined twice".into(),
            });
        }
        if inp.shape.len() > 4 || inp.shape.contains(&0) {
            return Err(GenError {
                at: at(),
                msg: format!(
                    "bad shape {:?}: rank 0 to 4, every dimension ≥ 1",
                    inp.shape
                ),
            });
        }
        shapes.push(inp.shape.clone());
    }
    for (i, op) in m.ops.iter().enumerate() {
        let at = || format!("layer {i} (`{}`, {})", op.name, op.op);
        let err = |msg: String| GenError { at: at(), msg };
        if !ident_ok(&op.name) {
            return Err(err("the name must be a Rust identifier".into()));
        }
        let sig =
            signature::lookup(&op.op).ok_or_else(|| err(format!("unknown op `{}`", op.op)))?;
        if op.args.len() != sig.arity {
            return Err(err(format!(
                "takes {} operand(s), found {}",
                sig.arity,
                op.args.len()
            )));
        }
        if op.params.len() != sig.floats {
            return Err(err(format!(
                "takes {} float parameter(s), found {}",
                sig.floats,
                op.params.len()
            )));
        }
        if op.params.iter().any(|p| !p.is_finite()) {
            return Err(err("float parameters must be finite".into()));
        }
        if op.shape.is_some() != (op.op == "reshape") {
            return Err(err("`shape` is for reshape (and reshape needs it)".into()));
        }
        let mut arg_shapes = Vec::new();
        for a in &op.args {
            let &k = index
                .get(a.as_str())
                .ok_or_else(|| err(format!("`{a}` is not an input or an earlier layer")))?;
            arg_shapes.push(shapes[k].as_slice());
        }
        if let Some(t) = &op.shape
            && (t.len() > 4 || t.contains(&0))
        {
            return Err(err(format!("bad target shape {t:?}")));
        }
        let out = (sig.shape)(&arg_shapes, op.shape.as_deref()).map_err(err)?;
        if index.insert(&op.name, shapes.len()).is_some() {
            return Err(err("name defined twice".into()));
        }
        shapes.push(out);
    }
    let loss = m
        .loss
        .clone()
        .unwrap_or_else(|| m.ops.last().map(|o| o.name.clone()).unwrap_or_default());
    match index.get(loss.as_str()) {
        Some(&k) if k >= m.inputs.len() && shapes[k].is_empty() => {}
        Some(_) => return Err(whole(format!("the loss `{loss}` must be a scalar layer"))),
        None => return Err(whole(format!("the loss `{loss}` is not a layer"))),
    }
    Ok(Checked {
        model: m.clone(),
        shapes,
        loss,
    })
}
