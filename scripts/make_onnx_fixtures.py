#!/usr/bin/env python3
"""Write the ONNX fixtures of scale-gen's import tests (scale-gen/tests/fixtures/onnx/).

The graphs are built with `onnx.helper` (`pip install onnx numpy`; no PyTorch needed) with the
node patterns PyTorch's exporter produces: Gemm with transB=1 for nn.Linear on a batch, MatMul +
bias Add on a sequence, the erf form of GELU, LayerNormalization (opset 17). Weights come from a
fixed seed, so re-running the script rewrites identical files. The outputs are checked in, so CI
needs no Python:

    python3 scripts/make_onnx_fixtures.py

When PyTorch is installed it also exports the same three models (same shapes; its own random
weights from a fixed seed) with `torch.onnx.export` (the TorchScript exporter, `dynamo=False`,
opset 17) as `mlp_torch.onnx`, `cnn_torch.onnx` and `transformer_block_torch.onnx`, with the
input it ran and PyTorch's output beside each (`<name>_torch/x.npy`, `<name>_torch/y.npy`), so the
tests check that the importer reads what PyTorch really writes. Without torch those files are
left as they are.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "scale-gen", "tests", "fixtures", "onnx")
RNG = np.random.default_rng(15)
OPSET = 17


def weight(name, shape, std=None):
    fan_in = shape[-1] if len(shape) > 1 else shape[0]
    std = std if std is not None else 1.0 / np.sqrt(fan_in)
    return numpy_helper.from_array((RNG.standard_normal(shape) * std).astype(np.float32), name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def scalar(name, value):
    return numpy_helper.from_array(np.array(value, dtype=np.float32), name)


def save(name, nodes, inputs, outputs, inits, opset=OPSET):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(
        graph, producer_name="make_onnx_fixtures.py", opset_imports=[helper.make_opsetid("", opset)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(OUT, f"{name}.onnx")
    onnx.save(model, path)
    return path


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def mlp():
    """nn.Sequential(Linear(8, 16), ReLU(), Linear(16, 3)) on a batch of 4, as PyTorch exports it."""
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["z1"], name="fc1", transB=1),
        helper.make_node("Relu", ["z1"], ["h1"], name="relu1"),
        helper.make_node("Gemm", ["h1", "w2", "b2"], ["y"], name="fc2", transB=1),
    ]
    inits = [weight("w1", [16, 8]), weight("b1", [16], 0.1), weight("w2", [3, 16]), weight("b2", [3], 0.1)]
    return save("mlp", nodes, [f32("x", [4, 8])], [f32("y", [4, 3])], inits)


def cnn():
    """conv 1→4 (+bias, pad 1) → relu → max-pool 2 → conv 4→8 (pad 1) → relu → avg-pool 2 →
    flatten → linear 32→5 → log-softmax, on 2 images of 8×8."""
    nodes = [
        helper.make_node("Conv", ["x", "k1", "c1"], ["z1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["z1"], ["a1"], name="relu1"),
        helper.make_node("MaxPool", ["a1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "k2"], ["z2"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["z2"], ["a2"], name="relu2"),
        helper.make_node("AveragePool", ["a2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p2"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "w", "b"], ["logits"], name="fc", transB=1),
        helper.make_node("LogSoftmax", ["logits"], ["y"], name="log_softmax", axis=-1),
    ]
    inits = [
        weight("k1", [4, 1, 3, 3], 1 / 3),
        weight("c1", [4], 0.1),
        weight("k2", [8, 4, 3, 3], 1 / 6),
        weight("w", [5, 32]),
        weight("b", [5], 0.1),
    ]
    return save("cnn", nodes, [f32("x", [2, 1, 8, 8])], [f32("y", [2, 5])], inits)


def transformer_block():
    """Pre-LayerNorm block, batch 1, 4 tokens, d 8, 2 heads, GELU MLP of width 32 (no mask):
    h = x + Wo·attn(LN1(x)), y = h + W2·gelu(W1·LN2(h) + c1) + c2, with PyTorch's patterns
    (head split by Reshape/Transpose, 1/√dh as a Mul, GELU as its erf form)."""
    b, n, d, heads = 1, 4, 8, 2
    dh, f = d // heads, 4 * d
    nodes = [helper.make_node("LayerNormalization", ["x", "g1", "be1"], ["ln1"], name="ln1", axis=-1, epsilon=1e-5)]
    for p in "qkv":
        nodes += [
            helper.make_node("MatMul", ["ln1", f"w{p}"], [p], name=f"{p}_proj"),
            helper.make_node("Reshape", [p, "heads_shape"], [f"{p}s"], name=f"{p}_split"),
            helper.make_node("Transpose", [f"{p}s"], [f"{p}h"], name=f"{p}_heads", perm=[0, 2, 1, 3]),
        ]
    nodes += [
        helper.make_node("Transpose", ["kh"], ["kt"], name="k_t", perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["qh", "kt"], ["scores"], name="scores"),
        helper.make_node("Mul", ["scores", "inv_sqrt_dh"], ["scaled"], name="scale"),
        helper.make_node("Softmax", ["scaled"], ["attn"], name="softmax", axis=-1),
        helper.make_node("MatMul", ["attn", "vh"], ["ctx"], name="context"),
        helper.make_node("Transpose", ["ctx"], ["ctxt"], name="merge_t", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["ctxt", "model_shape"], ["merged"], name="merge"),
        helper.make_node("MatMul", ["merged", "wo"], ["proj"], name="o_proj"),
        helper.make_node("Add", ["x", "proj"], ["h"], name="residual1"),
        helper.make_node("LayerNormalization", ["h", "g2", "be2"], ["ln2"], name="ln2", axis=-1, epsilon=1e-5),
        helper.make_node("MatMul", ["ln2", "w1"], ["up_mm"], name="up"),
        helper.make_node("Add", ["up_mm", "c1"], ["up"], name="up_bias"),
        # GELU as PyTorch exports it below opset 20: x · ½(1 + erf(x/√2)).
        helper.make_node("Div", ["up", "sqrt2"], ["g_div"], name="gelu_div"),
        helper.make_node("Erf", ["g_div"], ["g_erf"], name="gelu_erf"),
        helper.make_node("Add", ["g_erf", "one"], ["g_add"], name="gelu_add"),
        helper.make_node("Mul", ["up", "g_add"], ["g_mul"], name="gelu_mul"),
        helper.make_node("Mul", ["g_mul", "half"], ["act"], name="gelu_half"),
        helper.make_node("MatMul", ["act", "w2"], ["down_mm"], name="down"),
        helper.make_node("Add", ["down_mm", "c2"], ["down"], name="down_bias"),
        helper.make_node("Add", ["h", "down"], ["y"], name="residual2"),
    ]
    s = 1 / np.sqrt(d)
    inits = [
        numpy_helper.from_array(np.ones(d, np.float32), "g1"),
        numpy_helper.from_array(np.zeros(d, np.float32), "be1"),
        weight("wq", [d, d], s),
        weight("wk", [d, d], s),
        weight("wv", [d, d], s),
        weight("wo", [d, d], s),
        numpy_helper.from_array(np.ones(d, np.float32), "g2"),
        numpy_helper.from_array(np.zeros(d, np.float32), "be2"),
        weight("w1", [d, f], s),
        weight("c1", [f], 0.1),
        weight("w2", [f, d], 1 / np.sqrt(f)),
        weight("c2", [d], 0.1),
        ints("heads_shape", [b, n, heads, dh]),
        ints("model_shape", [b, n, d]),
        scalar("inv_sqrt_dh", 1 / np.sqrt(dh)),
        scalar("sqrt2", np.sqrt(2.0)),
        scalar("one", 1.0),
        scalar("half", 0.5),
    ]
    return save("transformer_block", nodes, [f32("x", [b, n, d])], [f32("y", [b, n, d])], inits)


def ops():
    """One node of most mapped op types (opset 20, for Gelu), chained on x: [2, 3, 4]; pins the
    lowering of each in a program snapshot."""
    n = helper.make_node
    nodes = [
        n("Slice", ["x", "st", "en", "ax"], ["s1"], name="slice"),
        n("Concat", ["s1", "s1"], ["cat"], name="concat", axis=-1),
        n("Max", ["x", "cat"], ["mx"], name="max"),
        n("Min", ["mx", "x"], ["mn"], name="min"),
        n("LeakyRelu", ["mn"], ["lr"], name="leaky", alpha=0.25),
        n("Gelu", ["lr"], ["ge"], name="gelu", approximate="tanh"),
        n("Constant", [], ["two"], name="two", value_float=2.0),
        n("Div", ["ge", "two"], ["half"], name="halve"),
        n("Identity", ["half"], ["same"], name="identity"),
        n("Sigmoid", ["same"], ["sg"], name="sigmoid"),
        n("Softplus", ["sg"], ["sp"], name="softplus"),
        n("Exp", ["sp"], ["ex"], name="exp"),
        n("Log", ["ex"], ["lg"], name="log"),
        n("Sqrt", ["ex"], ["sq"], name="sqrt"),
        n("Sub", ["lg", "sq"], ["df"], name="sub"),
        n("Abs", ["df"], ["ab"], name="abs"),
        n("Neg", ["ab"], ["ng"], name="neg"),
        n("Tanh", ["ng"], ["th"], name="tanh"),
        n("Mul", ["th", "x"], ["pr"], name="mul"),
        n("ReduceMean", ["pr", "last"], ["rm"], name="mean", keepdims=1),
        n("Reshape", ["rm", "flat_shape"], ["rs"], name="reshape"),
        n("Transpose", ["pr"], ["tp"], name="transpose", perm=[0, 2, 1]),
        n("Flatten", ["tp"], ["fl"], name="flatten", axis=2),
        n("ReduceSum", ["fl", "one_axis"], ["rsum"], name="sum", keepdims=0),
        n("Softmax", ["rsum"], ["sm"], name="softmax", axis=-1),
        n("Add", ["sm", "bias"], ["y"], name="bias"),
    ]
    inits = [
        ints("st", [0]),
        ints("en", [2]),
        ints("ax", [2]),
        ints("last", [-1]),
        ints("flat_shape", [0, -1]),
        ints("one_axis", [0]),
        weight("bias", [3], 0.1),
    ]
    save("ops", nodes, [f32("x", [2, 3, 4])], [f32("y", [3])], inits, opset=20)


def layer_norm_decomposed():
    """LayerNorm over the last axis as PyTorch exports it below opset 17 (nine nodes)."""
    n = helper.make_node
    nodes = [
        n("ReduceMean", ["x"], ["mean"], name="mean", axes=[-1], keepdims=1),
        n("Sub", ["x", "mean"], ["centred"], name="centre"),
        n("Pow", ["centred", "two"], ["sq"], name="square"),
        n("ReduceMean", ["sq"], ["var"], name="var", axes=[-1], keepdims=1),
        n("Add", ["var", "eps"], ["var_eps"], name="add_eps"),
        n("Sqrt", ["var_eps"], ["std"], name="std"),
        n("Div", ["centred", "std"], ["normed"], name="normalise"),
        n("Mul", ["normed", "gamma"], ["scaled"], name="gamma"),
        n("Add", ["scaled", "beta"], ["y"], name="beta"),
    ]
    inits = [
        scalar("two", 2.0),
        scalar("eps", 1e-5),
        numpy_helper.from_array((1 + 0.1 * RNG.standard_normal(8)).astype(np.float32), "gamma"),
        weight("beta", [8], 0.1),
    ]
    save("layer_norm_decomposed", nodes, [f32("x", [2, 3, 8])], [f32("y", [2, 3, 8])], inits, opset=13)


def broadcast():
    """Numpy-style broadcasting, lowered through `reshape` + `expand`: a column subtracted from
    its rows, `x * gamma` with gamma [d], and a mask with a missing leading axis and size-1 axes.
    No RNG draws (gamma is fixed), so the other fixtures' bytes do not change."""
    n = helper.make_node
    nodes = [
        n("Sub", ["x", "m"], ["c"], name="center"),
        n("Mul", ["c", "gamma"], ["g"], name="gamma"),
        n("Add", ["g", "mask"], ["y"], name="mask"),
    ]
    inits = [numpy_helper.from_array(np.array([0.5, 1.0, 1.5], dtype=np.float32), "gamma")]
    inputs = [f32("x", [2, 3]), f32("m", [2, 1]), f32("mask", [4, 1, 1])]
    save("broadcast", nodes, inputs, [f32("y", [4, 2, 3])], inits)
    # One-element operands of Add/Sub (not `scale`: that is Mul/Div) and a broadcast Max: a `[1]`
    # constant is reshaped to a scalar, a rank-0 one expanded directly.
    nodes = [
        n("Add", ["x", "c"], ["a"], name="add_c"),
        n("Sub", ["a", "s"], ["b"], name="sub_s"),
        n("Max", ["b", "r"], ["y"], name="max_r"),
    ]
    inits = [
        numpy_helper.from_array(np.array([0.25], dtype=np.float32), "c"),
        numpy_helper.from_array(np.array(0.5, dtype=np.float32), "s"),
    ]
    inputs = [f32("x", [2, 3]), f32("r", [3, 1, 1])]
    save("broadcast_scalars", nodes, inputs, [f32("y", [3, 2, 3])], inits)


