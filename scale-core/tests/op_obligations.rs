//! The four local soundness obligations of SPEC §4, per op, against the rigorous interval spec.
//!
//! For every op a one-node context is generated (adversarial values: ordinary, log-uniform
//! magnitudes 1e-40…1e30, exact zeros, f32 subnormals, values near 1 (cancellation), values near
//! the relu kink, and spec inputs that are not representable in the runtime type, including
//! perturbed runtime values and spec intervals of positive width), together with eps and B for
//! which the premises hold (computed rigorously from the enclosures), and a cotangent pair likewise.
//! Then `approx`/`scale` are checked for the forward output and every VJP output, in `f32` (every
//! case) and `bf16`/`f16` (every other case).
//!
//! A check the `f64` interval spec fails is re-made with the 2400-bit spec of
//! `support/bigspec.rs` (the one `tests/graph_theorems.rs` uses). A failure there is a
//! **violation** only if it fails for every value of the enclosure; otherwise it is
//! **undecidable** (printed, counted per op), and an op fails when more than 0.1 % (plus two) of its cases
//! have one. They come from `f64` runtimes on values near `f32::MAX`, where a product of two
//! such values (~1e77) in a spec input of positive width makes softmax's probabilities in the
//! interval spec independent of each other (each within `[0, 1]`, their sum not 1), far wider
//! than the exact ones the bounds are for (attention at 20 000 cases: 7 of ~170 000 cases).
//!
//! Cases per op: 256 by default; `PROPTEST_CASES=20000 cargo test --release --test op_obligations`
//! for a long run.

use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use scale_core::context::{Nil, Seg};
use scale_core::random::cases_from_env;
use scale_core::round::{add_up, sub_down};
use scale_core::{
    Bound, Interval, Rank1, Rank2, Rank3, Rank4, RevGraphScale, RevNodeScale, Runtime, Shape, Var,
    check, ops,
};
use std::cell::Cell;

fn fail(what: &str, v: check::Violation) -> TestCaseError {
    TestCaseError::fail(format!("{what}: {v}"))
}

#[path = "support/bigspec.rs"]
mod bigspec;
use bigspec::BigIv;
use scale_core::node::{SpecForward, SpecVjp};

/// A node's spec in the 2400-bit arithmetic (every op implements its spec generically).
trait BigNode: SpecForward<BigIv> + SpecVjp<BigIv> {}
impl<N: SpecForward<BigIv> + SpecVjp<BigIv>> BigNode for N {}

struct Br;

/// One tensor's generated data: spec values, how the runtime value is derived, perturbation.
#[derive(Debug, Clone)]
struct Data {
    vals: Vec<f64>,
    mode: u8,
    pert: (f64, f64),
}

#[derive(Debug, Clone)]
struct Case {
    args: Vec<Data>,
    delta: Data,
    flags: u8,
    /// Overwrite one runtime element (of argument `.0`, or of δ when `.0` is the arity) with a
    /// non-finite value: the node's parts must not panic (the graph engine, not the node,
    /// turns such inputs into `+∞` bounds; `tests/graph_theorems.rs` checks that).
    poison: Option<(usize, usize, u8)>,
}

/// The non-finite values a poisoned case writes.
const SPECIALS: [f64; 3] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        5 => -3.0..3.0f64,
        2 => (-40.0..30.0f64, any::<bool>()).prop_map(|(e, s)| if s { 10f64.powf(e) } else { -10f64.powf(e) }),
        1 => Just(0.0),
        1 => (1u32..(1 << 23), any::<bool>()).prop_map(|(m, s)| {
            let v = f32::from_bits(m) as f64;
            if s { v } else { -v }
        }),
        1 => (-1e-6..1e-6f64).prop_map(|d| 1.0 + d),
        1 => -1e-7..1e-7f64,
        1 => -60.0..60.0f64,
        // Within a few ulps of f32::MAX (overflow in the next operation).
        1 => (0u32..4, any::<bool>()).prop_map(|(k, s)| {
            let v = f32::from_bits(f32::MAX.to_bits() - k) as f64;
            if s { v } else { -v }
        }),
    ]
}

fn data(n: usize) -> impl Strategy<Value = Data> {
    (
        prop::collection::vec(value(), n),
        0u8..5,
        (-1.0..1.0f64, -1.0..1.0f64),
    )
        .prop_map(|(vals, mode, pert)| Data { vals, mode, pert })
}

/// Spec enclosure and runtime value of one entry, per the data's mode.
fn entry<R: Runtime>(x: f64, mode: u8, pert: (f64, f64)) -> (Interval, R) {
    match mode {
        // Exactly representable input: spec = runtime.
        0 => {
            let r = R::from_f64(x);
            // Spec inputs are real numbers: if x overflows the runtime type, keep spec = x.
            let s = if r.is_finite() { r.to_spec() } else { x };
            (Interval::point(s), r)
        }
        // Spec is an interval of positive width around x (moderate magnitudes only: around huge
        // values the rounded-out interval is millions wide, and the interval spec of softmax-like
        // ops then loses all information through dependency, which tests nothing).
        3 if x.abs() <= 1e3 => {
            let w = (x.abs() * 1e-9).min(1e-3) + 1e-30;
            (Interval::new(sub_down(x, w), add_up(x, w)), R::from_f64(x))
        }
        // Spec is the f64 itself, runtime its rounding (eps > 0).
        1 | 3 => (Interval::point(x), R::from_f64(x)),
        // Runtime perturbed relative and absolute (crosses kinks near 0).
        2 => (
            Interval::point(x),
            R::from_f64(x * (1.0 + pert.0 * 1e-4) + pert.1 * 1e-7),
        ),
        // Large perturbation.
        _ => (
            Interval::point(x),
            R::from_f64(x * (1.0 + pert.0 * 1e-2) + pert.1 * 1e-3),
        ),
    }
}

struct Built<R> {
    spec: ArrayD<Interval>,
    rt: ArrayD<R>,
    eps: Bound,
    b: Bound,
}

fn build<R: Runtime>(d: &Data, dims: &[usize], tf: fn(f64) -> f64) -> Built<R> {
    let mut spec = Vec::new();
    let mut rt = Vec::new();
    let (mut eps, mut b) = (0.0f64, 0.0f64);
    for &v in &d.vals {
        let (s, r) = entry::<R>(tf(v), d.mode, d.pert);
        let rv = r.to_spec();
        if rv.is_finite() {
            eps = eps.max(s.max_dist(rv));
        } else {
            eps = f64::INFINITY;
        }
        b = b.max(s.mag()).max(rv.abs());
        spec.push(s);
        rt.push(r);
    }
    Built {
        spec: ArrayD::from_shape_vec(IxDyn(dims), spec).unwrap(),
        rt: ArrayD::from_shape_vec(IxDyn(dims), rt).unwrap(),
        eps: Bound::new(eps),
        b: Bound::new(b),
    }
}

fn finite<R: Runtime>(a: &ArrayD<R>) -> bool {
    a.iter().all(|x| x.is_finite())
}

thread_local! {
    static CHECKS: Cell<usize> = const { Cell::new(0) };
    static POISONED: Cell<usize> = const { Cell::new(0) };
    static DECIDED_BIG: Cell<usize> = const { Cell::new(0) };
    /// Cases with at least one undecidable check (what the per-op budget counts).
    static UNDECIDED: Cell<usize> = const { Cell::new(0) };
    /// Undecidable checks (one case may have several: its value's and each cotangent's).
    static UNDECIDED_CHECKS: Cell<usize> = const { Cell::new(0) };
}

/// A poisoned case: every part runs on non-finite data without panicking.
fn run_poisoned<R: Runtime, N: RevNodeScale<R>>(
    node: &N,
    in_dims: &[&[usize]],
    out_dims: &[usize],
    case: &Case,
    (which, idx, kind): (usize, usize, u8),
) {
    let mut xr: Vec<ArrayD<R>> = case
        .args
        .iter()
        .zip(in_dims)
        .map(|(d, dims)| build::<R>(d, dims, ident).rt)
        .collect();
    let mut dl = build::<R>(&case.delta, out_dims, ident).rt;
    let which = which % (xr.len() + 1);
    let target = xr.get_mut(which).unwrap_or(&mut dl);
    let len = target.len();
    if let Some(x) = target.iter_mut().nth(idx % len.max(1)) {
        *x = R::from_f64(SPECIALS[kind as usize % SPECIALS.len()]);
    }
    let eps = vec![Bound::INF; xr.len()];
    let y = node.forward_runtime(&xr);
    let _ = (node.fwd_eps(&eps, &xr, &y), node.fwd_scale(&eps, &xr, &y));
    let _ = node.vjp_runtime(&xr, &dl);
    let _ = node.vjp_eps(&eps, &xr, Bound::INF, &dl);
    let _ = node.vjp_scale(&eps, &xr, Bound::INF, &dl);
    POISONED.with(|c| c.set(c.get() + 1));
}

/// Check the four obligations for one case in runtime `R`.
fn run_case<R: Runtime, N: RevNodeScale<R> + BigNode>(
    node: &N,
    in_dims: &[&[usize]],
    out_dims: &[usize],
    case: &Case,
    tf: &[fn(f64) -> f64],
) -> Result<(), TestCaseError> {
    let ins: Vec<Built<R>> = case
        .args
        .iter()
        .zip(in_dims)
        .enumerate()
        .map(|(i, (d, dims))| build::<R>(d, dims, tf[i.min(tf.len() - 1)]))
        .collect();
    let xs: Vec<ArrayD<Interval>> = ins.iter().map(|b| b.spec.clone()).collect();
    let xr: Vec<ArrayD<R>> = ins.iter().map(|b| b.rt.clone()).collect();
    let eps: Vec<Bound> = ins.iter().map(|b| b.eps).collect();
    let bs: Vec<Bound> = ins.iter().map(|b| b.b).collect();

    let ys = node.forward_spec(&xs);
    let yr = node.forward_runtime(&xr);
    // Checks the f64 interval spec cannot decide, re-made with the 2400-bit spec below.
    let mut redo: Vec<(String, Option<usize>, bool, Bound)> = Vec::new();
    if finite(&yr) {
        let e = node.fwd_eps(&eps, &xr, &yr);
        if let Err(v) = check::approx(&ys, &yr, e) {
            redo.push((format!("fwd_eps: {v}"), None, true, e));
        }
        let b = node.fwd_scale(&bs, &xr, &yr);
        if let Err(v) = check::scale(&ys, &yr, b) {
            redo.push((format!("fwd_scale: {v}"), None, false, b));
        }
    }
    let dl = build::<R>(&case.delta, out_dims, |x| x);
    let vs = node.vjp_spec(&xs, &dl.spec);
    let vr = node.vjp_runtime(&xr, &dl.rt);
    let ve = node.vjp_eps(&eps, &xr, dl.eps, &dl.rt);
    let vb = node.vjp_scale(&bs, &xr, dl.b, &dl.rt);
    for i in 0..vr.len() {
        if !finite(&vr[i]) {
            continue;
        }
        if let Err(v) = check::approx(&vs[i], &vr[i], ve[i]) {
            redo.push((format!("vjp_eps[{i}]: {v}"), Some(i), true, ve[i]));
        }
        if let Err(v) = check::scale(&vs[i], &vr[i], vb[i]) {
            redo.push((format!("vjp_scale[{i}]: {v}"), Some(i), false, vb[i]));
        }
    }
    if !redo.is_empty() {
        redecide(node, &xs, &dl.spec, &yr, &vr, redo)?;
    }
    CHECKS.with(|c| c.set(c.get() + 1));
    Ok(())
}

/// Re-make the checks the `f64` interval spec failed with the 2400-bit spec ([`bigspec`]): a
/// check that passes there is decided; one that fails for every value of the big enclosure is a
/// violation; the rest are undecidable (counted, at most 0.1 % of the cases per op, plus two).
fn redecide<R: Runtime, N: RevNodeScale<R> + BigNode>(
    node: &N,
    xs: &[ArrayD<Interval>],
    delta: &ArrayD<Interval>,
    yr: &ArrayD<R>,
    vr: &[ArrayD<R>],
    redo: Vec<(String, Option<usize>, bool, Bound)>,
) -> Result<(), TestCaseError> {
    bigspec::reset();
    let bx = bigspec::lift(xs);
    let by = SpecForward::<BigIv>::forward_spec(node, &bx);
    let bv = SpecVjp::<BigIv>::vjp_spec(node, &bx, &bigspec::lift(std::slice::from_ref(delta))[0]);
    let (mut out, mut undecided) = (Ok(()), false);
    for (what, which, is_eps, bound) in redo {
        let (spec, rt) = match which {
            None => (&by, yr),
            Some(i) => (&bv[i], &vr[i]),
        };
        let (spec, rt) = (std::slice::from_ref(spec), std::slice::from_ref(rt));
        let verdict = if is_eps {
            bigspec::approx(spec, rt, &[bound])
        } else {
            bigspec::scale(spec, rt, &[bound])
        };
        match verdict {
            Ok(()) => DECIDED_BIG.with(|c| c.set(c.get() + 1)),
            Err(f) if f.definite => {
                out = Err(TestCaseError::fail(format!(
                    "{what}\n  and at 2400 bits, for every value of the enclosure: {}",
                    f.msg
                )));
                break;
            }
            Err(f) => {
                undecided = true;
                UNDECIDED_CHECKS.with(|c| c.set(c.get() + 1));
                eprintln!("undecidable: {what}\n  at 2400 bits: {}", f.msg);
            }
        }
    }
    if undecided {
        UNDECIDED.with(|c| c.set(c.get() + 1));
    }
    bigspec::reset();
    out
}

fn cases() -> u32 {
    cases_from_env("PROPTEST_CASES", 256)
}

fn ident(x: f64) -> f64 {
    x
}

fn check_op<N>(name: &str, node: N, in_dims: &[&[usize]], out_dims: &[usize], tf: &[fn(f64) -> f64])
where
    N: RevNodeScale<f32> + RevNodeScale<bf16> + RevNodeScale<f16> + RevNodeScale<f64> + BigNode,
{
    run_op(name, in_dims, out_dims, &|case: Case| {
        if let Some(p) = case.poison {
            run_poisoned::<f32, N>(&node, in_dims, out_dims, &case, p);
            run_poisoned::<bf16, N>(&node, in_dims, out_dims, &case, p);
            return Ok(());
        }
        run_case::<f32, N>(&node, in_dims, out_dims, &case, tf)?;
        match case.flags % 6 {
            0 | 3 => run_case::<bf16, N>(&node, in_dims, out_dims, &case, tf)?,
            1 => run_case::<f16, N>(&node, in_dims, out_dims, &case, tf)?,
            2 => run_case::<f64, N>(&node, in_dims, out_dims, &case, tf)?,
            _ => {}
        }
        Ok(())
    });
}

