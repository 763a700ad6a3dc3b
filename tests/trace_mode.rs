//! Trace mode (SPEC §11, issue #11 item 4): certify values that *another* implementation
//! produced. The foreign runtimes of `tests/foreign/` (PyTorch's formulas, twelve summation
//! orders, GEMM engines and libms) run the classifier and mlp_deep graphs; their per-node values
//! and input gradients become a [`Trace`] by name; `certify_trace` must bound each traced tensor's
//! distance to the exact result (checked against the interval spec, which is independent of the
//! enclosure the trace mode uses), be nearly that distance (bound ÷ true error ≈ 1), flag no
//! conforming runtime as outside the any-implementation bound, and flag a run that is not
//! conforming. Bad traces are typed errors.
#![forbid(unsafe_code)]

// Only part of the foreign-kernel helpers is used here.
#[allow(dead_code)]
mod foreign;

use foreign::eval::{self, Op, Tensor};
use foreign::kernels;
use ndarray::{ArrayD, IxDyn};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scale_graph::trace::{Trace, certify_trace};
use scale_graph::{Error, Interval, TList, scale_graph};

fn random(rng: &mut StdRng, shape: &[usize], std: f64) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(
        shape,
        (0..n)
            .map(|_| (rng.random_range(-1.0f64..1.0) * std * 1.7) as f32)
            .collect(),
    )
}

fn arr(t: &Tensor) -> ArrayD<f64> {
    ArrayD::from_shape_vec(
        IxDyn(&t.shape),
        t.data.iter().map(|&v| f64::from(v)).collect(),
    )
    .expect("shape")
}

/// The largest distance from the traced tensor to any point of the interval enclosure.
fn true_error(t: &ArrayD<f64>, exact: &ArrayD<Interval>) -> f64 {
    t.iter()
        .zip(exact)
        .map(|(&v, e)| (v - e.lo()).abs().max((v - e.hi()).abs()))
        .fold(0.0, f64::max)
}