def centre():
    """The centring of a decomposed norm: `x - ReduceMean(x, -1, keepdims=1)` (opset 13)."""
    n = helper.make_node
    nodes = [
        n("ReduceMean", ["x"], ["mean"], name="mean", axes=[-1], keepdims=1),
        n("Sub", ["x", "mean"], ["y"], name="centre"),
    ]
    save("centre", nodes, [f32("x", [2, 3, 8])], [f32("y", [2, 3, 8])], [], opset=13)


def errors():
    """Small files whose import must fail with a typed error."""
    # An op type with no lowering (after a supported node, so the index is not trivially 0).
    save(
        "unsupported",
        [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Cos", ["r"], ["y"], name="cosine")],
        [f32("x", [3])],
        [f32("y", [3])],
        [],
    )
    # A supported op with an attribute value the registry cannot express.
    save(
        "bad_attr",
        [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transA=1)],
        [f32("x", [3, 2])],
        [f32("y", [2, 4])],
        [weight("w", [3, 4])],
    )
    # Shapes that do not broadcast (3 against 4): refused, naming both shapes.
    save(
        "broadcast_incompatible",
        [helper.make_node("Add", ["x", "v"], ["y"], name="add")],
        [f32("x", [2, 3]), f32("v", [4])],
        [f32("y", [2, 3])],
        [],
    )
    # A broadcast whose result would need rank 5 (the registry's shapes have at most 4 axes).
    save(
        "broadcast_rank5",
        [helper.make_node("Mul", ["x", "v"], ["y"], name="mul")],
        [f32("x", [2, 1, 1, 1, 1]), f32("v", [3, 1, 1, 1])],
        [f32("y", [2, 3, 1, 1, 1])],
        [],
    )
    # Shapes the registry's checker rejects (inner dimensions 3 and 4): reported at the node.
    save(
        "shape_mismatch",
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        [f32("x", [2, 3])],
        [f32("y", [2, 5])],
        [weight("w", [4, 5])],
    )
    # A symbolic batch dimension.
    save(
        "dynamic",
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [f32("x", ["batch", 3])],
        [f32("y", ["batch", 3])],
        [],
    )