/// The property run of one op: `case` on `cases()` generated cases, then the counts. Not generic
/// over the node (the case body comes as a `dyn Fn`), so proptest's runner is compiled once, not
/// once per op: −9 % of this test binary's compile time.
fn run_op(
    name: &str,
    in_dims: &[&[usize]],
    out_dims: &[usize],
    case: &dyn Fn(Case) -> Result<(), TestCaseError>,
) {
    let strat = (
        in_dims
            .iter()
            .map(|d| data(d.iter().product()))
            .collect::<Vec<_>>(),
        data(out_dims.iter().product()),
        any::<u8>(),
        prop::option::weighted(0.15, (0usize..8, 0usize..1000, 0u8..3)),
    )
        .prop_map(|(args, delta, flags, poison)| Case {
            args,
            delta,
            flags,
            poison,
        });
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let before = CHECKS.with(Cell::get);
    let poisoned_before = POISONED.with(Cell::get);
    let (big_before, undecided_before) = (DECIDED_BIG.with(Cell::get), UNDECIDED.with(Cell::get));
    let undecided_checks_before = UNDECIDED_CHECKS.with(Cell::get);
    if let Err(e) = runner.run(&strat, case) {
        panic!("{name}: {e}");
    }
    let checked = CHECKS.with(Cell::get) - before;
    let big = DECIDED_BIG.with(Cell::get) - big_before;
    let undecided = UNDECIDED.with(Cell::get) - undecided_before;
    let undecided_checks = UNDECIDED_CHECKS.with(Cell::get) - undecided_checks_before;
    eprintln!(
        "{name}: {checked} cases checked (all four obligations), 0 violations; {big} checks \
         decided at 2400 bits, {undecided_checks} undecidable in {undecided} cases; {} \
         non-finite cases ran every part without panicking",
        POISONED.with(Cell::get) - poisoned_before
    );
    // An undecidable check is a check not made: at most 0.1 % of the cases may have one, plus
    // two for small runs (the cases are random each run; attention's rate in the long run is
    // ~0.005 %, so at CI's 256 cases per row a single one would otherwise fail a run by
    // chance). Cases, not checks: one case near `f32::MAX` can leave its value's and several
    // cotangents' checks undecided at once (a CI-sized run of the attention rows failed with
    // more than two undecidable checks once in ~60 runs, twenty-fifth session).
    assert!(
        undecided * 1000 <= checked + 2000,
        "{name}: {undecided} cases with undecidable checks ({undecided_checks} checks) in \
         {checked} cases (> 0.1 % + 2)"
    );
}

fn vars1<S: Shape>() -> Var<S, Br> {
    let (_g, (a,)) = RevGraphScale::<f32, Seg<Nil, (S,)>, Nil, Br>::nil(Br);
    a
}

fn vars2<S1: Shape, S2: Shape>() -> (Var<S1, Br>, Var<S2, Br>) {
    let (_g, v) = RevGraphScale::<f32, Seg<Nil, (S1, S2)>, Nil, Br>::nil(Br);
    v
}

type M = Rank2<3, 4>;
const MD: &[usize] = &[3, 4];

macro_rules! unary_test {
    ($name:ident, $ctor:expr) => {
        unary_test!($name, $ctor, ident, MD);
    };
    ($name:ident, $ctor:expr, $tf:expr) => {
        unary_test!($name, $ctor, $tf, MD);
    };
    ($name:ident, $ctor:expr, $tf:expr, $out:expr) => {
        #[test]
        fn $name() {
            let x = vars1::<M>();
            check_op(stringify!($name), $ctor(x), &[MD], $out, &[$tf]);
        }
    };
}

macro_rules! binary_test {
    ($name:ident, $ctor:expr) => {
        #[test]
        fn $name() {
            let (a, b) = vars2::<M, M>();
            check_op(stringify!($name), $ctor(a, b), &[MD, MD], MD, &[ident]);
        }
    };
}

binary_test!(add, ops::add);
binary_test!(sub, ops::sub);
binary_test!(mul, ops::mul);
unary_test!(neg, ops::neg);
unary_test!(scale_exact, |x| ops::scale(x, 0.5).unwrap());
unary_test!(scale_inexact, |x| ops::scale(x, 0.1).unwrap());
unary_test!(relu, ops::relu);
unary_test!(abs, ops::abs);
unary_test!(leaky_relu, |x| ops::leaky_relu(x, 0.01).unwrap());
unary_test!(leaky_relu_neg, |x| ops::leaky_relu(x, -1.7).unwrap());
unary_test!(tanh, ops::tanh);
unary_test!(sigmoid, ops::sigmoid);
unary_test!(exp, ops::exp);
unary_test!(softplus, ops::softplus);
unary_test!(square, ops::square);
unary_test!(log, ops::log);
unary_test!(log_positive, ops::log, |x: f64| x.abs() + 1e-3);
unary_test!(transpose, ops::transpose, ident, &[4, 3]);
unary_test!(sum, ops::sum, ident, &[]);
unary_test!(mean, ops::mean, ident, &[]);
unary_test!(sum_rows, ops::sum_rows, ident, &[4]);
unary_test!(reshape, ops::reshape::<Rank1<12>, _, _>, ident, &[12]);
unary_test!(softmax2, ops::softmax);
unary_test!(log_softmax2, ops::log_softmax);
#[test]
fn mse() {
    let (a, b) = vars2::<M, M>();
    check_op("mse", ops::mse(a, b), &[MD, MD], &[], &[ident]);
}

#[test]
fn softmax1() {
    let x = vars1::<Rank1<7>>();
    check_op("softmax1", ops::softmax(x), &[&[7]], &[7], &[ident]);
    check_op("log_softmax1", ops::log_softmax(x), &[&[7]], &[7], &[ident]);
}

#[test]
fn softmax_wide() {
    let x = vars1::<Rank2<2, 100>>();
    check_op(
        "softmax_wide",
        ops::softmax(x),
        &[&[2, 100]],
        &[2, 100],
        &[ident],
    );
    check_op(
        "log_softmax_wide",
        ops::log_softmax(x),
        &[&[2, 100]],
        &[2, 100],
        &[ident],
    );
}

#[test]
fn cross_entropy() {
    let (z, t) = vars2::<M, M>();
    check_op(
        "cross_entropy",
        ops::cross_entropy(z, t),
        &[MD, MD],
        &[],
        &[ident],
    );
    // Targets as probabilities.
    check_op(
        "cross_entropy_prob",
        ops::cross_entropy(z, t),
        &[MD, MD],
        &[],
        &[ident, |x: f64| (x.abs() / (1.0 + x.abs())).min(1.0) * 0.5],
    );
}

#[test]
fn matmul() {
    let (a, b) = vars2::<Rank2<3, 5>, Rank2<5, 2>>();
    check_op(
        "matmul",
        ops::matmul(a, b),
        &[&[3, 5], &[5, 2]],
        &[3, 2],
        &[ident],
    );
    // Past 8 on every side and not a multiple of it: the bound's scans run their 8-lane
    // chunks and their remainders, on plain and transposed operands (the cotangents').
    let (a, b) = vars2::<Rank2<9, 17>, Rank2<17, 11>>();
    let dims: [&[usize]; 2] = [&[9, 17], &[17, 11]];
    check_op("matmul_wide", ops::matmul(a, b), &dims, &[9, 11], &[ident]);
    use scale_core::config::{self, Config, DotBound};
    config::scoped(
        Config::default().with_dot_bound(DotBound::OrderFree),
        || {
            check_op(
                "matmul_wide_order_free",
                ops::matmul(a, b),
                &dims,
                &[9, 11],
                &[ident],
            )
        },
    );
}

#[test]
fn matvec() {
    let (a, b) = vars2::<Rank2<3, 5>, Rank1<5>>();
    check_op(
        "matvec",
        ops::matvec(a, b),
        &[&[3, 5], &[5]],
        &[3],
        &[ident],
    );
}

#[test]
fn dot() {
    let (a, b) = vars2::<Rank1<6>, Rank1<6>>();
    check_op("dot", ops::dot(a, b), &[&[6], &[6]], &[], &[ident]);
}

#[test]
fn add_bias() {
    let (a, b) = vars2::<M, Rank1<4>>();
    check_op("add_bias", ops::add_bias(a, b), &[MD, &[4]], MD, &[ident]);
}

#[test]
fn long_reductions() {
    // Long sums: a posteriori vs order-free both exercised (order-free in the f64 cases).
    let x = vars1::<Rank1<300>>();
    check_op("sum300", ops::sum(x), &[&[300]], &[], &[ident]);
    check_op("mean300", ops::mean(x), &[&[300]], &[], &[ident]);
    let (a, b) = vars2::<Rank1<300>, Rank1<300>>();
    check_op("dot300", ops::dot(a, b), &[&[300], &[300]], &[], &[ident]);
}

#[test]
fn order_free_mode() {
    use scale_core::config::{self, Config, DotBound};
    // The mode is scoped to this thread and call: other tests keep the default.
    let cfg = Config::default().with_dot_bound(DotBound::OrderFree);
    config::scoped(cfg, order_free_cases);
}

fn order_free_cases() {
    let (a, b) = vars2::<Rank2<3, 5>, Rank2<5, 2>>();
    check_op(
        "matmul_order_free",
        ops::matmul(a, b),
        &[&[3, 5], &[5, 2]],
        &[3, 2],
        &[ident],
    );
    let x = vars1::<M>();
    check_op("softmax_order_free", ops::softmax(x), &[MD], MD, &[ident]);
}

/// Zero-size tensors through every op family: every part runs, nothing panics, and the claims
/// that are made (finite outputs) hold.
#[test]
fn zero_size() {
    type Z = Rank2<0, 4>;
    const ZD: &[usize] = &[0, 4];
    type E = Rank2<3, 0>;
    const ED: &[usize] = &[3, 0];
    let z = vars1::<Z>();
    let (za, zb) = vars2::<Z, Z>();
    check_op("zero_add", ops::add(za, zb), &[ZD, ZD], ZD, &[ident]);
    check_op("zero_mul", ops::mul(za, zb), &[ZD, ZD], ZD, &[ident]);
    check_op("zero_relu", ops::relu(z), &[ZD], ZD, &[ident]);
    check_op("zero_tanh", ops::tanh(z), &[ZD], ZD, &[ident]);
    check_op("zero_log", ops::log(z), &[ZD], ZD, &[ident]);
    check_op("zero_sum", ops::sum(z), &[ZD], &[], &[ident]);
    check_op("zero_mean", ops::mean(z), &[ZD], &[], &[ident]);
    check_op("zero_sum_rows", ops::sum_rows(z), &[ZD], &[4], &[ident]);
    check_op("zero_softmax", ops::softmax(z), &[ZD], ZD, &[ident]);
    check_op("zero_mse", ops::mse(za, zb), &[ZD, ZD], &[], &[ident]);
    check_op(
        "zero_ce",
        ops::cross_entropy(za, zb),
        &[ZD, ZD],
        &[],
        &[ident],
    );
    check_op(
        "zero_transpose",
        ops::transpose(z),
        &[ZD],
        &[4, 0],
        &[ident],
    );
    let e = vars1::<E>();
    let (ea, eb) = vars2::<E, E>();
    check_op("empty_rows_softmax", ops::softmax(e), &[ED], ED, &[ident]);
    check_op(
        "empty_rows_log_softmax",
        ops::log_softmax(e),
        &[ED],
        ED,
        &[ident],
    );
    check_op(
        "empty_rows_ce",
        ops::cross_entropy(ea, eb),
        &[ED, ED],
        &[],
        &[ident],
    );
    check_op(
        "empty_rows_sum_rows",
        ops::sum_rows(e),
        &[ED],
        &[0],
        &[ident],
    );
    let (ma, mb) = vars2::<E, Rank2<0, 2>>();
    check_op(
        "zero_inner_matmul",
        ops::matmul(ma, mb),
        &[ED, &[0, 2]],
        &[3, 2],
        &[ident],
    );
    let (va, vb) = vars2::<E, Rank1<0>>();
    check_op(
        "zero_inner_matvec",
        ops::matvec(va, vb),
        &[ED, &[0]],
        &[3],
        &[ident],
    );
    let (da, db) = vars2::<Rank1<0>, Rank1<0>>();
    check_op("zero_dot", ops::dot(da, db), &[&[0], &[0]], &[], &[ident]);
    let (ba, bb) = vars2::<Z, Rank1<4>>();
    check_op(
        "zero_add_bias",
        ops::add_bias(ba, bb),
        &[ZD, &[4]],
        ZD,
        &[ident],
    );
    check_op(
        "zero_reshape",
        ops::reshape::<Rank1<0>, _, _>(z),
        &[ZD],
        &[0],
        &[ident],
    );
}

// ------------------------------------------------------------------------------------------------
// Smooth unary ops under large input errors (issue #9 item 10): the range bound
// `max(f(x̂+ε) − ŷ, ŷ − f(x̂−ε))` of a monotone `f` replaces the Lipschitz bound `sup|f′|·ε` where
// that is looser, so bounded functions keep bounded errors and `log` near 0 no longer blows up.

/// Forward eps and the VJP eps (cotangent `δ̂`, eps `ed`) of a one-entry smooth op at runtime
/// input `x̂` (`f32`) with input eps `e`.
fn unary_eps<N: RevNodeScale<f32>>(node: &N, x: f32, e: f64, d: f32, ed: f64) -> (Bound, Bound) {
    let xr = vec![ArrayD::from_elem(IxDyn(&[1]), x)];
    let yr = node.forward_runtime(&xr);
    let fe = node.fwd_eps(&[Bound::new(e)], &xr, &yr);
    let dr = ArrayD::from_elem(IxDyn(&[1]), d);
    let ve = node.vjp_eps(&[Bound::new(e)], &xr, Bound::new(ed), &dr)[0];
    (fe, ve)
}

