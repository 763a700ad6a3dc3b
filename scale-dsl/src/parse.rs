//! Stage 1: tokens → [`Program`] (the grammar of SPEC §8).
//!
//! The input is split into statements at top-level `;` first, and each statement is parsed on its
//! own, so one malformed statement does not hide the mistakes in the others. Parsing never fails
//! as a whole: it returns what it could read and reports every error into the [`Ctxt`].

use crate::ctxt::Ctxt;
use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Ident, Lit, Token};

/// Deepest expression nesting accepted (keeps every recursive stage far from the stack limit).
pub const MAX_DEPTH: usize = 256;

/// A parsed macro input.
#[derive(Default)]
pub struct Program {
    /// The crate path given by the facade's `@crate PATH;` header, if any.
    pub krate: Option<TokenStream>,
    /// The statements, in order.
    pub stmts: Vec<Stmt>,
}

/// One statement.
pub enum Stmt {
    /// `[pub] model NAME;`: the macro emits items (a nameable model type) instead of a value.
    Model {
        /// The `model` keyword.
        kw: Ident,
        /// The visibility written before `model` (empty: private).
        vis: TokenStream,
        /// The model's type name.
        name: Ident,
    },
    /// `runtime = TYPE;`
    Runtime {
        /// The `runtime` keyword.
        kw: Ident,
        /// The runtime as written: a known name (`f32`), a type parameter (`R`) or a path.
        name: syn::Path,
    },
    /// `input NAME: [DIM, …];`
    Input {
        /// The input's name.
        name: Ident,
        /// Its dimensions.
        dims: Vec<Dim>,
        /// Span of the `[…]` group.
        bracket: Span,
    },
    /// `let NAME = EXPR;`
    Let {
        /// The bound name.
        name: Ident,
        /// The right-hand side.
        expr: Expr,
    },
    /// An `input` or `let` that did not parse after its name; the name is still known, so its
    /// uses do not cascade into more errors.
    Broken {
        /// The declared name.
        name: Ident,
        /// Whether it was a `let`.
        is_let: bool,
    },
}

/// A dimension as written.
#[derive(Clone)]
pub enum Dim {
    /// A literal (validated by the checker).
    Lit(Lit),
    /// A const identifier (e.g. a const generic parameter).
    Const(Ident),
    /// `-LIT`: always an error, kept so the checker can say why.
    Neg(Span, Lit),
}

/// Binary infix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Infix {
    /// `+` (`add`).
    Add,
    /// `-` (`sub`).
    Sub,
    /// `*` (`mul`).
    Mul,
}

impl Infix {
    /// The op this operator applies.
    pub fn op_name(self) -> &'static str {
        match self {
            Infix::Add => "add",
            Infix::Sub => "sub",
            Infix::Mul => "mul",
        }
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Infix::Add => "+",
            Infix::Sub => "-",
            Infix::Mul => "*",
        }
    }
}

/// An expression.
#[derive(Clone)]
pub enum Expr {
    /// A name.
    Name(Ident),
    /// `OP(ARG, …)`.
    Call {
        /// The op's name.
        op: Ident,
        /// The arguments.
        args: Vec<Expr>,
        /// Span of the `(…)` group.
        parens: Span,
    },
    /// `LHS op RHS`.
    Infix {
        /// Which operator.
        op: Infix,
        /// The operator token's span.
        tok: Span,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `-EXPR`.
    Neg {
        /// The `-` token's span.
        tok: Span,
        /// The operand.
        inner: Box<Expr>,
    },
    /// A number literal, possibly negated (only valid as an op's number parameter).
    Num {
        /// The literal.
        lit: Lit,
        /// The span of a leading `-`, if any.
        neg: Option<Span>,
    },
    /// A shape literal `[DIM, …]` (only valid as `reshape`'s target).
    Shape {
        /// The dimensions.
        dims: Vec<Dim>,
        /// Span of the `[…]` group.
        bracket: Span,
    },
}

impl Expr {
    /// Spans of the first and last token of the expression.
    pub fn range(&self) -> (Span, Span) {
        match self {
            Expr::Name(i) => (i.span(), i.span()),
            Expr::Call { op, parens, .. } => (op.span(), *parens),
            Expr::Infix { lhs, rhs, .. } => (lhs.range().0, rhs.range().1),
            Expr::Neg { tok, inner } => (*tok, inner.range().1),
            Expr::Num { lit, neg } => (neg.unwrap_or_else(|| lit.span()), lit.span()),
            Expr::Shape { bracket, .. } => (*bracket, *bracket),
        }
    }

