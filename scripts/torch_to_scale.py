#!/usr/bin/env python3
"""Write a scale-gen model description (JSON) for a PyTorch nn.Sequential.

Supported layers: Linear, ReLU, Tanh, Sigmoid, Softmax(dim=-1). Weights become graph inputs
(`w1`, `b1`, ...; Linear's [out, in] weight is stored transposed as [in, out] so the graph computes
x @ w + b); the loss is the mse of the outputs against a target input (or their sum, with --sum).

    python3 scripts/torch_to_scale.py > examples/models/sequential.json      # the built-in demo
    cargo run -p scale-gen -- module examples/models/sequential.json        # → a scale_graph! example

Only `describe()` needs torch (to read the module); `describe_layers()` takes plain tuples, so the
translation can be tested without torch installed.
"""
import argparse
import json
import sys


def describe_layers(name, batch, in_features, layers, mse=False):
    """layers: list of ("linear", in, out) | ("relu",) | ("tanh",) | ("sigmoid",) | ("softmax",)."""
    inputs = [{"name": "x", "shape": [batch, in_features], "init_std": 1.0}]
    ops = []
    h, width, n_lin = "x", in_features, 0
    for i, layer in enumerate(layers):
        kind = layer[0]
        if kind == "linear":
            _, fan_in, fan_out = layer
            if fan_in != width:
                raise ValueError(f"layer {i} (Linear): expects {fan_in} features, gets {width}")
            n_lin += 1
            w, b = f"w{n_lin}", f"b{n_lin}"
            inputs.append({"name": w, "shape": [fan_in, fan_out], "init_std": fan_in ** -0.5})
            inputs.append({"name": b, "shape": [fan_out], "init_std": 0.1})
            ops.append({"name": f"z{n_lin}", "op": "matmul", "args": [h, w]})
            ops.append({"name": f"a{n_lin}", "op": "add_bias", "args": [f"z{n_lin}", b]})
            h, width = f"a{n_lin}", fan_out
        elif kind in ("relu", "tanh", "sigmoid", "softmax"):
            out = f"{kind}{i}"
            ops.append({"name": out, "op": kind, "args": [h]})
            h = out
        else:
            raise ValueError(f"layer {i}: unsupported layer {kind!r}")
    if mse:
        inputs.append({"name": "target", "shape": [batch, width], "init_std": 1.0})
        ops.append({"name": "loss", "op": "mse", "args": [h, "target"]})
    else:
        ops.append({"name": "loss", "op": "sum", "args": [h]})
    return {"name": name, "runtime": "f32", "doc": "nn.Sequential exported by torch_to_scale.py",
            "inputs": inputs, "ops": ops, "loss": "loss"}


def describe(module, name, batch, in_features, mse=False):
    import torch.nn as nn  # only needed here

    layers = []
    for m in module:
        if isinstance(m, nn.Linear):
            layers.append(("linear", m.in_features, m.out_features))
        elif isinstance(m, nn.ReLU):
            layers.append(("relu",))
        elif isinstance(m, nn.Tanh):
            layers.append(("tanh",))
        elif isinstance(m, nn.Sigmoid):
            layers.append(("sigmoid",))
        elif isinstance(m, nn.Softmax) and m.dim in (-1, 1):
            layers.append(("softmax",))
        else:
            raise ValueError(f"unsupported layer {m}")
    return describe_layers(name, batch, in_features, layers, mse)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sum", action="store_true", help="sum of the outputs as the loss (default: mse)")
    args = ap.parse_args()
    try:
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(),
                              nn.Linear(16, 4), nn.Softmax(dim=-1))
        desc = describe(model, "sequential", 4, 8, not args.sum)
    except ImportError:
        # Same model, described without torch.
        layers = [("linear", 8, 16), ("relu",), ("linear", 16, 16), ("tanh",),
                  ("linear", 16, 4), ("softmax",)]
        desc = describe_layers("sequential", 4, 8, layers, not args.sum)
    json.dump(desc, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
