//! Every op of the registry (`scale_dsl::OPS`) is covered everywhere an op must be: per-op
//! obligations, the random-graph harness, the macro's UI pass case, the tightness report, the
//! generator and the ops page the macro's "unknown op" message points at. A row added without them fails here, naming the op and each missing place.
//!
//! The test files are read as text: a place covers an op when one of its table entries (the
//! macro invocations that make a test row) calls the op's constructor `ops::NAME`; the UI pass
//! case is parsed with the language's own parser, and the generator is run on a one-layer model.

use scale_dsl::registry::{self, OpDef, ParamKind};
use scale_dsl::{Expr, Program, Stmt};
use std::path::Path;
use std::str::FromStr;

/// The texts the coverage is read from.
struct Sources {
    obligations: String,
    harness: String,
    ui_pass: String,
    tightness: String,
    docs: String,
}

impl Sources {
    fn read() -> Sources {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let read =
            |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        Sources {
            obligations: read(OBLIGATIONS),
            harness: read(HARNESS),
            ui_pass: read(UI_PASS),
            tightness: read(TIGHTNESS),
            docs: read(DOCS),
        }
    }
}

const OBLIGATIONS: &str = "scale-core/tests/op_obligations.rs";
const HARNESS: &str = "tests/graph_theorems.rs";
const UI_PASS: &str = "tests/ui/macro/pass/all_ops.rs";
const TIGHTNESS: &str = "examples/tightness.rs";
const DOCS: &str = "src/docs.rs";

/// The doc comment of `pub mod ops {}` in the facade's docs (the table of ops).
fn ops_page(docs: &str) -> &str {
    let end = docs.find("pub mod ops {}").unwrap_or(0);
    let start = docs[..end].rfind("{}").map_or(0, |i| i + 2);
    &docs[start..end]
}

/// The contents of every invocation `opener … )` (or `… }`) in `text`, brackets balanced.
fn invocations<'a>(text: &'a str, opener: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for (start, _) in text.match_indices(opener) {
        let body = &text[start + opener.len()..];
        let mut depth = 1usize;
        let mut end = body.len();
        for (i, ch) in body.char_indices() {
            match ch {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push(&body[..end]);
    }
    out
}

/// Whether `text` calls the constructor `ops::NAME` (not a longer name such as `ops::NAME_x`).
fn calls_ctor(text: &str, name: &str) -> bool {
    let pat = format!("ops::{name}");
    text.match_indices(&pat).any(|(i, _)| {
        !text[i + pat.len()..]
            .chars()
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
    })
}

fn any_calls(text: &str, openers: &[&str], name: &str) -> bool {
    openers
        .iter()
        .flat_map(|o| invocations(text, o))
        .any(|body| calls_ctor(body, name))
}

/// Every op applied in the `scale_graph! { … }` program(s) of `text`, by the language's parser.
fn ops_applied(text: &str) -> Vec<String> {
    fn walk(e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::Call { op, args, .. } => {
                out.push(op.to_string());
                args.iter().for_each(|a| walk(a, out));
            }
            Expr::Infix { op, lhs, rhs, .. } => {
                out.push(op.op_name().to_string());
                walk(lhs, out);
                walk(rhs, out);
            }
            Expr::Neg { inner, .. } => {
                out.push("neg".into());
                walk(inner, out);
            }
            Expr::Name(_) | Expr::Num { .. } | Expr::Shape { .. } => {}
        }
    }
    let mut out = Vec::new();
    for body in invocations(text, "scale_graph! {") {
        let Ok(tokens) = proc_macro2::TokenStream::from_str(body) else {
            continue;
        };
        let mut cx = scale_dsl::Ctxt::new();
        let Program { stmts, .. } = scale_dsl::parse(tokens, &mut cx);
        for s in &stmts {
            if let Stmt::Let { expr, .. } = s {
                walk(expr, &mut out);
            }
        }
    }
    out
}