    /// A short description for messages: `` `x` ``, `` `relu(…)` ``, `` `… + …` ``.
    pub fn describe(&self) -> String {
        match self {
            Expr::Name(i) => format!("`{i}`"),
            Expr::Call { op, .. } => format!("`{op}(…)`"),
            Expr::Infix { op, .. } => format!("`… {} …`", op.symbol()),
            Expr::Neg { .. } => "`-…`".to_string(),
            Expr::Num { .. } => "a number".to_string(),
            Expr::Shape { .. } => "a shape literal".to_string(),
        }
    }
}

/// Split at top-level `;`. Each chunk comes with the span of its `;` (None for a trailing chunk).
fn split_statements(input: TokenStream) -> Vec<(Vec<TokenTree>, Option<Span>)> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for tt in input {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ';' => {
                out.push((std::mem::take(&mut cur), Some(p.span())));
            }
            _ => cur.push(tt),
        }
    }
    if !cur.is_empty() {
        out.push((cur, None));
    }
    out
}

/// If `tokens` is the facade's `@crate PATH` header, the path.
fn crate_header(tokens: &[TokenTree]) -> Option<TokenStream> {
    match tokens {
        [TokenTree::Punct(at), TokenTree::Ident(kw), rest @ ..]
            if at.as_char() == '@' && kw == "crate" && !rest.is_empty() =>
        {
            Some(rest.iter().cloned().collect())
        }
        _ => None,
    }
}

/// Parse a whole macro input: the program it could read; every syntax error goes to `cx`.
pub fn parse(input: TokenStream, cx: &mut Ctxt) -> Program {
    let mut prog = Program::default();
    for (i, (tokens, semi)) in split_statements(input).into_iter().enumerate() {
        if tokens.is_empty() {
            continue; // a stray `;`
        }
        if i == 0
            && let Some(path) = crate_header(&tokens)
        {
            prog.krate = Some(path);
            continue;
        }
        // Errors belong to the statement this chunk becomes (if it becomes one).
        cx.at_stmt(Some(prog.stmts.len()));
        if semi.is_none() {
            let last = tokens.last().map_or_else(Span::call_site, TokenTree::span);
            cx.error(syn::Error::new(last, "expected `;` after this statement"));
        }
        let stream: TokenStream = tokens.into_iter().collect();
        let mut let_name = None;
        let result = (|input: ParseStream| parse_stmt(input, &mut let_name)).parse2(stream);
        match result {
            Ok(stmt) => prog.stmts.push(stmt),
            Err(e) => {
                cx.error(e);
                if let Some((name, is_let)) = let_name {
                    prog.stmts.push(Stmt::Broken { name, is_let });
                }
            }
        }
    }
    cx.at_stmt(None);
    prog
}

fn parse_stmt(input: ParseStream, let_name: &mut Option<(Ident, bool)>) -> syn::Result<Stmt> {
    if input.peek(Token![let]) {
        input.parse::<Token![let]>()?;
        let name: Ident = input.parse()?;
        *let_name = Some((name.clone(), true));
        input.parse::<Token![=]>()?;
        let expr = parse_expr(input, 0)?;
        expect_end(input)?;
        return Ok(Stmt::Let { name, expr });
    }
    if input.peek(Token![pub]) {
        let vis: syn::Visibility = input.parse()?;
        let kw: Ident = input.parse()?;
        if kw != "model" {
            return Err(syn::Error::new(
                kw.span(),
                "expected `model` after the visibility: `pub model NAME;`",
            ));
        }
        let name: Ident = input.parse()?;
        expect_end(input)?;
        return Ok(Stmt::Model {
            kw,
            vis: quote::ToTokens::to_token_stream(&vis),
            name,
        });
    }
    if input.peek(Ident) {
        let fork = input.fork();
        let kw: Ident = fork.parse()?;
        if kw == "model" {
            input.parse::<Ident>()?;
            let name: Ident = input.parse()?;
            expect_end(input)?;
            return Ok(Stmt::Model {
                kw,
                vis: TokenStream::new(),
                name,
            });
        }
        if kw == "input" {
            input.parse::<Ident>()?;
            let name: Ident = input.parse()?;
            *let_name = Some((name.clone(), false));
            input.parse::<Token![:]>()?;
            let (dims, bracket) = parse_shape(input)?;
            expect_end(input)?;
            return Ok(Stmt::Input {
                name,
                dims,
                bracket,
            });
        }
        if kw == "runtime" {
            input.parse::<Ident>()?;
            input.parse::<Token![=]>()?;
            let name = input.call(syn::Path::parse_mod_style)?;
            expect_end(input)?;
            return Ok(Stmt::Runtime { kw, name });
        }
    }
    Err(input.error(
        "expected a statement: `input NAME: [DIM, …];`, `let NAME = EXPR;`, `runtime = f32;` or \
         `model NAME;`",
    ))
}

