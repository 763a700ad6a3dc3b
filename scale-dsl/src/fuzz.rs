//! Property tests: parse → check (→ expand) never panics, whatever the tokens.
//!
//! `cargo test -p scale-dsl fuzz` runs a few thousand cases. For a long run:
//!
//! ```text
//! SCALE_FUZZ_CASES=100000 cargo test -p scale-dsl --release fuzz -- --nocapture
//! ```

use crate::{Ctxt, compile, expand, parse, run};
use proc_macro2::TokenStream;
use proptest::prelude::*;
use std::str::FromStr;

/// Cases per property (env `SCALE_FUZZ_CASES`, default 2000).
fn cases() -> u32 {
    std::env::var("SCALE_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

const VOCAB: &[&str] = &[
    "input",
    "let",
    "runtime",
    "=",
    ";",
    ":",
    ",",
    "+",
    "-",
    "*",
    "/",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "x",
    "y",
    "w",
    "h",
    "H",
    "W",
    "relu",
    "matvec",
    "add",
    "mul",
    "sum",
    "reshape",
    "scale",
    "leaky_relu",
    "rleu",
    "f32",
    "f64",
    "bf16",
    "f8",
    "0",
    "1",
    "3",
    "784",
    "0.5",
    "-0.01",
    "1e999",
    "2.5",
    "99999999999999999999999",
    "3usize",
    "4u8",
    "\"s\"",
    "'c'",
    "true",
    "@",
    "crate",
    "::scale_core",
    "$",
    "#",
    "matmul",
    "softmax",
    "cross_entropy",
    "transpose",
];

const VALID: &[&str] = &[
    "input x: [784]; input w1: [128, 784]; input b1: [128]; let h = relu(matvec(w1, x) + b1); let loss = sum(h);",
    "runtime = f64; input a: [H, 3]; input b: [3, W]; let c = matmul(a, b); let d = -c * c - c; let e = sum(d);",
    "input x: [2, 3]; let y = reshape(x, [3, 2]); let z = leaky_relu(transpose(y), -0.01); let s = mean(softmax(z));",
    "input p: [4, 5]; input t: [4, 5]; let l = cross_entropy(p, t) + mse(p, t);",
];

/// Parse and check; expand a plan. Returns whether a plan came out.
fn pipeline(ts: TokenStream) -> bool {
    let ok = match compile(ts.clone()) {
        Ok(plan) => {
            let _ = expand(&plan);
            true
        }
        Err(err) => {
            assert!(err.into_iter().count() > 0);
            false
        }
    };
    let _ = run(ts);
    ok
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCAB), 0..60).prop_map(|v| v.join(" "))
}

fn mutated() -> impl Strategy<Value = String> {
    (
        prop::sample::select(VALID),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                prop::sample::select(VOCAB),
                0..4u8,
            ),
            0..6,
        ),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(src, edits, cut, shuffle)| {
            let mut toks: Vec<String> = src.split_whitespace().map(str::to_string).collect();
            for (at, tok, kind) in edits {
                if toks.is_empty() {
                    toks.push(tok.to_string());
                    continue;
                }
                let i = at.index(toks.len());
                match kind {
                    0 => toks.insert(i, tok.to_string()),
                    1 => {
                        toks.remove(i);
                    }
                    2 => toks[i] = tok.to_string(),
                    _ => {
                        let j = (i * 7 + 3) % toks.len();
                        toks.swap(i, j);
                    }
                }
            }
            if shuffle {
                // Shuffle whole statements.
                let text = toks.join(" ");
                let mut stmts: Vec<&str> = text.split(';').collect();
                stmts.reverse();
                return stmts.join(";");
            }
            let keep = cut.index(toks.len() + 1);
            toks.truncate(keep.max(toks.len() / 2));
            toks.join(" ")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn fuzz_token_soup(src in soup()) {
        if let Ok(ts) = TokenStream::from_str(&src) {
            let _ = pipeline(ts);
        }
    }

    #[test]
    fn fuzz_mutated_programs(src in mutated()) {
        if let Ok(ts) = TokenStream::from_str(&src) {
            let _ = pipeline(ts);
        }
    }
}

#[test]
fn valid_programs_make_plans() {
    for src in VALID {
        let ts = TokenStream::from_str(src).unwrap();
        assert!(pipeline(ts), "{src}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let mut src = "x".to_string();
    for _ in 0..5000 {
        src = format!("relu({src})");
    }
    let sum = vec!["x"; 5000].join(" + ");
    for body in [src, sum, "-".repeat(5000) + "x"] {
        let ts = TokenStream::from_str(&format!("input x: [3]; let y = {body};")).unwrap();
        assert!(!pipeline(ts));
    }
}

/// Time parse, check and expand on the `scale_graph! { … }` body of the file named by
/// `SCALE_MACRO_BENCH` (used by `scripts/check_time_macro.sh`; no timing assertions).
#[test]
#[ignore]
fn bench_stages() {
    let Ok(path) = std::env::var("SCALE_MACRO_BENCH") else {
        return;
    };
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("scale_graph! {").unwrap() + "scale_graph! {".len();
    let end = text.rfind("\n    };").unwrap();
    let ts = TokenStream::from_str(&text[start..end]).unwrap();
    let best = |f: &mut dyn FnMut()| {
        (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .fold(f64::INFINITY, f64::min)
    };
    let tp = best(&mut || drop(parse(ts.clone(), &mut Ctxt::new())));
    let plan = compile(ts.clone()).unwrap();
    let tc = best(&mut || drop(compile(ts.clone()))) - tp;
    let mut out = TokenStream::new();
    let te = best(&mut || out = expand(&plan));
    let kb = out.to_string().len() / 1024;
    println!(
        "BENCH parse {tp:.2}  check {:.2}  expand {te:.2}  total {:.2}  (expansion {kb} KB)",
        tc.max(0.0),
        tp + tc.max(0.0) + te
    );
}
