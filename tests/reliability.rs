//! Regression tests for the reliability issue (#9) and the blind-check item of the API issue
//! (#16, item 1): each test reproduces what a user hit and would fail on the code before the fix.
//!
//! | item | test |
//! |---|---|
//! | 1 non-finite inputs get +∞ eps downstream | `nan_input_*`, `neg_inf_input_*`, `infinite_eps_input_poisons` |
//! | 2 `TList::push` checks the full shape | `push_checks_full_shape` |
//! | 3 zero-size dimensions | `zero_size_*` |
//! | 5 NaN constants are typed errors | `nan_constants_are_typed_errors` |
//! | 6 checkers compare shapes; ∞ only against +∞ | `checkers_*` |
//! | 7 settings per graph, not process-wide; threads change no result | `config_is_per_graph_and_thread`, `two_threads_certify_exactly_as_one` |
//! | 9 nodes off the loss path contribute nothing | `off_path_*` |
//! | #16.1 a check under a +∞ tolerance fails | `blind_check_fails` |

use ndarray::{Array1, Array2, arr0, arr1, arr2};
use scale_graph::check::{self, Predicate};
use scale_graph::config::{Config, DotBound};
use scale_graph::context::{Nil, Seg};
use scale_graph::report::{CloseFailure, CloseOptions, check_close, check_close_with};
use scale_graph::{
    ApproxTol, Bound, EList, Error, Interval, Rank0, Rank1, Rank2, RevGraphScale, TList, ops,
    scale_graph,
};

/// Every value and gradient of a certificate against the rigorous interval spec.
macro_rules! assert_sound {
    ($m:expr, $inputs:expr, $cert:expr, $loss:expr) => {{
        let x = $inputs.to_tlist().unwrap().to_spec::<Interval>();
        let spec = $m.graph.eval_spec(&x);
        check::approx_ctx(&spec, &$cert.values, &$cert.eps).unwrap();
        check::scale_ctx(&spec, &$cert.values, &$cert.scales).unwrap();
        let (seed, _, _) = $m.graph.loss_seed($loss);
        let grads = $m.graph.backprop_spec(&x, &seed.to_spec());
        check::approx_ctx(&grads, &$cert.grads, &$cert.grad_eps).unwrap();
        check::scale_ctx(&grads, &$cert.grads, &$cert.grad_scales).unwrap();
    }};
}

#[test]
fn nan_input_through_relu_gets_infinite_eps() {
    let m = scale_graph! {
        input x: [3];
        let r = relu(x);
        let loss = sum(r);
    };
    let mut inputs = m.zero_inputs();
    inputs.x = arr1(&[f32::NAN, 1.0, -2.0]);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    // relu(NaN) is 0 at run time, so the runtime loss is the finite 1.0 …
    assert_eq!(cert.values.get(m.vars.loss)[()], 1.0);
    // … but the exact result is undefined: no finite bound anywhere downstream.
    for e in [
        cert.eps.get(m.vars.x),
        cert.eps.get(m.vars.r),
        cert.eps.get(m.vars.loss),
        cert.grad_eps.get(m.vars.x),
    ] {
        assert_eq!(e, Bound::INF);
    }
    assert_eq!(cert.scales.get(m.vars.r), Bound::INF);
}

#[test]
fn nan_input_through_softmax_gets_infinite_eps() {
    let m = scale_graph! {
        input x: [3];
        input w: [2, 3];
        let p = softmax(matvec(w, relu(x)));
        let loss = sum(p * p);
    };
    let mut inputs = m.zero_inputs();
    inputs.x = arr1(&[f32::NAN; 3]);
    inputs.w.fill(0.5);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    // The runtime output is the finite [0.5, 0.5]; its eps must not be.
    assert!(cert.values.get(m.vars.p).iter().all(|v| v.is_finite()));
    assert_eq!(cert.eps.get(m.vars.p), Bound::INF);
    assert_eq!(cert.eps.get(m.vars.loss), Bound::INF);
    assert_eq!(cert.grad_eps.get(m.vars.w), Bound::INF);
    assert_eq!(cert.grad_eps.get(m.vars.x), Bound::INF);
    // The tolerance a user reads is unbounded, so a check with it is refused (below).
    assert!(cert.value_tol(m.vars.p).abs.is_infinite());
}

