//! The ONNX MLP fixture (`scale-gen/tests/fixtures/onnx/mlp.onnx`), imported by `scale-gen`, is
//! this hand-written `scale_graph!` program; run on the file's own weights, its certified values
//! enclose an independent `f64` evaluation of the ONNX semantics (Gemm with `transB = 1`: `x Wᵀ +
//! b`) read straight from the initializers. Likewise the broadcast centring of `centre.onnx`
//! (`x - ReduceMean(x, -1, keepdims = 1)`, lowered through `reshape` + `expand`).

use ndarray::{Array1, Array2, Axis, Ix1, Ix2};
use scale_gen::onnx::{Options, import_file};
use scale_graph::scale_graph;
use std::path::PathBuf;

const PROGRAM: &str = "scale_graph! {
    runtime = f32;
    input x: [4, 8];
    input w1: [16, 8];
    input b1: [16];
    input w2: [3, 16];
    input b2: [3];
    let w1_t = transpose(w1);
    let z1_mm = matmul(x, w1_t);
    let z1 = add_bias(z1_mm, b1);
    let h1 = relu(z1);
    let w2_t = transpose(w2);
    let y_mm = matmul(h1, w2_t);
    let y = add_bias(y_mm, b2);
    let loss = sum(y);
}";

#[test]
fn imported_mlp_certifies_the_onnx_semantics() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scale-gen/tests/fixtures/onnx/mlp.onnx");
    let imported = import_file(&path, &Options::default()).expect("imports");
    assert_eq!(scale_gen::emit::program(&imported.checked, 0), PROGRAM);

    let m = scale_graph! {
        runtime = f32;
        input x: [4, 8];
        input w1: [16, 8];
        input b1: [16];
        input w2: [3, 16];
        input b2: [3];
        let w1_t = transpose(w1);
        let z1_mm = matmul(x, w1_t);
        let z1 = add_bias(z1_mm, b1);
        let h1 = relu(z1);
        let w2_t = transpose(w2);
        let y_mm = matmul(h1, w2_t);
        let y = add_bias(y_mm, b2);
        let loss = sum(y);
    };
    let weight = |name: &str| {
        let w = imported
            .weights
            .iter()
            .find(|w| w.name == name)
            .expect("initializer");
        (
            w.shape.clone(),
            w.values.iter().map(|&v| v as f32).collect::<Vec<f32>>(),
        )
    };
    let mat = |name: &str| {
        let (s, v) = weight(name);
        ndarray::ArrayD::from_shape_vec(s, v)
            .unwrap()
            .into_dimensionality::<Ix2>()
            .unwrap()
    };
    let vec1 = |name: &str| {
        let (s, v) = weight(name);
        ndarray::ArrayD::from_shape_vec(s, v)
            .unwrap()
            .into_dimensionality::<Ix1>()
            .unwrap()
    };
    let mut inputs = m.random_inputs(15);
    inputs.w1 = mat("w1");
    inputs.b1 = vec1("b1");
    inputs.w2 = mat("w2");
    inputs.b2 = vec1("b2");
    let cert = m.certify(&inputs, m.vars.loss).expect("certifies");

    // The ONNX semantics in f64 on the same f32 data: relu(x W1ᵀ + b1) W2ᵀ + b2.
    let f = |a: &Array2<f32>| a.mapv(f64::from);
    let g = |a: &Array1<f32>| a.mapv(f64::from);
    let h = (f(&inputs.x).dot(&f(&inputs.w1).t()) + g(&inputs.b1)).mapv(|v| v.max(0.0));
    let y = h.dot(&f(&inputs.w2).t()) + g(&inputs.b2);
    let got = cert.values.get(m.vars.y);
    let eps = cert.eps.get(m.vars.y).get();
    assert!(eps.is_finite() && eps > 0.0);
    for (r, e) in got.iter().zip(y.iter()) {
        // The f64 evaluation is within ~1e-15 relative of the exact result.
        assert!(
            (f64::from(*r) - e).abs() <= eps + 1e-12 * e.abs(),
            "runtime {r} vs ONNX {e}: eps {eps}"
        );
    }
}

const CENTRE: &str = "scale_graph! {
    runtime = f32;
    input x: [2, 3, 8];
    let mean_drop = mean(x, 2);
    let mean = reshape(mean_drop, [2, 3, 1]);
    let y_mean_r = reshape(mean, [2, 3]);
    let y_mean = expand(y_mean_r, 2, 8);
    let y = sub(x, y_mean);
    let loss = sum(y);
}";

/// The keepdims mean subtracted from its input (numpy broadcasting of `[2, 3, 1]` against
/// `[2, 3, 8]`) imports as `reshape` + `expand` + `sub`; certified, its values enclose the ONNX
/// semantics evaluated in `f64`.
#[test]
fn imported_broadcast_centring_certifies_the_onnx_semantics() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scale-gen/tests/fixtures/onnx/centre.onnx");
    let imported = import_file(&path, &Options::default()).expect("imports");
    assert_eq!(scale_gen::emit::program(&imported.checked, 0), CENTRE);

    let m = scale_graph! {
        runtime = f32;
        input x: [2, 3, 8];
        let mean_drop = mean(x, 2);
        let mean = reshape(mean_drop, [2, 3, 1]);
        let y_mean_r = reshape(mean, [2, 3]);
        let y_mean = expand(y_mean_r, 2, 8);
        let y = sub(x, y_mean);
        let loss = sum(y);
    };
    let inputs = m.random_inputs(15);
    let cert = m.certify(&inputs, m.vars.loss).expect("certifies");

    // The ONNX semantics in f64 on the same f32 data: x - mean(x, -1) broadcast over the row.
    let x = inputs.x.mapv(f64::from);
    let mean = x.mean_axis(Axis(2)).expect("non-empty axis");
    let want = &x - &mean.insert_axis(Axis(2));
    let got = cert.values.get(m.vars.y);
    let eps = cert.eps.get(m.vars.y).get();
    assert!(eps.is_finite() && eps > 0.0);
    assert_eq!(got.len(), want.len());
    for (r, e) in got.iter().zip(want.iter()) {
        // Centred values are near 0, so the f64 evaluation's error is absolute (~1e-16 here).
        assert!(
            (f64::from(*r) - e).abs() <= eps + 1e-12,
            "runtime {r} vs ONNX {e}: eps {eps}"
        );
    }
}
