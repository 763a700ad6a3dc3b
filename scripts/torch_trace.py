#!/usr/bin/env python3
"""Record a PyTorch nn.Sequential run as a scale-graph trace (SPEC §11's trace mode).

Runs the model of `torch_to_scale.py` (or any nn.Sequential of Linear/ReLU/Tanh/Sigmoid/Softmax
whose description it writes) forward and backward in float32 and writes, with the names scale-gen
gives that model:

* `<out>/<name>.npy` for every input (`x`, `w1`, `b1`, ..., `target`) and every layer output it can
  observe (`a1`, `relu1`, ..., `loss`; a Linear's inner matmul `z1` is fused with its bias in
  PyTorch and is not recorded: the certificate reports it as "not in the trace");
* `<out>/<name>.grad.npy` for the gradient of every input (`w<k>` is Linear's weight transposed,
  `[in, out]`, as in the generated graph).

Then certify PyTorch's run (how far each of its values and gradients is from the exact result,
and whether any lies outside the any-implementation bound):

    python3 scripts/torch_trace.py --out target/trace
    cargo run --release --example models -- sequential --trace target/trace

PyTorch is needed to run this script, never to build or test the crate.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_to_scale import describe  # noqa: E402  (same names as the generated model)


def demo_model(nn):
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, 4), nn.Softmax(dim=-1))


def record(model, x, target, mse=True):
    """The trace of one forward and backward run: ({name: array}, {name: grad array})."""
    import torch
    import torch.nn as nn

    values, grads, leaves = {}, {}, {}
    x = x.detach().clone().requires_grad_(True)
    leaves["x"] = x
    hooks = []
    n_lin = 0
    for i, m in enumerate(model):
        if isinstance(m, nn.Linear):
            n_lin += 1
            leaves[f"w{n_lin}"] = m.weight
            leaves[f"b{n_lin}"] = m.bias
            name = f"a{n_lin}"
        else:
            kind = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid",
                    nn.Softmax: "softmax"}[type(m)]
            name = f"{kind}{i}"

        def hook(_m, _inp, out, name=name):
            values[name] = out.detach().numpy().copy()

        hooks.append(m.register_forward_hook(hook))
    out = model(x)
    if mse:
        target = target.detach().clone().requires_grad_(True)
        leaves["target"] = target
        loss = torch.nn.functional.mse_loss(out, target)
    else:
        loss = out.sum()
    values["loss"] = loss.detach().numpy().copy()
    model.zero_grad()
    loss.backward()
    for h in hooks:
        h.remove()
    for name, t in leaves.items():
        v, g = t.detach(), t.grad
        if name.startswith("w"):  # the graph holds Linear's weight transposed
            v, g = v.t(), g.t()
        values[name] = v.contiguous().numpy().copy()
        grads[name] = g.contiguous().numpy().copy()
    return values, grads


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="target/trace", help="directory for the .npy files")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args()
    import numpy as np
    import torch
    import torch.nn as nn

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    model = demo_model(nn).float()
    describe(model, "sequential", args.batch, 8, True)  # checks every layer is supported
    x = torch.randn(args.batch, 8)
    target = torch.randn(args.batch, 4)
    values, grads = record(model, x, target)
    os.makedirs(args.out, exist_ok=True)
    for name, a in values.items():
        np.save(os.path.join(args.out, f"{name}.npy"), a.astype(np.float32))
    for name, a in grads.items():
        np.save(os.path.join(args.out, f"{name}.grad.npy"), a.astype(np.float32))
    print(f"wrote {len(values)} values and {len(grads)} gradients to {args.out}")


if __name__ == "__main__":
    main()