/// Regression: `tanh`/`sigmoid` of an input with eps 1e300 certified an eps of about 1e300
/// (Lipschitz constant × ε) although both functions are bounded; downstream sums then
/// overflowed to +∞. Their output error is at most the width of their range.
#[test]
fn bounded_smooth_ops_keep_bounded_eps() {
    let x = vars1::<Rank1<1>>();
    let (fe, ve) = unary_eps(&ops::tanh(x), 0.5, 1e300, 1.0, 0.0);
    assert!(fe.get() <= 2.0 + 1e-9, "tanh eps {fe:?}");
    // |δ|·|tanh′(x) − tanh′(x̂)| ≤ |δ|·sup tanh′ ≤ 1, not 0.77·ε.
    assert!(ve.get() <= 1.0 + 1e-6, "tanh vjp eps {ve:?}");
    let (fe, ve) = unary_eps(&ops::sigmoid(x), -3.0, 1e300, 2.0, 0.0);
    assert!(fe.get() <= 1.0 + 1e-9, "sigmoid eps {fe:?}");
    assert!(ve.get() <= 0.5 + 1e-6, "sigmoid vjp eps {ve:?}");
    // Small eps: the Lipschitz bound is kept (no loss of tightness).
    let (fe, _) = unary_eps(&ops::tanh(x), 0.5, 1e-6, 1.0, 0.0);
    assert!(fe.get() < 1e-6 && fe.get() > 7e-7, "tanh eps {fe:?}");
}

/// Regression: `log` after cancellation (`x̂ = 10⁻³` known to ±0.999·10⁻³) got the Lipschitz
/// bound `ε / (x̂ − ε) ≈ 999`, and `exp` of that result then had eps +∞ (`e^{999}` overflows),
/// although `exp(log x) = x ≤ 2·10⁻³`. The range bound gives `ln(x̂) − ln(x̂ − ε) ≈ 6.9`, and
/// `exp` after it a finite eps.
#[test]
fn log_after_cancellation_then_exp_is_finite() {
    type G1 = Seg<Nil, (Rank1<1>,)>;
    let (g, (x,)) = RevGraphScale::<f32, G1, Nil, _>::nil(scale_core::brand!());
    let (g, l) = g.snoc(ops::log(x));
    let (g, y) = g.snoc(ops::exp(l));
    let xr = scale_core::TList::<f32, G1>::from_arrays(vec![ndarray::arr1(&[1e-3f32]).into_dyn()])
        .unwrap();
    let e_in = scale_core::EList::<G1>::uniform(Bound::new(0.999e-3));
    let eps = g.eval_bounds(&e_in, &xr);
    let (el, ey) = (eps.get(l).get(), eps.get(y).get());
    assert!(el < 7.0, "log eps {el}");
    assert!(ey.is_finite() && ey < 1.1, "exp(log) eps {ey}");
    // And sound: exp(log(x)) = x for the extreme spec values 10⁻⁶ and 1.999·10⁻³.
    for xs in [1e-3 - 0.999e-3, 1e-3 + 0.999e-3] {
        let yr = f64::from(1e-3f32.ln().exp());
        assert!((xs - yr).abs() <= ey, "spec {xs}: |{xs} − {yr}| > {ey}");
    }
}

