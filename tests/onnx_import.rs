//! The ONNX MLP fixture (`scale-gen/tests/fixtures/onnx/mlp.onnx`), imported by `scale-gen`, is
//! this hand-written `scale_graph!` program; run on the file's own weights, its certified values
//! enclose an independent `f64` evaluation of the ONNX semantics (Gemm with `transB = 1`: `x Wᵀ +
//! b`) read straight from the initializers. Likewise the broadcast centring of `centre.onnx`
//! (`x - ReduceMean(x, -1, keepdims = 1)`, lowered through `reshape` + `expand`).
//!
//! The same three models exported by PyTorch itself (`*_torch.onnx`, `torch.onnx.export`, written
//! by `scripts/make_onnx_fixtures.py` when torch is installed) import to the programs pinned
//! here, certify on their weights and PyTorch's input with 0 violations against the interval
//! spec (the examples' runner), and PyTorch's saved output lies within the any-implementation
//! bound of ours.

// The examples' runner: the same certified pass and interval-spec check as `scale-gen certify`.
#[path = "../examples/support/mod.rs"]
mod support;

use clap::Parser;
use ndarray::{Array1, Array2, ArrayD, Axis, Ix1, Ix2};
use ndarray_npy::ReadNpyExt;
use scale_gen::onnx::{Options, import_file};
use scale_graph::context::{Append, ShapeList};
use scale_graph::{Config, Rank0, RevGraphScale, TList, Var, scale_graph};
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

fn torch_fixture(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scale-gen/tests/fixtures/onnx")
        .join(file)
}

fn npy(file: &str) -> ArrayD<f32> {
    let f = std::fs::File::open(torch_fixture(file)).expect("fixture exists");
    ArrayD::<f32>::read_npy(f).expect("an f32 .npy")
}

/// `<name>_torch.onnx` imports to `program` (the same text `graph` was written from); run on the
/// file's weights and PyTorch's input, the certified pass has no violation against the interval
/// spec, and PyTorch's output is within twice the any-implementation bound of ours (each is
/// within it of the exact result, if PyTorch rounds as SPEC §5 allows).
fn check_torch_export<G, Ss, B>(
    name: &str,
    program: &str,
    graph: &RevGraphScale<f32, G, Ss, B>,
    names: &[&str],
    loss: Var<Rank0, B>,
) where
    G: ShapeList + Append<Ss>,
{
    let imported = import_file(
        &torch_fixture(&format!("{name}_torch.onnx")),
        &Options::default(),
    )
    .expect("imports");
    assert_eq!(scale_gen::emit::program(&imported.checked, 0), program);
    let x = npy(&format!("{name}_torch/x.npy"));
    let want = npy(&format!("{name}_torch/y.npy"));
    let arrays: Vec<ArrayD<f32>> = names[..graph.n_inputs()]
        .iter()
        .map(|&n| {
            if n == "x" {
                return x.clone();
            }
            let w = imported
                .weights
                .iter()
                .find(|w| w.name == n)
                .expect("every other input is an initializer");
            let v = w.values.iter().map(|&v| v as f32).collect();
            ArrayD::from_shape_vec(w.shape.clone(), v).expect("the initializer's shape")
        })
        .collect();

    let mut opts = support::Runner::parse_from(["test"]).options;
    opts.quiet = true;
    let report = support::run(name, graph, names, arrays.clone(), loss, &opts).expect("certifies");
    assert_eq!(report.violations(), 0, "{}", report.to_table());

    let xs = TList::<f32, G>::from_arrays(arrays).expect("shapes match");
    let (eps_in, b_in) = graph.exact_inputs(&xs);
    let (seed, eps_seed, b_seed) = graph.loss_seed(loss);
    let all: Vec<usize> = (0..graph.n_inputs()).collect();
    let any = graph.certify_with(
        Config::any_implementation(),
        xs,
        &eps_in,
        &b_in,
        &seed,
        &eps_seed,
        &b_seed,
        &all,
    );
    let k = names.iter().position(|&n| n == "y").expect("an output `y`");
    let (got, eps) = (&any.values.as_slice()[k], any.eps.as_slice()[k].get());
    assert!(eps.is_finite() && eps > 0.0, "{name}: eps {eps}");
    assert_eq!(got.shape(), want.shape());
    for (r, t) in got.iter().zip(want.iter()) {
        assert!(
            (f64::from(*r) - f64::from(*t)).abs() <= 2.0 * eps,
            "{name}: ours {r} vs PyTorch {t}: any-implementation eps {eps}"
        );
    }
}