#[test]
fn neg_inf_input_gets_infinite_eps() {
    let m = scale_graph! {
        input x: [2];
        let s = sigmoid(x);
        let loss = sum(s);
    };
    let mut inputs = m.zero_inputs();
    inputs.x = arr1(&[f32::NEG_INFINITY, 0.5]);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    assert!(cert.values.get(m.vars.loss)[()].is_finite());
    assert_eq!(cert.eps.get(m.vars.loss), Bound::INF);
    assert_eq!(cert.grad_eps.get(m.vars.x), Bound::INF);
}

#[test]
fn infinite_eps_input_poisons() {
    // A finite runtime input whose eps is +∞ (the caller knows nothing about its error).
    type G = Seg<Nil, (Rank1<2>,)>;
    let (g, (x,)) = RevGraphScale::<f32, G, Nil, _>::nil(scale_graph::brand!());
    let (g, r) = g.snoc(ops::relu(x));
    let (g, s) = g.snoc(ops::sum(r));
    let xr = TList::<f32, G>::from_arrays(vec![arr1(&[-1.0f32, -2.0]).into_dyn()]).unwrap();
    let eps_in = EList::<G>::uniform(Bound::INF);
    let eps = g.eval_bounds(&eps_in, &xr);
    // relu of negative numbers is exactly 0 at run time, but the spec input is unknown.
    assert_eq!(eps.get(r), Bound::INF);
    assert_eq!(eps.get(s), Bound::INF);
}

#[test]
fn finite_inputs_keep_finite_bounds() {
    // The poison rule must not fire on ordinary data.
    let m = scale_graph! {
        input x: [3];
        input w: [2, 3];
        let p = softmax(matvec(w, relu(x)));
        let loss = sum(p * p);
    };
    let mut inputs = m.zero_inputs();
    inputs.x = arr1(&[0.5, -1.0, 2.0]);
    inputs.w = arr2(&[[0.1, 0.2, 0.3], [-0.3, 0.2, 0.1]]);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    assert!(cert.eps.as_slice().iter().all(|e| !e.is_infinite()));
    assert!(cert.grad_eps.as_slice().iter().all(|e| !e.is_infinite()));
    assert_sound!(m, inputs, cert, m.vars.loss);
}

#[test]
fn push_checks_full_shape() {
    let x = TList::<f32, Seg<Nil, (Rank0,)>>::from_arrays(vec![arr0(0.0f32).into_dyn()]).unwrap();
    // Five elements where the context says three: a typed error, not a wrong bound later.
    let err = x
        .clone()
        .push::<Rank1<3>>(Array1::from(vec![1.0; 5]))
        .unwrap_err();
    assert_eq!(
        err,
        Error::ShapeMismatch {
            entry: 1,
            expected: vec![3],
            found: vec![5]
        }
    );
    let err = x
        .push::<Rank2<2, 3>>(Array2::zeros((3, 2)))
        .map(|_| ())
        .unwrap_err();
    assert!(err.to_string().contains("[2, 3]"), "{err}");
}

#[test]
fn nan_constants_are_typed_errors() {
    let (_g, (x,)) =
        RevGraphScale::<f32, Seg<Nil, (Rank1<3>,)>, Nil, _>::nil(scale_graph::brand!());
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let e = ops::leaky_relu(x, bad).map(|_| ()).unwrap_err();
        assert!(matches!(
            e,
            Error::InvalidConstant {
                op: "leaky_relu",
                ..
            }
        ));
        assert!(ops::scale(x, bad).is_err());
    }
    // Every finite slope is fine, including huge and negative ones.
    for ok in [-10.0, 0.0, 10.0, 1e300, -1e-300] {
        assert!(ops::leaky_relu(x, ok).is_ok());
        assert!(ops::scale(x, ok).is_ok());
    }
}

#[test]
fn checkers_compare_shapes() {
    let spec = arr1(&[Interval::point(1.0)]).into_dyn();
    let rt = arr1(&[1.0f32, 5.0, 7.0]).into_dyn();
    let v = check::approx(&spec, &rt, Bound::new(1.0)).unwrap_err();
    assert_eq!(v.predicate, Predicate::Shape);
    let v = check::scale(&spec, &rt, Bound::new(100.0)).unwrap_err();
    assert_eq!(v.predicate, Predicate::Shape);
    // Even an infinite bound does not make mismatched tensors comparable.
    assert!(check::approx(&spec, &rt, Bound::INF).is_err());
}

