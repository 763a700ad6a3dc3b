//! Stage 2: [`Program`] → [`Plan`], reporting every error into the [`Ctxt`].
//!
//! Resolves names, checks arities, literal parameters and dimensions, and applies each op's
//! shape rule from the registry wherever the dimensions are literals. Dimensions that are const
//! identifiers are compared by name only: when the checker cannot decide, rustc decides (the
//! expansion is fully typed).

use crate::ctxt::Ctxt;
use crate::parse::{Dim, Expr, Program, Stmt};
use crate::plan::{InputPlan, ModelHeader, NodePlan, Plan, RUNTIMES, RuntimeTy};
use crate::registry::{self, OpDef, ParamKind};
use crate::rules::{Args, LitArg, LitValue, Operand};
use crate::shape::{MAX_RANK, PDim, Shape, show};
use crate::suggest;
use proc_macro2::{Punct, Spacing, Span, TokenStream};
use quote::{ToTokens, TokenStreamExt, quote};
use std::collections::HashMap;
use syn::{Ident, Lit};

/// A span range for messages that cover several tokens.
struct Range(Span, Span);
impl ToTokens for Range {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let mut a = Punct::new('#', Spacing::Alone);
        a.set_span(self.0);
        let mut b = Punct::new('#', Spacing::Alone);
        b.set_span(self.1);
        tokens.append(a);
        tokens.append(b);
    }
}

fn err_range(e: &Expr, msg: impl std::fmt::Display) -> syn::Error {
    let (a, b) = e.range();
    syn::Error::new_spanned(Range(a, b), msg)
}

#[derive(Clone)]
struct Binding {
    entry: usize,
    shape: Option<Shape>,
    is_input: bool,
}

struct Checker<'c> {
    cx: &'c mut Ctxt,
    ops: &'static [OpDef],
    env: HashMap<String, Binding>,
    /// Every name defined anywhere (for "used before its definition").
    all_names: HashMap<String, Span>,
    n_inputs: usize,
    nodes: Vec<NodePlan>,
}

/// Check a parsed program against the registry ([`registry::OPS`]). The plan comes out only if
/// `cx` holds no error (the parser's included).
pub fn check(prog: &Program, cx: &mut Ctxt) -> Option<Plan> {
    check_with(prog, cx, registry::OPS)
}

/// [`check`] against another registry (tests of rows that are not in the language yet).
pub fn check_with(prog: &Program, cx: &mut Ctxt, ops: &'static [OpDef]) -> Option<Plan> {
    let syntax_errors = cx.has_errors();
    let n_inputs = prog
        .stmts
        .iter()
        .filter(|s| matches!(s, Stmt::Input { .. }))
        .count();
    let mut c = Checker {
        cx,
        ops,
        env: HashMap::new(),
        all_names: HashMap::new(),
        n_inputs,
        nodes: Vec::new(),
    };
    for s in &prog.stmts {
        match s {
            Stmt::Input { name, .. } | Stmt::Let { name, .. } | Stmt::Broken { name, .. } => {
                c.all_names
                    .entry(name.to_string())
                    .or_insert_with(|| name.span());
            }
            Stmt::Runtime { .. } | Stmt::Model { .. } => {}
        }
    }

    let mut runtime: Option<RuntimeTy> = None;
    let mut model: Option<ModelHeader> = None;
    let mut inputs = Vec::new();
    let mut names = Vec::new();
    let mut n_lets = 0;
    for (i, s) in prog.stmts.iter().enumerate() {
        c.cx.at_stmt(Some(i));
        match s {
            Stmt::Runtime { kw, name } => {
                if runtime.is_some() {
                    c.cx.error(syn::Error::new(
                        kw.span(),
                        "`runtime` is given twice; give it at most once",
                    ));
                    continue;
                }
                runtime = c.check_runtime(name);
            }
            Stmt::Model { kw, vis, name } => {
                if i != 0 || model.is_some() {
                    c.cx.error(syn::Error::new(
                        kw.span(),
                        "`model NAME;` must be the first statement, given once",
                    ));
                    continue;
                }
                model = Some(ModelHeader {
                    vis: vis.clone(),
                    name: name.clone(),
                });
            }
            Stmt::Input {
                name,
                dims,
                bracket,
            } => {
                let entry = inputs.len();
                let shape = c.shape(dims, *bracket, "input");
                if c.define(name, entry, shape.clone(), true) {
                    names.push((name.clone(), entry));
                }
                inputs.push(InputPlan {
                    name: name.clone(),
                    shape: shape.unwrap_or_default(),
                });
            }
            Stmt::Let { name, expr } => {
                n_lets += 1;
                let value = c.check_let(name, expr);
                let (entry, shape) = match value {
                    Some((e, s)) => (e, Some(s)),
                    None => (usize::MAX, None),
                };
                if c.define(name, entry, shape, false) && entry != usize::MAX {
                    names.push((name.clone(), entry));
                }
            }
            Stmt::Broken { name, is_let } => {
                n_lets += usize::from(*is_let);
                c.define(name, usize::MAX, None, !is_let);
            }
        }
    }
    c.cx.at_stmt(None);
    if n_lets == 0 && !syntax_errors {
        c.cx.error(syn::Error::new(
            Span::call_site(),
            "empty graph: expected at least one `let NAME = EXPR;` (e.g. `let y = relu(x);`)",
        ));
    }
    if c.cx.has_errors() {
        return None;
    }
    Some(Plan {
        krate: prog.krate.clone().unwrap_or_else(|| quote!(::scale_core)),
        runtime: runtime.unwrap_or(RuntimeTy::F32),
        model,
        inputs,
        nodes: c.nodes,
        names,
    })
}