#[test]
fn torch_exported_mlp_certifies_and_matches_pytorch() {
    let m = scale_graph! {
        runtime = f32;
        input x: [4, 8];
        input v_0_weight: [16, 8];
        input v_0_bias: [16];
        input v_2_weight: [3, 16];
        input v_2_bias: [3];
        let v_0_weight_t = transpose(v_0_weight);
        let v_0_Gemm_output_0_mm = matmul(x, v_0_weight_t);
        let v_0_Gemm_output_0 = add_bias(v_0_Gemm_output_0_mm, v_0_bias);
        let v_1_Relu_output_0 = relu(v_0_Gemm_output_0);
        let v_2_weight_t = transpose(v_2_weight);
        let y_mm = matmul(v_1_Relu_output_0, v_2_weight_t);
        let y = add_bias(y_mm, v_2_bias);
        let loss = sum(y);
    };
    let program = r#"scale_graph! {
    runtime = f32;
    input x: [4, 8];
    input v_0_weight: [16, 8];
    input v_0_bias: [16];
    input v_2_weight: [3, 16];
    input v_2_bias: [3];
    let v_0_weight_t = transpose(v_0_weight);
    let v_0_Gemm_output_0_mm = matmul(x, v_0_weight_t);
    let v_0_Gemm_output_0 = add_bias(v_0_Gemm_output_0_mm, v_0_bias);
    let v_1_Relu_output_0 = relu(v_0_Gemm_output_0);
    let v_2_weight_t = transpose(v_2_weight);
    let y_mm = matmul(v_1_Relu_output_0, v_2_weight_t);
    let y = add_bias(y_mm, v_2_bias);
    let loss = sum(y);
}"#;
    check_torch_export("mlp", program, &m.graph, m.names(), m.vars.loss);
}

#[test]
fn torch_exported_cnn_certifies_and_matches_pytorch() {
    let m = scale_graph! {
        runtime = f32;
        input x: [2, 1, 8, 8];
        input v_0_weight: [4, 1, 3, 3];
        input v_0_bias: [4];
        input v_3_weight: [8, 4, 3, 3];
        input v_7_weight: [5, 32];
        input v_7_bias: [5];
        let v_0_Conv_output_0_conv = conv2d(x, v_0_weight, 1, 1);
        let v_0_Conv_output_0_cl = permute(v_0_Conv_output_0_conv, [0, 2, 3, 1]);
        let v_0_Conv_output_0_cl_b_rows = reshape(v_0_Conv_output_0_cl, [128, 4]);
        let v_0_Conv_output_0_cl_b_biased = add_bias(v_0_Conv_output_0_cl_b_rows, v_0_bias);
        let v_0_Conv_output_0_cl_b = reshape(v_0_Conv_output_0_cl_b_biased, [2, 8, 8, 4]);
        let v_0_Conv_output_0 = permute(v_0_Conv_output_0_cl_b, [0, 3, 1, 2]);
        let v_1_Relu_output_0 = relu(v_0_Conv_output_0);
        let v_2_MaxPool_output_0 = max_pool2d(v_1_Relu_output_0, 2);
        let v_3_Conv_output_0 = conv2d(v_2_MaxPool_output_0, v_3_weight, 1, 1);
        let v_4_Relu_output_0 = relu(v_3_Conv_output_0);
        let v_5_AveragePool_output_0 = avg_pool2d(v_4_Relu_output_0, 2);
        let v_6_Flatten_output_0 = reshape(v_5_AveragePool_output_0, [2, 32]);
        let v_7_weight_t = transpose(v_7_weight);
        let v_7_Gemm_output_0_mm = matmul(v_6_Flatten_output_0, v_7_weight_t);
        let v_7_Gemm_output_0 = add_bias(v_7_Gemm_output_0_mm, v_7_bias);
        let y = log_softmax(v_7_Gemm_output_0);
        let loss = sum(y);
    };
    let program = r#"scale_graph! {
    runtime = f32;
    input x: [2, 1, 8, 8];
    input v_0_weight: [4, 1, 3, 3];
    input v_0_bias: [4];
    input v_3_weight: [8, 4, 3, 3];
    input v_7_weight: [5, 32];
    input v_7_bias: [5];
    let v_0_Conv_output_0_conv = conv2d(x, v_0_weight, 1, 1);
    let v_0_Conv_output_0_cl = permute(v_0_Conv_output_0_conv, [0, 2, 3, 1]);
    let v_0_Conv_output_0_cl_b_rows = reshape(v_0_Conv_output_0_cl, [128, 4]);
    let v_0_Conv_output_0_cl_b_biased = add_bias(v_0_Conv_output_0_cl_b_rows, v_0_bias);
    let v_0_Conv_output_0_cl_b = reshape(v_0_Conv_output_0_cl_b_biased, [2, 8, 8, 4]);
    let v_0_Conv_output_0 = permute(v_0_Conv_output_0_cl_b, [0, 3, 1, 2]);
    let v_1_Relu_output_0 = relu(v_0_Conv_output_0);
    let v_2_MaxPool_output_0 = max_pool2d(v_1_Relu_output_0, 2);
    let v_3_Conv_output_0 = conv2d(v_2_MaxPool_output_0, v_3_weight, 1, 1);
    let v_4_Relu_output_0 = relu(v_3_Conv_output_0);
    let v_5_AveragePool_output_0 = avg_pool2d(v_4_Relu_output_0, 2);
    let v_6_Flatten_output_0 = reshape(v_5_AveragePool_output_0, [2, 32]);
    let v_7_weight_t = transpose(v_7_weight);
    let v_7_Gemm_output_0_mm = matmul(v_6_Flatten_output_0, v_7_weight_t);
    let v_7_Gemm_output_0 = add_bias(v_7_Gemm_output_0_mm, v_7_bias);
    let y = log_softmax(v_7_Gemm_output_0);
    let loss = sum(y);
}"#;
    check_torch_export("cnn", program, &m.graph, m.names(), m.vars.loss);
}