/// Soundness of the smooth unary rules under large input errors (up to 10⁶, far beyond
/// `op_obligations`' perturbations): spec point `x̂ + t·ε`, `|t| ≤ 1`, against the interval
/// spec, forward and VJP.
#[test]
fn smooth_unary_large_eps_sound() {
    fn check<N: RevNodeScale<f32>>(name: &str, node: &N, x: f32, e: f64, t: f64, d: f32, ed: f64) {
        let xs_pt = f64::from(x) + t * e;
        let xs = vec![ArrayD::from_elem(IxDyn(&[1]), Interval::point(xs_pt))];
        let xr = vec![ArrayD::from_elem(IxDyn(&[1]), x)];
        let ein = Bound::new(Interval::point(xs_pt).max_dist(f64::from(x)));
        let yr = node.forward_runtime(&xr);
        let ys = node.forward_spec(&xs);
        if yr.iter().all(|v| v.is_finite()) {
            let fe = node.fwd_eps(&[ein], &xr, &yr);
            check::approx(&ys, &yr, fe)
                .unwrap_or_else(|v| panic!("{name}: x̂ {x:e}, ε {e:e}, spec {xs_pt:e}: fwd {v}"));
        }
        let ds = ArrayD::from_elem(IxDyn(&[1]), Interval::point(f64::from(d) + ed * 0.5));
        let dr = ArrayD::from_elem(IxDyn(&[1]), d);
        let vs = node.vjp_spec(&xs, &ds);
        let vr = node.vjp_runtime(&xr, &dr);
        if vr[0].iter().all(|v| v.is_finite()) {
            let ve = node.vjp_eps(&[ein], &xr, Bound::new(ed), &dr);
            check::approx(&vs[0], &vr[0], ve[0]).unwrap_or_else(|v| {
                panic!("{name}: x̂ {x:e}, ε {e:e}, spec {xs_pt:e}, δ̂ {d:e}: vjp {v}")
            });
        }
    }
    let x = vars1::<Rank1<1>>();
    let strat = (
        prop_oneof![
            -3.0..3.0f64,
            -60.0..60.0f64,
            (-8.0..2.0f64).prop_map(|e| 10f64.powf(e))
        ],
        (-3.0..6.0f64).prop_map(|e| 10f64.powf(e)),
        -1.0..1.0f64,
        -2.0..2.0f64,
        prop_oneof![Just(0.0), 0.0..1.0f64],
    );
    let mut runner = TestRunner::new(Config {
        cases: cases() * 8,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strat, |(xv, e, t, d, ed)| {
            let (x32, d32) = (xv as f32, d as f32);
            check("tanh", &ops::tanh(x), x32, e, t, d32, ed);
            check("sigmoid", &ops::sigmoid(x), x32, e, t, d32, ed);
            check("exp", &ops::exp(x), x32, e.min(50.0), t, d32, ed);
            check("softplus", &ops::softplus(x), x32, e, t, d32, ed);
            check("square", &ops::square(x), x32, e, t, d32, ed);
            // log: positive data with ε up to just below x̂ (the cancellation case).
            let xl = (xv.abs() + 1e-3) as f32;
            let el = f64::from(xl) * (e / (1.0 + e));
            check("log", &ops::log(x), xl, el, t, d32, ed);
            Ok(())
        })
        .unwrap();
}

// ------------------------------------------------------------------------------------------------
// Elementwise ops of SPEC §9b (issue #12): `div`, `sqrt`, `rsqrt`. Their preconditions are
// decided from data (`|b̂| > ε_b`; `x̂ − ε ≥ 0`, `> 0` for rsqrt and gradients), so the plain rows
// (divisors and arguments of every sign, exact zeros, subnormals, values within 1e-7 of 0) mostly
// check that a failed margin gives `+∞`, and the rows with transformed data (divisors and
// arguments bounded away from 0, of both signs) check the finite bounds.

/// A divisor of the generated value's sign, at least `10⁻³` away from 0.
fn away_from_zero(x: f64) -> f64 {
    if x < 0.0 { x - 1e-3 } else { x + 1e-3 }
}

binary_test!(div, ops::div);
#[test]
fn div_away_from_zero() {
    let (a, b) = vars2::<M, M>();
    check_op(
        "div_away_from_zero",
        ops::div(a, b),
        &[MD, MD],
        MD,
        &[ident, away_from_zero],
    );
}
unary_test!(sqrt, ops::sqrt);
unary_test!(sqrt_nonneg, ops::sqrt, |x: f64| x.abs());
unary_test!(sqrt_positive, ops::sqrt, |x: f64| x.abs() + 1e-3);
unary_test!(rsqrt, ops::rsqrt);
unary_test!(rsqrt_nonneg, ops::rsqrt, |x: f64| x.abs());
unary_test!(rsqrt_positive, ops::rsqrt, |x: f64| x.abs() + 1e-3);

/// `sqrt` at the edge of its domain: input eps exactly `x̂`, so `x̂ − ε` rounds down to `−0.0`
/// (the long run found the forward bound `0` there: `1/√−0 = −∞` in the derivative's supremum).
#[test]
fn sqrt_at_the_domain_edge() {
    let x = vars1::<Rank1<1>>();
    let sqrt = ops::sqrt(x);
    let node: &dyn RevNodeScale<f32> = &sqrt;
    for v in [
        7.289914e-8f32,
        1e-30,
        1e-45,
        0.5,
        1.0,
        3.0e38,
        f32::MIN_POSITIVE,
    ] {
        let xr = vec![ArrayD::from_shape_vec(IxDyn(&[1]), vec![v]).unwrap()];
        let e = Bound::new(v as f64);
        let y = node.forward_runtime(&xr);
        let b = node.fwd_eps(&[e], &xr, &y);
        // The exact input may be 0 (or 2x̂): the bound covers √x̂ − √0.
        for spec_x in [0.0, 2.0 * v as f64] {
            let xs =
                vec![ArrayD::from_shape_vec(IxDyn(&[1]), vec![Interval::point(spec_x)]).unwrap()];
            let ys = SpecForward::<Interval>::forward_spec(&sqrt, &xs);
            check::approx(&ys, &y, b).unwrap_or_else(|f| panic!("x̂ = {v:e}: {f}"));
        }
    }
}

#[test]
fn zero_size_div_sqrt() {
    type Z = Rank2<0, 4>;
    const ZD: &[usize] = &[0, 4];
    let z = vars1::<Z>();
    let (za, zb) = vars2::<Z, Z>();
    check_op("zero_div", ops::div(za, zb), &[ZD, ZD], ZD, &[ident]);
    check_op("zero_sqrt", ops::sqrt(z), &[ZD], ZD, &[ident]);
    check_op("zero_rsqrt", ops::rsqrt(z), &[ZD], ZD, &[ident]);
}

/// The premises of one-entry `div` at the margin: runtime operands `â`, `b̂` (`f32`), eps
/// `ε_a`, `ε_b` up to `0.999·|b̂|` (the spec divisor within a thousandth of 0), spec points
/// `â + t_a·ε_a`, `b̂ + t_b·ε_b`; forward and both cotangents against the interval spec, and
/// the precondition: finite bounds exactly where `|b̂| > ε_b`.
#[test]
fn div_near_the_margin_sound() {
    let (a, b) = vars2::<Rank1<1>, Rank1<1>>();
    let div = ops::div(a, b);
    let node: &dyn RevNodeScale<f32> = &div;
    let strat = (
        prop_oneof![-3.0..3.0f64, (-30.0..30.0f64).prop_map(|e| 10f64.powf(e))],
        prop_oneof![
            -3.0..3.0f64,
            (-40.0..30.0f64, any::<bool>()).prop_map(|(e, s)| if s {
                10f64.powf(e)
            } else {
                -10f64.powf(e)
            })
        ],
        prop_oneof![Just(0.0), 0.0..1.0f64, Just(0.999), Just(1.0), 1.0..2.0f64],
        prop_oneof![Just(0.0), 0.0..1e-2f64],
        (-1.0..1.0f64, -1.0..1.0f64),
        (-2.0..2.0f64, prop_oneof![Just(0.0), 0.0..1.0f64]),
    );
    let mut runner = TestRunner::new(Config {
        cases: cases() * 8,
        failure_persistence: None,
        ..Config::default()
    });
    let (finite_fwd, total) = (Cell::new(0usize), Cell::new(0usize));
    runner
        .run(&strat, |(av, bv, kb, ka, (ta, tb), (dv, ed))| {
            let (a32, b32, d32) = (av as f32, bv as f32, dv as f32);
            let (ar, br) = (f64::from(a32), f64::from(b32));
            let (ea, eb) = (ka * ar.abs(), kb * br.abs());
            let (sa, sb) = (ar + ta * ea, br + tb * eb);
            let one = |v: f64| ArrayD::from_elem(IxDyn(&[1]), Interval::point(v));
            let xs = vec![one(sa), one(sb)];
            let xr = vec![
                ArrayD::from_elem(IxDyn(&[1]), a32),
                ArrayD::from_elem(IxDyn(&[1]), b32),
            ];
            let ein = [
                Bound::new(Interval::point(sa).max_dist(ar)),
                Bound::new(Interval::point(sb).max_dist(br)),
            ];
            let yr = node.forward_runtime(&xr);
            let fe = node.fwd_eps(&ein, &xr, &yr);
            let margin_ok = br.abs() > ein[1].get() && br != 0.0;
            if !margin_ok {
                prop_assert!(
                    fe.is_infinite(),
                    "|b̂| {br:e} ≤ ε_b {:e}: eps {fe:?}",
                    ein[1].get()
                );
            }
            total.set(total.get() + 1);
            if yr.iter().all(|v| v.is_finite()) {
                if fe.get().is_finite() {
                    finite_fwd.set(finite_fwd.get() + 1);
                }
                let ys = node.forward_spec(&xs);
                check::approx(&ys, &yr, fe).map_err(|v| fail("div fwd", v))?;
            }
            let ds = ArrayD::from_elem(IxDyn(&[1]), Interval::point(f64::from(d32) + ed * 0.5));
            let dr = ArrayD::from_elem(IxDyn(&[1]), d32);
            let vs = node.vjp_spec(&xs, &ds);
            let vr = node.vjp_runtime(&xr, &dr);
            let ve = node.vjp_eps(&ein, &xr, Bound::new(ed), &dr);
            for i in 0..2 {
                if !margin_ok {
                    prop_assert!(ve[i].is_infinite());
                }
                if vr[i].iter().all(|v| v.is_finite()) {
                    check::approx(&vs[i], &vr[i], ve[i])
                        .map_err(|v| fail(&format!("div vjp[{i}]"), v))?;
                }
            }
            Ok(())
        })
        .unwrap();
    // Not vacuous: most cases clear the margin and are checked against a finite bound.
    let (finite_fwd, total) = (finite_fwd.get(), total.get());
    assert!(finite_fwd * 2 > total, "{finite_fwd} finite of {total}");
    eprintln!(
        "div_near_the_margin_sound: {total} cases, {finite_fwd} with a finite forward bound, \
         0 violations"
    );
}

/// `sqrt`/`rsqrt` with `ε` up to (and beyond) `x̂`: spec points `x̂ + t·ε` reach 0 (sqrt's
/// forward stays finite there, by the range bound) and below (every bound `+∞`).
#[test]
fn sqrt_near_zero_sound() {
    fn run<N: RevNodeScale<f32>>(
        name: &str,
        node: &N,
        zero_ok: bool,
        (x, k, t, d, ed): (f32, f64, f64, f32, f64),
    ) -> Result<bool, TestCaseError> {
        let xr64 = f64::from(x);
        let e = k * xr64.abs();
        let xs_pt = xr64 + t * e;
        let xs = vec![ArrayD::from_elem(IxDyn(&[1]), Interval::point(xs_pt))];
        let xr = vec![ArrayD::from_elem(IxDyn(&[1]), x)];
        let ein = Bound::new(Interval::point(xs_pt).max_dist(xr64));
        let lo = xr64 - ein.get();
        let yr = node.forward_runtime(&xr);
        let fe = node.fwd_eps(&[ein], &xr, &yr);
        // The plain difference has the sign of the exact one: outside the domain → +∞.
        if lo < 0.0 || (!zero_ok && lo <= 0.0) {
            prop_assert!(
                fe.is_infinite(),
                "{name}: x̂ {x:e}, ε {:e}: {fe:?}",
                ein.get()
            );
        }
        if yr.iter().all(|v| v.is_finite()) {
            let ys = node.forward_spec(&xs);
            check::approx(&ys, &yr, fe).map_err(|v| fail(&format!("{name} fwd"), v))?;
        }
        let ds = ArrayD::from_elem(IxDyn(&[1]), Interval::point(f64::from(d) + ed * 0.5));
        let dr = ArrayD::from_elem(IxDyn(&[1]), d);
        let vs = node.vjp_spec(&xs, &ds);
        let vr = node.vjp_runtime(&xr, &dr);
        let ve = node.vjp_eps(&[ein], &xr, Bound::new(ed), &dr);
        if lo <= 0.0 {
            prop_assert!(ve[0].is_infinite(), "{name} vjp: {ve:?}");
        }
        if vr[0].iter().all(|v| v.is_finite()) {
            check::approx(&vs[0], &vr[0], ve[0]).map_err(|v| fail(&format!("{name} vjp"), v))?;
        }
        Ok(fe.get().is_finite())
    }
    let x = vars1::<Rank1<1>>();
    let (sq, rs) = (ops::sqrt(x), ops::rsqrt(x));
    let strat = (
        prop_oneof![
            0.0..3.0f64,
            (-44.0..30.0f64).prop_map(|e| 10f64.powf(e)),
            -1e-6..1e-6f64,
            Just(0.0)
        ],
        prop_oneof![Just(0.0), 0.0..1.0f64, Just(1.0), 1.0..3.0f64],
        -1.0..1.0f64,
        -2.0..2.0f64,
        prop_oneof![Just(0.0), 0.0..1.0f64],
    );
    let mut runner = TestRunner::new(Config {
        cases: cases() * 8,
        failure_persistence: None,
        ..Config::default()
    });
    let (finite, total) = (Cell::new(0usize), Cell::new(0usize));
    runner
        .run(&strat, |(xv, k, t, d, ed)| {
            let c = (xv as f32, k, t, d as f32, ed);
            let n =
                usize::from(run("sqrt", &sq, true, c)?) + usize::from(run("rsqrt", &rs, false, c)?);
            finite.set(finite.get() + n);
            total.set(total.get() + 2);
            Ok(())
        })
        .unwrap();
    let (finite, total) = (finite.get(), total.get());
    assert!(finite * 3 > total, "{finite} finite of {total}");
    eprintln!(
        "sqrt_near_zero_sound: {total} cases, {finite} with a finite forward bound, 0 violations"
    );
}

/// Values on a coarse lattice (`k/2`, `|k| ≤ 6`): two such operands tie exactly often, and the
/// perturbed data modes turn those ties into near-ties of either order.
fn lattice(x: f64) -> f64 {
    (x.clamp(-3.0, 3.0) * 2.0).round() / 2.0
}

binary_test!(maximum, ops::maximum);
binary_test!(minimum, ops::minimum);
#[test]
fn extremum_ties() {
    let (a, b) = vars2::<M, M>();
    check_op(
        "maximum_ties",
        ops::maximum(a, b),
        &[MD, MD],
        MD,
        &[lattice],
    );
    check_op(
        "minimum_ties",
        ops::minimum(a, b),
        &[MD, MD],
        MD,
        &[lattice],
    );
    // One handle twice: every entry an exact tie, spec and runtime.
    check_op("maximum_self", ops::maximum(a, a), &[MD, MD], MD, &[ident]);
    type Z = Rank2<0, 4>;
    let (za, zb) = vars2::<Z, Z>();
    check_op(
        "zero_maximum",
        ops::maximum(za, zb),
        &[&[0, 4], &[0, 4]],
        &[0, 4],
        &[ident],
    );
}

/// Near-ties of one entry: `b̂ = â + k` ulps of `f32` (`k ∈ −3..=3`, ties included), operand eps
/// of up to a few ulps with spec points anywhere inside, every branch pairing (spec above, at,
/// below the runtime's); both cotangents against the interval spec, and the kink rule's price
/// only where the operands are within `ε_a + ε_b`.
#[test]
fn extremum_near_ties_sound() {
    let (a, b) = vars2::<Rank1<1>, Rank1<1>>();
    let (mx, mn) = (ops::maximum(a, b), ops::minimum(a, b));
    let strat = (
        prop_oneof![
            -3.0..3.0f64,
            Just(0.0),
            (-40.0..30.0f64).prop_map(|e| 10f64.powf(e))
        ],
        -3i32..=3,
        (
            prop_oneof![Just(0u32), 0u32..4],
            prop_oneof![Just(0u32), 0u32..4],
        ),
        (-1.0..1.0f64, -1.0..1.0f64),
        (-2.0..2.0f64, prop_oneof![Just(0.0), 0.0..1.0f64]),
        prop_oneof![Just(0.0), Just(0.5), -1.0..1.0f64],
    );
    let mut runner = TestRunner::new(Config {
        cases: cases() * 8,
        failure_persistence: None,
        ..Config::default()
    });
    let ulp = |v: f32| f64::from(f32::from_bits(v.abs().to_bits() + 1)) - f64::from(v.abs());
    runner
        .run(&strat, |(av, k, (ka, kb), (ta, tb), (dv, ed), tie_t)| {
            let a32 = av as f32;
            let b32 = (f64::from(a32) + f64::from(k) * ulp(a32)) as f32;
            let (ar, br) = (f64::from(a32), f64::from(b32));
            let (ea, eb) = (f64::from(ka) * ulp(a32), f64::from(kb) * ulp(b32));
            // Spec points: anywhere in the eps ball, or (tie_t) both at one common point.
            let p = 0.5 * (ar + br) + tie_t * 0.5 * ea.min(eb);
            let common = ka > 0 && kb > 0 && tie_t != 0.0;
            let (sa, sb) = if common && (p - ar).abs() <= ea && (p - br).abs() <= eb {
                (p, p)
            } else {
                (ar + ta * ea, br + tb * eb)
            };
            let one = |v: f64| ArrayD::from_elem(IxDyn(&[1]), Interval::point(v));
            let xs = vec![one(sa), one(sb)];
            let xr = vec![
                ArrayD::from_elem(IxDyn(&[1]), a32),
                ArrayD::from_elem(IxDyn(&[1]), b32),
            ];
            let ein = [
                Bound::new(Interval::point(sa).max_dist(ar)),
                Bound::new(Interval::point(sb).max_dist(br)),
            ];
            let dr = ArrayD::from_elem(IxDyn(&[1]), dv as f32);
            let dr_s = ArrayD::from_elem(
                IxDyn(&[1]),
                Interval::point(f64::from(dv as f32) + ed * 0.5),
            );
            for (name, node) in [("maximum", &mx as &dyn RevNodeScale<f32>), ("minimum", &mn)] {
                let yr = node.forward_runtime(&xr);
                let ys = node.forward_spec(&xs);
                let fe = node.fwd_eps(&ein, &xr, &yr);
                check::approx(&ys, &yr, fe).map_err(|v| fail(&format!("{name} fwd"), v))?;
                let vs = node.vjp_spec(&xs, &dr_s);
                let vr = node.vjp_runtime(&xr, &dr);
                let ve = node.vjp_eps(&ein, &xr, Bound::new(ed), &dr);
                for i in 0..2 {
                    check::approx(&vs[i], &vr[i], ve[i])
                        .map_err(|v| fail(&format!("{name} vjp[{i}]"), v))?;
                }
                // Far from the kink the price is ε_δ only.
                if (ar - br).abs() > ein[0].get() + ein[1].get() {
                    prop_assert!(
                        ve[0].get() <= ed * (1.0 + 1e-12) + 1e-300
                            && ve[1].get() <= ed * (1.0 + 1e-12) + 1e-300
                    );
                }
            }
            Ok(())
        })
        .unwrap();
}

unary_test!(gelu, ops::gelu);
unary_test!(gelu_tanh, ops::gelu_tanh);
// Moderate arguments (|x| ≤ 40 after the transform): the left tail where `x·Φ(x)` underflows
// gradually, the root of `gelu′` near −0.75, and the saturation on the right.
unary_test!(gelu_moderate, ops::gelu, |x: f64| x.clamp(-40.0, 40.0));
unary_test!(gelu_tanh_moderate, ops::gelu_tanh, |x: f64| x
    .clamp(-40.0, 40.0));

// ------------------------------------------------------------------------------ axes (§9b)

const T234: &[usize] = &[2, 3, 4];

/// The node itself, with its output shape named: `slice` and `concat` take it from the caller.
fn out<T: Shape, N: scale_core::NodeType<Out = T>>(n: N) -> N {
    n
}

/// `sum(x, axis)` and `mean(x, axis)` over every axis of a rank-3 tensor, a long axis (the
/// a-posteriori and order-free sums both apply), and rank 1 and 4.
#[test]
fn axis_reductions() {
    let x = vars1::<Rank3<2, 3, 4>>();
    check_op(
        "sum_axis0",
        ops::sum_axis(x, ops::Idx::<0>),
        &[T234],
        &[3, 4],
        &[ident],
    );
    check_op(
        "sum_axis1",
        ops::sum_axis(x, ops::Idx::<1>),
        &[T234],
        &[2, 4],
        &[ident],
    );
    check_op(
        "sum_axis2",
        ops::sum_axis(x, ops::Idx::<2>),
        &[T234],
        &[2, 3],
        &[ident],
    );
    check_op(
        "mean_axis0",
        ops::mean_axis(x, ops::Idx::<0>),
        &[T234],
        &[3, 4],
        &[ident],
    );
    check_op(
        "mean_axis1",
        ops::mean_axis(x, ops::Idx::<1>),
        &[T234],
        &[2, 4],
        &[ident],
    );
    check_op(
        "mean_axis2",
        ops::mean_axis(x, ops::Idx::<2>),
        &[T234],
        &[2, 3],
        &[ident],
    );
    let l = vars1::<Rank2<2, 300>>();
    check_op(
        "sum_axis_long",
        ops::sum_axis(l, ops::Idx::<1>),
        &[&[2, 300]],
        &[2],
        &[ident],
    );
    // 257 rounds in bf16: the runtime divides by a rounded n.
    let m = vars1::<Rank2<257, 2>>();
    check_op(
        "mean_axis_257",
        ops::mean_axis(m, ops::Idx::<0>),
        &[&[257, 2]],
        &[2],
        &[ident],
    );
    let v = vars1::<Rank1<5>>();
    check_op(
        "sum_axis_rank1",
        ops::sum_axis(v, ops::Idx::<0>),
        &[&[5]],
        &[],
        &[ident],
    );
    let q = vars1::<Rank4<2, 2, 3, 2>>();
    check_op(
        "mean_axis_rank4",
        ops::mean_axis(q, ops::Idx::<2>),
        &[&[2, 2, 3, 2]],
        &[2, 2, 2],
        &[ident],
    );
}

/// `permute` on ranks 2 to 4, `slice` on every kind of axis, `concat` along the first, a middle
/// and the last axis: exact ops, so the bounds are the inputs' and must still hold.
#[test]
fn axis_moves() {
    let x = vars1::<Rank3<2, 3, 4>>();
    check_op(
        "permute_201",
        ops::permute(x, ops::Perm3::<2, 0, 1>),
        &[T234],
        &[4, 2, 3],
        &[ident],
    );
    check_op(
        "permute_021",
        ops::permute(x, ops::Perm3::<0, 2, 1>),
        &[T234],
        &[2, 4, 3],
        &[ident],
    );
    let m = vars1::<M>();
    check_op(
        "permute_10",
        ops::permute(m, ops::Perm2::<1, 0>),
        &[MD],
        &[4, 3],
        &[ident],
    );
    let q = vars1::<Rank4<2, 1, 3, 2>>();
    check_op(
        "permute_3120",
        ops::permute(q, ops::Perm4::<3, 1, 2, 0>),
        &[&[2, 1, 3, 2]],
        &[2, 1, 3, 2],
        &[ident],
    );
    check_op(
        "slice_mid",
        out::<Rank3<2, 2, 4>, _>(ops::slice(x, ops::Idx::<1>, ops::Idx::<1>, ops::Idx::<3>)),
        &[T234],
        &[2, 2, 4],
        &[ident],
    );
    check_op(
        "slice_last",
        out::<Rank3<2, 3, 1>, _>(ops::slice(x, ops::Idx::<2>, ops::Idx::<3>, ops::Idx::<4>)),
        &[T234],
        &[2, 3, 1],
        &[ident],
    );
    check_op(
        "slice_all",
        out::<Rank2<3, 4>, _>(ops::slice(m, ops::Idx::<0>, ops::Idx::<0>, ops::Idx::<3>)),
        &[MD],
        MD,
        &[ident],
    );
    let (a, b) = vars2::<Rank3<2, 3, 4>, Rank3<2, 1, 4>>();
    check_op(
        "concat_mid",
        out::<Rank3<2, 4, 4>, _>(ops::concat(a, b, ops::Idx::<1>)),
        &[T234, &[2, 1, 4]],
        &[2, 4, 4],
        &[ident],
    );
    let (c, d) = vars2::<Rank2<1, 4>, M>();
    check_op(
        "concat_first",
        out::<Rank2<4, 4>, _>(ops::concat(c, d, ops::Idx::<0>)),
        &[&[1, 4], MD],
        &[4, 4],
        &[ident],
    );
    let (e, f) = vars2::<Rank1<2>, Rank1<5>>();
    check_op(
        "concat_last",
        out::<Rank1<7>, _>(ops::concat(e, f, ops::Idx::<0>)),
        &[&[2], &[5]],
        &[7],
        &[ident],
    );
}

/// Zero-size dimensions: a reduced axis of length 0 (sum: exact zeros; mean: 0/0, a non-finite
/// runtime value with a +∞ bound), an empty other axis, empty slices and concatenations.
#[test]
fn axis_zero_size() {
    let z = vars1::<Rank3<2, 0, 3>>();
    let zd: &[usize] = &[2, 0, 3];
    check_op(
        "zero_sum_axis_empty",
        ops::sum_axis(z, ops::Idx::<1>),
        &[zd],
        &[2, 3],
        &[ident],
    );
    check_op(
        "zero_mean_axis_empty",
        ops::mean_axis(z, ops::Idx::<1>),
        &[zd],
        &[2, 3],
        &[ident],
    );
    check_op(
        "zero_sum_axis_other",
        ops::sum_axis(z, ops::Idx::<2>),
        &[zd],
        &[2, 0],
        &[ident],
    );
    check_op(
        "zero_mean_axis_other",
        ops::mean_axis(z, ops::Idx::<0>),
        &[zd],
        &[0, 3],
        &[ident],
    );
    check_op(
        "zero_permute",
        ops::permute(z, ops::Perm3::<1, 2, 0>),
        &[zd],
        &[0, 3, 2],
        &[ident],
    );
    let x = vars1::<Rank3<2, 3, 4>>();
    check_op(
        "zero_slice",
        out::<Rank3<2, 0, 4>, _>(ops::slice(x, ops::Idx::<1>, ops::Idx::<2>, ops::Idx::<2>)),
        &[T234],
        &[2, 0, 4],
        &[ident],
    );
    let (a, b) = vars2::<Rank3<2, 0, 3>, Rank3<2, 2, 3>>();
    check_op(
        "zero_concat",
        out::<Rank3<2, 2, 3>, _>(ops::concat(a, b, ops::Idx::<1>)),
        &[zd, &[2, 2, 3]],
        &[2, 2, 3],
        &[ident],
    );
}

// ------------------------------------------------------------- softmax on […, n], causal

/// Logits with masked-like entries: about a third at −1e30 (a hard mask written as a huge
/// negative logit), the others as generated (huge, tiny, cancelling, non-representable).
fn masked_like(x: f64) -> f64 {
    if x.abs() < 0.5 { -1e30 } else { x }
}

/// `softmax`/`log_softmax` on rank 3 and 4 (rows = every leading index), with −∞-like logits.
#[test]
fn softmax_leading_axes() {
    let x = vars1::<Rank3<2, 3, 4>>();
    check_op("softmax3", ops::softmax(x), &[T234], T234, &[ident]);
    check_op("log_softmax3", ops::log_softmax(x), &[T234], T234, &[ident]);
    check_op(
        "softmax3_masked",
        ops::softmax(x),
        &[T234],
        T234,
        &[masked_like],
    );
    let q = vars1::<Rank4<2, 1, 2, 5>>();
    let qd: &[usize] = &[2, 1, 2, 5];
    check_op("softmax4", ops::softmax(q), &[qd], qd, &[ident]);
    check_op("log_softmax4", ops::log_softmax(q), &[qd], qd, &[ident]);
}

/// `softmax_causal` on rank 2 to 4: ordinary, −∞-like and huge logits, a long row, n = 1 (every
/// row a single entry: probability exactly 1) and zero-size batches.
#[test]
fn softmax_causal() {
    let x = vars1::<Rank3<2, 4, 4>>();
    let xd: &[usize] = &[2, 4, 4];
    check_op(
        "softmax_causal3",
        ops::softmax_causal(x),
        &[xd],
        xd,
        &[ident],
    );
    check_op(
        "softmax_causal3_masked",
        ops::softmax_causal(x),
        &[xd],
        xd,
        &[masked_like],
    );
    check_op(
        "softmax_causal3_huge",
        ops::softmax_causal(x),
        &[xd],
        xd,
        &[|x: f64| x * 1e6],
    );
    let m = vars1::<Rank2<5, 5>>();
    check_op(
        "softmax_causal2",
        ops::softmax_causal(m),
        &[&[5, 5]],
        &[5, 5],
        &[ident],
    );
    let q = vars1::<Rank4<1, 2, 3, 3>>();
    let qd: &[usize] = &[1, 2, 3, 3];
    check_op(
        "softmax_causal4",
        ops::softmax_causal(q),
        &[qd],
        qd,
        &[ident],
    );
    let l = vars1::<Rank2<40, 40>>();
    check_op(
        "softmax_causal_long",
        ops::softmax_causal(l),
        &[&[40, 40]],
        &[40, 40],
        &[ident],
    );
    let one = vars1::<Rank3<3, 1, 1>>();
    let od: &[usize] = &[3, 1, 1];
    check_op(
        "softmax_causal_n1",
        ops::softmax_causal(one),
        &[od],
        od,
        &[ident],
    );
    let z = vars1::<Rank3<0, 3, 3>>();
    let zd: &[usize] = &[0, 3, 3];
    check_op(
        "zero_softmax_causal",
        ops::softmax_causal(z),
        &[zd],
        zd,
        &[ident],
    );
    let e = vars1::<Rank3<2, 0, 0>>();
    let ed: &[usize] = &[2, 0, 0];
    check_op(
        "empty_softmax_causal",
        ops::softmax_causal(e),
        &[ed],
        ed,
        &[ident],
    );
}

/// The masked entries (`j > i`) are exact zeros in the spec (a point 0, not an enclosure) and at
/// run time, forward and backward, whatever the logits there (NaN included: masked logits are
/// never read).
#[test]
fn softmax_causal_masked_entries_are_exact_zeros() {
    use scale_core::{FwdNode, RevNode, SpecForward, SpecVjp};
    let x = vars1::<Rank2<3, 3>>();
    let node = ops::softmax_causal(x);
    let xs = ndarray::arr2(&[
        [1.0, f64::NAN, 1e30],
        [-1e30, 2.0, f64::INFINITY],
        [0.5, 0.5, 0.5],
    ])
    .into_dyn();
    let spec: Vec<ArrayD<Interval>> = vec![xs.mapv(Interval::point)];
    let rt: Vec<ArrayD<f32>> = vec![xs.mapv(|v| v as f32)];
    let d = ndarray::arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]).into_dyn();
    let ys = SpecForward::forward_spec(&node, &spec);
    let yr = FwdNode::<f32>::forward_runtime(&node, &rt);
    let gs = SpecVjp::vjp_spec(&node, &spec, &d.mapv(Interval::point));
    let gr = RevNode::<f32>::vjp_runtime(&node, &rt, &d.mapv(|v| v as f32));
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        assert!(
            ys[[i, j]].lo() == 0.0 && ys[[i, j]].hi() == 0.0,
            "{:?}",
            ys[[i, j]]
        );
        assert_eq!(yr[[i, j]].to_bits(), 0);
        assert!(gs[0][[i, j]].lo() == 0.0 && gs[0][[i, j]].hi() == 0.0);
        assert_eq!(gr[0][[i, j]].to_bits(), 0);
    }
    // Row 0 is one entry (probability 1), row 1 puts all mass on x[1, 1] = 2 against −1e30.
    assert_eq!(yr[[0, 0]], 1.0);
    assert_eq!(yr[[1, 1]], 1.0);
    assert_eq!(yr[[1, 0]], 0.0);
    assert!((yr[[2, 0]] - 1.0 / 3.0).abs() < 1e-7);
    assert!(ys[[2, 1]].lo() <= 1.0 / 3.0 && 1.0 / 3.0 <= ys[[2, 1]].hi());
}
// ------------------------------------------------------------- normalisation (layer/rms norm)

