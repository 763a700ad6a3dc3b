//! Building a [`Program`](crate::Program) from data instead of tokens (the generator's JSON
//! models, later ONNX), so those front ends reach the same checker and plan as the macro.
//!
//! Every builder is total: what cannot be written as a token (a name that is not an identifier,
//! a non-finite number) comes back as `None` for the caller to report in its own terms.

use crate::parse::{Dim, Expr, Stmt};
use proc_macro2::{Literal, Span};
use syn::{Ident, Lit, LitFloat, LitInt};

/// `s` as an identifier, if it is one (keywords are not).
pub fn ident(s: &str) -> Option<Ident> {
    syn::parse_str::<Ident>(s).ok()
}

fn dims(d: &[usize]) -> Vec<Dim> {
    d.iter()
        .map(|n| Dim::Lit(Lit::Int(LitInt::new(&n.to_string(), Span::call_site()))))
        .collect()
}

/// `input NAME: [d, …];`
pub fn input(name: Ident, shape: &[usize]) -> Stmt {
    Stmt::Input {
        name,
        dims: dims(shape),
        bracket: Span::call_site(),
    }
}

/// `runtime = NAME;`
pub fn runtime(name: Ident) -> Stmt {
    Stmt::Runtime {
        kw: Ident::new("runtime", Span::call_site()),
        name: name.into(),
    }
}

/// `let NAME = EXPR;`
pub fn let_(name: Ident, expr: Expr) -> Stmt {
    Stmt::Let { name, expr }
}

/// A name as an operand.
pub fn name(name: Ident) -> Expr {
    Expr::Name(name)
}

/// `OP(ARG, …)`.
pub fn call(op: Ident, args: Vec<Expr>) -> Expr {
    Expr::Call {
        op,
        args,
        parens: Span::call_site(),
    }
}

/// A number literal that reads back as exactly `v`; `None` if `v` is not finite.
pub fn float(v: f64) -> Option<Expr> {
    if !v.is_finite() {
        return None;
    }
    let lit = LitFloat::from(Literal::f64_unsuffixed(v.abs()));
    Some(Expr::Num {
        lit: Lit::Float(lit),
        neg: v.is_sign_negative().then(Span::call_site),
    })
}

/// An integer literal.
pub fn int(n: usize) -> Expr {
    Expr::Num {
        lit: Lit::Int(LitInt::new(&n.to_string(), Span::call_site())),
        neg: None,
    }
}

/// A shape (or integer list) literal `[d, …]`.
pub fn shape(d: &[usize]) -> Expr {
    Expr::Shape {
        dims: dims(d),
        bracket: Span::call_site(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ctxt, Program, check};

    #[test]
    fn built_programs_check_like_parsed_ones() {
        let id = |s| ident(s).unwrap();
        let prog = Program {
            krate: None,
            stmts: vec![
                runtime(id("f64")),
                input(id("x"), &[2, 3]),
                let_(
                    id("y"),
                    call(id("scale"), vec![name(id("x")), float(-0.1).unwrap()]),
                ),
                let_(
                    id("z"),
                    call(id("reshape"), vec![name(id("y")), shape(&[6])]),
                ),
                let_(
                    id("w"),
                    call(id("matvec"), vec![name(id("x")), name(id("z"))]),
                ),
            ],
        };
        let mut cx = Ctxt::new();
        assert!(check(&prog, &mut cx).is_none());
        let d = cx.into_diagnostics();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].stmt, Some(4));
        assert_eq!(
            d[0].error.to_string(),
            "matvec: `x` has shape [2, 3] but `z` has [6]; expected [3]"
        );
        assert!(ident("fn").is_none() && ident("a-b").is_none() && ident("").is_none());
        assert!(float(f64::NAN).is_none());
        let Some(Expr::Num {
            lit: Lit::Float(f), ..
        }) = float(1e300)
        else {
            panic!()
        };
        assert_eq!(f.base10_parse::<f64>().ok(), Some(1e300));
        let _ = int(3);
    }
}