#[test]
fn checkers_accept_infinity_only_against_infinite_bound() {
    let tol = ApproxTol::abs_only(Bound::new(1e-3));
    let inf = arr1(&[f32::INFINITY]);
    let err = check_close("y", &inf, &arr1(&[f64::INFINITY]), tol).unwrap_err();
    assert_eq!(err.failure, CloseFailure::NonFinite);
    let err = check_close("y", &arr1(&[f32::NAN]), &arr1(&[1.0f64]), tol).unwrap_err();
    assert_eq!(err.failure, CloseFailure::NonFinite);
    let spec = arr1(&[Interval::point(1.0)]).into_dyn();
    assert!(check::approx(&spec, &inf.clone().into_dyn(), Bound::new(1e30)).is_err());
    assert!(check::approx(&spec, &inf.into_dyn(), Bound::INF).is_ok());
}

#[test]
fn blind_check_fails() {
    // One NaN input makes the tolerance {abs: inf, rel: inf}; a check with it must not pass.
    let m = scale_graph! {
        input x: [2];
        input w: [2, 2];
        let o = tanh(matvec(w, x));
        let loss = sum(o);
    };
    let mut inputs = m.zero_inputs();
    inputs.x = arr1(&[0.5, -0.25]);
    inputs.w = arr2(&[[f32::NAN, 0.5], [0.25, 1.0]]);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    let tol = cert.value_tol(m.vars.o);
    let unrelated = arr1(&[123.0f64, 0.358]);
    let err = check_close("o", &cert.values.get(m.vars.o), &unrelated, tol).unwrap_err();
    assert_eq!(err.failure, CloseFailure::Unbounded);
    let msg = err.to_string();
    assert!(msg.starts_with("cannot check `o`"), "{msg}");
    assert!(msg.contains("not finite"), "{msg}");
    // Accepting it is an explicit choice.
    let opts = CloseOptions {
        accept_unbounded: true,
    };
    assert!(check_close_with("o", &cert.values.get(m.vars.o), &unrelated, tol, opts).is_ok());
}

#[test]
fn assert_close_points_at_the_caller_with_readable_numbers() {
    let tol = ApproxTol::abs_only(Bound::new(1e-9));
    let r = std::panic::catch_unwind(|| {
        scale_graph::report::assert_close(
            "y",
            &arr1(&[1.0f32]),
            &arr1(&[std::f64::consts::PI]),
            tol,
        )
    });
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(
        msg.contains("actual 1.000000e0 vs expected 3.141593e0"),
        "{msg}"
    );
}

#[test]
fn config_is_per_graph_and_thread() {
    // Two graphs with different dot-bound modes, certified at the same time on two threads,
    // give exactly what each gives alone: no process-wide switch to race on.
    let build = |mode: DotBound| {
        let m = scale_graph! {
            input w: [8, 64];
            input x: [64];
            let loss = sum(matvec(w, x));
        };
        let mut m = m;
        // Propagated bounds only: with the this-run enclosure both modes give the true error.
        m.graph
            .set_config(Config::default().with_dot_bound(mode).with_enclose(false));
        m
    };
    let run = |mode: DotBound| {
        let m = build(mode);
        let mut inputs = m.zero_inputs();
        inputs.w = Array2::from_shape_fn((8, 64), |(i, j)| ((i * 64 + j) as f32 * 0.37).sin());
        inputs.x = Array1::from_shape_fn(64, |j| (j as f32 * 0.11).cos());
        let cert = m.certify(&inputs, m.vars.loss).unwrap();
        assert_eq!(cert.config.dot_bound, mode);
        cert.eps.get(m.vars.loss)
    };
    let alone_post = run(DotBound::APosteriori);
    let alone_free = run(DotBound::OrderFree);
    assert!(alone_free > alone_post, "order-free is looser on this data");
    for _ in 0..20 {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| run(DotBound::APosteriori));
            let b = s.spawn(|| run(DotBound::OrderFree));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!((a, b), (alone_post, alone_free));
    }
    // Outside a graph's computation, the default is in force.
    assert_eq!(scale_graph::dot_bound_mode(), DotBound::APosteriori);
}