fn vars3<S1: Shape, S2: Shape, S3: Shape>() -> (Var<S1, Br>, Var<S2, Br>, Var<S3, Br>) {
    let (_g, v) = RevGraphScale::<f32, Seg<Nil, (S1, S2, S3)>, Nil, Br>::nil(Br);
    v
}

/// Rows that are nearly constant: the variance (about 1e-13) far below `eps`.
fn near_constant(x: f64) -> f64 {
    2.5 + (x % 1.0) * 1e-6
}

/// Exactly constant rows: variance 0, the output is `β`.
fn constant(_x: f64) -> f64 {
    -0.75
}

/// Rows whose variance is of the order of a tiny `eps` (1e-12).
fn var_near_eps(x: f64) -> f64 {
    1.0 + (x % 1.0) * 1e-6
}

#[test]
fn layer_norm() {
    let (x, g, b) = vars3::<M, Rank1<4>, Rank1<4>>();
    let dims: &[&[usize]] = &[MD, &[4], &[4]];
    for (name, eps, tf) in [
        ("layer_norm", 1e-5, ident as fn(f64) -> f64),
        ("layer_norm_near_constant", 1e-5, near_constant),
        ("layer_norm_constant", 1e-5, constant),
        ("layer_norm_var_near_eps", 1e-12, var_near_eps),
        ("layer_norm_big_eps", 3.0, ident),
    ] {
        check_op(
            name,
            ops::layer_norm(x, g, b, eps).unwrap(),
            dims,
            MD,
            &[tf, ident],
        );
    }
    // Leading batch axes (rank 3) and one row of one entry (variance 0, y = β).
    let (x3, g3, b3) = vars3::<scale_core::Rank3<2, 2, 5>, Rank1<5>, Rank1<5>>();
    let node = ops::layer_norm(x3, g3, b3, 1e-5).unwrap();
    check_op(
        "layer_norm_rank3",
        node,
        &[&[2, 2, 5], &[5], &[5]],
        &[2, 2, 5],
        &[ident],
    );
    let (x1, g1, b1) = vars3::<Rank1<1>, Rank1<1>, Rank1<1>>();
    let node = ops::layer_norm(x1, g1, b1, 1e-5).unwrap();
    check_op("layer_norm_n1", node, &[&[1], &[1], &[1]], &[1], &[ident]);
    // eps must be a positive finite number.
    for bad in [0.0, -1e-5, f64::NAN, f64::INFINITY] {
        assert!(ops::layer_norm(x, g, b, bad).is_err(), "{bad}");
    }
}

#[test]
fn rms_norm() {
    let (x, g) = vars2::<M, Rank1<4>>();
    let dims: &[&[usize]] = &[MD, &[4]];
    for (name, eps, tf) in [
        ("rms_norm", 1e-6, ident as fn(f64) -> f64),
        ("rms_norm_tiny_rows", 1e-6, |x: f64| x * 1e-4),
        ("rms_norm_constant", 1e-6, constant),
        ("rms_norm_big_eps", 3.0, ident),
    ] {
        check_op(
            name,
            ops::rms_norm(x, g, eps).unwrap(),
            dims,
            MD,
            &[tf, ident],
        );
    }
    let (x4, g4) = vars2::<scale_core::Rank4<1, 2, 2, 3>, Rank1<3>>();
    let node = ops::rms_norm(x4, g4, 1e-6).unwrap();
    check_op(
        "rms_norm_rank4",
        node,
        &[&[1, 2, 2, 3], &[3]],
        &[1, 2, 2, 3],
        &[ident],
    );
    for bad in [0.0, -1.0, f64::NAN] {
        assert!(ops::rms_norm(x, g, bad).is_err(), "{bad}");
    }
}

/// The report's stage breakdown: five named stages for layer norm, each finite on ordinary data,
/// the last equal to the node's own propagated eps; shown in the table and kept by the JSON round trip.
#[test]
fn layer_norm_stages_in_report() {
    use scale_core::report::Report;
    type G = Seg<Nil, (M, Rank1<4>, Rank1<4>)>;
    let (g, (x, ga, be)) = RevGraphScale::<f32, G, Nil, _>::nil(Br);
    let (g, y) = g.snoc(ops::layer_norm(x, ga, be, 1e-5).unwrap());
    let (g, s) = g.snoc(ops::sum(y));
    // The stages break down the propagated bound (the this-run enclosure may differ by 1.12×).
    let g = g.with_config(scale_core::Config::default().with_enclose(false));
    let xr = scale_core::TList::from_arrays(vec![
        ArrayD::from_shape_vec(
            IxDyn(MD),
            (0..12).map(|i| (i as f32 * 0.37).sin()).collect(),
        )
        .unwrap(),
        ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0f32, -2.0, 0.5, 3.0]).unwrap(),
        ArrayD::from_shape_vec(IxDyn(&[4]), vec![0.1f32, 0.2, 0.3, 0.4]).unwrap(),
    ])
    .unwrap();
    let (e, bs) = g.exact_inputs(&xr);
    let (seed, es, bss) = g.loss_seed(s);
    let cert = g.certify(xr, &e, &bs, &seed, &es, &bss);
    let report = Report::new(&g, &cert, &["x", "gamma", "beta", "y", "s"]).unwrap();
    let row = &report.rows[3];
    let names: Vec<&str> = row.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["centring", "variance", "sqrt", "division", "affine"]
    );
    assert!(row.stages.iter().all(|s| s.eps.is_some_and(|e| e > 0.0)));
    assert!(row.stages[4].eps.unwrap() >= row.eps.unwrap());
    assert!(report.rows[4].stages.is_empty() && report.rows[0].stages.is_empty());
    assert!(
        report
            .to_table()
            .contains("stages (propagated eps): centring")
    );
    assert_eq!(Report::from_json(&report.to_json()).unwrap(), report);
}

/// Forward and VJP error bounds of `node` at `ctx` (a node's bounds through its trait).
fn norm_eps<N: RevNodeScale<f32>>(
    node: &N,
    ctx: &[ArrayD<f32>],
    e: &[Bound],
    d: &ArrayD<f32>,
    ed: Bound,
) -> (Bound, Vec<Bound>) {
    let y = node.forward_runtime(ctx);
    (node.fwd_eps(e, ctx, &y), node.vjp_eps(e, ctx, ed, d))
}

