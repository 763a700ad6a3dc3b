//! ONNX import: the checked-in fixtures (written by `scripts/make_onnx_fixtures.py`) import and
//! check, the MLP import is the model written by hand, and bad files give typed errors whose
//! messages are pinned here (UI-style snapshots: a changed message must be a deliberate edit).

use ndarray_npy::ReadNpyExt;
use scale_gen::onnx::{Loss, OnnxError, Options, import, import_file};
use scale_gen::{Input, Model, Op, check, emit};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/onnx/{name}.onnx"))
}

fn imported(name: &str) -> scale_gen::onnx::Imported {
    import_file(&fixture(name), &Options::default())
        .unwrap_or_else(|e| panic!("{name}.onnx imports: {e}"))
}

fn err(name: &str) -> String {
    match import_file(&fixture(name), &Options::default()) {
        Ok(_) => panic!("{name}.onnx must not import"),
        Err(e) => e.to_string(),
    }
}

fn input(name: &str, shape: &[usize]) -> Input {
    Input {
        name: name.into(),
        shape: shape.to_vec(),
        init_std: None,
    }
}

fn op(name: &str, op: &str, args: &[&str]) -> Op {
    Op {
        name: name.into(),
        op: op.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        params: vec![],
        shape: None,
        axes: None,
    }
}

#[test]
fn fixtures_import_and_check() {
    for (name, inputs, ops) in [("mlp", 5, 8), ("cnn", 6, 17), ("transformer_block", 13, 31)] {
        let i = imported(name);
        let m = i.model();
        assert_eq!(
            (m.name.as_str(), m.inputs.len(), m.ops.len()),
            (name, inputs, ops)
        );
        // The import is already checked; checking the description again agrees.
        assert_eq!(check(m).expect("checks"), i.checked);
        assert_eq!(i.checked.loss, "loss");
        // Every initializer became an input with its values, and no graph input did.
        assert_eq!(i.weights.len(), inputs - 1);
        for w in &i.weights {
            let inp = m
                .inputs
                .iter()
                .find(|x| x.name == w.name)
                .expect("weight is an input");
            assert_eq!(inp.shape, w.shape);
            assert_eq!(w.values.len(), w.shape.iter().product::<usize>());
        }
    }
}

/// The same models exported by PyTorch (`torch.onnx.export`, TorchScript exporter, opset 17):
/// they import and check, and the transformer block's GELU, whose erf form PyTorch interleaves
/// with `Constant` nodes, and its LayerNorms become single ops. (`tests/onnx_import.rs` in the
/// root crate certifies them and compares with PyTorch's output.)
#[test]
fn torch_exports_import_with_fused_patterns() {
    for (name, inputs, ops) in [
        ("mlp_torch", 5, 8),
        ("cnn_torch", 6, 17),
        ("transformer_block_torch", 13, 30),
    ] {
        let i = imported(name);
        let m = i.model();
        assert_eq!((m.inputs.len(), m.ops.len()), (inputs, ops), "{name}");
        assert_eq!(check(m).expect("checks"), i.checked);
        assert_eq!(i.weights.len(), inputs - 1, "{name}: all but x are weights");
    }
    let i = imported("transformer_block_torch");
    let count = |op: &str| i.model().ops.iter().filter(|o| o.op == op).count();
    assert_eq!(
        (count("gelu"), count("layer_norm"), count("softmax")),
        (1, 2, 1)
    );
    // Nothing of the erf form is left over, and 1/√d_h stays a `scale`.
    assert_eq!((count("div"), count("mul"), count("scale")), (0, 0, 1));
}

/// The MLP of `mlp.onnx` (PyTorch's `Linear(8, 16) → ReLU → Linear(16, 3)` as Gemm nodes with
/// `transB = 1`), written by hand. The import is this `Model`, so it emits the same program and
/// — being the same `scale_graph!` graph on the same inputs — runs to the same values and bounds.
#[test]
fn mlp_import_is_the_hand_written_model() {
    let by_hand = Model {
        name: "mlp".into(),
        runtime: "f32".into(),
        doc: "imported from ONNX (3 nodes, opset 17, produced by make_onnx_fixtures.py)".into(),
        inputs: vec![
            input("x", &[4, 8]),
            input("w1", &[16, 8]),
            input("b1", &[16]),
            input("w2", &[3, 16]),
            input("b2", &[3]),
        ],
        ops: vec![
            op("w1_t", "transpose", &["w1"]),
            op("z1_mm", "matmul", &["x", "w1_t"]),
            op("z1", "add_bias", &["z1_mm", "b1"]),
            op("h1", "relu", &["z1"]),
            op("w2_t", "transpose", &["w2"]),
            op("y_mm", "matmul", &["h1", "w2_t"]),
            op("y", "add_bias", &["y_mm", "b2"]),
            op("loss", "sum", &["y"]),
        ],
        loss: Some("loss".into()),
    };
    let i = imported("mlp");
    assert_eq!(i.model(), &by_hand);
    let hand = check(&by_hand).expect("hand-written model checks");
    assert_eq!(emit::program(&i.checked, 0), emit::program(&hand, 0));
    assert_eq!(hand.shapes.last(), Some(&vec![]));
}