def torch_fixtures():
    """The MLP, CNN and transformer block as PyTorch modules, exported by PyTorch itself."""
    try:
        import torch
        from torch import nn
    except ImportError:
        print("torch is not installed: the *_torch fixtures are left as they are")
        return
    torch.manual_seed(15)

    class Block(nn.Module):
        """Pre-LayerNorm block, batch 1, 4 tokens, d 8, 2 heads, GELU MLP of width 32 (no mask).
        Shapes are Python constants, so tracing records no Shape/Gather nodes."""

        def __init__(self, b=1, n=4, d=8, heads=2):
            super().__init__()
            self.b, self.n, self.d, self.heads, self.dh = b, n, d, heads, d // heads
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
            self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def split(self, t):
            return t.reshape(self.b, self.n, self.heads, self.dh).transpose(1, 2)

        def forward(self, x):
            a = self.ln1(x)
            q, k, v = self.split(self.q(a)), self.split(self.k(a)), self.split(self.v(a))
            attn = torch.softmax(q @ k.transpose(-2, -1) * (1.0 / self.dh**0.5), dim=-1)
            ctx = (attn @ v).transpose(1, 2).reshape(self.b, self.n, self.d)
            h = x + self.o(ctx)
            return h + self.down(nn.functional.gelu(self.up(self.ln2(h))))

    models = {
        "mlp": (nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)), [4, 8]),
        "cnn": (
            nn.Sequential(
                nn.Conv2d(1, 4, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(4, 8, 3, padding=1, bias=False),
                nn.ReLU(),
                nn.AvgPool2d(2),
                nn.Flatten(),
                nn.Linear(32, 5),
                nn.LogSoftmax(dim=-1),
            ),
            [2, 1, 8, 8],
        ),
        "transformer_block": (Block(), [1, 4, 8]),
    }
    for name, (model, shape) in models.items():
        model.eval()
        x = torch.randn(*shape)
        path = os.path.join(OUT, f"{name}_torch.onnx")
        torch.onnx.export(
            model, (x,), path, dynamo=False, opset_version=OPSET, input_names=["x"], output_names=["y"]
        )
        with torch.no_grad():
            y = model(x)
        data = os.path.join(OUT, f"{name}_torch")
        os.makedirs(data, exist_ok=True)
        np.save(os.path.join(data, "x.npy"), x.numpy())
        np.save(os.path.join(data, "y.npy"), y.numpy())


def main():
    os.makedirs(OUT, exist_ok=True)
    mlp_path = mlp()
    cnn()
    transformer_block()
    ops()
    layer_norm_decomposed()
    errors()
    broadcast()
    centre()
    torch_fixtures()
    # Truncated bytes: a protobuf decode error, not a panic.
    with open(mlp_path, "rb") as f:
        data = f.read()
    with open(os.path.join(OUT, "malformed.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])
    for name in sorted(os.listdir(OUT)):
        if name.endswith(".onnx"):
            print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