/// SPEC §5: a non-finite operand (or an infinite eps) gives `+∞` for the output and every
/// cotangent, even where the runtime output of other rows is finite; finite data gives finite
/// bounds (the bounds are not vacuous).
#[test]
fn norm_non_finite_gives_inf() {
    let (x, g, b) = vars3::<Rank2<2, 3>, Rank1<3>, Rank1<3>>();
    let node = ops::layer_norm(x, g, b, 1e-5).unwrap();
    let rms = ops::rms_norm(x, g, 1e-5).unwrap();
    let arr = |d: &[usize], v: Vec<f32>| ArrayD::from_shape_vec(IxDyn(d), v).unwrap();
    let ok = vec![
        arr(&[2, 3], vec![1.0, 2.0, 4.0, -1.0, 0.5, 0.25]),
        arr(&[3], vec![1.0, 2.0, 3.0]),
        arr(&[3], vec![0.0, 1.0, 0.0]),
    ];
    let d = arr(&[2, 3], vec![1.0; 6]);
    let e = vec![Bound::new(1e-7); 3];
    let small = Bound::new(1e-7);
    let (f, v) = norm_eps(&node, &ok, &e, &d, small);
    assert!(
        f.get() < 1e-5 && v.iter().all(|b| b.get() < 1e-4),
        "{f:?} {v:?}"
    );
    let (f, v) = norm_eps(&rms, &ok[..2], &e, &d, small);
    assert!(
        f.get() < 1e-5 && v.iter().all(|b| b.get() < 1e-4),
        "{f:?} {v:?}"
    );
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for which in 0..3 {
            let mut ctx = ok.clone();
            *ctx[which].iter_mut().next().unwrap() = bad;
            let (f, v) = norm_eps(&node, &ctx, &e, &d, small);
            assert!(f.is_infinite(), "{bad} in {which}");
            assert!(v.iter().all(|b| b.is_infinite()), "{bad} in {which}");
        }
        let mut dd = d.clone();
        dd[[1, 2]] = bad;
        let (f, v) = norm_eps(&node, &ok, &e, &dd, Bound::ZERO);
        assert!(!f.is_infinite() && v.iter().all(|b| b.is_infinite()));
    }
    let mut einf = e.clone();
    einf[1] = Bound::INF;
    let (f, v) = norm_eps(&node, &ok, &einf, &d, small);
    assert!(f.is_infinite() && v.iter().all(|b| b.is_infinite()));
    let (_, v) = norm_eps(&node, &ok, &e, &d, Bound::INF);
    assert!(v.iter().all(|b| b.is_infinite()));
}

/// Zero-size normalisations: no rows, or rows of length 0 (the parameters are then empty).
#[test]
fn norm_zero_size() {
    let (x, g, b) = vars3::<Rank2<0, 4>, Rank1<4>, Rank1<4>>();
    check_op(
        "layer_norm_no_rows",
        ops::layer_norm(x, g, b, 1e-5).unwrap(),
        &[&[0, 4], &[4], &[4]],
        &[0, 4],
        &[ident],
    );
    let (x, g) = vars2::<Rank2<3, 0>, Rank1<0>>();
    check_op(
        "rms_norm_empty_rows",
        ops::rms_norm(x, g, 1e-5).unwrap(),
        &[&[3, 0], &[0]],
        &[3, 0],
        &[ident],
    );
}

// ------------------------------------------------ batched products and attention (issue #12)

/// `bmm` on rank 3 and 4: the generator's adversarial values (huge, tiny, subnormal, values near
/// 1 that cancel, perturbed runtime values), a long inner dimension (both dot-bound modes), a
/// single batch, and zero-size batch, outer and inner dimensions.
#[test]
fn bmm() {
    let (a, b) = vars2::<Rank3<2, 3, 5>, Rank3<2, 5, 2>>();
    check_op(
        "bmm3",
        ops::bmm(a, b),
        &[&[2, 3, 5], &[2, 5, 2]],
        &[2, 3, 2],
        &[ident],
    );
    let (a, b) = vars2::<Rank4<2, 2, 2, 3>, Rank4<2, 2, 3, 3>>();
    check_op(
        "bmm4",
        ops::bmm(a, b),
        &[&[2, 2, 2, 3], &[2, 2, 3, 3]],
        &[2, 2, 2, 3],
        &[ident],
    );
    let (a, b) = vars2::<Rank3<2, 2, 64>, Rank3<2, 64, 2>>();
    let long = || ops::bmm(a, b);
    let dims: [&[usize]; 2] = [&[2, 2, 64], &[2, 64, 2]];
    check_op("bmm_long", long(), &dims, &[2, 2, 2], &[ident]);
    use scale_core::config::{self, Config, DotBound};
    config::scoped(
        Config::default().with_dot_bound(DotBound::OrderFree),
        || {
            check_op("bmm_long_order_free", long(), &dims, &[2, 2, 2], &[ident]);
        },
    );
    let (a, b) = vars2::<Rank3<1, 1, 1>, Rank3<1, 1, 1>>();
    check_op(
        "bmm_1x1",
        ops::bmm(a, b),
        &[&[1, 1, 1], &[1, 1, 1]],
        &[1, 1, 1],
        &[ident],
    );
    let (a, b) = vars2::<Rank3<0, 3, 2>, Rank3<0, 2, 4>>();
    check_op(
        "zero_batch_bmm",
        ops::bmm(a, b),
        &[&[0, 3, 2], &[0, 2, 4]],
        &[0, 3, 4],
        &[ident],
    );
    let (a, b) = vars2::<Rank3<2, 3, 0>, Rank3<2, 0, 4>>();
    check_op(
        "zero_inner_bmm",
        ops::bmm(a, b),
        &[&[2, 3, 0], &[2, 0, 4]],
        &[2, 3, 4],
        &[ident],
    );
    let (a, b) = vars2::<Rank4<2, 1, 0, 3>, Rank4<2, 1, 3, 2>>();
    check_op(
        "zero_rows_bmm4",
        ops::bmm(a, b),
        &[&[2, 1, 0, 3], &[2, 1, 3, 2]],
        &[2, 1, 0, 2],
        &[ident],
    );
}

/// `matmul` with a weight shared over leading axes (`[…, m, k] × [k, n]`), rank 3 and 4, and
/// zero-size leading, row and inner dimensions.
#[test]
fn matmul_shared_weight() {
    let (x, w) = vars2::<Rank3<2, 3, 4>, Rank2<4, 2>>();
    check_op(
        "matmul3",
        ops::matmul(x, w),
        &[&[2, 3, 4], &[4, 2]],
        &[2, 3, 2],
        &[ident],
    );
    let (x, w) = vars2::<Rank4<2, 2, 2, 3>, Rank2<3, 3>>();
    check_op(
        "matmul4",
        ops::matmul(x, w),
        &[&[2, 2, 2, 3], &[3, 3]],
        &[2, 2, 2, 3],
        &[ident],
    );
    let (x, w) = vars2::<Rank3<0, 3, 4>, Rank2<4, 2>>();
    check_op(
        "zero_batch_matmul3",
        ops::matmul(x, w),
        &[&[0, 3, 4], &[4, 2]],
        &[0, 3, 2],
        &[ident],
    );
    let (x, w) = vars2::<Rank3<2, 3, 0>, Rank2<0, 2>>();
    check_op(
        "zero_inner_matmul3",
        ops::matmul(x, w),
        &[&[2, 3, 0], &[0, 2]],
        &[2, 3, 2],
        &[ident],
    );
}

/// Deterministic operands of dimensions `d` with mixed signs and magnitudes.
fn wavy(d: &[usize], seed: f32) -> ArrayD<f32> {
    let n: usize = d.iter().product();
    let v = (0..n)
        .map(|i| ((i as f32 * 0.37 + seed).sin() * 3.0) * if i % 7 == 0 { 1e3 } else { 1.0 })
        .collect();
    ArrayD::from_shape_vec(IxDyn(d), v).unwrap()
}

/// The batched ops are the plain GEMM per slice: `bmm`'s values and every bound equal the
/// maximum of `matmul`'s over the batch slices, and `matmul` of a `[b, m, k]` input equals
/// `matmul` of the `[b·m, k]` matrix (values, eps and B alike), so batching never loosens a bound.
#[test]
fn batched_products_match_plain_matmul() {
    use scale_core::{FwdNode, FwdNodeScale, RevNode, RevNodeScale};
    let (a, b) = vars2::<Rank3<3, 4, 5>, Rank3<3, 5, 2>>();
    let node = ops::bmm(a, b);
    let (a2, b2) = vars2::<Rank2<4, 5>, Rank2<5, 2>>();
    let plain = ops::matmul(a2, b2);
    let (xa, xb, d) = (
        wavy(&[3, 4, 5], 0.1),
        wavy(&[3, 5, 2], 0.7),
        wavy(&[3, 4, 2], 1.3),
    );
    let e = [Bound::new(1e-6), Bound::new(2e-5)];
    let ed = Bound::new(3e-6);
    let ctx = vec![xa.clone(), xb.clone()];
    let y = FwdNode::<f32>::forward_runtime(&node, &ctx);
    let fe = FwdNode::<f32>::fwd_eps(&node, &e, &ctx, &y);
    let fb = FwdNodeScale::<f32>::fwd_scale(&node, &e, &ctx, &y);
    let ve = RevNode::<f32>::vjp_eps(&node, &e, &ctx, ed, &d);
    let vb = RevNodeScale::<f32>::vjp_scale(&node, &e, &ctx, ed, &d);
    let (mut pe, mut pb) = (Bound::ZERO, Bound::ZERO);
    let (mut pve, mut pvb) = ([Bound::ZERO; 2], [Bound::ZERO; 2]);
    for i in 0..3 {
        let sl = |x: &ArrayD<f32>| x.index_axis(ndarray::Axis(0), i).to_owned();
        let c = vec![sl(&xa), sl(&xb)];
        let yi = FwdNode::<f32>::forward_runtime(&plain, &c);
        assert_eq!(yi, sl(&y), "slice {i}");
        pe = pe.max(FwdNode::<f32>::fwd_eps(&plain, &e, &c, &yi));
        pb = pb.max(FwdNodeScale::<f32>::fwd_scale(&plain, &e, &c, &yi));
        let v = RevNode::<f32>::vjp_eps(&plain, &e, &c, ed, &sl(&d));
        let w = RevNodeScale::<f32>::vjp_scale(&plain, &e, &c, ed, &sl(&d));
        for j in 0..2 {
            pve[j] = pve[j].max(v[j]);
            pvb[j] = pvb[j].max(w[j]);
        }
    }
    assert_eq!((fe, fb), (pe, pb));
    assert_eq!(ve, pve.to_vec());
    assert_eq!(vb, pvb.to_vec());

    let (x, w) = vars2::<Rank3<3, 4, 5>, Rank2<5, 2>>();
    let shared = ops::matmul(x, w);
    let (x2, w2) = vars2::<Rank2<12, 5>, Rank2<5, 2>>();
    let flat = ops::matmul(x2, w2);
    let xw = wavy(&[5, 2], 0.4);
    let c3 = vec![xa.clone(), xw.clone()];
    let c2 = vec![
        xa.clone().into_shape_with_order(IxDyn(&[12, 5])).unwrap(),
        xw,
    ];
    let d2 = d.clone().into_shape_with_order(IxDyn(&[12, 2])).unwrap();
    let y3 = FwdNode::<f32>::forward_runtime(&shared, &c3);
    let y2 = FwdNode::<f32>::forward_runtime(&flat, &c2);
    assert_eq!(y3.shape(), &[3, 4, 2]);
    assert_eq!(y3.iter().collect::<Vec<_>>(), y2.iter().collect::<Vec<_>>());
    assert_eq!(
        FwdNode::<f32>::fwd_eps(&shared, &e, &c3, &y3),
        FwdNode::<f32>::fwd_eps(&flat, &e, &c2, &y2)
    );
    assert_eq!(
        FwdNodeScale::<f32>::fwd_scale(&shared, &e, &c3, &y3),
        FwdNodeScale::<f32>::fwd_scale(&flat, &e, &c2, &y2)
    );
    assert_eq!(
        RevNode::<f32>::vjp_eps(&shared, &e, &c3, ed, &d),
        RevNode::<f32>::vjp_eps(&flat, &e, &c2, ed, &d2)
    );
    assert_eq!(
        RevNodeScale::<f32>::vjp_scale(&shared, &e, &c3, ed, &d),
        RevNodeScale::<f32>::vjp_scale(&flat, &e, &c2, ed, &d2)
    );
    let g3 = RevNode::<f32>::vjp_runtime(&shared, &c3, &d);
    let g2 = RevNode::<f32>::vjp_runtime(&flat, &c2, &d2);
    assert_eq!(g3[0].shape(), &[3, 4, 5]);
    assert_eq!(
        g3[0].iter().collect::<Vec<_>>(),
        g2[0].iter().collect::<Vec<_>>()
    );
    assert_eq!(g3[1], g2[1]);
}

/// Non-finite operands or bounds give `+∞` bounds from `bmm`, never a finite number, even for an
/// empty batch when an operand bound is `+∞`.
#[test]
fn bmm_non_finite_is_infinite() {
    use scale_core::{FwdNode, RevNode};
    let (a, b) = vars2::<Rank3<2, 2, 3>, Rank3<2, 3, 2>>();
    let node = ops::bmm(a, b);
    let ok = vec![wavy(&[2, 2, 3], 0.2), wavy(&[2, 3, 2], 0.9)];
    let d = wavy(&[2, 2, 2], 0.5);
    let e = [Bound::new(1e-7); 2];
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for which in 0..2 {
            let mut ctx = ok.clone();
            ctx[which][[1, 1, 1]] = bad;
            let y = FwdNode::<f32>::forward_runtime(&node, &ctx);
            assert!(FwdNode::<f32>::fwd_eps(&node, &e, &ctx, &y).is_infinite());
            let v = RevNode::<f32>::vjp_eps(&node, &e, &ctx, Bound::ZERO, &d);
            // The other operand's cotangent reads the poisoned one (δ·Bᵀ or Aᵀ·δ).
            assert!(v[1 - which].is_infinite(), "{bad} in {which}: {v:?}");
        }
    }
    let y = FwdNode::<f32>::forward_runtime(&node, &ok);
    let einf = [Bound::new(1e-7), Bound::INF];
    assert!(FwdNode::<f32>::fwd_eps(&node, &einf, &ok, &y).is_infinite());
    let v = RevNode::<f32>::vjp_eps(&node, &e, &ok, Bound::INF, &d);
    assert!(v.iter().all(|b| b.is_infinite()));
    let (za, zb) = vars2::<Rank3<0, 2, 3>, Rank3<0, 3, 2>>();
    let z = ops::bmm(za, zb);
    let zc = vec![wavy(&[0, 2, 3], 0.0), wavy(&[0, 3, 2], 0.0)];
    let zy = FwdNode::<f32>::forward_runtime(&z, &zc);
    assert!(FwdNode::<f32>::fwd_eps(&z, &einf, &zc, &zy).is_infinite());
}

