#!/usr/bin/env python3
"""Time PyTorch's forward+backward step on the shapes of the Rust benchmarks (1 thread).

Models (the same graphs as the Rust examples, f32, gradients of the parameters only):

* `mlp`: `bench_mlp`'s 784-512-512-10 relu MLP, batch 64, loss = sum(o);
* `transformer`: `bench_transformer`'s pre-LayerNorm block (b = 8, n = 64, d = 128, 4 heads,
  causal attention, GELU MLP 128-512-128, mse loss).

Prints one line per model, `<model> <min_ms> <median_ms> <max_ms> <runs>`, which
`cargo run --release --example bench_transformer` (and `bench_mlp`) read when PyTorch is
installed, to print the ratio ours ÷ PyTorch. PyTorch is never needed to build or test the crate.

    python3 scripts/bench_torch.py [--model mlp|transformer|all] [--runs 30]
"""
import argparse
import statistics
import time


def mlp_step(torch):
    """bench_mlp's step: x @ w + b, relu, twice, a final linear layer, loss = sum."""
    g = torch.Generator().manual_seed(1)

    def m(r, c, s):
        return ((torch.rand(r, c, generator=g) * 2 - 1) * s).requires_grad_(True)

    x = (torch.rand(64, 784, generator=g) * 2 - 1)
    w = [m(784, 512, 0.05), m(512, 512, 0.05), m(512, 10, 0.05)]
    b = [torch.full((n,), 0.01, requires_grad=True) for n in (512, 512, 10)]
    params = w + b

    def step():
        h = torch.relu(x @ w[0] + b[0])
        h = torch.relu(h @ w[1] + b[1])
        loss = (h @ w[2] + b[2]).sum()
        # Gradients are returned, not accumulated (the graph's step returns fresh ones too).
        return torch.autograd.grad(loss, params)

    return step


def transformer_step(torch, b=8, n=64, d=128, heads=4, hidden=512):
    """The block of examples/bench_transformer.rs, op for op (weights `[in, out]`)."""
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(7)

    def rnd(*shape, std=1.0, grad=True):
        return (torch.randn(*shape, generator=g) * std).requires_grad_(grad)

    x = rnd(b, n, d, grad=False)
    target = rnd(b, n, d, grad=False)
    g1, be1 = rnd(d), rnd(d, std=0.1)
    g2, be2 = rnd(d), rnd(d, std=0.1)
    wq, wk, wv, wo = (rnd(d, d, std=d ** -0.5) for _ in range(4))
    w1, w2 = rnd(d, hidden, std=d ** -0.5), rnd(hidden, d, std=hidden ** -0.5)
    params = [g1, be1, wq, wk, wv, wo, g2, be2, w1, w2]
    dh = d // heads

    def split(t):
        return t.reshape(b, n, heads, dh).permute(0, 2, 1, 3)

    def step():
        ln1 = F.layer_norm(x, (d,), g1, be1, 1e-5)
        q, k, v = split(ln1 @ wq), split(ln1 @ wk), split(ln1 @ wv)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        merged = att.permute(0, 2, 1, 3).reshape(b, n, d)
        h = x + merged @ wo
        ln2 = F.layer_norm(h, (d,), g2, be2, 1e-5)
        y = h + F.gelu(ln2 @ w1) @ w2
        loss = F.mse_loss(y, target)
        return torch.autograd.grad(loss, params)

    return step


MODELS = {"mlp": mlp_step, "transformer": transformer_step}


def time_step(step, runs):
    for _ in range(3):
        step()  # warm-up (allocator, kernels)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    return min(times), statistics.median(times), max(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=[*MODELS, "all"], default="all")
    ap.add_argument("--runs", type=int, default=30, help="timed steps per model")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    names = list(MODELS) if args.model == "all" else [args.model]
    for name in names:
        lo, med, hi = time_step(MODELS[name](torch), args.runs)
        print(f"{name} {lo:.4f} {med:.4f} {hi:.4f} {args.runs}", flush=True)


if __name__ == "__main__":
    main()
