//! Checking a [`Model`]: it is lowered to a `scale-dsl` program and checked by the language's
//! own checker against the one op registry; every error is mapped back to the input or layer
//! it came from.

use crate::model::Model;
use scale_dsl::build;
use scale_dsl::plan::RUNTIMES;
use scale_dsl::{Ctxt, Expr, ParamKind, Program};
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

/// Which item of the model a statement of the lowered program came from.
#[derive(Clone, Copy)]
enum Origin {
    Model,
    Input(usize),
    Layer(usize),
}

impl Origin {
    fn at(self, m: &Model) -> String {
        match self {
            Origin::Model => format!("model `{}`", m.name),
            Origin::Input(i) => {
                let name = m.inputs.get(i).map_or("?", |x| x.name.as_str());
                format!("input {i} (`{name}`)")
            }
            Origin::Layer(i) => match m.ops.get(i) {
                Some(op) => format!("layer {i} (`{}`, {})", op.name, op.op),
                None => format!("layer {i}"),
            },
        }
    }
}

/// A layer's call: its operands, then its literals in the order of the op's registry row
/// (`params` supplies the numbers, `shape` the shape literal, `axes` a permutation). Literals the row does not take
/// are appended anyway, so the checker reports the wrong argument count.
fn lower_call(op: &crate::model::Op, err: &dyn Fn(String) -> GenError) -> Result<Expr, GenError> {
    let op_ident = build::ident(&op.op).ok_or_else(|| err(format!("unknown op `{}`", op.op)))?;
    let mut args = Vec::new();
    for a in &op.args {
        let id = build::ident(a)
            .ok_or_else(|| err(format!("`{a}` is not an input or an earlier layer")))?;
        args.push(build::name(id));
    }
    let float =
        |v: f64| build::float(v).ok_or_else(|| err("float parameters must be finite".into()));
    let mut numbers = op.params.iter().copied();
    let mut shape = op.shape.as_deref();
    let mut axes = op.axes.as_deref();
    for p in scale_dsl::registry::lookup_arity(&op.op, op.arity()).map_or(&[][..], |row| row.params)
    {
        match p.kind {
            ParamKind::Float | ParamKind::PositiveFloat => {
                if let Some(v) = numbers.next() {
                    args.push(float(v)?);
                }
            }
            ParamKind::Int | ParamKind::Axis | ParamKind::Index => {
                if let Some(v) = numbers.next() {
                    // JSON numbers are floats; an integral one is written as an integer, and
                    // anything else is left for the checker to reject.
                    let int = v >= 0.0 && v.fract() == 0.0 && v < 2f64.powi(53);
                    args.push(if int {
                        build::int(v as usize)
                    } else {
                        float(v)?
                    });
                }
            }
            ParamKind::Shape => {
                if let Some(t) = shape.take() {
                    args.push(build::shape(t));
                }
            }
            ParamKind::Ints => {
                if let Some(a) = axes.take() {
                    args.push(build::shape(a));
                }
            }
        }
    }
    if let Some(a) = axes {
        args.push(build::shape(a));
    }
    for v in numbers {
        args.push(float(v)?);
    }
    if let Some(t) = shape {
        args.push(build::shape(t));
    }
    Ok(build::call(op_ident, args))
}

/// The model as a program of the language, with the origin of every statement.
fn lower(m: &Model) -> Result<(Program, Vec<Origin>), GenError> {
    let mut stmts = Vec::new();
    let mut origin = Vec::new();
    if let Some(rt) = build::ident(&m.runtime) {
        stmts.push(build::runtime(rt));
        origin.push(Origin::Model);
    }
    for (i, inp) in m.inputs.iter().enumerate() {
        let err = |msg: String| GenError {
            at: Origin::Input(i).at(m),
            msg,
        };
        let name = build::ident(&inp.name)
            .filter(|_| ident_ok(&inp.name))
            .ok_or_else(|| err("the name must be a Rust identifier".into()))?;
        stmts.push(build::input(name, &inp.shape));
        origin.push(Origin::Input(i));
    }
    for (i, op) in m.ops.iter().enumerate() {
        let err = |msg: String| GenError {
            at: Origin::Layer(i).at(m),
            msg,
        };
        let name = build::ident(&op.name)
            .filter(|_| ident_ok(&op.name))
            .ok_or_else(|| err("the name must be a Rust identifier".into()))?;
        stmts.push(build::let_(name, lower_call(op, &err)?));
        origin.push(Origin::Layer(i));
    }
    Ok((Program { krate: None, stmts }, origin))
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
        at: Origin::Model.at(m),
        msg,
    };
    if !ident_ok(&m.name) {
        return Err(whole("the model name must be a Rust identifier".into()));
    }
    if !RUNTIMES.iter().any(|(r, _)| *r == m.runtime) {
        return Err(whole(format!(
            "unknown runtime `{}` (expected f32, f64, bf16 or f16)",
            m.runtime
        )));
    }
    if m.ops.is_empty() {
        return Err(whole("no ops: a graph needs at least one".into()));
    }
    let (program, origin) = lower(m)?;
    let mut cx = Ctxt::new();
    let plan = scale_dsl::check(&program, &mut cx);
    if let Some(d) = cx.into_diagnostics().into_iter().next() {
        let from = d.stmt.and_then(|s| origin.get(s).copied());
        let mut msg = d.error.to_string();
        // The checker prefixes shape errors with the op, which the layer already names.
        if let Some(Origin::Layer(i)) = from
            && let Some(op) = m.ops.get(i)
            && let Some(rest) = msg.strip_prefix(&format!("{}: ", op.op))
        {
            msg = rest.to_string();
        }
        return Err(GenError {
            at: from.unwrap_or(Origin::Model).at(m),
            msg,
        });
    }
    let plan = plan.ok_or_else(|| whole("the checker gave no plan".into()))?;
    // Every dimension of a JSON model is a literal, so every checked shape is too.
    let shapes: Vec<Vec<usize>> = plan
        .inputs
        .iter()
        .map(|i| &i.shape)
        .chain(plan.nodes.iter().map(|n| &n.out))
        .map(|s| scale_dsl::shape::literal_dims(s).unwrap_or_default())
        .collect();
    let loss = m
        .loss
        .clone()
        .unwrap_or_else(|| m.ops.last().map(|o| o.name.clone()).unwrap_or_default());
    let entry = plan.names.iter().find(|(n, _)| *n == loss).map(|(_, e)| *e);
    match entry {
        Some(k) if k >= m.inputs.len() && shapes.get(k).is_some_and(Vec::is_empty) => {}
        Some(_) => return Err(whole(format!("the loss `{loss}` must be a scalar layer"))),
        None => return Err(whole(format!("the loss `{loss}` is not a layer"))),
    }
    Ok(Checked {
        model: m.clone(),
        shapes,
        loss,
    })
}