/// `attention` and `attention_causal` on rank 2 to 4: ordinary data, −∞-like scores (queries
/// of −1e30 where small), huge scores (queries ×1e3: one key takes all the mass), cancellation
/// and subnormals from the generator, a single key, and zero-size batch, query, key and head
/// dimensions.
#[test]
fn attention() {
    let (q, k, v) = vars3::<Rank3<2, 3, 4>, Rank3<2, 5, 4>, Rank3<2, 5, 2>>();
    let dims: [&[usize]; 3] = [&[2, 3, 4], &[2, 5, 4], &[2, 5, 2]];
    let node = || ops::attention(q, k, v);
    check_op("attention3", node(), &dims, &[2, 3, 2], &[ident]);
    check_op(
        "attention3_masked",
        node(),
        &dims,
        &[2, 3, 2],
        &[masked_like, ident],
    );
    check_op(
        "attention3_huge",
        node(),
        &dims,
        &[2, 3, 2],
        &[|x: f64| x * 1e3, ident],
    );
    let (q, k, v) = vars3::<Rank3<2, 4, 3>, Rank3<2, 4, 3>, Rank3<2, 4, 2>>();
    let cd: [&[usize]; 3] = [&[2, 4, 3], &[2, 4, 3], &[2, 4, 2]];
    let causal = || ops::attention_causal(q, k, v);
    check_op("attention_causal3", causal(), &cd, &[2, 4, 2], &[ident]);
    check_op(
        "attention_causal3_masked",
        causal(),
        &cd,
        &[2, 4, 2],
        &[masked_like, ident],
    );
    check_op(
        "attention_causal3_huge",
        causal(),
        &cd,
        &[2, 4, 2],
        &[|x: f64| x * 1e3, ident],
    );
    let (q, k, v) = vars3::<Rank4<1, 2, 3, 2>, Rank4<1, 2, 3, 2>, Rank4<1, 2, 3, 3>>();
    let d4: [&[usize]; 3] = [&[1, 2, 3, 2], &[1, 2, 3, 2], &[1, 2, 3, 3]];
    check_op(
        "attention4",
        ops::attention(q, k, v),
        &d4,
        &[1, 2, 3, 3],
        &[ident],
    );
    check_op(
        "attention_causal4",
        ops::attention_causal(q, k, v),
        &d4,
        &[1, 2, 3, 3],
        &[ident],
    );
    let (q, k, v) = vars3::<Rank2<3, 2>, Rank2<1, 2>, Rank2<1, 2>>();
    check_op(
        "attention2_one_key",
        ops::attention(q, k, v),
        &[&[3, 2], &[1, 2], &[1, 2]],
        &[3, 2],
        &[ident],
    );
    let (q, k, v) = vars3::<Rank3<0, 3, 2>, Rank3<0, 3, 2>, Rank3<0, 3, 2>>();
    let zd: [&[usize]; 3] = [&[0, 3, 2], &[0, 3, 2], &[0, 3, 2]];
    check_op(
        "zero_batch_attention",
        ops::attention(q, k, v),
        &zd,
        &[0, 3, 2],
        &[ident],
    );
    check_op(
        "zero_batch_attention_causal",
        ops::attention_causal(q, k, v),
        &zd,
        &[0, 3, 2],
        &[ident],
    );
    let (q, k, v) = vars3::<Rank3<2, 3, 2>, Rank3<2, 0, 2>, Rank3<2, 0, 3>>();
    check_op(
        "no_keys_attention",
        ops::attention(q, k, v),
        &[&[2, 3, 2], &[2, 0, 2], &[2, 0, 3]],
        &[2, 3, 3],
        &[ident],
    );
    let (q, k, v) = vars3::<Rank3<2, 3, 0>, Rank3<2, 3, 0>, Rank3<2, 3, 2>>();
    check_op(
        "zero_head_attention_causal",
        ops::attention_causal(q, k, v),
        &[&[2, 3, 0], &[2, 3, 0], &[2, 3, 2]],
        &[2, 3, 2],
        &[ident],
    );
}

/// The fused node's stages are the composition's bounds: the scores' eps is `bmm(q, kᵀ)`'s,
/// the probabilities' is `softmax_causal`'s on the scaled scores with the scaled-score eps, the
/// output's is `bmm(p, v)`'s; the masked probabilities are exact zeros (row 0 of the output is
/// row 0 of `v`, exactly, and so is its bound: `v`'s own eps plus nothing).
#[test]
fn attention_is_the_composition() {
    use scale_core::FwdNode;
    let (q, k, v) = vars3::<Rank3<2, 4, 3>, Rank3<2, 4, 3>, Rank3<2, 4, 2>>();
    let node = ops::attention_causal(q, k, v);
    let ctx = vec![
        wavy(&[2, 4, 3], 0.3),
        wavy(&[2, 4, 3], 1.1),
        wavy(&[2, 4, 2], 2.0),
    ];
    let e = [Bound::new(1e-6), Bound::new(2e-6), Bound::new(3e-6)];
    let out = FwdNode::<f32>::forward_runtime(&node, &ctx);
    let st = FwdNode::<f32>::fwd_stages(&node, &e, &ctx, &out);
    assert_eq!(st.len(), 4);
    assert_eq!(FwdNode::<f32>::fwd_eps(&node, &e, &ctx, &out), st[3].1);
    // bmm(q, kᵀ)
    let (a, b) = vars2::<Rank3<2, 4, 3>, Rank3<2, 3, 4>>();
    let mm = ops::bmm(a, b);
    let kt = ctx[1]
        .clone()
        .permuted_axes(IxDyn(&[0, 2, 1]))
        .as_standard_layout()
        .into_owned();
    let c1 = vec![ctx[0].clone(), kt];
    let raw = FwdNode::<f32>::forward_runtime(&mm, &c1);
    assert_eq!(st[0].1, FwdNode::<f32>::fwd_eps(&mm, &e[..2], &c1, &raw));
    // softmax_causal of the scaled scores
    let c = (1.0 / 3f64.sqrt()) as f32;
    let s = raw.mapv(|x| c * x);
    let sm = ops::softmax_causal(vars1::<Rank3<2, 4, 4>>());
    let p = FwdNode::<f32>::forward_runtime(&sm, std::slice::from_ref(&s));
    assert!(st[1].1.get() >= st[0].1.get() * 0.5);
    assert_eq!(st[2].1, FwdNode::<f32>::fwd_eps(&sm, &[st[1].1], &[s], &p));
    // bmm(p, v)
    let (pp, vv) = vars2::<Rank3<2, 4, 4>, Rank3<2, 4, 2>>();
    let pv = ops::bmm(pp, vv);
    let c3 = vec![p.clone(), ctx[2].clone()];
    let o = FwdNode::<f32>::forward_runtime(&pv, &c3);
    assert_eq!(o, out);
    assert_eq!(
        st[3].1,
        FwdNode::<f32>::fwd_eps(&pv, &[st[2].1, e[2]], &c3, &o)
    );
    // Masked probabilities: exact zeros; row 0 attends to key 0 alone.
    for bi in 0..2 {
        for i in 0..4 {
            for j in i + 1..4 {
                assert_eq!(p[[bi, i, j]].to_bits(), 0);
            }
        }
        assert_eq!(p[[bi, 0, 0]], 1.0);
        for col in 0..2 {
            assert_eq!(out[[bi, 0, col]], ctx[2][[bi, 0, col]]);
        }
    }
}

/// Non-finite operands or `+∞` operand bounds give `+∞` attention bounds, forward and backward.
#[test]
fn attention_non_finite_is_infinite() {
    use scale_core::{FwdNode, RevNode};
    let (q, k, v) = vars3::<Rank3<2, 3, 2>, Rank3<2, 3, 2>, Rank3<2, 3, 2>>();
    let node = ops::attention_causal(q, k, v);
    let ok = vec![
        wavy(&[2, 3, 2], 0.2),
        wavy(&[2, 3, 2], 0.9),
        wavy(&[2, 3, 2], 1.7),
    ];
    let d = wavy(&[2, 3, 2], 0.5);
    let e = [Bound::new(1e-7); 3];
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for which in 0..3 {
            let mut ctx = ok.clone();
            ctx[which][[1, 2, 1]] = bad;
            let y = FwdNode::<f32>::forward_runtime(&node, &ctx);
            assert!(
                FwdNode::<f32>::fwd_eps(&node, &e, &ctx, &y).is_infinite(),
                "{bad} in {which}"
            );
        }
    }
    for which in 0..3 {
        let mut einf = e;
        einf[which] = Bound::INF;
        let y = FwdNode::<f32>::forward_runtime(&node, &ok);
        assert!(FwdNode::<f32>::fwd_eps(&node, &einf, &ok, &y).is_infinite());
    }
    let v = RevNode::<f32>::vjp_eps(&node, &e, &ok, Bound::INF, &d);
    assert!(v.iter().all(|b| b.is_infinite()), "{v:?}");
}

// ----------------------------------------------------------------- convolution (issue #12)

/// `conv2d` on the shapes that exercise its geometry: same-size padding, stride with a
/// rectangular kernel, windows made only of padding (padding wider than the kernel), strides
/// longer than the kernel (input positions no window reads: zero cotangent), lattice data
/// (exact cancellation in the dots) and the order-free GEMM bounds.
#[test]
fn conv2d() {
    use ops::Idx as I;
    let (x, w) = vars2::<Rank4<2, 3, 5, 5>, Rank4<4, 3, 3, 3>>();
    let node = out::<Rank4<2, 4, 5, 5>, _>(ops::conv2d(x, w, I::<1>, I::<1>));
    let dims: &[&[usize]] = &[&[2, 3, 5, 5], &[4, 3, 3, 3]];
    check_op("conv2d", node, dims, &[2, 4, 5, 5], &[ident]);
    let node = out::<Rank4<2, 4, 5, 5>, _>(ops::conv2d(x, w, I::<1>, I::<1>));
    check_op("conv2d_lattice", node, dims, &[2, 4, 5, 5], &[lattice]);
    let (x, w) = vars2::<Rank4<1, 2, 6, 7>, Rank4<3, 2, 3, 2>>();
    check_op(
        "conv2d_stride2_rect",
        out::<Rank4<1, 3, 2, 3>, _>(ops::conv2d(x, w, I::<2>, I::<0>)),
        &[&[1, 2, 6, 7], &[3, 2, 3, 2]],
        &[1, 3, 2, 3],
        &[ident],
    );
    let (x, w) = vars2::<Rank4<1, 1, 2, 2>, Rank4<2, 1, 1, 1>>();
    check_op(
        "conv2d_padding_only_windows",
        out::<Rank4<1, 2, 6, 6>, _>(ops::conv2d(x, w, I::<1>, I::<2>)),
        &[&[1, 1, 2, 2], &[2, 1, 1, 1]],
        &[1, 2, 6, 6],
        &[ident],
    );
    let (x, w) = vars2::<Rank4<1, 2, 7, 7>, Rank4<2, 2, 2, 2>>();
    check_op(
        "conv2d_stride_gaps",
        out::<Rank4<1, 2, 2, 2>, _>(ops::conv2d(x, w, I::<3>, I::<0>)),
        &[&[1, 2, 7, 7], &[2, 2, 2, 2]],
        &[1, 2, 2, 2],
        &[ident],
    );
    use scale_core::config::{self, Config, DotBound};
    let cfg = Config::default().with_dot_bound(DotBound::OrderFree);
    config::scoped(cfg, || {
        let (x, w) = vars2::<Rank4<2, 3, 5, 5>, Rank4<4, 3, 3, 3>>();
        check_op(
            "conv2d_order_free",
            out::<Rank4<2, 4, 3, 3>, _>(ops::conv2d(x, w, I::<2>, I::<1>)),
            &[&[2, 3, 5, 5], &[4, 3, 3, 3]],
            &[2, 4, 3, 3],
            &[ident],
        );
    });
}

/// `conv1d`: stride and padding, a kernel as long as the padded input, and lattice data.
#[test]
fn conv1d() {
    use ops::Idx as I;
    let (x, w) = vars2::<Rank3<2, 3, 10>, Rank3<4, 3, 3>>();
    let dims: &[&[usize]] = &[&[2, 3, 10], &[4, 3, 3]];
    check_op(
        "conv1d",
        out::<Rank3<2, 4, 5>, _>(ops::conv1d(x, w, I::<2>, I::<1>)),
        dims,
        &[2, 4, 5],
        &[ident],
    );
    check_op(
        "conv1d_lattice",
        out::<Rank3<2, 4, 10>, _>(ops::conv1d(x, w, I::<1>, I::<1>)),
        dims,
        &[2, 4, 10],
        &[lattice],
    );
    let (x, w) = vars2::<Rank3<1, 2, 3>, Rank3<2, 2, 5>>();
    check_op(
        "conv1d_kernel_fills_padded_input",
        out::<Rank3<1, 2, 1>, _>(ops::conv1d(x, w, I::<1>, I::<1>)),
        &[&[1, 2, 3], &[2, 2, 5]],
        &[1, 2, 1],
        &[ident],
    );
}

/// Zero-size convolutions: no batch, no input channels (every output an empty dot: exactly 0),
/// no output channels.
#[test]
fn conv_zero_size() {
    use ops::Idx as I;
    let (x, w) = vars2::<Rank4<0, 2, 4, 4>, Rank4<3, 2, 3, 3>>();
    check_op(
        "conv2d_no_batch",
        out::<Rank4<0, 3, 4, 4>, _>(ops::conv2d(x, w, I::<1>, I::<1>)),
        &[&[0, 2, 4, 4], &[3, 2, 3, 3]],
        &[0, 3, 4, 4],
        &[ident],
    );
    let (x, w) = vars2::<Rank4<1, 0, 4, 4>, Rank4<2, 0, 3, 3>>();
    check_op(
        "conv2d_no_channels",
        out::<Rank4<1, 2, 2, 2>, _>(ops::conv2d(x, w, I::<1>, I::<0>)),
        &[&[1, 0, 4, 4], &[2, 0, 3, 3]],
        &[1, 2, 2, 2],
        &[ident],
    );
    let (x, w) = vars2::<Rank3<2, 3, 4>, Rank3<0, 3, 2>>();
    check_op(
        "conv1d_no_outputs",
        out::<Rank3<2, 0, 3>, _>(ops::conv1d(x, w, I::<1>, I::<0>)),
        &[&[2, 3, 4], &[0, 3, 2]],
        &[2, 0, 3],
        &[ident],
    );
}

// --------------------------------------------------------------------- pooling (issue #12)

/// Lattice data with many exact ties, and the perturbed modes turn them into near-ties of
/// either order: the routing of `max_pool2d`'s cotangent may flip (SPEC §5's kink rule).
fn tie_lattice(x: f64) -> f64 {
    (x.clamp(-1.0, 1.0) * 2.0).round() / 2.0
}