fn expect_end(input: ParseStream) -> syn::Result<()> {
    if input.is_empty() {
        Ok(())
    } else if input.peek(Token![let])
        || input
            .fork()
            .parse::<Ident>()
            .is_ok_and(|i| i == "input" || i == "runtime" || i == "model")
    {
        Err(input.error("expected `;` before the next statement"))
    } else {
        Err(input.error("unexpected token: expected `+`, `-`, `*` or `;`"))
    }
}

/// `[DIM, …]`.
fn parse_shape(input: ParseStream) -> syn::Result<(Vec<Dim>, Span)> {
    if !input.peek(syn::token::Bracket) {
        return Err(input.error("expected a shape `[DIM, …]` (`[]` for a scalar)"));
    }
    let content;
    let bracket = syn::bracketed!(content in input);
    let mut dims = Vec::new();
    while !content.is_empty() {
        dims.push(parse_dim(&content)?);
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok((dims, bracket.span.join()))
}

fn parse_dim(input: ParseStream) -> syn::Result<Dim> {
    if input.peek(Lit) {
        return Ok(Dim::Lit(input.parse()?));
    }
    if input.peek(Token![-]) && input.peek2(Lit) {
        let minus: Token![-] = input.parse()?;
        return Ok(Dim::Neg(minus.span, input.parse()?));
    }
    if input.peek(Ident) {
        return Ok(Dim::Const(input.parse()?));
    }
    Err(input.error("expected a dimension: a positive integer literal or the name of a const"))
}

fn too_deep(input: ParseStream) -> syn::Error {
    input.error(format!(
        "expression nested more than {MAX_DEPTH} levels deep; split it with `let`"
    ))
}

/// `expr := term (('+' | '-') term)*`
fn parse_expr(input: ParseStream, depth: usize) -> syn::Result<Expr> {
    if depth > MAX_DEPTH {
        return Err(too_deep(input));
    }
    let mut lhs = parse_term(input, depth + 1)?;
    let mut chain = 0;
    loop {
        let (op, tok) = if input.peek(Token![+]) {
            (Infix::Add, input.parse::<Token![+]>()?.span)
        } else if input.peek(Token![-]) {
            (Infix::Sub, input.parse::<Token![-]>()?.span)
        } else {
            return Ok(lhs);
        };
        chain += 1;
        if depth + chain > MAX_DEPTH {
            return Err(too_deep(input));
        }
        let rhs = parse_term(input, depth + 1)?;
        lhs = Expr::Infix {
            op,
            tok,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        };
    }
}

/// `term := unary ('*' unary)*`
fn parse_term(input: ParseStream, depth: usize) -> syn::Result<Expr> {
    let mut lhs = parse_unary(input, depth + 1)?;
    let mut chain = 0;
    while input.peek(Token![*]) {
        let tok = input.parse::<Token![*]>()?.span;
        chain += 1;
        if depth + chain > MAX_DEPTH {
            return Err(too_deep(input));
        }
        let rhs = parse_unary(input, depth + 1)?;
        lhs = Expr::Infix {
            op: Infix::Mul,
            tok,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        };
    }
    Ok(lhs)
}

/// `unary := '-' unary | primary`
fn parse_unary(input: ParseStream, depth: usize) -> syn::Result<Expr> {
    if depth > MAX_DEPTH {
        return Err(too_deep(input));
    }
    if input.peek(Token![-]) {
        let tok = input.parse::<Token![-]>()?.span;
        if input.peek(Lit) {
            return Ok(Expr::Num {
                lit: input.parse()?,
                neg: Some(tok),
            });
        }
        let inner = parse_unary(input, depth + 1)?;
        return Ok(Expr::Neg {
            tok,
            inner: Box::new(inner),
        });
    }
    parse_primary(input, depth + 1)
}

/// `primary := NAME | NAME '(' args ')' | '(' expr ')' | LIT | '[' dims ']'`
fn parse_primary(input: ParseStream, depth: usize) -> syn::Result<Expr> {
    if depth > MAX_DEPTH {
        return Err(too_deep(input));
    }
    if input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in input);
        let e = parse_expr(&content, depth + 1)?;
        if !content.is_empty() {
            return Err(content.error("unexpected token: expected `+`, `-`, `*` or `)`"));
        }
        return Ok(e);
    }
    if input.peek(syn::token::Bracket) {
        let (dims, bracket) = parse_shape(input)?;
        return Ok(Expr::Shape { dims, bracket });
    }
    if input.peek(Lit) {
        return Ok(Expr::Num {
            lit: input.parse()?,
            neg: None,
        });
    }
    if input.peek(Ident) {
        let name: Ident = input.parse()?;
        if !input.peek(syn::token::Paren) {
            return Ok(Expr::Name(name));
        }
        let content;
        let parens = syn::parenthesized!(content in input);
        let mut args = Vec::new();
        while !content.is_empty() {
            args.push(parse_expr(&content, depth + 1)?);
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        return Ok(Expr::Call {
            op: name,
            args,
            parens: parens.span.join(),
        });
    }
    // Group with no delimiter (e.g. from a `macro_rules!` `$e:expr`): parse inside it.
    if let Some((TokenTree::Group(g), _)) = input.cursor().token_tree()
        && g.delimiter() == Delimiter::None
    {
        let stream = g.stream();
        input.step(|c| {
            c.token_tree()
                .map(|(_, rest)| ((), rest))
                .ok_or_else(|| c.error("unreachable"))
        })?;
        return (|inner: ParseStream| {
            let e = parse_expr(inner, depth + 1)?;
            expect_end(inner)?;
            Ok(e)
        })
        .parse2(stream);
    }
    Err(input.error("expected an expression: a name, `op(…)`, `(…)` or `-…`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(ts: TokenStream) -> (Program, Vec<syn::Error>) {
        let mut cx = Ctxt::new();
        let p = super::parse(ts, &mut cx);
        (
            p,
            cx.into_diagnostics().into_iter().map(|d| d.error).collect(),
        )
    }

    fn ok(ts: TokenStream) -> Program {
        let (p, errs) = parse(ts);
        assert!(
            errs.is_empty(),
            "{:?}",
            errs.iter().map(|e| e.to_string()).collect::<Vec<_>>()
        );
        p
    }

    #[test]
    fn statements() {
        let p = ok(quote! {
            runtime = f64;
            input x: [784];
            input w: [H, 784];
            input s: [];
            let h = relu(matvec(w, x));
        });
        assert_eq!(p.stmts.len(), 5);
        assert!(matches!(&p.stmts[2], Stmt::Input { dims, .. } if dims.len() == 2));
        assert!(matches!(&p.stmts[3], Stmt::Input { dims, .. } if dims.is_empty()));
    }

    #[test]
    fn precedence_and_assoc() {
        let p = ok(quote! { let y = a + b * c - -d; });
        let Some(Stmt::Let { expr, .. }) = p.stmts.first() else {
            panic!("not a let")
        };
        // ((a + (b * c)) - (-d))
        let Expr::Infix {
            op: Infix::Sub,
            lhs,
            rhs,
            ..
        } = expr
        else {
            panic!("{}", expr.describe())
        };
        assert!(matches!(**rhs, Expr::Neg { .. }));
        let Expr::Infix {
            op: Infix::Add,
            rhs: bc,
            ..
        } = &**lhs
        else {
            panic!("{}", lhs.describe())
        };
        assert!(matches!(**bc, Expr::Infix { op: Infix::Mul, .. }));
    }

    #[test]
    fn numbers_and_shapes_as_args() {
        let p = ok(quote! { let y = leaky_relu(x, -0.01); let z = reshape(y, [3, 2]); });
        let Some(Stmt::Let {
            expr: Expr::Call { args, .. },
            ..
        }) = p.stmts.first()
        else {
            panic!()
        };
        assert!(matches!(&args[1], Expr::Num { neg: Some(_), .. }));
        let Some(Stmt::Let {
            expr: Expr::Call { args, .. },
            ..
        }) = p.stmts.get(1)
        else {
            panic!()
        };
        assert!(matches!(&args[1], Expr::Shape { dims, .. } if dims.len() == 2));
    }

    #[test]
    fn crate_header_and_recovery() {
        let (p, errs) =
            parse(quote! { @crate ::my_crate; input x: [3]; let = ; let y = relu(x) x; let z = ; });
        assert_eq!(p.krate.map(|k| k.to_string()), Some(":: my_crate".into()));
        assert_eq!(errs.len(), 3);
        // `let z = ;` still declares z.
        assert!(
            p.stmts
                .iter()
                .any(|s| matches!(s, Stmt::Broken { name, is_let: true } if name == "z"))
        );
    }

    #[test]
    fn missing_semicolon_and_depth() {
        let (_, errs) = parse(quote! { input x: [3]; let y = relu(x) });
        assert_eq!(errs.len(), 1);
        let mut deep = quote! { x };
        for _ in 0..(MAX_DEPTH + 10) {
            deep = quote! { relu(#deep) };
        }
        let (_, errs) = parse(quote! { let y = #deep; });
        assert_eq!(errs.len(), 1);
        assert!(errs[0].to_string().contains("nested"));
    }
}