impl Checker<'_> {
    fn lookup(&self, name: &str) -> Option<&'static OpDef> {
        self.ops.iter().find(|o| o.name == name)
    }

    /// A known name, a type parameter or a type path. A lone lower-case name that is not a
    /// known runtime (`f8`, `float`) is taken for a typo rather than a type: Rust's types and
    /// type parameters are upper camel case, and a spanned error here beats rustc's
    /// "cannot find type" in generated code.
    fn check_runtime(&mut self, name: &syn::Path) -> Option<RuntimeTy> {
        let Some(id) = name.get_ident() else {
            return Some(RuntimeTy::Path(quote!(#name)));
        };
        let text = id.to_string();
        if let Some((_, r)) = RUNTIMES.iter().find(|(n, _)| *n == text) {
            return Some(r.clone());
        }
        // `Self` would name each generated item itself, not the caller's type.
        if text == "Self" {
            self.cx.error(syn::Error::new(
                id.span(),
                "`runtime = Self;` is not supported: name the type, or a type parameter `R`",
            ));
            return None;
        }
        if text.starts_with(|c: char| c.is_ascii_uppercase()) {
            return Some(RuntimeTy::Param(id.clone()));
        }
        let hint = suggest(&text, RUNTIMES.iter().map(|(n, _)| *n))
            .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
        self.cx.error(syn::Error::new(
            id.span(),
            format!(
                "unknown runtime `{text}`{hint}: expected one of `f32`, `f64`, `bf16`, `f16`, \
                 or a type parameter such as `R`"
            ),
        ));
        None
    }

    /// The right-hand side of a `let`: it must apply an op.
    fn check_let(&mut self, name: &Ident, expr: &Expr) -> Option<(usize, Shape)> {
        match expr {
            Expr::Name(other) => {
                self.cx.error(syn::Error::new_spanned(
                    Range(name.span(), other.span()),
                    format!(
                        "`let {name} = {other};` only renames a value; a `let` must apply an op, e.g. `let {name} = relu({other});`"
                    ),
                ));
                None
            }
            Expr::Num { .. } | Expr::Shape { .. } => {
                self.cx.error(err_range(
                    expr,
                    format!(
                        "expected an op applied to values, found {}; constants are not values of the graph (declare an `input`)",
                        expr.describe()
                    ),
                ));
                None
            }
            _ => self.lower(expr),
        }
    }

    /// Register a name; false (and an error) if it is taken.
    fn define(&mut self, name: &Ident, entry: usize, shape: Option<Shape>, is_input: bool) -> bool {
        let key = name.to_string();
        if let Some(prev) = self.env.get(&key) {
            let what = if prev.is_input { "an input" } else { "a `let`" };
            self.cx.error(syn::Error::new(
                name.span(),
                format!("`{key}` is defined twice (first as {what}); every name must be unique"),
            ));
            return false;
        }
        self.env.insert(
            key,
            Binding {
                entry,
                shape,
                is_input,
            },
        );
        true
    }

    /// Validate a shape literal.
    fn shape(&mut self, dims: &[Dim], bracket: Span, what: &str) -> Option<Shape> {
        let mut ok = true;
        let mut out = Vec::new();
        if dims.len() > MAX_RANK {
            self.cx.error(syn::Error::new(
                bracket,
                format!(
                    "bad shape: an {what} has at most {MAX_RANK} dimensions, found {}",
                    dims.len()
                ),
            ));
            ok = false;
        }
        for d in dims {
            match self.dim(d) {
                Some(p) => out.push(p),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn dim(&mut self, d: &Dim) -> Option<PDim> {
        let bad = |span: Span, found: String| {
            syn::Error::new(
                span,
                format!(
                    "bad dimension: expected a positive integer or the name of a const, found {found}"
                ),
            )
        };
        match d {
            Dim::Const(i) => Some(PDim::Const(i.clone())),
            Dim::Neg(span, lit) => {
                self.cx.error(syn::Error::new_spanned(
                    Range(*span, lit.span()),
                    format!(
                        "bad dimension: `-{}` is negative; dimensions must be positive",
                        lit.to_token_stream()
                    ),
                ));
                None
            }
            Dim::Lit(Lit::Int(i)) if i.base10_digits().starts_with('-') => {
                self.cx.error(syn::Error::new(
                    i.span(),
                    format!("bad dimension: `{i}` is negative; dimensions must be positive"),
                ));
                None
            }
            Dim::Lit(Lit::Int(i)) => {
                if !matches!(i.suffix(), "" | "usize") {
                    self.cx.error(bad(
                        i.span(),
                        format!("`{i}` (dimensions are `usize`: drop the suffix)"),
                    ));
                    return None;
                }
                match i.base10_parse::<usize>() {
                    Ok(0) => {
                        self.cx.error(syn::Error::new(
                            i.span(),
                            "bad dimension: 0; dimensions must be positive",
                        ));
                        None
                    }
                    Ok(n) => Some(PDim::Lit(n)),
                    Err(_) => {
                        self.cx.error(bad(i.span(), format!("`{i}` (too large)")));
                        None
                    }
                }
            }
            Dim::Lit(Lit::Float(f)) => {
                self.cx
                    .error(bad(f.span(), format!("`{f}`, which is not an integer")));
                None
            }
            Dim::Lit(other) => {
                self.cx
                    .error(bad(other.span(), format!("`{}`", other.to_token_stream())));
                None
            }
        }
    }

    /// A literal parameter of kind `kind`.
    fn literal(&mut self, e: &Expr, op: &OpDef, pname: &str, kind: ParamKind) -> Option<LitArg> {
        let span = e.range().0;
        let value = match kind {
            ParamKind::Float => LitValue::Float(self.check_float(e, op, pname)?),
            ParamKind::Int => LitValue::Int(self.check_int(e, op, pname)?),
            ParamKind::Axis => LitValue::Axis(self.check_int(e, op, pname)?),
            ParamKind::Index => LitValue::Index(self.check_int(e, op, pname)?),
            ParamKind::Ints => LitValue::Ints(self.check_ints(e, op, pname)?),
            ParamKind::PositiveFloat => LitValue::Float(self.check_positive(e, op, pname)?),
            ParamKind::Shape => match e {
                Expr::Shape { dims, bracket } => {
                    LitValue::Shape(self.shape(dims, *bracket, "reshape target")?)
                }
                _ => {
                    self.bad_literal(e, op, "the target must be a shape literal like `[3, 2]`");
                    return None;
                }
            },
        };
        Some(LitArg { value, span })
    }

    /// Report a literal of the wrong form: "`op(…)`: {what}, found {e}".
    fn bad_literal(&mut self, e: &Expr, op: &OpDef, what: &str) {
        self.cx.error(err_range(
            e,
            format!("`{}`: {what}, found {}", op.signature(), e.describe()),
        ));
    }

    /// A float parameter: a finite number literal.
    fn check_float(&mut self, e: &Expr, op: &OpDef, pname: &str) -> Option<f64> {
        let Expr::Num { lit, neg } = e else {
            let what = format!("`{pname}` must be a number literal (e.g. `0.5`)");
            self.bad_literal(e, op, &what);
            return None;
        };
        let v = match lit {
            Lit::Float(f) if matches!(f.suffix(), "" | "f64" | "f32") => {
                f.base10_parse::<f64>().ok()
            }
            Lit::Int(i) if i.suffix().is_empty() => i.base10_parse::<f64>().ok(),
            _ => None,
        };
        match v {
            Some(v) if v.is_finite() => Some(if neg.is_some() { -v } else { v }),
            _ => {
                self.cx.error(err_range(
                    e,
                    format!(
                        "`{}`: `{pname}` must be a finite number literal, found `{}`",
                        op.signature(),
                        lit.to_token_stream()
                    ),
                ));
                None
            }
        }
    }

    /// A positive float parameter: a finite number literal above 0.
    fn check_positive(&mut self, e: &Expr, op: &OpDef, pname: &str) -> Option<f64> {
        let v = self.check_float(e, op, pname)?;
        if v > 0.0 {
            return Some(v);
        }
        let shown = match e {
            Expr::Num { lit, neg } => {
                format!(
                    "{}{}",
                    if neg.is_some() { "-" } else { "" },
                    lit.to_token_stream()
                )
            }
            _ => v.to_string(),
        };
        self.cx.error(err_range(
            e,
            format!(
                "`{}`: `{pname}` must be positive, found `{shown}`",
                op.signature()
            ),
        ));
        None
    }

    /// An integer parameter: a non-negative integer literal.
    fn check_int(&mut self, e: &Expr, op: &OpDef, pname: &str) -> Option<usize> {
        let v = match e {
            Expr::Num {
                lit: Lit::Int(i),
                neg: None,
            } if matches!(i.suffix(), "" | "usize") => i.base10_parse::<usize>().ok(),
            _ => None,
        };
        if v.is_none() {
            let what = format!("`{pname}` must be a non-negative integer literal (e.g. `1`)");
            self.bad_literal(e, op, &what);
        }
        v
    }

    /// An integer-list parameter: `[0, 2, 1]`.
    fn check_ints(&mut self, e: &Expr, op: &OpDef, pname: &str) -> Option<Vec<usize>> {
        let v = match e {
            Expr::Shape { dims, .. } => dims
                .iter()
                .map(|d| match d {
                    Dim::Lit(Lit::Int(i)) if matches!(i.suffix(), "" | "usize") => {
                        i.base10_parse::<usize>().ok()
                    }
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        if v.is_none() {
            let what = format!(
                "`{pname}` must be a list of non-negative integer literals (e.g. `[1, 0]`)"
            );
            self.bad_literal(e, op, &what);
        }
        v
    }

    /// Look a name up as an operand.
    fn name(&mut self, i: &Ident) -> Option<(usize, Shape)> {
        let key = i.to_string();
        if let Some(b) = self.env.get(&key) {
            return b.shape.clone().map(|s| (b.entry, s));
        }
        if self.all_names.contains_key(&key) {
            self.cx.error(syn::Error::new(
                i.span(),
                format!("`{key}` is used before its definition; move its `let` above this line"),
            ));
            return None;
        }
        let mut known: Vec<&str> = self.env.keys().map(String::as_str).collect();
        known.sort_unstable();
        let hint = suggest(&key, known.iter().copied())
            .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
        let list = if known.is_empty() {
            "no names are defined yet".to_string()
        } else if known.len() <= 12 {
            format!(
                "known names: {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!("{} names are defined", known.len())
        };
        let op_hint = if self.lookup(&key).is_some() {
            format!(" (`{key}` is an op: call it as `{key}(…)`)")
        } else {
            String::new()
        };
        self.cx.error(syn::Error::new(
            i.span(),
            format!("unknown name `{key}`{op_hint}{hint} ({list})"),
        ));
        None
    }

    /// Lower an operand expression to nodes; `None` after an error (already reported).
    fn lower(&mut self, e: &Expr) -> Option<(usize, Shape)> {
        match e {
            Expr::Name(i) => self.name(i),
            Expr::Num { .. } | Expr::Shape { .. } => {
                self.cx.error(err_range(
                    e,
                    format!("expected a tensor expression, found {}", e.describe()),
                ));
                None
            }
            Expr::Neg { tok, inner } => {
                let a = self.lower(inner);
                let op = self.lookup("neg")?;
                let a = a?;
                let out = self.apply(op, &[(&a.1, inner)], &[]).ok()?;
                Some(self.push(op, *tok, vec![(a.0, inner.range().0)], vec![], out))
            }
            Expr::Infix { op, tok, lhs, rhs } => {
                let a = self.lower(lhs);
                let b = self.lower(rhs);
                let row = self.lookup(op.op_name())?;
                let (a, b) = (a?, b?);
                // Infix operands get their own message, at the operator.
                let Ok(out) = self.apply(row, &[(&a.1, lhs), (&b.1, rhs)], &[]) else {
                    self.cx.error(syn::Error::new(
                        *tok,
                        format!(
                            "shape mismatch in `{}` ({}): {} has shape {} but {} has {}; both operands must have the same shape",
                            op.symbol(),
                            op.op_name(),
                            lhs.describe(),
                            show(&a.1),
                            rhs.describe(),
                            show(&b.1)
                        ),
                    ));
                    return None;
                };
                Some(self.push(
                    row,
                    *tok,
                    vec![(a.0, lhs.range().0), (b.0, rhs.range().0)],
                    vec![],
                    out,
                ))
            }
            Expr::Call { op, args, parens } => self.call(op, args, *parens),
        }
    }

    /// Run `op`'s shape rule on operands (shape, expression).
    fn apply(
        &self,
        op: &OpDef,
        operands: &[(&Shape, &Expr)],
        lits: &[LitArg],
    ) -> Result<Shape, (usize, String)> {
        let operands: Vec<Operand> = operands
            .iter()
            .map(|(s, e)| Operand {
                shape: s,
                desc: e.describe(),
            })
            .collect();
        (op.rule)(&Args {
            operands: &operands,
            lits,
        })
        .map_err(|m| (m.operand, m.msg))
    }

    fn push(
        &mut self,
        op: &'static OpDef,
        op_span: Span,
        args: Vec<(usize, Span)>,
        params: Vec<LitArg>,
        out: Shape,
    ) -> (usize, Shape) {
        let entry = self.n_inputs + self.nodes.len();
        self.nodes.push(NodePlan {
            op,
            op_span,
            args,
            params,
            out: out.clone(),
        });
        (entry, out)
    }

    /// Lower the tensor-looking arguments of a call that is already wrong, so every mistake in
    /// them is reported too.
    fn lower_all(&mut self, args: &[Expr]) {
        for a in args {
            if !matches!(a, Expr::Num { .. } | Expr::Shape { .. }) {
                let _ = self.lower(a);
            }
        }
    }

    fn call(&mut self, op_ident: &Ident, args: &[Expr], parens: Span) -> Option<(usize, Shape)> {
        let name = op_ident.to_string();
        // Rows of one name differ in arity (`sum(x)`, `sum(x, axis)`): pick by the call's.
        let Some(op) = self
            .ops
            .iter()
            .find(|o| o.name == name && o.arity() == args.len())
            .or_else(|| self.lookup(&name))
        else {
            self.lower_all(args);
            let hint = suggest(&name, self.ops.iter().map(|o| o.name))
                .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
            let value_hint = if self.env.contains_key(&name) {
                format!(" (`{name}` is a value, not an op)")
            } else {
                String::new()
            };
            self.cx.error(syn::Error::new(
                op_ident.span(),
                format!("unknown op `{name}`{value_hint}{hint} (the ops are listed in `scale_graph::docs::ops`)"),
            ));
            return None;
        };
        if args.len() != op.arity() {
            self.lower_all(args);
            let rows: Vec<&OpDef> = self.ops.iter().filter(|o| o.name == name).collect();
            let msg = if rows.len() > 1 {
                let sigs: Vec<String> = rows
                    .iter()
                    .map(|o| format!("`{}`", o.signature()))
                    .collect();
                let counts: Vec<String> = rows.iter().map(|o| o.arity().to_string()).collect();
                format!(
                    "wrong number of arguments: {} take {} arguments, found {}",
                    sigs.join(" or "),
                    counts.join(" or "),
                    args.len()
                )
            } else {
                let s = if op.arity() == 1 { "" } else { "s" };
                format!(
                    "wrong number of arguments: `{}` takes {} argument{s}, found {}",
                    op.signature(),
                    op.arity(),
                    args.len()
                )
            };
            self.cx
                .error(syn::Error::new_spanned(Range(op_ident.span(), parens), msg));
            return None;
        }
        let (tensor_args, rest) = args.split_at(op.tensors.len().min(args.len()));
        let vals: Vec<Option<(usize, Shape)>> = tensor_args.iter().map(|a| self.lower(a)).collect();
        let mut params = Vec::new();
        let mut ok = true;
        for (a, p) in rest.iter().zip(op.params) {
            match self.literal(a, op, p.name, p.kind) {
                Some(l) => params.push(l),
                None => ok = false,
            }
        }
        let vals: Vec<(usize, Shape)> = vals.into_iter().collect::<Option<_>>()?;
        if !ok {
            return None;
        }
        let operands: Vec<(&Shape, &Expr)> = vals.iter().map(|v| &v.1).zip(tensor_args).collect();
        let out = match self.apply(op, &operands, &params) {
            Ok(out) => out,
            Err((k, msg)) => {
                // `k` counts the tensors, then the literals: a rule may point at a literal.
                let at = args.get(k).or(tensor_args.first());
                let err = match at {
                    Some(e) => err_range(e, format!("{}: {msg}", op.name)),
                    None => syn::Error::new(op_ident.span(), format!("{}: {msg}", op.name)),
                };
                self.cx.error(err);
                return None;
            }
        };
        let arg_spans = vals
            .iter()
            .zip(tensor_args)
            .map(|(v, a)| (v.0, a.range().0))
            .collect();
        Some(self.push(op, op_ident.span(), arg_spans, params, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn run(ts: TokenStream) -> Result<Plan, Vec<String>> {
        let mut cx = Ctxt::new();
        let p = parse(ts, &mut cx);
        let plan = check(&p, &mut cx);
        match cx.finish() {
            Ok(()) => plan.ok_or_else(Vec::new),
            Err(e) => Err(e.into_iter().map(|e| e.to_string()).collect()),
        }
    }

    fn errs(ts: TokenStream) -> Vec<String> {
        match run(ts) {
            Ok(_) => panic!("expected errors"),
            Err(e) => e,
        }
    }

    #[test]
    fn plan_order_innermost_first() {
        let p = run(quote! {
            input x: [784]; input w1: [128, 784]; input b1: [128];
            let h = relu(matvec(w1, x) + b1);
            let loss = sum(h);
        })
        .unwrap();
        let ops: Vec<&str> = p.nodes.iter().map(|n| n.op.name).collect();
        assert_eq!(ops, ["matvec", "add", "relu", "sum"]);
        assert_eq!(
            p.nodes[1].args.iter().map(|a| a.0).collect::<Vec<_>>(),
            [3, 2]
        );
        assert_eq!(show(&p.nodes[2].out), "[128]");
        assert_eq!(show(&p.nodes[3].out), "[]");
        let names: Vec<(String, usize)> =
            p.names.iter().map(|(n, e)| (n.to_string(), *e)).collect();
        assert_eq!(names[3], ("h".to_string(), 5));
        assert_eq!(names[4], ("loss".to_string(), 6));
        assert_eq!(p.runtime, RuntimeTy::F32);
    }

    #[test]
    fn generic_dims_are_left_to_rustc() {
        let p = run(
            quote! { input a: [H]; input b: [W]; let c = a + b; let d = matvec(m, c); input m: [2, H]; },
        );
        // `m` used before its definition.
        assert!(p.is_err());
        let p = run(quote! { input a: [H]; input b: [W]; let c = a + b; }).unwrap();
        assert_eq!(show(&p.nodes[0].out), "[H]");
    }

    #[test]
    fn runtimes_known_parameter_path_typo() {
        let rt = |t: TokenStream| run(t).map(|p| p.runtime);
        assert_eq!(
            rt(quote! { runtime = f64; input x: [2]; let y = relu(x); }).ok(),
            Some(RuntimeTy::F64)
        );
        let p = rt(quote! { runtime = R; input x: [2]; let y = relu(x); });
        assert!(matches!(p, Ok(RuntimeTy::Param(ref r)) if r == "R"));
        let p = rt(quote! { runtime = half::bf16; input x: [2]; let y = relu(x); });
        assert!(matches!(p, Ok(RuntimeTy::Path(_))));
        let e = errs(quote! { runtime = f8; input x: [2]; let y = relu(x); });
        assert!(e[0].contains("or a type parameter such as `R`"), "{e:?}");
        let e = errs(quote! { runtime = Self; input x: [2]; let y = relu(x); });
        assert!(e[0].contains("`runtime = Self;` is not supported"), "{e:?}");
        let e = errs(quote! { input x: [2]; model M; let y = relu(x); });
        assert!(e[0].contains("must be the first statement"), "{e:?}");
    }

    #[test]
    fn every_error_at_once() {
        let e = errs(quote! {
            runtime = f8;
            input x: [0];
            input x: [3];
            input w: [2, 3, 4, 5, 6];
            let a = relu(y);
            let b = rleu(x);
            let c = x;
            let d = relu(x, x);
        });
        assert_eq!(e.len(), 8, "{e:#?}");
        assert!(e[0].contains("unknown runtime `f8`"));
        assert!(e[1].contains("bad dimension: 0"));
        assert!(e[2].contains("defined twice"));
        assert!(e[3].contains("at most 4"));
        assert!(e[4].contains("unknown name `y`"));
        assert!(e[5].contains("did you mean `relu`"));
        assert!(e[6].contains("only renames"));
        assert!(e[7].contains("takes 1 argument"));
    }

    #[test]
    fn shape_messages() {
        let e = errs(quote! { input w1: [128, 784]; input x: [783]; let h = matvec(w1, x); });
        assert_eq!(
            e,
            ["matvec: `w1` has shape [128, 784] but `x` has [783]; expected [784]"]
        );
        let e = errs(quote! { input a: [3]; input b: [4]; let c = a + b; });
        assert!(e[0].contains("`a` has shape [3] but `b` has [4]"), "{e:?}");
        let e = errs(quote! { input a: [2, 3]; let c = reshape(a, [4, 2]); });
        assert!(
            e[0].contains("(6 elements) to [4, 2] (8 elements)"),
            "{e:?}"
        );
        let e = errs(quote! { input a: [2, 3]; input b: [4, 5]; let c = matmul(a, b); });
        assert!(e[0].ends_with("expected [3, …]"), "{e:?}");
    }

    #[test]
    fn use_before_definition_and_empty() {
        let e = errs(quote! { input x: [3]; let a = relu(b); let b = relu(x); });
        assert!(e[0].contains("used before its definition"));
        let e = errs(quote! { input x: [3]; });
        assert!(e[0].contains("empty graph"));
        let e = errs(quote! {});
        assert!(e[0].contains("empty graph"));
    }

    #[test]
    fn params() {
        let p = run(quote! { input x: [3]; let y = leaky_relu(x, -0.01); let z = scale(y, 2); })
            .unwrap();
        let float = |l: &LitArg| match l.value {
            LitValue::Float(v) => v,
            _ => f64::NAN,
        };
        assert_eq!(float(&p.nodes[0].params[0]), -0.01);
        assert_eq!(float(&p.nodes[1].params[0]), 2.0);
        let e = errs(quote! { input x: [3]; let y = scale(x, x); let z = scale(x, 1e999); });
        assert_eq!(e.len(), 2, "{e:?}");
    }

    /// Rows with the literal kinds §9b needs (integers, axes, integer lists) check and expand
    /// before any op of the language uses them.
    #[test]
    fn integer_literal_kinds() {
        use crate::registry::{Param, op, param};
        use crate::rules::{Mismatch, check_unary};
        fn axis_rule(a: &Args) -> Result<Shape, Mismatch> {
            let x = a.operands.first().map_or(&[][..], |o| o.shape);
            match a.lits.iter().find_map(|l| match l.value {
                LitValue::Axis(k) => Some(k),
                _ => None,
            }) {
                Some(k) if k < x.len() => Ok(x.to_vec()),
                _ => Err(Mismatch {
                    operand: 0,
                    msg: format!("axis out of range for {}", show(x)),
                }),
            }
        }
        static PARAMS: &[Param] = &[
            param("axis", ParamKind::Axis),
            param("stride", ParamKind::Int),
            param("perm", ParamKind::Ints),
        ];
        static TEST_OPS: &[OpDef] = &[
            op("squish", &["x"], axis_rule, &[&[2, 3]]).with_params(PARAMS),
            op("relu", &["x"], check_unary, &[&[2]]),
        ];
        let compile = |ts: TokenStream| {
            let mut cx = Ctxt::new();
            let p = parse(ts, &mut cx);
            let plan = check_with(&p, &mut cx, TEST_OPS);
            cx.finish()
                .map(|()| plan)
                .map_err(|e| e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>())
        };
        let plan = compile(quote! { input x: [2, 3]; let y = squish(x, 1, 2, [1, 0]); })
            .unwrap()
            .unwrap();
        let code = crate::expand(&plan).to_string();
        assert!(
            code.contains(
                "ops :: squish (__scale_in0 , :: scale_core :: ops :: Idx :: < 1usize > , \
                 2usize , :: scale_core :: ops :: Perm2 :: < 1usize , 0usize > ,)"
            ),
            "{code}"
        );
        let e = compile(quote! {
            input x: [2, 3];
            let y = squish(x, 0, -1, 0.5);
            let z = squish(x, 2, 1, [0]);
        })
        .unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains("`stride` must be a non-negative integer literal"));
        assert!(e[1].contains("`perm` must be a list of non-negative integer literals"));
        assert_eq!(e[2], "squish: axis out of range for [2, 3]");
        // The global registry does not know the test row.
        let mut cx = Ctxt::new();
        let p = parse(
            quote! { input x: [2, 3]; let y = squish(x, 1, 2, [1, 0]); },
            &mut cx,
        );
        assert!(check(&p, &mut cx).is_none());
    }

    /// `sum`/`mean` with an axis, `permute`, `slice`, `concat`: output shapes, the row picked by
    /// arity, and errors that name the shapes and point at the offending literal.
    #[test]
    fn axes_rules() {
        let p = run(quote! {
            input x: [2, 3, 4]; input y: [2, 5, 4];
            let a = sum(x, 1); let b = mean(x, 2); let c = sum(x);
            let d = permute(x, [2, 0, 1]); let e = slice(x, 2, 1, 3); let f = concat(x, y, 1);
        })
        .unwrap();
        let outs: Vec<String> = p.nodes.iter().map(|n| show(&n.out)).collect();
        assert_eq!(
            outs,
            [
                "[2, 4]",
                "[2, 3]",
                "[]",
                "[4, 2, 3]",
                "[2, 3, 2]",
                "[2, 8, 4]"
            ]
        );
        let ctors: Vec<&str> = p.nodes.iter().map(|n| n.op.ctor).collect();
        assert_eq!(
            ctors,
            ["sum_axis", "mean_axis", "sum", "permute", "slice", "concat"]
        );
        let e = errs(quote! {
            input x: [2, 3]; input y: [3, 3];
            let a = sum(x, 2);
            let b = permute(x, [0, 0]);
            let c = permute(x, [1, 0, 2]);
            let d = slice(x, 1, 1, 4);
            let g = slice(x, 1, 2, 2);
            let f = concat(x, y, 1);
            let h = sum(x, 1, 2);
        });
        assert_eq!(e.len(), 7, "{e:#?}");
        assert!(
            e[0].contains("axis 2 is out of range for `x` of shape [2, 3] (rank 2"),
            "{e:?}"
        );
        assert!(e[1].contains("axis 0 is repeated"), "{e:?}");
        assert!(
            e[2].contains("has 3 axes but `x` has shape [2, 3] (rank 2)"),
            "{e:?}"
        );
        assert!(
            e[3].contains("end 4 is out of range for axis 1 of `x` of shape [2, 3] (dimension 3)"),
            "{e:?}"
        );
        assert!(
            e[4].contains("the range 2..2 along axis 1 is empty"),
            "{e:?}"
        );
        assert!(e[5].contains("`x` has shape [2, 3] but `y` has [3, 3]; expected the same shape except along axis 1"), "{e:?}");
        assert!(
            e[6].contains("`sum(x)` or `sum(x, axis)` take 1 or 2 arguments, found 3"),
            "{e:?}"
        );
        // A const dimension along the axis of a concat has no writable output type.
        let e = errs(quote! { input x: [2, N]; input y: [2, 3]; let f = concat(x, y, 1); });
        assert!(
            e[0].contains("output length N + 3 of a const dimension"),
            "{e:?}"
        );
    }

    #[test]
    fn batched_product_shapes() {
        let ok = run(quote! {
            input x: [2, 16, 32]; input w: [32, 8]; input q: [2, 4, 16, 8]; input k: [2, 4, 8, 16];
            input c: [B, N, 8]; input d: [B, 8, N]; input w2: [8, 4];
            let h = matmul(x, w); let s = bmm(q, k); let u = bmm(c, d); let v = matmul(c, w2);
            let l = sum(h) + sum(s) + sum(u) + sum(v);
        })
        .unwrap();
        let shapes: Vec<String> = ok.nodes.iter().take(4).map(|n| show(&n.out)).collect();
        assert_eq!(
            shapes,
            ["[2, 16, 8]", "[2, 4, 16, 16]", "[B, N, N]", "[B, N, 4]"]
        );
        let e = errs(quote! {
            input q: [2, 4, 3, 8]; input k: [2, 2, 8, 3]; input a: [2, 3, 4]; input b: [2, 5, 6];
            input x: [2, 16, 32]; input w: [16, 32]; input v: [3, 4]; input r: [2, 4, 3];
            let s = bmm(q, k); let c = bmm(a, b); let y = matmul(x, w); let z = bmm(v, v);
            let t = bmm(a, q); let m = matmul(q, v);
        });
        assert_eq!(
            e[0],
            "bmm: `q` has shape [2, 4, 3, 8] but `k` has [2, 2, 8, 3]; the batch axes [2, 4] and \
             [2, 2] must be equal"
        );
        assert_eq!(
            e[1],
            "bmm: `a` has shape [2, 3, 4] but `b` has [2, 5, 6]; expected [2, 4, …] (the inner \
             dimensions must agree)"
        );
        assert_eq!(
            e[2],
            "matmul: `x` has shape [2, 16, 32] but `w` has [16, 32]; expected [32, …]"
        );
        assert!(
            e[3].contains("`v` must have shape […, m, k] of rank 3 or 4, found [3, 4]"),
            "{e:?}"
        );
        assert!(e[4].contains("expected a shape of rank 3"), "{e:?}");
        assert!(e[5].contains("`v` has [3, 4]; expected [8, …]"), "{e:?}");
    }

    /// `expand`: the new axis at every position of ranks 0 to 3, and errors that point at the
    /// literal that is wrong (an axis past the rank, a zero length) or at a rank-4 operand.
    #[test]
    fn expand_rule() {
        let p = run(quote! {
            input s: []; input x: [2, 3]; input t: [2, 3, 4];
            let a = expand(s, 0, 5); let b = expand(x, 0, 4); let c = expand(x, 1, 4);
            let d = expand(x, 2, 4); let e = expand(t, 3, 1); let f = expand(mean(x, 1), 1, 3);
        })
        .unwrap();
        let outs: Vec<String> = p.nodes.iter().map(|n| show(&n.out)).collect();
        assert_eq!(
            outs,
            [
                "[5]",
                "[4, 2, 3]",
                "[2, 4, 3]",
                "[2, 3, 4]",
                "[2, 3, 4, 1]",
                "[2]",
                "[2, 3]"
            ]
        );
        let code = crate::expand(&p).to_string();
        assert!(
            code.contains(":: scale_core :: ops :: Idx :: < 1usize > , :: scale_core :: ops :: Idx :: < 4usize >"),
            "{code}"
        );
        let e = errs(quote! {
            input x: [2, 3]; input q: [1, 2, 3, 4];
            let a = expand(x, 3, 4);
            let b = expand(x, 1, 0);
            let c = expand(q, 0, 2);
            let d = expand(x, 1);
        });
        assert_eq!(e.len(), 4, "{e:#?}");
        assert!(
            e[0].contains("axis 3 is out of range for `x` of shape [2, 3] (rank 2: the new axis goes at 0 to 2)"),
            "{e:?}"
        );
        assert!(
            e[1].contains(
                "would give `x` of shape [2, 3] the shape [2, 0, 3]; expected a positive length"
            ),
            "{e:?}"
        );
        assert!(
            e[2].contains("`q` has shape [1, 2, 3, 4] (rank 4); expected rank 0 to 3"),
            "{e:?}"
        );
        assert!(e[3].contains("expand(x, axis, n)"), "{e:?}");
    }
}