/// `ops.onnx` has one node of most mapped op types (Slice, Concat, Max, Min, LeakyRelu, Gelu,
/// Constant, Div by a power of two, Identity, the unary ops, ReduceMean with keepdims, Reshape with
/// `0`/`-1`, Transpose, Flatten, ReduceSum, Softmax): the program pins how each is lowered.
#[test]
fn ops_fixture_lowers_each_op_type() {
    let i = imported("ops");
    assert_eq!(
        emit::program(&i.checked, 0),
        r#"scale_graph! {
    runtime = f32;
    input x: [2, 3, 4];
    input bias: [3];
    let s1 = slice(x, 2, 0, 2);
    let cat = concat(s1, s1, 2);
    let mx = maximum(x, cat);
    let mn = minimum(mx, x);
    let lr = leaky_relu(mn, 0.25);
    let ge = gelu_tanh(lr);
    let half = scale(ge, 0.5);
    let sg = sigmoid(half);
    let sp = softplus(sg);
    let ex = exp(sp);
    let lg = log(ex);
    let sq = sqrt(ex);
    let df = sub(lg, sq);
    let ab = abs(df);
    let ng = neg(ab);
    let th = tanh(ng);
    let pr = mul(th, x);
    let rm_drop = mean(pr, 2);
    let rm = reshape(rm_drop, [2, 3, 1]);
    let rs = reshape(rm, [2, 3]);
    let tp = permute(pr, [0, 2, 1]);
    let fl = reshape(tp, [8, 3]);
    let rsum = sum(fl, 0);
    let sm = softmax(rsum);
    let y = add(sm, bias);
    let loss = sum(y);
}"#
    );
}

/// PyTorch's decomposed LayerNorm (opset 13: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div,
/// Mul, Add) is one `layer_norm`, with the f32 epsilon of the file.
#[test]
fn decomposed_layer_norm_is_one_op() {
    let i = imported("layer_norm_decomposed");
    assert_eq!(
        emit::program(&i.checked, 0),
        "scale_graph! {
    runtime = f32;
    input x: [2, 3, 8];
    input gamma: [8];
    input beta: [8];
    let y = layer_norm(x, gamma, beta, 9.999999747378752e-6);
    let loss = sum(y);
}"
    );
    assert_eq!(i.weights.len(), 2);
}

/// `broadcast.onnx`: a column subtracted from its rows (`[2, 3] - [2, 1]`), `x * gamma` with
/// gamma `[3]`, and a mask `[4, 1, 1]` with a missing leading axis. Each operand that needs it
/// drops its broadcast size-1 axes with an exact `reshape`, then gains every broadcast axis with
/// `expand`, so the same-shape op follows.
#[test]
fn broadcasts_lower_through_expand() {
    let i = imported("broadcast");
    assert_eq!(
        emit::program(&i.checked, 0),
        "scale_graph! {
    runtime = f32;
    input x: [2, 3];
    input m: [2, 1];
    input mask: [4, 1, 1];
    input gamma: [3];
    let c_m_r = reshape(m, [2]);
    let c_m = expand(c_m_r, 1, 3);
    let c = sub(x, c_m);
    let g_gamma = expand(gamma, 0, 2);
    let g = mul(c, g_gamma);
    let y_g = expand(g, 0, 4);
    let y_mask_r = reshape(mask, [4]);
    let y_mask_1 = expand(y_mask_r, 1, 2);
    let y_mask = expand(y_mask_1, 2, 3);
    let y = add(y_g, y_mask);
    let loss = sum(y);
}"
    );
    assert_eq!(i.weights.len(), 1);
}

/// `broadcast_scalars.onnx`: `Add` of a `[1]` constant (reshaped to a scalar, then expanded),
/// `Sub` of a rank-0 constant (expanded directly) and a `Max` that broadcasts both operands.
#[test]
fn one_element_operands_broadcast() {
    let i = imported("broadcast_scalars");
    assert_eq!(
        emit::program(&i.checked, 0),
        "scale_graph! {
    runtime = f32;
    input x: [2, 3];
    input r: [3, 1, 1];
    input c: [1];
    input s: [];
    let a_c_r = reshape(c, []);
    let a_c_0 = expand(a_c_r, 0, 2);
    let a_c = expand(a_c_0, 1, 3);
    let a = add(x, a_c);
    let b_s_0 = expand(s, 0, 2);
    let b_s = expand(b_s_0, 1, 3);
    let b = sub(a, b_s);
    let y_b = expand(b, 0, 3);
    let y_r_r = reshape(r, [3]);
    let y_r_1 = expand(y_r_r, 1, 2);
    let y_r = expand(y_r_1, 2, 3);
    let y = maximum(y_b, y_r);
    let loss = sum(y);
}"
    );
    assert_eq!(i.weights.len(), 2);
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