/// `max_pool2d`: whole windows, floor remainders (rows and columns no window covers), windows
/// of 1 (the identity), ties and near-ties, and the whole input as one window.
#[test]
fn max_pool2d() {
    use ops::Idx as I;
    let x = vars1::<Rank4<2, 3, 4, 4>>();
    let d: &[&[usize]] = &[&[2, 3, 4, 4]];
    let node = out::<Rank4<2, 3, 2, 2>, _>(ops::max_pool2d(x, I::<2>));
    check_op("max_pool2d", node, d, &[2, 3, 2, 2], &[ident]);
    let node = out::<Rank4<2, 3, 2, 2>, _>(ops::max_pool2d(x, I::<2>));
    check_op("max_pool2d_ties", node, d, &[2, 3, 2, 2], &[tie_lattice]);
    let node = out::<Rank4<2, 3, 4, 4>, _>(ops::max_pool2d(x, I::<1>));
    check_op("max_pool2d_k1", node, d, &[2, 3, 4, 4], &[ident]);
    let node = out::<Rank4<2, 3, 1, 1>, _>(ops::max_pool2d(x, I::<4>));
    check_op("max_pool2d_whole", node, d, &[2, 3, 1, 1], &[tie_lattice]);
    let y = vars1::<Rank4<1, 2, 7, 5>>();
    check_op(
        "max_pool2d_floor",
        out::<Rank4<1, 2, 2, 1>, _>(ops::max_pool2d(y, I::<3>)),
        &[&[1, 2, 7, 5]],
        &[1, 2, 2, 1],
        &[tie_lattice],
    );
}

/// `avg_pool2d` on the same geometries, with cancellation (lattice data) in the window sums.
#[test]
fn avg_pool2d() {
    use ops::Idx as I;
    let x = vars1::<Rank4<2, 3, 4, 4>>();
    let d: &[&[usize]] = &[&[2, 3, 4, 4]];
    let node = out::<Rank4<2, 3, 2, 2>, _>(ops::avg_pool2d(x, I::<2>));
    check_op("avg_pool2d", node, d, &[2, 3, 2, 2], &[ident]);
    let node = out::<Rank4<2, 3, 2, 2>, _>(ops::avg_pool2d(x, I::<2>));
    check_op("avg_pool2d_lattice", node, d, &[2, 3, 2, 2], &[tie_lattice]);
    let node = out::<Rank4<2, 3, 1, 1>, _>(ops::avg_pool2d(x, I::<3>));
    check_op("avg_pool2d_k3_floor", node, d, &[2, 3, 1, 1], &[ident]);
    let y = vars1::<Rank4<1, 2, 7, 5>>();
    check_op(
        "avg_pool2d_floor",
        out::<Rank4<1, 2, 2, 1>, _>(ops::avg_pool2d(y, I::<3>)),
        &[&[1, 2, 7, 5]],
        &[1, 2, 2, 1],
        &[ident],
    );
}

/// Zero-size poolings: no batch, no channels.
#[test]
fn pool_zero_size() {
    use ops::Idx as I;
    let x = vars1::<Rank4<0, 2, 4, 4>>();
    check_op(
        "max_pool2d_no_batch",
        out::<Rank4<0, 2, 2, 2>, _>(ops::max_pool2d(x, I::<2>)),
        &[&[0, 2, 4, 4]],
        &[0, 2, 2, 2],
        &[ident],
    );
    let x = vars1::<Rank4<2, 0, 4, 4>>();
    check_op(
        "avg_pool2d_no_channels",
        out::<Rank4<2, 0, 2, 2>, _>(ops::avg_pool2d(x, I::<2>)),
        &[&[2, 0, 4, 4]],
        &[2, 0, 2, 2],
        &[ident],
    );
}

// ---------------------------------------------------------------------- expand (issue #12)

/// `expand(x, axis, n)` at every axis of ranks 0 to 3 (outputs up to rank 4), a long new axis
/// (the VJP's `n`-term sums in the a-posteriori and the order-free mode) and `n = 1`. The
/// generated cotangents hold huge, tiny, subnormal and near-`f32::MAX` values, so the VJP sums
/// cancel and overflow.
#[test]
fn expand() {
    use ops::Idx as I;
    let s = vars1::<scale_core::Rank0>();
    check_op(
        "expand0_0",
        ops::expand(s, I::<0>, I::<3>),
        &[&[]],
        &[3],
        &[ident],
    );
    let v = vars1::<Rank1<3>>();
    check_op(
        "expand1_0",
        ops::expand(v, I::<0>, I::<4>),
        &[&[3]],
        &[4, 3],
        &[ident],
    );
    check_op(
        "expand1_1",
        ops::expand(v, I::<1>, I::<4>),
        &[&[3]],
        &[3, 4],
        &[ident],
    );
    check_op(
        "expand1_n1",
        ops::expand(v, I::<1>, I::<1>),
        &[&[3]],
        &[3, 1],
        &[ident],
    );
    let m = vars1::<Rank2<2, 3>>();
    let md: &[usize] = &[2, 3];
    check_op(
        "expand2_0",
        ops::expand(m, I::<0>, I::<4>),
        &[md],
        &[4, 2, 3],
        &[ident],
    );
    check_op(
        "expand2_1",
        ops::expand(m, I::<1>, I::<4>),
        &[md],
        &[2, 4, 3],
        &[ident],
    );
    check_op(
        "expand2_2",
        ops::expand(m, I::<2>, I::<4>),
        &[md],
        &[2, 3, 4],
        &[ident],
    );
    let t = vars1::<Rank3<2, 3, 2>>();
    let td: &[usize] = &[2, 3, 2];
    check_op(
        "expand3_0",
        ops::expand(t, I::<0>, I::<2>),
        &[td],
        &[2, 2, 3, 2],
        &[ident],
    );
    check_op(
        "expand3_1",
        ops::expand(t, I::<1>, I::<3>),
        &[td],
        &[2, 3, 3, 2],
        &[ident],
    );
    check_op(
        "expand3_2",
        ops::expand(t, I::<2>, I::<2>),
        &[td],
        &[2, 3, 2, 2],
        &[ident],
    );
    check_op(
        "expand3_3",
        ops::expand(t, I::<3>, I::<3>),
        &[td],
        &[2, 3, 2, 3],
        &[ident],
    );
    let l = vars1::<Rank1<2>>();
    check_op(
        "expand_long",
        ops::expand(l, I::<1>, I::<300>),
        &[&[2]],
        &[2, 300],
        &[ident],
    );
    use scale_core::config::{self, Config, DotBound};
    config::scoped(
        Config::default().with_dot_bound(DotBound::OrderFree),
        || {
            check_op(
                "expand_long_order_free",
                ops::expand(l, I::<0>, I::<300>),
                &[&[2]],
                &[300, 2],
                &[ident],
            );
        },
    );
}

/// Zero-size: `n = 0` (an empty output; the VJP is exact zeros with eps and B 0, even from a
/// cotangent bound of `+∞`, which bounds no entry), and an empty input axis beside a nonempty new
/// one.
#[test]
fn expand_zero_size() {
    use ops::Idx as I;
    use scale_core::{RevNode, RevNodeScale, SpecVjp};
    let v = vars1::<Rank1<3>>();
    check_op(
        "expand_n0",
        ops::expand(v, I::<1>, I::<0>),
        &[&[3]],
        &[3, 0],
        &[ident],
    );
    let m = vars1::<Rank2<2, 3>>();
    check_op(
        "expand_n0_mid",
        ops::expand(m, I::<1>, I::<0>),
        &[&[2, 3]],
        &[2, 0, 3],
        &[ident],
    );
    let z = vars1::<Rank2<0, 3>>();
    check_op(
        "expand_empty_in",
        ops::expand(z, I::<2>, I::<4>),
        &[&[0, 3]],
        &[0, 3, 4],
        &[ident],
    );

    let node = ops::expand(v, I::<0>, I::<0>);
    let xr = vec![ndarray::arr1(&[1.0f32, f32::NAN, -2.0]).into_dyn()];
    let d = ArrayD::<f32>::zeros(IxDyn(&[0, 3]));
    let g = RevNode::<f32>::vjp_runtime(&node, &xr, &d);
    assert_eq!(g[0].shape(), &[3]);
    assert!(g[0].iter().all(|&v| v.to_bits() == 0), "{g:?}");
    let ve = RevNode::<f32>::vjp_eps(&node, &[Bound::INF], &xr, Bound::INF, &d);
    let vb = RevNodeScale::<f32>::vjp_scale(&node, &[Bound::INF], &xr, Bound::INF, &d);
    assert_eq!((ve[0].get(), vb[0].get()), (0.0, 0.0));
    let gs = SpecVjp::vjp_spec(
        &node,
        &[],
        &ArrayD::<Interval>::from_elem(IxDyn(&[0, 3]), Interval::point(0.0)),
    );
    assert!(
        gs[0].iter().all(|s| s.lo() == 0.0 && s.hi() == 0.0),
        "{gs:?}"
    );
}

/// The VJP's sums under cancellation, subnormals and overflow, checked against the interval
/// spec; the first case has a true error of 1 (`1e8 + 1 − 1e8` is `0` left to right in `f32`), so
/// a bound that ignored the summation error would fail. Non-finite cotangents (NaN, ±∞, an
/// overflowing sum) and a cotangent bound of `+∞` give `+∞`; the forward passes its input's
/// bounds through, whatever they are.
#[test]
fn expand_vjp_adversarial() {
    use ops::Idx as I;
    use scale_core::{FwdNode, FwdNodeScale, RevNode, RevNodeScale, SpecVjp};
    let v = vars1::<Rank1<2>>();
    let node = ops::expand(v, I::<1>, I::<3>);
    let xr = vec![ndarray::arr1(&[1.0f32, -1.0]).into_dyn()];
    let sub = f32::from_bits(1) as f64;
    let max = f32::MAX as f64;
    let lanes: &[[[f64; 3]; 2]] = &[
        [[1e8, 1.0, -1e8], [1.0, 1e8, -1e8]],
        [[1e30, -1e30, 3e-7], [-0.1, 0.2, -0.1]],
        [[sub, sub, -sub], [sub, 2.0 * sub, 1e-38]],
        [[1.0, 1e-8, 1e-8], [16777216.0, 1.0, 1.0]],
        [[max, -max, 1.0], [max, 0.5 * max, -max]],
    ];
    for (k, lane) in lanes.iter().enumerate() {
        let d: Vec<f64> = lane.iter().flatten().copied().collect();
        let d64 = ArrayD::from_shape_vec(IxDyn(&[2, 3]), d).unwrap();
        // The spec cotangent is the runtime one exactly (ε_δ = 0): only the sums err.
        let dr = d64.mapv(|x| x as f32);
        let ds = dr.mapv(|x| Interval::point(x as f64));
        let gs = SpecVjp::vjp_spec(&node, &[], &ds);
        let gr = RevNode::<f32>::vjp_runtime(&node, &xr, &dr);
        let ve = RevNode::<f32>::vjp_eps(&node, &[Bound::ZERO], &xr, Bound::ZERO, &dr);
        let vb = RevNodeScale::<f32>::vjp_scale(&node, &[Bound::ONE], &xr, Bound::new(max), &dr);
        if gr[0].iter().all(|x| x.is_finite()) {
            check::approx(&gs[0], &gr[0], ve[0]).unwrap_or_else(|e| panic!("lane {k}: {e}"));
            check::scale(&gs[0], &gr[0], vb[0]).unwrap_or_else(|e| panic!("lane {k}: {e}"));
        } else {
            assert!(
                ve[0].is_infinite() && vb[0].is_infinite(),
                "lane {k}: {ve:?} {vb:?}"
            );
        }
        if k == 0 {
            assert_eq!(gr[0][[0]], 0.0);
            assert!(ve[0].get() >= 1.0, "{ve:?}");
        }
    }
    // Non-finite cotangent entries and an infinite cotangent bound: +∞.
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let dr = ndarray::arr2(&[[1.0f32, bad, 2.0], [0.0, 1.0, 2.0]]).into_dyn();
        let ve = RevNode::<f32>::vjp_eps(&node, &[Bound::ZERO], &xr, Bound::ZERO, &dr);
        let vb = RevNodeScale::<f32>::vjp_scale(&node, &[Bound::ONE], &xr, Bound::ONE, &dr);
        assert!(
            ve[0].is_infinite() && vb[0].is_infinite(),
            "{bad}: {ve:?} {vb:?}"
        );
    }
    let dr = ndarray::arr2(&[[1.0f32, 0.0, 2.0], [0.0, 1.0, 2.0]]).into_dyn();
    let ve = RevNode::<f32>::vjp_eps(&node, &[Bound::ZERO], &xr, Bound::INF, &dr);
    assert!(ve[0].is_infinite(), "{ve:?}");
    let y = FwdNode::<f32>::forward_runtime(&node, &xr);
    assert_eq!(y.shape(), &[2, 3]);
    for e in [Bound::ZERO, Bound::new(0.25), Bound::INF] {
        assert_eq!(FwdNode::<f32>::fwd_eps(&node, &[e], &xr, &y), e);
        assert_eq!(FwdNodeScale::<f32>::fwd_scale(&node, &[e], &xr, &y), e);
    }
}

/// The any-implementation spec: the VJP's sum goes through `SpecScalar::sum`, so its ball holds
/// the runtime sum of every order (here `1e8 + 1 − 1e8` is 0 or 1 in `f32`, by order) and the
/// exact one; a left-to-right ball sum would hold only one order's rounding.
#[test]
fn expand_vjp_any_implementation() {
    use ops::Idx as I;
    use scale_core::{AnyRun, SpecScalar, SpecVjp};
    let v = vars1::<Rank1<1>>();
    let node = ops::expand(v, I::<1>, I::<3>);
    let t = [1e8f64, 1.0, -1e8];
    let d = ArrayD::from_shape_vec(
        IxDyn(&[1, 3]),
        t.iter().map(|&v| AnyRun::<f32>::new(v, 0.0)).collect(),
    )
    .unwrap();
    let g = SpecVjp::vjp_spec(&node, &[], &d);
    let b = g[0][[0]];
    let holds = |v: f64| SpecScalar::lo(b) <= v && v <= SpecScalar::hi(b);
    let mut seen = Vec::new();
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let r = (t[order[0]] as f32 + t[order[1]] as f32) + t[order[2]] as f32;
        assert!(holds(r as f64), "order {order:?}: {r} not in {b:?}");
        seen.push(r);
    }
    // The orders do disagree (0 and 1), so the test tells a one-order sum from an any-order one.
    assert!(seen.contains(&0.0) && seen.contains(&1.0), "{seen:?}");
    assert!(holds(1.0), "{b:?}");
}
