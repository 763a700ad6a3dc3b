//! Foreign optimizer updates for `f32` parameters, written from PyTorch's `torch.optim`
//! single-tensor code paths (`_single_tensor_sgd`, `_single_tensor_adamw`) and sharing no code
//! with the library: the way other implementations round an update.

use scale_graph::optim::Optimizer;

/// How a foreign update rounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Update {
    /// PyTorch's `_single_tensor_*` on an `f32` parameter: every tensor op rounded to `f32`,
    /// the scalars (`1 − lr·wd`, `lr/bc1`, `√bc2`) computed in Python's `f64` and cast to
    /// `f32` at the op; `addcmul`/`addcdiv` evaluate `value·t1·t2` and `value·t1/t2` left to
    /// right, `lerp` with weight below ½ is `m + w·(g − m)`.
    Torch,
    /// The same with FMA wherever a multiply feeds an add (`lerp`, `addcmul`, `addcdiv`,
    /// `add(alpha=…)`), as a fused CUDA or vectorised CPU kernel does.
    Fused,
    /// Every operation in `f64`, the new weights and state rounded to `f32` once when stored
    /// (a kernel accumulating in a wider type).
    Wide,
    /// Not conforming: PyTorch's AdamW without the bias corrections (`step_size = lr`,
    /// `denom = √v + ε`) — a bug a trace must flag. SGD and momentum as [`Update::Torch`].
    NoBiasCorrection,
}

/// The conforming foreign updates.
pub const CONFORMING: [Update; 3] = [Update::Torch, Update::Fused, Update::Wide];

impl Update {
    pub fn name(self) -> &'static str {
        match self {
            Update::Torch => "torch-single-tensor",
            Update::Fused => "fused-fma",
            Update::Wide => "f64-accumulating",
            Update::NoBiasCorrection => "adamw-no-bias-correction",
        }
    }
}

/// New weights and state (empty where the optimizer has none).
pub struct Stepped {
    pub w: Vec<f32>,
    pub s1: Vec<f32>,
    pub s2: Vec<f32>,
}

/// Step `t` of `opt` from weights `w`, gradient `g` and the state after step `t − 1`
/// (`None` at the first step: PyTorch's zero `exp_avg`/`exp_avg_sq`, a momentum buffer cloned
/// from the gradient). Every tensor op computes in `f32` (PyTorch's `opmath` for `f32`,
/// `bf16` and `f16` tensors) and stores its result through `store` (the identity for `f32`
/// parameters, rounding to nearest `bf16` for `bf16` ones); [`Update::Wide`] stores only the
/// results.
pub fn step(
    kind: Update,
    opt: &Optimizer,
    t: u64,
    w: &[f32],
    g: &[f32],
    state: Option<(&[f32], &[f32])>,
    store: fn(f32) -> f32,
) -> Stepped {
    let n = w.len();
    let zeros = vec![0.0f32; n];
    let (s1, s2) = state.unwrap_or((&zeros, &zeros));
    let mut out = Stepped {
        w: Vec::with_capacity(n),
        s1: Vec::with_capacity(n),
        s2: Vec::with_capacity(n),
    };
    let c = |x: f64| x as f32;
    let r = store;
    let wide = |x: f64| store(x as f32);
    let fused = kind == Update::Fused;
    // `a·b + d` in f32: one rounding when fused, two otherwise.
    let madd = |a: f32, b: f32, d: f32| if fused { a.mul_add(b, d) } else { a * b + d };
    for i in 0..n {
        let (wi, gi, m0, v0) = (w[i], g[i], s1[i], s2[i]);
        match *opt {
            Optimizer::Sgd(s) => {
                if kind == Update::Wide {
                    let d = f64::from(gi) + s.weight_decay * f64::from(wi);
                    out.w.push(wide(f64::from(wi) - s.lr * d));
                } else {
                    // `grad.add(param, alpha=wd)`, `param.add_(d_p, alpha=−lr)`.
                    let d = r(madd(wi, c(s.weight_decay), gi));
                    out.w.push(r(madd(d, c(-s.lr), wi)));
                }
            }
            Optimizer::Momentum(m) => {
                if kind == Update::Wide {
                    let (wi, gi) = (f64::from(wi), f64::from(gi));
                    let d = gi + m.weight_decay * wi;
                    let buf = match state {
                        None => d,
                        Some(_) => f64::from(m0) * m.momentum + (1.0 - m.dampening) * d,
                    };
                    let dir = if m.nesterov {
                        d + m.momentum * buf
                    } else {
                        buf
                    };
                    out.w.push(wide(wi - m.lr * dir));
                    out.s1.push(wide(buf));
                } else {
                    let d = r(madd(wi, c(m.weight_decay), gi));
                    let buf = match state {
                        None => d,
                        // `buf.mul_(μ).add_(d, alpha=1 − τ)`.
                        Some(_) => r(madd(d, c(1.0 - m.dampening), r(m0 * c(m.momentum)))),
                    };
                    let dir = if m.nesterov {
                        r(madd(buf, c(m.momentum), d))
                    } else {
                        buf
                    };
                    out.w.push(r(madd(dir, c(-m.lr), wi)));
                    out.s1.push(buf);
                }
            }
            Optimizer::AdamW(a) => {
                let (mut bc1, mut bc2) =
                    (1.0 - a.beta1.powi(t as i32), 1.0 - a.beta2.powi(t as i32));
                if kind == Update::NoBiasCorrection {
                    (bc1, bc2) = (1.0, 1.0);
                }
                let (step_size, bc2_sqrt) = (a.lr / bc1, bc2.sqrt());
                if kind == Update::Wide {
                    let (wi, gi) = (f64::from(wi), f64::from(gi));
                    let decayed = wi * (1.0 - a.lr * a.weight_decay);
                    let m = f64::from(m0) + (1.0 - a.beta1) * (gi - f64::from(m0));
                    let v = f64::from(v0) * a.beta2 + (1.0 - a.beta2) * gi * gi;
                    let denom = v.sqrt() / bc2_sqrt + a.eps;
                    out.w.push(wide(decayed - step_size * m / denom));
                    out.s1.push(wide(m));
                    out.s2.push(wide(v));
                } else {
                    // `param.mul_(1 − lr·wd)`.
                    let decayed = r(wi * c(1.0 - a.lr * a.weight_decay));
                    // `exp_avg.lerp_(grad, 1 − β₁)`.
                    let m = r(madd(c(1.0 - a.beta1), gi - m0, m0));
                    // `exp_avg_sq.mul_(β₂).addcmul_(grad, grad, value=1 − β₂)`.
                    let v = r(madd(c(1.0 - a.beta2) * gi, gi, r(v0 * c(a.beta2))));
                    // `(exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)`.
                    let denom = r(r(r(v.sqrt()) / c(bc2_sqrt)) + c(a.eps));
                    // `param.addcdiv_(exp_avg, denom, value=−step_size)`.
                    let w = if fused {
                        (m / denom).mul_add(c(-step_size), decayed)
                    } else {
                        decayed + c(-step_size) * m / denom
                    };
                    out.w.push(r(w));
                    out.s1.push(m);
                    out.s2.push(v);
                }
            }
        }
    }
    out
}
