//! The model families `scale-gen` writes: MLP, attention block, residual block, softmax
//! classifier with cross-entropy, and a deep chain.

use crate::model::{Input, Model, Op};

fn input(name: &str, shape: &[usize], std: f64) -> Input {
    Input {
        name: name.into(),
        shape: shape.to_vec(),
        init_std: Some(std),
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

fn with_param(mut o: Op, p: f64) -> Op {
    o.params.push(p);
    o
}

/// A relu MLP with the given layer widths over a batch, loss = mse against a target.
pub fn mlp(name: &str, batch: usize, widths: &[usize]) -> Model {
    let mut inputs = vec![input("x", &[batch, widths[0]], 1.0)];
    let mut ops = Vec::new();
    let mut h = "x".to_string();
    let layers = widths.len() - 1;
    for l in 0..layers {
        let (i, o) = (widths[l], widths[l + 1]);
        let (w, b) = (format!("w{}", l + 1), format!("b{}", l + 1));
        inputs.push(input(&w, &[i, o], (1.0 / i as f64).sqrt()));
        inputs.push(input(&b, &[o], 0.1));
        let z = format!("z{}", l + 1);
        let a = format!("a{}", l + 1);
        ops.push(op(&z, "matmul", &[&h, &w]));
        ops.push(op(&a, "add_bias", &[&z, &b]));
        h = if l + 1 < layers {
            let hn = format!("h{}", l + 1);
            ops.push(op(&hn, "relu", &[&a]));
            hn
        } else {
            a
        };
    }
    inputs.push(input("target", &[batch, widths[layers]], 1.0));
    ops.push(op("loss", "mse", &[&h, "target"]));
    Model {
        name: name.into(),
        runtime: "f32".into(),
        doc: format!("relu MLP {widths:?}, batch {batch}, mse loss"),
        inputs,
        ops,
        loss: Some("loss".into()),
    }
}

/// A single-head self-attention block: softmax(q kᵀ / √d) v, loss = mse against a target.
pub fn attention(name: &str, tokens: usize, d_model: usize, d_head: usize) -> Model {
    let s = 1.0 / (d_model as f64).sqrt();
    let inputs = vec![
        input("x", &[tokens, d_model], 1.0),
        input("wq", &[d_model, d_head], s),
        input("wk", &[d_model, d_head], s),
        input("wv", &[d_model, d_head], s),
        input("target", &[tokens, d_head], 1.0),
    ];
    let ops = vec![
        op("q", "matmul", &["x", "wq"]),
        op("k", "matmul", &["x", "wk"]),
        op("v", "matmul", &["x", "wv"]),
        op("kt", "transpose", &["k"]),
        op("scores", "matmul", &["q", "kt"]),
        with_param(
            op("scaled", "scale", &["scores"]),
            1.0 / (d_head as f64).sqrt(),
        ),
        op("attn", "softmax", &["scaled"]),
        op("out", "matmul", &["attn", "v"]),
        op("loss", "mse", &["out", "target"]),
    ];
    Model {
        name: name.into(),
        runtime: "f32".into(),
        doc: format!("single-head attention, {tokens} tokens, d_model {d_model}, d_head {d_head}"),
        inputs,
        ops,
        loss: Some("loss".into()),
    }
}

/// A pre-LayerNorm transformer block: `h = x + W_o·attention_causal(heads(LN₁(x)·W_q), …)`,
/// `y = h + W₂·gelu(LN₂(h)·W₁)` (MLP of 4× width), loss = mse against a target. Heads are split
/// by `reshape` to `[b, n, heads, d/heads]` and `permute` to `[b, heads, n, d/heads]`.
pub fn transformer_block(name: &str, batch: usize, tokens: usize, d: usize, heads: usize) -> Model {
    let (b, n, dh, f) = (batch, tokens, d / heads, 4 * d);
    let s = 1.0 / (d as f64).sqrt();
    let inputs = vec![
        input("x", &[b, n, d], 1.0),
        input("g1", &[d], 1.0),
        input("be1", &[d], 0.1),
        input("wq", &[d, d], s),
        input("wk", &[d, d], s),
        input("wv", &[d, d], s),
        input("wo", &[d, d], s),
        input("g2", &[d], 1.0),
        input("be2", &[d], 0.1),
        input("w1", &[d, f], s),
        input("w2", &[f, d], 1.0 / (f as f64).sqrt()),
        input("target", &[b, n, d], 1.0),
    ];
    let reshape = |name: &str, x: &str, shape: &[usize]| {
        let mut o = op(name, "reshape", &[x]);
        o.shape = Some(shape.to_vec());
        o
    };
    let permute = |name: &str, x: &str| {
        let mut o = op(name, "permute", &[x]);
        o.axes = Some(vec![0, 2, 1, 3]);
        o
    };
    let mut ops = vec![with_param(
        op("ln1", "layer_norm", &["x", "g1", "be1"]),
        1e-5,
    )];
    for p in ["q", "k", "v"] {
        let w = format!("w{p}");
        ops.push(op(p, "matmul", &["ln1", &w]));
        ops.push(reshape(&format!("{p}s"), p, &[b, n, heads, dh]));
        ops.push(permute(&format!("{p}h"), &format!("{p}s")));
    }
    ops.extend([
        op("att", "attention_causal", &["qh", "kh", "vh"]),
        permute("atp", "att"),
        reshape("merged", "atp", &[b, n, d]),
        op("proj", "matmul", &["merged", "wo"]),
        op("h", "add", &["x", "proj"]),
        with_param(op("ln2", "layer_norm", &["h", "g2", "be2"]), 1e-5),
        op("up", "matmul", &["ln2", "w1"]),
        op("act", "gelu", &["up"]),
        op("down", "matmul", &["act", "w2"]),
        op("y", "add", &["h", "down"]),
        op("loss", "mse", &["y", "target"]),
    ]);
    Model {
        name: name.into(),
        runtime: "f32".into(),
        doc: format!(
            "pre-LayerNorm transformer block: {heads}-head causal self-attention and a GELU MLP, \
             batch {b}, {n} tokens, d {d}, mse loss"
        ),
        inputs,
        ops,
        loss: Some("loss".into()),
    }
}

/// A small CNN: `conv2d(1→8, 3×3, padding 1) → relu → max_pool2d(2) → conv2d(8→16, 3×3,
/// padding 1) → relu → avg_pool2d(2) → reshape → linear → cross_entropy` on `side×side` images.
pub fn cnn(name: &str, batch: usize, side: usize, classes: usize) -> Model {
    let s2 = side / 4;
    let flat = 16 * s2 * s2;
    let inputs = vec![
        input("x", &[batch, 1, side, side], 1.0),
        input("k1", &[8, 1, 3, 3], (1.0 / 9.0f64).sqrt()),
        input("k2", &[16, 8, 3, 3], (1.0 / 72.0f64).sqrt()),
        input("w", &[flat, classes], (1.0 / flat as f64).sqrt()),
        input("b", &[classes], 0.1),
        input("target", &[batch, classes], 1.0),
    ];
    let conv = |name: &str, x: &str, k: &str| {
        let mut o = op(name, "conv2d", &[x, k]);
        o.params = vec![1.0, 1.0];
        o
    };
    let pool = |name: &str, kind: &str, x: &str| with_param(op(name, kind, &[x]), 2.0);
    let mut flatten = op("flat", "reshape", &["p2"]);
    flatten.shape = Some(vec![batch, flat]);
    let ops = vec![
        conv("z1", "x", "k1"),
        op("a1", "relu", &["z1"]),
        pool("p1", "max_pool2d", "a1"),
        conv("z2", "p1", "k2"),
        op("a2", "relu", &["z2"]),
        pool("p2", "avg_pool2d", "a2"),
        flatten,
        op("z", "matmul", &["flat", "w"]),
        op("logits", "add_bias", &["z", "b"]),
        op("probs", "softmax", &["target"]),
        op("loss", "cross_entropy", &["logits", "probs"]),
    ];
    Model {
        name: name.into(),
        runtime: "f32".into(),
        doc: format!(
            "CNN: conv 1→8, max-pool, conv 8→16, avg-pool, linear; batch {batch}, {side}×{side}, \
             {classes} classes, cross-entropy"
        ),
        inputs,
        ops,
        loss: Some("loss".into()),
    }
}

/// A residual block `y = x + W₂ relu(W₁ x + b₁) + b₂` (x fans out), loss = mse.
pub fn residual(name: &str, batch: usize, d: usize, hidden: usize) -> Model {
    let inputs = vec![
        input("x", &[batch, d], 1.0),
        input("w1", &[d, hidden], (1.0 / d as f64).sqrt()),
        input("b1", &[hidden], 0.1),
        input("w2", &[hidden, d], (1.0 / hidden as f64).sqrt()),
        input("b2", &[d], 0.1),
        input("target", &[batch, d], 1.0),
    ];
    let ops = vec![
        op("z1", "matmul", &["x", "w1"]),
        op("a1", "add_bias", &["z1", "b1"]),
        op("h", "relu", &["a1"]),
        op("z2", "matmul", &["h", "w2"]),
        op("r", "add_bias", &["z2", "b2"]),
        op("y", "add", &["x", "r"]),
        op("loss", "mse", &["y", "target"]),
    ];
    Model {
        name: name.into(),
        runtime: "f32".into(),
        doc: format!("residual block, batch {batch}, width {d}, hidden {hidden}"),
        inputs,
        ops,
        loss: Some("loss".into()),
    }
}

/// A softmax classifier: logits = x W + b, loss = cross-entropy against target probabilities.
pub fn classifier(name: &str, batch: usize, features: usize, classes: usize) -> Model {
    let inputs = vec![
        input("x", &[batch, features], 1.0),
        input("w", &[features, classes], (1.0 / features as f64).sqrt()),
        input("b", &[classes], 0.1),
        input("target", &[batch, classes], 1.0),
    ];
    let ops = vec![
        op("z", "matmul", &["x", "w"]),
        op("logits", "add_bias", &["z", "b"]),
        op("probs", "softmax", &["target"]),
        op("loss", "cross_entropy", &["logits", "probs"]),
    ];
    Model {
        name: name.into(),
        runtime: "f32".into(),
        doc: format!("softmax classifier, batch {batch}, {features} features, {classes} classes"),
        inputs,
        ops,
        loss: Some("loss".into()),
    }
}

/// A deep chain of `n` cheap ops over one vector, with fan-out back to the input every 16 ops
/// (for scale tests: long graphs, many segments).
pub fn chain(name: &str, n: usize, d: usize) -> Model {
    let inputs = vec![input("x", &[d], 1.0), input("c", &[d], 0.5)];
    let mut ops = Vec::new();
    let mut prev = "x".to_string();
    for i in 0..n.saturating_sub(1) {
        let out = format!("n{i}");
        let o = match i % 4 {
            0 => op(&out, "add", &[&prev, if i % 16 == 0 { "x" } else { "c" }]),
            1 => op(&out, "tanh", &[&prev]),
            2 => with_param(op(&out, "scale", &[&prev]), 0.75),
            _ => op(&out, "relu", &[&prev]),
        };
        ops.push(o);
        prev = out;
    }
    ops.push(op("loss", "sum", &[&prev]));
    Model {
        name: name.into(),
        runtime: "f32".into(),
        doc: format!("deep chain of {n} ops over [{d}] with fan-out from the input"),
        inputs,
        ops,
        loss: Some("loss".into()),
    }
}

/// One input `x: [b, n]` normalised four ways, side by side, so the fused and the composed
/// bounds are certified on the same data: `layer_norm` and `rms_norm` (fused), the layer norm
/// written out (`mean(x, 1)`, `expand`, `sub`, `square`, a variance floor `maximum(var, fl²)`,
/// `sqrt`, `div`, `γ`/`β` broadcast by `expand`), and a mean-absolute-deviation normalisation
/// (`abs`, floored the same way). Each branch's mse against one target, summed into the loss.
///
/// The floor comes in as an input `fl: [b]` (squared, so positive whatever its sign): inputs
/// are random, and a floor of `fl²` around 1e-3 keeps the composed divisions away from 0 the way
/// the fused norms' literal `eps` does.
pub fn norm_zoo(name: &str, batch: usize, n: usize) -> Model {
    let (b, nf, bf) = (batch, n as f64, batch as f64);
    let inputs = vec![
        input("x", &[b, n], 1.0),
        input("g", &[n], 1.0),
        input("be", &[n], 0.1),
        input("fl", &[b], 0.03),
        input("target", &[b, n], 1.0),
    ];
    // `expand(x, axis, len)` and `mean(x, axis)`: the literals in the registry's order.
    let expand = |name: &str, x: &str, axis: f64, len: f64| {
        let mut o = op(name, "expand", &[x]);
        o.params = vec![axis, len];
        o
    };
    let mean_axis = |name: &str, x: &str| with_param(op(name, "mean", &[x]), 1.0);
    let ops = vec![
        // fused
        with_param(op("ln", "layer_norm", &["x", "g", "be"]), 1e-5),
        op("l_ln", "mse", &["ln", "target"]),
        with_param(op("rn", "rms_norm", &["x", "g"]), 1e-6),
        op("l_rms", "mse", &["rn", "target"]),
        // the layer norm composed: centring, variance with a floor, sqrt, division, affine
        mean_axis("mu", "x"),
        expand("mu_e", "mu", 1.0, nf),
        op("c", "sub", &["x", "mu_e"]),
        op("sq", "square", &["c"]),
        mean_axis("var", "sq"),
        op("floor", "square", &["fl"]),
        op("var_f", "maximum", &["var", "floor"]),
        op("sd", "sqrt", &["var_f"]),
        expand("sd_e", "sd", 1.0, nf),
        op("xh", "div", &["c", "sd_e"]),
        expand("g_e", "g", 0.0, bf),
        expand("be_e", "be", 0.0, bf),
        op("gx", "mul", &["xh", "g_e"]),
        op("y", "add", &["gx", "be_e"]),
        op("l_comp", "mse", &["y", "target"]),
        // mean absolute deviation, floored
        op("ac", "abs", &["c"]),
        mean_axis("mad", "ac"),
        op("mad_f", "maximum", &["mad", "floor"]),
        expand("mad_e", "mad_f", 1.0, nf),
        op("z", "div", &["c", "mad_e"]),
        op("l_mad", "mse", &["z", "target"]),
        // one loss
        op("s1", "add", &["l_ln", "l_rms"]),
        op("s2", "add", &["s1", "l_comp"]),
        op("loss", "add", &["s2", "l_mad"]),
    ];
    Model {
        name: name.into(),
        runtime: "f32".into(),
        doc: format!(
            "norm zoo: layer_norm and rms_norm fused, the layer norm composed (mean, expand, sub, \
             square, maximum floor, sqrt, div) and a mean-absolute-deviation norm (abs), batch \
             {b}, n {n}, summed mse losses"
        ),
        inputs,
        ops,
        loss: Some("loss".into()),
    }
}