#[test]
fn two_threads_certify_exactly_as_one() {
    // `Config::threads` promises identical results: with two, the spec pass runs beside the
    // runtime sweeps, its large products split their midpoint and radius GEMMs over rayon's
    // pool (64·128·64 multiply-adds each, above the hand-off threshold), and layer norm's
    // propagated VJP bound its box and point passes.
    let run = |config: Config| {
        let mut m = scale_graph! {
            input x: [64, 128];
            input g: [128];
            input b: [128];
            input w1: [128, 64];
            input w2: [64, 128];
            let n = layer_norm(x, g, b, 1e-5);
            let h = relu(matmul(n, w1));
            let loss = sum(tanh(matmul(h, w2)));
        };
        m.graph.set_config(config);
        let mut inputs = m.zero_inputs();
        let wave = |k: usize, f: f32, s: f32| (k as f32 * f).sin() * s;
        inputs.x = Array2::from_shape_fn((64, 128), |(i, j)| wave(i * 128 + j, 0.37, 1.0));
        inputs.g = Array1::from_shape_fn(128, |j| 1.0 + wave(j, 0.7, 0.1));
        inputs.b = Array1::from_shape_fn(128, |j| wave(j, 0.9, 0.1));
        inputs.w1 = Array2::from_shape_fn((128, 64), |(i, j)| wave(i * 64 + j, 0.11, 0.1));
        inputs.w2 = Array2::from_shape_fn((64, 128), |(i, j)| wave(i * 128 + j, 0.23, 0.1));
        let cert = m.certify(&inputs, m.vars.loss).unwrap();
        let balls = |l: &[ndarray::ArrayD<scale_graph::Ball>]| {
            l.iter().flat_map(|a| a.iter().copied()).collect::<Vec<_>>()
        };
        let enclosure = cert
            .enclosure
            .as_ref()
            .map(|e| (balls(e.values.as_slice()), balls(e.grads.as_slice())));
        let bits = |b: &[Bound]| b.iter().map(|b| b.get().to_bits()).collect::<Vec<_>>();
        (
            bits(cert.eps.as_slice()),
            bits(cert.grad_eps.as_slice()),
            enclosure,
        )
    };
    let propagated = Config::default().with_enclose(false);
    for base in [Config::default(), propagated, Config::any_implementation()] {
        let (one, two) = (run(base.with_threads(1)), run(base.with_threads(2)));
        assert_eq!(one.2.is_some(), base.enclose, "{base:?}: the enclosure");
        assert!(
            one.0.iter().all(|&e| f64::from_bits(e).is_finite()),
            "{base:?}: finite eps"
        );
        assert!(one == two, "{base:?}: two threads certify differently");
    }
}

#[test]
fn off_path_overflow_does_not_poison_gradients() {
    // `big` does not reach the loss; exp(x) overflows there. PyTorch does not visit it.
    let m = scale_graph! {
        input x: [2];
        input y: [2];
        let e = exp(x);
        let big = e * y;
        let loss = sum(x * y);
    };
    let mut inputs = m.zero_inputs();
    inputs.x = arr1(&[100.0, 1.0]);
    inputs.y = arr1(&[1.13e11, 2.0]);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    let _ = m.vars.big;
    let dx = cert.grads.get(m.vars.x);
    assert_eq!(dx[0], 1.13e11f32);
    assert!(dx.iter().all(|v| v.is_finite()));
    assert!(!cert.grad_eps.get(m.vars.x).is_infinite());
    assert_sound!(m, inputs, cert, m.vars.loss);
}

#[test]
fn off_path_log_after_loss_gives_zero_gradient() {
    let m = scale_graph! {
        input y: [4];
        let loss = sum(y * y);
        let l = log(y);
    };
    let inputs = m.zero_inputs();
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    let _ = m.vars.l;
    assert!(cert.grads.get(m.vars.y).iter().all(|&g| g == 0.0));
    assert!(cert.grad_eps.get(m.vars.y).get() < 1e-290); // only underflow slack
    assert_sound!(m, inputs, cert, m.vars.loss);
}