/// The centring of a decomposed norm, `x - ReduceMean(x, -1, keepdims = 1)`, outside the fused
/// LayerNorm pattern: the kept axis is dropped again and the mean expanded over the row.
#[test]
fn keepdims_mean_subtracted_from_its_input() {
    let i = imported("centre");
    assert_eq!(emit::program(&i.checked, 0), CENTRE);
    assert!(i.weights.is_empty());
}

#[test]
fn mse_loss_adds_a_target_input() {
    let bytes = std::fs::read(fixture("mlp")).expect("fixture");
    let opts = Options {
        name: Some("m".into()),
        loss: Loss::Mse,
    };
    let i = import(&bytes, &opts).expect("imports");
    let m = i.model();
    assert_eq!(m.name, "m");
    assert_eq!(m.inputs.last(), Some(&input("target", &[4, 3])));
    assert_eq!(m.ops.last(), Some(&op("loss", "mse", &["y", "target"])));
}

#[test]
fn write_puts_the_module_and_initializers_side_by_side() {
    let i = imported("cnn");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("onnx-write");
    let _ = std::fs::remove_dir_all(&dir);
    let written = i.write(&dir, "`cnn.onnx`").expect("writes");
    assert_eq!(written.len(), 1 + i.weights.len());
    let module = std::fs::read_to_string(dir.join("cnn.rs")).expect("module");
    assert!(
        module.contains(
            &emit::program_in(&i.checked, 4, "R")
                .trim_start()
                .to_string()
        )
    );
    assert!(module.contains("pub type Declared = f32;"));
    for w in &i.weights {
        let f = std::fs::File::open(dir.join("cnn").join(format!("{}.npy", w.name))).expect("npy");
        let a = ndarray::ArrayD::<f32>::read_npy(f).expect("reads");
        assert_eq!(a.shape(), w.shape.as_slice());
        let back: Vec<f64> = a.iter().map(|&x| f64::from(x)).collect();
        assert_eq!(back, w.values, "{} round-trips exactly", w.name);
    }
}

#[test]
fn error_messages() {
    let cases = [
        (
            "malformed",
            "malformed ONNX file: failed to decode Protobuf message: ModelProto.graph: buffer underflow",
        ),
        (
            "unsupported",
            "node 1 (`cosine`, Cos): op type `Cos` is not supported",
        ),
        (
            "bad_attr",
            "node 0 (`fc`, Gemm): attribute `transA` = 1 is not supported (expected 0)",
        ),
        (
            "broadcast_incompatible",
            "node 0 (`add`, Add): Unsupported broadcast of [2, 3] and [4]: dimensions 3 and 4 \
             (axis 1 of the result) are neither equal nor 1",
        ),
        (
            "broadcast_rank5",
            "node 0 (`mul`, Mul): Unsupported broadcast of [2, 1, 1, 1, 1] and [3, 1, 1, 1]: the \
             result [2, 3, 1, 1, 1] would have rank 5 (shapes have at most 4 axes)",
        ),
        (
            "dynamic",
            "input `x`: dimension 0 is dynamic (`batch`); export with static shapes",
        ),
    ];
    for (name, want) in cases {
        assert_eq!(err(name), want, "{name}.onnx");
    }
}

#[test]
fn checker_errors_name_the_node() {
    let e = import_file(&fixture("shape_mismatch"), &Options::default()).expect_err("rejected");
    assert!(matches!(e, OnnxError::Node { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "node 0 (`mm`, MatMul): `x` has shape [2, 3] but `w` has [4, 5]; expected [3, …] \
         (layer 0 (`y`, matmul))"
    );
}

#[test]
fn missing_file_is_an_io_error() {
    let e = import_file(&fixture("no_such_model"), &Options::default()).expect_err("no file");
    assert!(matches!(e, OnnxError::Io { .. }), "{e:?}");
}

/// Every truncation of a valid file is a typed error or (for a prefix that happens to parse) a
/// model: never a panic.
#[test]
fn truncated_files_never_panic() {
    let bytes = std::fs::read(fixture("transformer_block")).expect("fixture");
    for n in 0..bytes.len() {
        let _ = import(&bytes[..n], &Options::named("t"));
    }
    let mut flipped = bytes.clone();
    for k in (0..flipped.len()).step_by(7) {
        flipped[k] ^= 0x5a;
        let _ = import(&flipped, &Options::named("t"));
    }
}