#[test]
fn foreign_runs_are_certified_by_their_trace() {
    let m = scale_graph! {
        runtime = f32;
        input x: [8, 20];
        input w: [20, 6];
        input b: [6];
        input target: [8, 6];
        let z = matmul(x, w);
        let logits = add_bias(z, b);
        let probs = softmax(logits);
        let loss = cross_entropy(logits, target);
    };
    let prog = [
        Op::Matmul(0, 1),
        Op::AddBias(4, 2),
        Op::Softmax(5),
        Op::CrossEntropy(5, 3),
    ];
    let names = m.names();
    let mut rng = StdRng::seed_from_u64(0x7ACE);
    let (mut worst_ratio, mut checked) = (0.0f64, 0usize);
    let mut ratios = Vec::new();
    for case in 0..6 {
        let mut target = random(&mut rng, &[8, 6], 1.0);
        for row in target.data.chunks_mut(6) {
            let s: f32 = row.iter().map(|v| v.abs()).sum();
            row.iter_mut().for_each(|v| *v = v.abs() / s);
        }
        let inputs = vec![
            random(&mut rng, &[8, 20], 1.0),
            random(&mut rng, &[20, 6], 0.3),
            random(&mut rng, &[6], 0.1),
            target,
        ];
        let xs = TList::from_arrays(inputs.iter().map(arr).collect::<Vec<_>>())
            .expect("shapes")
            .to_spec::<Interval>();
        let spec_vals = m.graph.eval_spec(&xs);
        let (seed, _, _) = m.graph.loss_seed(m.vars.loss);
        let spec_grads = m.graph.backprop_spec(&xs, &seed.to_spec());
        for rt in kernels::all(m.graph.config().assumed_ulps()) {
            let vals = eval::forward(&rt, &inputs, &prog);
            let grads = eval::backward(&rt, &vals, &prog, names.len() - 1);
            let mut t = Trace::default();
            for (name, v) in names.iter().zip(&vals) {
                t.insert_value(name, arr(v));
            }
            for (name, g) in names.iter().zip(&grads) {
                t.insert_grad(name, arr(g));
            }
            let out = certify_trace(&m.graph, names, &t, m.vars.loss).expect("a valid trace");
            assert!(
                out.outside_any_implementation.is_empty(),
                "case {case}, {}: conforming run flagged: {:?}",
                rt.name,
                out.outside_any_implementation
            );
            for row in &out.report.rows {
                let (traced, exact) = match row.kind {
                    scale_graph::report::RowKind::Value => (
                        t.value(&row.name).expect("traced"),
                        &spec_vals.as_slice()[row.entry],
                    ),
                    scale_graph::report::RowKind::Gradient => (
                        t.grad(names[row.entry]).expect("traced"),
                        &spec_grads.as_slice()[row.entry],
                    ),
                    scale_graph::report::RowKind::Update => unreachable!("no training step here"),
                };
                let eps = row.eps.expect("finite data: a finite bound");
                let err = true_error(traced, exact);
                assert!(
                    err <= eps,
                    "case {case}, {}: {} is {err:e} from the exact result, eps {eps:e}",
                    rt.name,
                    row.name
                );
                if err > 0.0 {
                    let r = eps / err;
                    worst_ratio = worst_ratio.max(r);
                    ratios.push(r);
                }
                checked += 1;
            }
        }
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    eprintln!(
        "trace mode: {checked} traced tensors, bound/true median {median:.3}, max {worst_ratio:.3}"
    );
    // The trace bound is the distance to an enclosure ~1e-9 of the error wide: nearly the truth.
    assert!(
        median <= 1.01 && worst_ratio <= 1.5,
        "median {median}, max {worst_ratio}"
    );
}

#[test]
fn a_non_conforming_run_is_flagged_and_still_certified() {
    let m = scale_graph! {
        runtime = f32;
        input x: [4];
        input w: [3, 4];
        let y = matvec(w, x);
        let loss = sum(y);
    };
    let names = m.names();
    let x = ndarray::arr1(&[0.5, -1.25, 2.0, 0.75]).into_dyn();
    let w =
        ndarray::Array2::from_shape_fn((3, 4), |(i, j)| (i as f64 - j as f64) * 0.25).into_dyn();
    let mut t = Trace::default();
    t.insert_value("x", x.clone());
    t.insert_value("w", w.clone());
    // A "kernel" that accumulates in half precision: far outside any f32 conforming run.
    let y = ndarray::Array1::from_shape_fn(3, |i| {
        let exact: f64 = (0..4).map(|j| w[[i, j]] * x[[j]]).sum();
        exact + 1e-3
    });
    t.insert_value("y", y.into_dyn());
    let out = certify_trace(&m.graph, names, &t, m.vars.loss).unwrap();
    assert_eq!(out.outside_any_implementation, vec!["y".to_string()]);
    let row = out.report.rows.iter().find(|r| r.name == "y").unwrap();
    let eps = row.eps.unwrap();
    assert!(
        (1e-3..1.001e-3).contains(&eps),
        "eps {eps}: the trace's own distance"
    );
    assert!(row.note.as_deref().unwrap().contains("does not follow"));
    // Entries the trace lacks are reported as such.
    let loss = out.report.rows.iter().find(|r| r.name == "loss").unwrap();
    assert_eq!(loss.eps, None);
    assert_eq!(loss.note.as_deref(), Some("not in the trace"));
}

#[test]
fn bad_traces_are_typed_errors() {
    let m = scale_graph! {
        runtime = f32;
        input x: [2];
        let loss = sum(x);
    };
    let names = m.names();
    let check =
        |t: &Trace, name: &str, says: &str| match certify_trace(&m.graph, names, t, m.vars.loss) {
            Err(Error::Trace { name: n, problem }) => {
                assert_eq!(n, name);
                assert!(problem.contains(says), "{problem}");
            }
            other => panic!("expected a trace error about `{name}`, got {other:?}"),
        };
    check(&Trace::default(), "x", "missing");
    let mut t = Trace::default();
    t.insert_value("x", ndarray::arr1(&[1.0, 2.0, 3.0]).into_dyn());
    check(&t, "x", "expected shape [2], found [3]");
    let mut t = Trace::default();
    t.insert_value("x", ndarray::arr1(&[0.1, 2.0]).into_dyn());
    check(&t, "x", "not a value of the runtime type f32");
    t.insert_value("x", ndarray::arr1(&[1.0, 2.0]).into_dyn());
    t.insert_value("h", ndarray::arr0(1.0).into_dyn());
    check(&t, "h", "no value of this name");
    let mut t = Trace::default();
    t.insert_value("x", ndarray::arr1(&[1.0, 2.0]).into_dyn());
    t.insert_grad("loss", ndarray::arr0(1.0).into_dyn());
    check(&t, "loss", "gradients are of inputs");
    assert!(matches!(
        Trace::from_json("{\"values\": {\"x\": [[1, 2], [3]]}}"),
        Err(Error::Trace { .. })
    ));
    // A NaN input is accepted and poisons what reads it (+∞, never a finite bound).
    let t = Trace::from_json("{\"values\": {\"x\": [\"NaN\", 1], \"loss\": 1}}").unwrap();
    let out = certify_trace(&m.graph, names, &t, m.vars.loss).unwrap();
    let loss = out.report.rows.iter().find(|r| r.name == "loss").unwrap();
    assert_eq!(loss.eps, None);
}

#[test]
fn npy_traces_round_trip() {
    let dir = std::env::temp_dir().join(format!("scale-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x = ndarray::arr1(&[1.5f32, -2.0]).into_dyn();
    ndarray_npy::write_npy(dir.join("x.npy"), &x).unwrap();
    ndarray_npy::write_npy(
        dir.join("x.grad.npy"),
        &ndarray::arr1(&[1.0f64, 1.0]).into_dyn(),
    )
    .unwrap();
    let t = Trace::from_npy_dir(&dir).unwrap();
    assert_eq!(t.value("x").unwrap(), &x.mapv(f64::from));
    assert_eq!(t.grad("x").unwrap().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A real PyTorch run (`scripts/torch_trace.py`, checked in under `tests/fixtures/`): every traced
/// value and gradient is within its trace bound of the interval spec, the bound is nearly the
/// true error, and PyTorch's run lies within the any-implementation bound.
#[test]
fn a_pytorch_trace_is_certified() {
    let m = scale_graph! {
        runtime = f32;
        input x: [4, 8];
        input w1: [8, 16];
        input b1: [16];
        input w2: [16, 16];
        input b2: [16];
        input w3: [16, 4];
        input b3: [4];
        input target: [4, 4];
        let z1 = matmul(x, w1);
        let a1 = add_bias(z1, b1);
        let relu1 = relu(a1);
        let z2 = matmul(relu1, w2);
        let a2 = add_bias(z2, b2);
        let tanh3 = tanh(a2);
        let z3 = matmul(tanh3, w3);
        let a3 = add_bias(z3, b3);
        let softmax5 = softmax(a3);
        let loss = mse(softmax5, target);
    };
    let names = m.names();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/torch_trace_sequential");
    let t = Trace::from_npy_dir(&dir).expect("the fixture reads");
    let out = certify_trace(&m.graph, names, &t, m.vars.loss).expect("the fixture fits the model");
    assert!(
        out.outside_any_implementation.is_empty(),
        "{:?}",
        out.outside_any_implementation
    );
    // The same through the model (`Model::certify_trace`, by the model's own names).
    let via_model = scale_graph::Model::certify_trace(&m, &t, m.vars.loss).unwrap();
    assert_eq!(via_model.report, out.report);
    // Every gradient by name, with its tolerance.
    let cert = m.certify(&m.zero_inputs(), m.vars.loss).unwrap();
    let grads = scale_graph::Model::gradients(&m, &cert);
    assert_eq!(grads.len(), 8);
    assert_eq!(grads[1].0, "w1");
    assert_eq!(grads[1].1.shape(), &[8, 16]);
    let inputs: Vec<ArrayD<f64>> = names[..8]
        .iter()
        .map(|n| t.value(n).unwrap().clone())
        .collect();
    let xs = TList::from_arrays(inputs).unwrap().to_spec::<Interval>();
    let sv = m.graph.eval_spec(&xs);
    let (seed, _, _) = m.graph.loss_seed(m.vars.loss);
    let sg = m.graph.backprop_spec(&xs, &seed.to_spec());
    let mut traced = 0;
    for row in &out.report.rows {
        let (tv, exact) = match row.kind {
            scale_graph::report::RowKind::Value => match t.value(&row.name) {
                Some(v) => (v, &sv.as_slice()[row.entry]),
                None => {
                    assert!(row.name.starts_with('z'), "{} untraced", row.name);
                    continue;
                }
            },
            scale_graph::report::RowKind::Gradient => {
                (t.grad(names[row.entry]).unwrap(), &sg.as_slice()[row.entry])
            }
            scale_graph::report::RowKind::Update => unreachable!("no training step here"),
        };
        let eps = row.eps.unwrap();
        let err = true_error(tv, exact);
        assert!(err <= eps, "{}: {err:e} > {eps:e}", row.name);
        assert!(
            eps <= 1.01 * err + 1e-300,
            "{}: {eps:e} ≫ {err:e}",
            row.name
        );
        traced += 1;
    }
    // 8 inputs and 7 layer outputs (the three inner matmuls are fused away), 8 gradients.
    assert_eq!(traced, 23, "every recorded tensor checked");
}