/// Every op on tensors with a zero-size dimension: nothing panics, every claim is sound, and
/// an empty mean (NaN in PyTorch) has no finite bound. The macro refuses a literal `0` (a typo,
/// most likely), but a const generic can be 0, and so can the typed API's `Rank2<0, 5>`.
#[test]
fn zero_size_every_op() {
    zero_size_graph::<0>();
}

fn zero_size_graph<const N: usize>() {
    let m = scale_graph! {
        input a: [N, 5];
        input b: [N, 5];
        input v: [5];
        input w: [5, N];
        input z: [3, N];
        input e: [N];
        let s1 = sum(relu(a + b) * tanh(a - b) + leaky_relu(-a, 0.1) + scale(square(b), 2.0));
        let s2 = sum(sigmoid(a) + exp(a) + softplus(b) + log(exp(b)));
        let s3 = sum(matmul(a, w)) + sum(matmul(w, a));
        let s4 = sum(add_bias(a, v)) + sum(sum_rows(a)) + sum(transpose(a));
        let s5 = sum(softmax(a)) + sum(log_softmax(a)) + sum(softmax(e)) + sum(log_softmax(z));
        let s6 = dot(e, e) + sum(matvec(z, e)) + sum(reshape(z, [N, 3])) + sum(w);
        let s7 = cross_entropy(z, z) + sum(softmax(z));
        let empty_mean = mean(e);
        let empty_mse = mse(e, e);
        let empty_ce = cross_entropy(a, b);
        let loss = s1 + s2 + s3 + s4 + s5 + s6 + s7 + mean(v);
    };
    let mut inputs = m.zero_inputs();
    inputs.v = arr1(&[1.0, -2.0, 3.0, 0.5, 0.25]);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    // Empty sums are exactly 0 (eps: at most the underflow slack).
    for s in [
        m.vars.s1, m.vars.s2, m.vars.s3, m.vars.s4, m.vars.s5, m.vars.s6, m.vars.s7,
    ] {
        assert_eq!(cert.values.get(s)[()], 0.0);
        assert!(cert.eps.get(s).get() < 1e-290, "{:?}", cert.eps.get(s));
    }
    // Empty means are 0/0 (NaN in PyTorch): undefined, so +∞.
    for u in [m.vars.empty_mean, m.vars.empty_mse, m.vars.empty_ce] {
        assert!(cert.values.get(u)[()].is_nan());
        assert_eq!(cert.eps.get(u), Bound::INF);
    }
    assert!(!cert.eps.get(m.vars.loss).is_infinite());
    assert_sound!(m, inputs, cert, m.vars.loss);
}

/// Losses that are empty means: the runtime loss is NaN, so every bound is `+∞`; the backward
/// sweep must not panic (it used to, in `mean`'s VJP bound).
#[test]
fn zero_size_losses() {
    empty_losses::<0>();
}

fn empty_losses<const N: usize>() {
    let m = scale_graph! {
        input e: [N];
        input a: [N, 4];
        input b: [N, 4];
        let l1 = mean(e);
        let l2 = mse(a, b);
        let l3 = cross_entropy(a, b);
        let l4 = mean(a);
    };
    let inputs = m.zero_inputs();
    for loss in [m.vars.l1, m.vars.l2, m.vars.l3, m.vars.l4] {
        let cert = m.certify(&inputs, loss).unwrap();
        assert!(cert.values.get(loss)[()].is_nan());
        assert_eq!(cert.eps.get(loss), Bound::INF);
        for g in cert.grad_eps.as_slice() {
            // The gradients are empty tensors: whatever their bound, nothing is claimed wrongly.
            let _ = g;
        }
        assert_sound!(m, inputs, cert, loss);
    }
}