/// PyTorch's TorchScript exporter puts a `Constant` node before each node of GELU's erf form
/// that reads one; the import still fuses the pattern into one `gelu`.
#[test]
fn torch_exported_transformer_block_certifies_and_matches_pytorch() {
    let m = scale_graph! {
    runtime = f32;
    input x: [1, 4, 8];
    input ln1_weight: [8];
    input ln1_bias: [8];
    input onnx_MatMul_56: [8, 8];
    input onnx_MatMul_57: [8, 8];
    input onnx_MatMul_58: [8, 8];
    input onnx_MatMul_59: [8, 8];
    input ln2_weight: [8];
    input ln2_bias: [8];
    input onnx_MatMul_60: [8, 32];
    input up_bias: [32];
    input onnx_MatMul_61: [32, 8];
    input down_bias: [8];
    let ln1_LayerNormalization_output_0 = layer_norm(x, ln1_weight, ln1_bias, 9.999999747378752e-6);
    let q_MatMul_output_0 = matmul(ln1_LayerNormalization_output_0, onnx_MatMul_56);
    let Reshape_output_0 = reshape(q_MatMul_output_0, [1, 4, 2, 4]);
    let Transpose_output_0 = permute(Reshape_output_0, [0, 2, 1, 3]);
    let k_MatMul_output_0 = matmul(ln1_LayerNormalization_output_0, onnx_MatMul_57);
    let Reshape_1_output_0 = reshape(k_MatMul_output_0, [1, 4, 2, 4]);
    let v_MatMul_output_0 = matmul(ln1_LayerNormalization_output_0, onnx_MatMul_58);
    let Reshape_2_output_0 = reshape(v_MatMul_output_0, [1, 4, 2, 4]);
    let Transpose_1_output_0 = permute(Reshape_2_output_0, [0, 2, 1, 3]);
    let Transpose_2_output_0 = permute(Reshape_1_output_0, [0, 2, 3, 1]);
    let MatMul_output_0 = bmm(Transpose_output_0, Transpose_2_output_0);
    let Mul_output_0 = scale(MatMul_output_0, 0.5);
    let Softmax_output_0 = softmax(Mul_output_0);
    let MatMul_1_output_0 = bmm(Softmax_output_0, Transpose_1_output_0);
    let Transpose_3_output_0 = permute(MatMul_1_output_0, [0, 2, 1, 3]);
    let Reshape_3_output_0 = reshape(Transpose_3_output_0, [1, 4, 8]);
    let o_MatMul_output_0 = matmul(Reshape_3_output_0, onnx_MatMul_59);
    let Add_output_0 = add(x, o_MatMul_output_0);
    let ln2_LayerNormalization_output_0 = layer_norm(Add_output_0, ln2_weight, ln2_bias, 9.999999747378752e-6);
    let up_MatMul_output_0 = matmul(ln2_LayerNormalization_output_0, onnx_MatMul_60);
    let up_Add_output_0_rows = reshape(up_MatMul_output_0, [4, 32]);
    let up_Add_output_0_biased = add_bias(up_Add_output_0_rows, up_bias);
    let up_Add_output_0 = reshape(up_Add_output_0_biased, [1, 4, 32]);
    let Mul_2_output_0 = gelu(up_Add_output_0);
    let down_MatMul_output_0 = matmul(Mul_2_output_0, onnx_MatMul_61);
    let down_Add_output_0_rows = reshape(down_MatMul_output_0, [4, 8]);
    let down_Add_output_0_biased = add_bias(down_Add_output_0_rows, down_bias);
    let down_Add_output_0 = reshape(down_Add_output_0_biased, [1, 4, 8]);
    let y = add(Add_output_0, down_Add_output_0);
    let loss = sum(y);
    };
    let program = r#"scale_graph! {
    runtime = f32;
    input x: [1, 4, 8];
    input ln1_weight: [8];
    input ln1_bias: [8];
    input onnx_MatMul_56: [8, 8];
    input onnx_MatMul_57: [8, 8];
    input onnx_MatMul_58: [8, 8];
    input onnx_MatMul_59: [8, 8];
    input ln2_weight: [8];
    input ln2_bias: [8];
    input onnx_MatMul_60: [8, 32];
    input up_bias: [32];
    input onnx_MatMul_61: [32, 8];
    input down_bias: [8];
    let ln1_LayerNormalization_output_0 = layer_norm(x, ln1_weight, ln1_bias, 9.999999747378752e-6);
    let q_MatMul_output_0 = matmul(ln1_LayerNormalization_output_0, onnx_MatMul_56);
    let Reshape_output_0 = reshape(q_MatMul_output_0, [1, 4, 2, 4]);
    let Transpose_output_0 = permute(Reshape_output_0, [0, 2, 1, 3]);
    let k_MatMul_output_0 = matmul(ln1_LayerNormalization_output_0, onnx_MatMul_57);
    let Reshape_1_output_0 = reshape(k_MatMul_output_0, [1, 4, 2, 4]);
    let v_MatMul_output_0 = matmul(ln1_LayerNormalization_output_0, onnx_MatMul_58);
    let Reshape_2_output_0 = reshape(v_MatMul_output_0, [1, 4, 2, 4]);
    let Transpose_1_output_0 = permute(Reshape_2_output_0, [0, 2, 1, 3]);
    let Transpose_2_output_0 = permute(Reshape_1_output_0, [0, 2, 3, 1]);
    let MatMul_output_0 = bmm(Transpose_output_0, Transpose_2_output_0);
    let Mul_output_0 = scale(MatMul_output_0, 0.5);
    let Softmax_output_0 = softmax(Mul_output_0);
    let MatMul_1_output_0 = bmm(Softmax_output_0, Transpose_1_output_0);
    let Transpose_3_output_0 = permute(MatMul_1_output_0, [0, 2, 1, 3]);
    let Reshape_3_output_0 = reshape(Transpose_3_output_0, [1, 4, 8]);
    let o_MatMul_output_0 = matmul(Reshape_3_output_0, onnx_MatMul_59);
    let Add_output_0 = add(x, o_MatMul_output_0);
    let ln2_LayerNormalization_output_0 = layer_norm(Add_output_0, ln2_weight, ln2_bias, 9.999999747378752e-6);
    let up_MatMul_output_0 = matmul(ln2_LayerNormalization_output_0, onnx_MatMul_60);
    let up_Add_output_0_rows = reshape(up_MatMul_output_0, [4, 32]);
    let up_Add_output_0_biased = add_bias(up_Add_output_0_rows, up_bias);
    let up_Add_output_0 = reshape(up_Add_output_0_biased, [1, 4, 32]);
    let Mul_2_output_0 = gelu(up_Add_output_0);
    let down_MatMul_output_0 = matmul(Mul_2_output_0, onnx_MatMul_61);
    let down_Add_output_0_rows = reshape(down_MatMul_output_0, [4, 8]);
    let down_Add_output_0_biased = add_bias(down_Add_output_0_rows, down_bias);
    let down_Add_output_0 = reshape(down_Add_output_0_biased, [1, 4, 8]);
    let y = add(Add_output_0, down_Add_output_0);
    let loss = sum(y);
}"#;
    check_torch_export(
        "transformer_block",
        program,
        &m.graph,
        m.names(),
        m.vars.loss,
    );
}
