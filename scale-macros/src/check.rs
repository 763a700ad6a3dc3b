//! Stage 2: [`Program`] → [`Plan`], or every error at once.
//!
//! Resolves names, checks arities, validates dimensions and checks shapes wherever the
//! dimensions are literals. Dimensions that are const identifiers are compared by name only: when
//! the macro cannot decide, rustc decides (the expansion is fully typed).

use crate::ops_table::{self, Op, Rule};
use crate::parse::{Dim, Expr, Program, Stmt};
use proc_macro2::{Punct, Spacing, Span, TokenStream};
use quote::{ToTokens, TokenStreamExt, quote};
use std::collections::HashMap;
use syn::{Ident, Lit};

/// Largest rank of a shape.
pub const MAX_RANK: usize = 4;

/// A checked dimension.
#[derive(Debug, Clone)]
pub enum PDim {
    /// A positive literal.
    Lit(usize),
    /// A const identifier.
    Const(Ident),
}

/// A checked shape.
pub type Shape = Vec<PDim>;

/// Write a shape as in the macro language, e.g. `[128, H]`.
pub fn show(s: &[PDim]) -> String {
    let parts: Vec<String> = s
        .iter()
        .map(|d| match d {
            PDim::Lit(n) => n.to_string(),
            PDim::Const(i) => i.to_string(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Whether two dimensions are equal: `Some` when the macro can tell, `None` when rustc must.
fn dim_eq(a: &PDim, b: &PDim) -> Option<bool> {
    match (a, b) {
        (PDim::Lit(x), PDim::Lit(y)) => Some(x == y),
        (PDim::Const(x), PDim::Const(y)) if x == y => Some(true),
        _ => None,
    }
}

/// Definitely different (literal dims that differ, or different ranks).
fn shapes_differ(a: &[PDim], b: &[PDim]) -> bool {
    a.len() != b.len() || a.iter().zip(b).any(|(x, y)| dim_eq(x, y) == Some(false))
}

/// Element count when every dimension is a literal.
fn numel(s: &[PDim]) -> Option<u128> {
    s.iter().try_fold(1u128, |acc, d| match d {
        PDim::Lit(n) => acc.checked_mul(*n as u128),
        PDim::Const(_) => None,
    })
}

/// Runtime scalar types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeTy {
    /// `f32` (default).
    F32,
    /// `f64`.
    F64,
    /// `half::bf16`.
    Bf16,
    /// `half::f16`.
    F16,
}

const RUNTIMES: &[(&str, RuntimeTy)] = &[
    ("f32", RuntimeTy::F32),
    ("f64", RuntimeTy::F64),
    ("bf16", RuntimeTy::Bf16),
    ("f16", RuntimeTy::F16),
];

/// A graph input.
#[derive(Debug)]
pub struct InputPlan {
    /// Its name.
    pub name: Ident,
    /// Its shape.
    pub shape: Shape,
}

/// One node (one op application).
#[derive(Debug)]
pub struct NodePlan {
    /// The op.
    pub op: &'static Op,
    /// The span of the op's token in the input (`relu`, or the `+` of an infix).
    pub op_span: Span,
    /// Context entries read, with the span of the argument's first token.
    pub args: Vec<(usize, Span)>,
    /// Number parameters.
    pub params: Vec<(f64, Span)>,
    /// The output shape.
    pub out: Shape,
}

/// A checked program, ready to expand.
#[derive(Debug)]
pub struct Plan {
    /// Path of the core crate (`::scale_core`, or the facade's `$crate`).
    pub krate: TokenStream,
    /// Runtime scalar.
    pub runtime: RuntimeTy,
    /// The inputs (`Γ`), in order: entry `i` is input `i`.
    pub inputs: Vec<InputPlan>,
    /// The nodes (`ss`), in order: entry `inputs.len() + k` is node `k`.
    pub nodes: Vec<NodePlan>,
    /// Every name with its entry, in declaration order (inputs and lets).
    pub names: Vec<(Ident, usize)>,
}

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

struct Checker {
    errors: Vec<syn::Error>,
    env: HashMap<String, Binding>,
    /// Every name defined anywhere (for "used before its definition").
    all_names: HashMap<String, Span>,
    n_inputs: usize,
    nodes: Vec<NodePlan>,
}

/// Check a parsed program. `errors` are the parser's; the result is a plan only if there are none.
pub fn check(prog: &Program, errors: Vec<syn::Error>) -> Result<Plan, syn::Error> {
    let syntax_errors = !errors.is_empty();
    let n_inputs = prog
        .stmts
        .iter()
        .filter(|s| matches!(s, Stmt::Input { .. }))
        .count();
    let mut c = Checker {
        errors,
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
            Stmt::Runtime { .. } => {}
        }
    }

    let mut runtime: Option<(RuntimeTy, Span)> = None;
    let mut inputs = Vec::new();
    let mut names = Vec::new();
    let mut n_lets = 0;
    for s in &prog.stmts {
        match s {
            Stmt::Runtime { kw, name } => {
                if let Some((_, first)) = runtime {
                    let _ = first;
                    c.errors.push(syn::Error::new(
                        kw.span(),
                        "`runtime` is given twice; give it at most once",
                    ));
                    continue;
                }
                let text = name.to_string();
                match RUNTIMES.iter().find(|(n, _)| *n == text) {
                    Some((_, r)) => runtime = Some((*r, kw.span())),
                    None => {
                        let hint = ops_table::suggest(&text, RUNTIMES.iter().map(|(n, _)| *n))
                            .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
                        c.errors.push(syn::Error::new(
                            name.span(),
                            format!(
                                "unknown runtime `{text}`: expected one of `f32`, `f64`, `bf16`, `f16`{hint}"
                            ),
                        ));
                    }
                }
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
                let value = match expr {
                    Expr::Name(other) => {
                        c.errors.push(syn::Error::new_spanned(
                            Range(name.span(), other.span()),
                            format!(
                                "`let {name} = {other};` only renames a value; a `let` must apply an op, e.g. `let {name} = relu({other});`"
                            ),
                        ));
                        None
                    }
                    Expr::Num { .. } | Expr::Shape { .. } => {
                        c.errors.push(err_range(
                            expr,
                            format!(
                                "expected an op applied to values, found {}; constants are not values of the graph (declare an `input`)",
                                expr.describe()
                            ),
                        ));
                        None
                    }
                    _ => c.lower(expr),
                };
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
    if n_lets == 0 && !syntax_errors {
        c.errors.push(syn::Error::new(
            Span::call_site(),
            "empty graph: expected at least one `let NAME = EXPR;` (e.g. `let y = relu(x);`)",
        ));
    }
    let mut errs = c.errors.into_iter();
    if let Some(mut first) = errs.next() {
        first.extend(errs);
        return Err(first);
    }
    Ok(Plan {
        krate: prog.krate.clone().unwrap_or_else(|| quote!(::scale_core)),
        runtime: runtime.map_or(RuntimeTy::F32, |(r, _)| r),
        inputs,
        nodes: c.nodes,
        names,
    })
}

impl Checker {
    /// Register a name; false (and an error) if it is taken.
    fn define(&mut self, name: &Ident, entry: usize, shape: Option<Shape>, is_input: bool) -> bool {
        let key = name.to_string();
        if let Some(prev) = self.env.get(&key) {
            let what = if prev.is_input { "an input" } else { "a `let`" };
            self.errors.push(syn::Error::new(
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
            self.errors.push(syn::Error::new(
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
                self.errors.push(syn::Error::new_spanned(
                    Range(*span, lit.span()),
                    format!(
                        "bad dimension: `-{}` is negative; dimensions must be positive",
                        lit.to_token_stream()
                    ),
                ));
                None
            }
            Dim::Lit(Lit::Int(i)) if i.base10_digits().starts_with('-') => {
                self.errors.push(syn::Error::new(
                    i.span(),
                    format!("bad dimension: `{i}` is negative; dimensions must be positive"),
                ));
                None
            }
            Dim::Lit(Lit::Int(i)) => {
                if !matches!(i.suffix(), "" | "usize") {
                    self.errors.push(bad(
                        i.span(),
                        format!("`{i}` (dimensions are `usize`: drop the suffix)"),
                    ));
                    return None;
                }
                match i.base10_parse::<usize>() {
                    Ok(0) => {
                        self.errors.push(syn::Error::new(
                            i.span(),
                            "bad dimension: 0; dimensions must be positive",
                        ));
                        None
                    }
                    Ok(n) => Some(PDim::Lit(n)),
                    Err(_) => {
                        self.errors
                            .push(bad(i.span(), format!("`{i}` (too large)")));
                        None
                    }
                }
            }
            Dim::Lit(Lit::Float(f)) => {
                self.errors
                    .push(bad(f.span(), format!("`{f}`, which is not an integer")));
                None
            }
            Dim::Lit(other) => {
                self.errors
                    .push(bad(other.span(), format!("`{}`", other.to_token_stream())));
                None
            }
        }
    }

    /// A number parameter.
    fn number(&mut self, e: &Expr, op: &Op, pname: &str) -> Option<(f64, Span)> {
        let Expr::Num { lit, neg } = e else {
            self.errors.push(err_range(
                e,
                format!(
                    "`{}`: `{pname}` must be a number literal (e.g. `0.5`), found {}",
                    op.signature(),
                    e.describe()
                ),
            ));
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
            Some(v) if v.is_finite() => Some((if neg.is_some() { -v } else { v }, lit.span())),
            _ => {
                self.errors.push(err_range(
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

    /// Look a name up as an operand.
    fn name(&mut self, i: &Ident) -> Option<(usize, Shape)> {
        let key = i.to_string();
        if let Some(b) = self.env.get(&key) {
            return b.shape.clone().map(|s| (b.entry, s));
        }
        if self.all_names.contains_key(&key) {
            self.errors.push(syn::Error::new(
                i.span(),
                format!("`{key}` is used before its definition; move its `let` above this line"),
            ));
            return None;
        }
        let mut known: Vec<&str> = self.env.keys().map(String::as_str).collect();
        known.sort_unstable();
        let hint = ops_table::suggest(&key, known.iter().copied())
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
        let op_hint = if ops_table::lookup(&key).is_some() {
            format!(" (`{key}` is an op: call it as `{key}(…)`)")
        } else {
            String::new()
        };
        self.errors.push(syn::Error::new(
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
                self.errors.push(err_range(
                    e,
                    format!("expected a tensor expression, found {}", e.describe()),
                ));
                None
            }
            Expr::Neg { tok, inner } => {
                let a = self.lower(inner);
                let op = ops_table::lookup("neg")?;
                let a = a?;
                Some(self.push(op, *tok, vec![(a.0, inner.range().0)], vec![], a.1))
            }
            Expr::Infix { op, tok, lhs, rhs } => {
                let a = self.lower(lhs);
                let b = self.lower(rhs);
                let table = ops_table::lookup(op.op_name())?;
                let (a, b) = (a?, b?);
                if shapes_differ(&a.1, &b.1) {
                    self.errors.push(syn::Error::new(
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
                }
                let out = a.1.clone();
                Some(self.push(
                    table,
                    *tok,
                    vec![(a.0, lhs.range().0), (b.0, rhs.range().0)],
                    vec![],
                    out,
                ))
            }
            Expr::Call { op, args, parens } => self.call(op, args, *parens),
        }
    }

    fn push(
        &mut self,
        op: &'static Op,
        op_span: Span,
        args: Vec<(usize, Span)>,
        params: Vec<(f64, Span)>,
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

    fn call(&mut self, op_ident: &Ident, args: &[Expr], parens: Span) -> Option<(usize, Shape)> {
        let name = op_ident.to_string();
        let Some(op) = ops_table::lookup(&name) else {
            // Still check the arguments, so every mistake is reported.
            for a in args {
                if !matches!(a, Expr::Num { .. } | Expr::Shape { .. }) {
                    let _ = self.lower(a);
                }
            }
            let hint = ops_table::suggest(&name, ops_table::OPS.iter().map(|o| o.name))
                .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
            let value_hint = if self.env.contains_key(&name) {
                format!(" (`{name}` is a value, not an op)")
            } else {
                String::new()
            };
            self.errors.push(syn::Error::new(
                op_ident.span(),
                format!("unknown op `{name}`{value_hint}{hint} (the ops are listed in `scale_graph::docs::ops`)"),
            ));
            return None;
        };
        if args.len() != op.arity() {
            for a in args {
                if !matches!(a, Expr::Num { .. } | Expr::Shape { .. }) {
                    let _ = self.lower(a);
                }
            }
            let s = if op.arity() == 1 { "" } else { "s" };
            self.errors.push(syn::Error::new_spanned(
                Range(op_ident.span(), parens),
                format!(
                    "wrong number of arguments: `{}` takes {} argument{s}, found {}",
                    op.signature(),
                    op.arity(),
                    args.len()
                ),
            ));
            return None;
        }
        let nt = op.tensors.len();
        let (tensor_args, rest) = args.split_at(nt.min(args.len()));
        let mut vals = Vec::new();
        for a in tensor_args {
            vals.push(self.lower(a));
        }
        let mut params = Vec::new();
        let mut ok = true;
        let mut target = None;
        for (k, a) in rest.iter().enumerate() {
            if let Some(pname) = op.params.get(k) {
                match self.number(a, op, pname) {
                    Some(p) => params.push(p),
                    None => ok = false,
                }
            } else if op.rule == Rule::Reshape {
                match a {
                    Expr::Shape { dims, bracket } => {
                        target = self.shape(dims, *bracket, "reshape target");
                        ok &= target.is_some();
                    }
                    _ => {
                        self.errors.push(err_range(
                            a,
                            format!(
                                "`{}`: the target must be a shape literal like `[3, 2]`, found {}",
                                op.signature(),
                                a.describe()
                            ),
                        ));
                        ok = false;
                    }
                }
            }
        }
        let vals: Option<Vec<(usize, Shape)>> = vals.into_iter().collect();
        let vals = vals?;
        if !ok {
            return None;
        }
        let shapes: Vec<&Shape> = vals.iter().map(|v| &v.1).collect();
        let out = self.rule(op, op_ident, tensor_args, &shapes, target)?;
        let arg_spans = vals
            .iter()
            .zip(tensor_args)
            .map(|(v, a)| (v.0, a.range().0))
            .collect();
        Some(self.push(op, op_ident.span(), arg_spans, params, out))
    }

    /// Apply the op's shape rule; report definite mismatches.
    fn rule(
        &mut self,
        op: &Op,
        op_ident: &Ident,
        args: &[Expr],
        shapes: &[&Shape],
        target: Option<Shape>,
    ) -> Option<Shape> {
        let n = op.name;
        let (Some(a), Some(sa)) = (args.first(), shapes.first()) else {
            return None;
        };
        let second = args.get(1).zip(shapes.get(1));
        let mut fail = |e: &Expr, msg: String| {
            self.errors.push(err_range(e, format!("{n}: {msg}")));
            None
        };
        let want_rank = |e: &Expr, s: &Shape, r: usize, form: &str| -> Option<String> {
            (s.len() != r).then(|| {
                format!(
                    "{} must have shape {form}, found {} (rank {})",
                    e.describe(),
                    show(s),
                    s.len()
                )
            })
        };
        match op.rule {
            Rule::Unary => Some((*sa).clone()),
            Rule::Reduce => Some(Vec::new()),
            Rule::Same2 | Rule::Loss2 => {
                let (b, sb) = second?;
                if shapes_differ(sa, sb) {
                    return fail(
                        b,
                        format!(
                            "{} has shape {} but {} has {}; expected the same shape",
                            a.describe(),
                            show(sa),
                            b.describe(),
                            show(sb)
                        ),
                    );
                }
                Some(if op.rule == Rule::Loss2 {
                    Vec::new()
                } else {
                    (*sa).clone()
                })
            }
            Rule::MatVec | Rule::MatMul | Rule::Dot | Rule::AddBias | Rule::CrossEntropy => {
                let (b, sb) = second?;
                let (ra, rb, fa, fb) = match op.rule {
                    Rule::MatVec => (2, 1, "[m, k]", "[k]"),
                    Rule::MatMul => (2, 2, "[m, k]", "[k, n]"),
                    Rule::Dot => (1, 1, "[k]", "[k]"),
                    Rule::AddBias => (2, 1, "[b, n]", "[n]"),
                    _ => (2, 2, "[b, n]", "[b, n]"),
                };
                if let Some(m) = want_rank(a, sa, ra, fa) {
                    return fail(a, m);
                }
                if let Some(m) = want_rank(b, sb, rb, fb) {
                    return fail(b, m);
                }
                // What `b` must be, given `a`, and the output.
                let (expected, out): (Shape, Shape) = match op.rule {
                    Rule::MatVec => (vec![sa[1].clone()], vec![sa[0].clone()]),
                    Rule::MatMul => (
                        vec![sa[1].clone(), sb[1].clone()],
                        vec![sa[0].clone(), sb[1].clone()],
                    ),
                    Rule::Dot => ((*sa).clone(), Vec::new()),
                    Rule::AddBias => (vec![sa[1].clone()], (*sa).clone()),
                    _ => ((*sa).clone(), Vec::new()),
                };
                if shapes_differ(&expected, sb) {
                    let exp = if op.rule == Rule::MatMul {
                        format!("[{}, …]", show(&expected[..1]).trim_matches(['[', ']']))
                    } else {
                        show(&expected)
                    };
                    return fail(
                        b,
                        format!(
                            "{} has shape {} but {} has {}; expected {exp}",
                            a.describe(),
                            show(sa),
                            b.describe(),
                            show(sb)
                        ),
                    );
                }
                Some(out)
            }
            Rule::Transpose => {
                if let Some(m) = want_rank(a, sa, 2, "[m, n]") {
                    return fail(a, m);
                }
                Some(vec![sa[1].clone(), sa[0].clone()])
            }
            Rule::SumRows => {
                if let Some(m) = want_rank(a, sa, 2, "[b, n]") {
                    return fail(a, m);
                }
                Some(vec![sa[1].clone()])
            }
            Rule::LastAxis => {
                if !(1..=2).contains(&sa.len()) {
                    return fail(
                        a,
                        format!(
                            "{} must have shape [n] or [b, n], found {}",
                            a.describe(),
                            show(sa)
                        ),
                    );
                }
                Some((*sa).clone())
            }
            Rule::Reshape => {
                let t = target?;
                if let (Some(x), Some(y)) = (numel(sa), numel(&t))
                    && x != y
                {
                    let _ = op_ident;
                    return fail(
                        a,
                        format!(
                            "cannot reshape {} of shape {} ({x} elements) to {} ({y} elements)",
                            a.describe(),
                            show(sa),
                            show(&t)
                        ),
                    );
                }
                Some(t)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn run(ts: TokenStream) -> Result<Plan, Vec<String>> {
        let (p, e) = parse(ts);
        check(&p, e).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
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
    fn every_error_at_once() {
        let e = errs(quote! {
            runtime = f8;
            input x: [0];
            input x: [3];
            input w: [2, 3, 4, 5, 6];
            let a = relu(y);
            let b = rleu(x);
            let c = x;
            let d = sum(x, x);
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
        assert_eq!(p.nodes[0].params[0].0, -0.01);
        assert_eq!(p.nodes[1].params[0].0, 2.0);
        let e = errs(quote! { input x: [3]; let y = scale(x, x); let z = scale(x, 1e999); });
        assert_eq!(e.len(), 2, "{e:?}");
    }
}