/// The typed API reaches zero-size shapes directly (`Rank2<0, 5>`), without the macro.
#[test]
fn zero_size_typed_api() {
    type G = Seg<Nil, (Rank2<0, 5>, Rank1<5>)>;
    let (g, (a, v)) = RevGraphScale::<f32, G, Nil, _>::nil(scale_graph::brand!());
    let (g, h) = g.snoc(ops::add_bias(a, v));
    let (g, m) = g.snoc(ops::mean(h));
    let (g, s) = g.snoc(ops::sum(h));
    let x = TList::<f32, G>::from_arrays(vec![
        Array2::<f32>::zeros((0, 5)).into_dyn(),
        arr1(&[1.0f32, 2.0, 3.0, 4.0, 5.0]).into_dyn(),
    ])
    .unwrap();
    let (eps_in, b_in) = g.exact_inputs(&x);
    for loss in [m, s] {
        let (seed, eps_seed, b_seed) = g.loss_seed(loss);
        let cert = g.certify(x.clone(), &eps_in, &b_in, &seed, &eps_seed, &b_seed);
        let spec = g.eval_spec(&x.to_spec::<Interval>());
        check::approx_ctx(&spec, &cert.values, &cert.eps).unwrap();
        let grads = g.backprop_spec(&x.to_spec::<Interval>(), &seed.to_spec());
        check::approx_ctx(&grads, &cert.grads, &cert.grad_eps).unwrap();
    }
}

/// A `+∞` bound says why, naming the input or node it comes from (#16, item 1).
#[test]
fn unbounded_rows_name_their_cause() {
    use scale_graph::Unbounded;
    use scale_graph::report::Report;
    let m = scale_graph! {
        input x: [2];
        input w: [2, 2];
        let o = tanh(matvec(w, x));
        let l = log(o * o);
        let loss = sum(o);
    };
    let mut inputs = m.zero_inputs();
    inputs.x = arr1(&[0.5, -0.25]);
    inputs.w = arr2(&[[f32::NAN, 0.5], [0.25, 1.0]]);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    assert_eq!(
        cert.unbounded[m.vars.o.pos()],
        Some(Unbounded::NonFiniteInput(m.vars.w.pos()))
    );
    let names = ["x", "w", "w·x", "o", "o·o", "l", "loss"];
    let report = Report::new(&m.graph, &cert, &names).unwrap();
    let row = report.rows.iter().find(|r| r.name == "o").unwrap();
    assert_eq!(
        row.note.as_deref(),
        Some("no finite bound: input `w` is not finite")
    );
    // log of 0 is −∞ at run time: the cause is that node, not an input.
    inputs.w = arr2(&[[0.0, 0.0], [0.0, 0.0]]);
    let cert = m.certify(&inputs, m.vars.loss).unwrap();
    assert_eq!(
        cert.unbounded[m.vars.l.pos()],
        Some(Unbounded::NonFiniteValue(m.vars.l.pos()))
    );
    assert_eq!(cert.unbounded[m.vars.o.pos()], None);
    let report = Report::new(&m.graph, &cert, &names).unwrap();
    let row = report.rows.iter().find(|r| r.name == "l").unwrap();
    assert!(
        row.note
            .as_deref()
            .unwrap()
            .contains("`l` (log) is not finite at run time"),
        "{:?}",
        row.note
    );
}

/// A model names every entry (nested nodes by their expression), reports itself with those
/// names, and shape errors of its inputs name the input (#16, items 3, 5 and 8).
#[test]
fn models_name_their_entries() {
    let m = scale_graph! {
        input x: [3];
        input w1: [2, 3];
        input b1: [2];
        let h = relu(matvec(w1, x) + b1);
        let loss = sum(h);
    };
    assert_eq!(
        m.names(),
        &[
            "x",
            "w1",
            "b1",
            "matvec(w1, x)",
            "add(matvec(w1, x), b1)",
            "h",
            "loss"
        ]
    );
    let mut inputs = m.zero_inputs();
    inputs.x = arr1(&[0.5, -1.0, 2.0]);
    inputs.w1.fill(0.25);
    let cert = m
        .certify_wrt(&inputs, m.vars.loss, &[m.vars.w1.pos()])
        .unwrap();
    assert!(cert.grads.get(m.vars.w1).iter().any(|&g| g != 0.0));
    assert!(cert.grads.get(m.vars.x).iter().all(|&g| g == 0.0)); // not asked for
    let report = m.report(&cert);
    assert!(report.to_table().contains("matvec(w1, x)"));
    inputs.w1 = Array2::zeros((3, 2));
    let err = m.certify(&inputs, m.vars.loss).map(|_| ()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "input `w1`: expected shape [2, 3], found [3, 2]"
    );
}