/// A one-layer JSON model applying `op` to operands of its example shapes (plus a `sum` to a
/// scalar loss), checked by the generator: `Err` if the generator cannot express or check it.
fn generator_accepts(op: &OpDef) -> Result<(), String> {
    let first = op.example.first().copied().unwrap_or(&[]);
    let mut params = Vec::new();
    let mut shape = None;
    let mut axes = None;
    for (i, p) in op.params.iter().enumerate() {
        match p.kind {
            ParamKind::Float | ParamKind::PositiveFloat => params.push(0.5),
            ParamKind::Int => params.push(1.0),
            ParamKind::Axis => params.push(0.0),
            // Bounds by position (`slice(x, 0, 1, 2)`), as the registry's own example check.
            // Positive: a stride, a pooling window.
            ParamKind::Index if p.name == "stride" || p.name == "k" => params.push(1.0),
            ParamKind::Index => params.push(i as f64),
            ParamKind::Shape => shape = Some(vec![first.iter().product::<usize>()]),
            ParamKind::Ints => axes = Some((0..first.len()).rev().collect::<Vec<usize>>()),
        }
    }
    let inputs: Vec<serde_json::Value> = op
        .example
        .iter()
        .enumerate()
        .map(|(i, s)| serde_json::json!({ "name": format!("in{i}"), "shape": s }))
        .collect();
    let args: Vec<String> = (0..op.example.len()).map(|i| format!("in{i}")).collect();
    let mut layer =
        serde_json::json!({ "name": "y", "op": op.name, "args": args, "params": params });
    if let Some(t) = shape {
        layer["shape"] = serde_json::json!(t);
    }
    if let Some(a) = axes {
        layer["axes"] = serde_json::json!(a);
    }
    let model = serde_json::json!({
        "name": "coverage",
        "inputs": inputs,
        "ops": [layer, { "name": "loss", "op": "sum", "args": ["y"] }],
    });
    let m = scale_gen::Model::from_json(&model.to_string()).map_err(|e| e.to_string())?;
    scale_gen::check(&m).map(|_| ()).map_err(|e| e.to_string())
}

/// Every (op, missing place) of `ops`.
fn gaps(ops: &[OpDef], src: &Sources) -> Vec<String> {
    let ui_ops = ops_applied(&src.ui_pass);
    let mut out = Vec::new();
    for op in ops {
        let n = op.name;
        let ctor = op.ctor;
        if !any_calls(
            &src.obligations,
            &["check_op(", "unary_test!(", "binary_test!("],
            ctor,
        ) {
            out.push(format!(
                "op `{n}`: no per-op obligations: add a `unary_test!`/`binary_test!`/`check_op` row calling `ops::{ctor}` to {OBLIGATIONS}"
            ));
        }
        if !any_calls(&src.harness, &["row!("], ctor) {
            out.push(format!(
                "op `{n}`: no random-graph harness coverage: add a `row!` calling `ops::{ctor}` to `op_table` in {HARNESS}"
            ));
        }
        if !ui_ops.iter().any(|o| o == n) {
            out.push(format!(
                "op `{n}`: no UI pass case: apply `{n}` in the `scale_graph!` program of {UI_PASS}"
            ));
        }
        if !op.exact && !any_calls(&src.tightness, &["op!("], ctor) {
            out.push(format!(
                "op `{n}`: no tightness row: add an `op!` row measuring `ops::{ctor}` to {TIGHTNESS} (or mark the row `exact()` if it never rounds)"
            ));
        }
        let page = ops_page(&src.docs);
        if ![format!("`{n}`"), format!("`{n}(")]
            .iter()
            .any(|p| page.contains(p.as_str()))
        {
            out.push(format!(
                "op `{n}`: not on the ops page: add a row for `{n}` to the table of `pub mod ops` in {DOCS}"
            ));
        }
        if let Err(e) = generator_accepts(op) {
            out.push(format!(
                "op `{n}`: no generator mapping: scale-gen rejects a one-layer model of it ({e})"
            ));
        }
    }
    out
}

#[test]
fn every_registry_op_is_covered() {
    let g = gaps(registry::OPS, &Sources::read());
    assert!(g.is_empty(), "registry rows not covered:\n{}", g.join("\n"));
}

#[test]
fn a_row_without_coverage_is_named_in_every_place() {
    let src = Sources::read();
    let new = registry::op(
        "frobnicate",
        &["x"],
        scale_dsl::rules::check_unary,
        &[&[2, 3]],
    );
    let g = gaps(&[new], &src);
    println!("{}", g.join("\n"));
    assert_eq!(g.len(), 6, "{g:#?}");
    for (msg, place) in g
        .iter()
        .zip([OBLIGATIONS, HARNESS, UI_PASS, TIGHTNESS, DOCS, "generator"])
    {
        assert!(msg.starts_with("op `frobnicate`"), "{msg}");
        assert!(msg.contains(place), "{msg}");
    }
    // An exact op owes no tightness row; a prefix of a covered name covers nothing.
    assert_eq!(gaps(&[new.exact()], &src).len(), 5);
    let prefix = registry::op("sum_", &["x"], scale_dsl::rules::check_reduce, &[&[2]]);
    assert_eq!(gaps(&[prefix], &src).len(), 6);
    assert!(ops_page(&src.docs).contains("`cross_entropy(z, t)`"));
    assert!(!ops_page(&src.docs).contains("pub mod"));
    // Each detector alone: a text that lacks one table entry is caught.
    let mut partial = Sources::read();
    partial.tightness = partial.tightness.replace("ops::tanh(x)", "ops::sigmoid(x)");
    let tanh = registry::lookup("tanh")
        .copied()
        .into_iter()
        .collect::<Vec<_>>();
    let g = gaps(&tanh, &partial);
    assert_eq!(g.len(), 1, "{g:#?}");
    assert!(g[0].contains("no tightness row"), "{g:#?}");
}
