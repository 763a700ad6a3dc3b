//! One generic evaluator (forward and reverse mode, PyTorch's formulas and derivative conventions)
//! over a [`Kernel`], for the ops of the example models. A graph is a list of [`Op`]s over the
//! positions of `Γ ++ ss`, written to mirror a `scale_graph!` text node by node.

use super::kernels::{Kernel, transpose};

/// A dense row-major `f32` tensor.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(shape: &[usize], data: Vec<f32>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "{shape:?}");
        Tensor {
            shape: shape.to_vec(),
            data,
        }
    }
    fn scalar(v: f32) -> Self {
        Tensor::new(&[], vec![v])
    }
    fn zeros(shape: &[usize]) -> Self {
        Tensor::new(shape, vec![0.0; shape.iter().product()])
    }
    fn map(&self, f: impl Fn(f32) -> f32) -> Self {
        Tensor::new(&self.shape, self.data.iter().map(|&v| f(v)).collect())
    }
    fn zip(&self, o: &Tensor, f: impl Fn(f32, f32) -> f32) -> Self {
        assert_eq!(self.shape, o.shape);
        let d = self.data.iter().zip(&o.data).map(|(&a, &b)| f(a, b));
        Tensor::new(&self.shape, d.collect())
    }
    /// Length of the last axis (the row length of softmax and friends).
    fn cols(&self) -> usize {
        self.shape.last().copied().unwrap_or(1)
    }
    fn dims2(&self) -> (usize, usize) {
        match self.shape[..] {
            [r, c] => (r, c),
            [c] => (1, c),
            _ => panic!("not a matrix: {:?}", self.shape),
        }
    }
}

/// The ops of the example models, with positions into `Γ ++ ss`.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    Matmul(usize, usize),
    Matvec(usize, usize),
    AddBias(usize, usize),
    Relu(usize),
    Tanh(usize),
    Sigmoid(usize),
    Sum(usize),
    Mean(usize),
    Mse(usize, usize),
    Softmax(usize),
    LogSoftmax(usize),
    CrossEntropy(usize, usize),
    Add(usize, usize),
    Sub(usize, usize),
    Mul(usize, usize),
    Transpose(usize),
    /// `scale(x, c)`: `c` rounded to `f32`, as PyTorch's `x * c` on an `f32` tensor does.
    Scale(usize, f64),
}

fn softmax_rows(k: &dyn Kernel, x: &Tensor) -> Tensor {
    let mut out = Vec::with_capacity(x.data.len());
    for r in x.data.chunks(x.cols()) {
        // PyTorch's kernel: shift by the row maximum, exponentiate, sum, divide.
        let m = r.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = r.iter().map(|&v| k.exp(v - m)).collect();
        let s = k.sum(&e);
        out.extend(e.iter().map(|&v| v / s));
    }
    Tensor::new(&x.shape, out)
}

fn log_softmax_rows(k: &dyn Kernel, x: &Tensor) -> Tensor {
    let mut out = Vec::with_capacity(x.data.len());
    for r in x.data.chunks(x.cols()) {
        let m = r.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let d: Vec<f32> = r.iter().map(|&v| v - m).collect();
        let e: Vec<f32> = d.iter().map(|&v| k.exp(v)).collect();
        let l = k.ln(k.sum(&e));
        out.extend(d.iter().map(|&v| v - l));
    }
    Tensor::new(&x.shape, out)
}

/// PyTorch's `_log_softmax_backward_data`: `g − exp(out)·Σg`, row by row.
fn log_softmax_vjp(k: &dyn Kernel, out: &Tensor, g: &Tensor) -> Tensor {
    let c = out.cols();
    let mut v = Vec::with_capacity(g.data.len());
    for (o, gr) in out.data.chunks(c).zip(g.data.chunks(c)) {
        let s = k.sum(gr);
        v.extend(o.iter().zip(gr).map(|(&o, &g)| g - k.exp(o) * s));
    }
    Tensor::new(&out.shape, v)
}

fn matmul(k: &dyn Kernel, a: &Tensor, b: &Tensor) -> Tensor {
    let (m, kk) = a.dims2();
    let (k2, n) = (b.shape[0], b.data.len() / b.shape[0]);
    assert_eq!(kk, k2);
    Tensor::new(&[m, n], k.matmul(&a.data, &b.data, m, kk, n))
}

fn t2(a: &Tensor) -> Tensor {
    let (r, c) = a.dims2();
    Tensor::new(&[c, r], transpose(&a.data, r, c))
}

/// Every value of `Γ ++ ss`.
pub fn forward(k: &dyn Kernel, inputs: &[Tensor], prog: &[Op]) -> Vec<Tensor> {
    let mut v: Vec<Tensor> = inputs.to_vec();
    for op in prog {
        let out = match *op {
            Op::Matmul(a, b) => matmul(k, &v[a], &v[b]),
            Op::Matvec(w, x) => {
                let (m, kk) = v[w].dims2();
                Tensor::new(&[m], k.matmul(&v[w].data, &v[x].data, m, kk, 1))
            }
            Op::AddBias(h, b) => {
                let bias = &v[b].data;
                let d = v[h].data.iter().enumerate();
                Tensor::new(
                    &v[h].shape,
                    d.map(|(i, &x)| x + bias[i % bias.len()]).collect(),
                )
            }
            Op::Relu(x) => v[x].map(|x| if x > 0.0 { x } else { 0.0 }),
            Op::Tanh(x) => v[x].map(|x| k.tanh(x)),
            Op::Sigmoid(x) => v[x].map(|x| 1.0 / (1.0 + k.exp(-x))),
            Op::Sum(x) => Tensor::scalar(k.sum(&v[x].data)),
            Op::Mean(x) => Tensor::scalar(k.sum(&v[x].data) / v[x].data.len() as f32),
            Op::Mse(p, t) => {
                let d = v[p].zip(&v[t], |p, t| p - t);
                Tensor::scalar(k.dot(&d.data, &d.data) / d.data.len() as f32)
            }
            Op::Softmax(x) => softmax_rows(k, &v[x]),
            Op::LogSoftmax(x) => log_softmax_rows(k, &v[x]),
            Op::CrossEntropy(z, t) => {
                let l = log_softmax_rows(k, &v[z]);
                let c = l.cols();
                let rows: Vec<f32> = l
                    .data
                    .chunks(c)
                    .zip(v[t].data.chunks(c))
                    .map(|(l, t)| -k.dot(t, l))
                    .collect();
                Tensor::scalar(k.sum(&rows) / rows.len() as f32)
            }
            Op::Add(a, b) => v[a].zip(&v[b], |a, b| a + b),
            Op::Sub(a, b) => v[a].zip(&v[b], |a, b| a - b),
            Op::Mul(a, b) => v[a].zip(&v[b], |a, b| a * b),
            Op::Transpose(x) => t2(&v[x]),
            Op::Scale(x, c) => v[x].map(|x| x * c as f32),
        };
        v.push(out);
    }
    v
}

fn acc(cot: &mut [Option<Tensor>], i: usize, g: Tensor) {
    cot[i] = Some(match cot[i].take() {
        None => g,
        Some(c) => c.zip(&g, |a, b| a + b),
    });
}

/// Reverse mode: the gradient of every input for the seed 1 at `loss` (PyTorch's VJPs; a
/// cotangent reaching an entry twice is added with one runtime addition).
pub fn backward(k: &dyn Kernel, v: &[Tensor], prog: &[Op], loss: usize) -> Vec<Tensor> {
    let n_in = v.len() - prog.len();
    let mut cot: Vec<Option<Tensor>> = vec![None; v.len()];
    cot[loss] = Some(Tensor::scalar(1.0));
    for (j, op) in prog.iter().enumerate().rev() {
        let Some(g) = cot[n_in + j].take() else {
            continue;
        };
        let out = &v[n_in + j];
        match *op {
            Op::Matmul(a, b) => {
                acc(&mut cot, a, matmul(k, &g, &t2(&v[b])));
                acc(&mut cot, b, matmul(k, &t2(&v[a]), &g));
            }
            Op::Matvec(w, x) => {
                let (m, kk) = v[w].dims2();
                let gw: Vec<f32> = (0..m * kk)
                    .map(|i| g.data[i / kk] * v[x].data[i % kk])
                    .collect();
                acc(&mut cot, w, Tensor::new(&[m, kk], gw));
                let wt = transpose(&v[w].data, m, kk);
                acc(
                    &mut cot,
                    x,
                    Tensor::new(&[kk], k.matmul(&wt, &g.data, kk, m, 1)),
                );
            }
            Op::AddBias(h, b) => {
                let n = v[b].data.len();
                let gt = transpose(&g.data, g.data.len() / n, n);
                let rows = g.data.len() / n;
                let gb = (0..n).map(|j| k.sum(&gt[j * rows..(j + 1) * rows]));
                acc(&mut cot, b, Tensor::new(&[n], gb.collect()));
                acc(&mut cot, h, g);
            }
            Op::Relu(x) => {
                let d = g.zip(&v[x], |g, x| if x > 0.0 { g } else { 0.0 });
                acc(&mut cot, x, d);
            }
            Op::Tanh(x) => acc(&mut cot, x, g.zip(out, |g, y| g * (1.0 - y * y))),
            Op::Sigmoid(x) => acc(&mut cot, x, g.zip(out, |g, y| g * (y * (1.0 - y)))),
            Op::Sum(x) => acc(&mut cot, x, v[x].map(|_| g.data[0])),
            Op::Mean(x) => {
                let s = g.data[0] / v[x].data.len() as f32;
                acc(&mut cot, x, v[x].map(|_| s));
            }
            Op::Mse(p, t) => {
                // PyTorch's mse_loss_backward: 2/numel · (p − t) · grad.
                let norm = 2.0 / v[p].data.len() as f32;
                let gp = v[p].zip(&v[t], |p, t| norm * (p - t) * g.data[0]);
                acc(&mut cot, t, gp.map(|x| -x));
                acc(&mut cot, p, gp);
            }
            Op::Softmax(x) => {
                // PyTorch's _softmax_backward_data: out ⊙ (g − Σ g⊙out), row by row.
                let c = out.cols();
                let mut d = Vec::with_capacity(g.data.len());
                for (o, gr) in out.data.chunks(c).zip(g.data.chunks(c)) {
                    let s = k.dot(gr, o);
                    d.extend(o.iter().zip(gr).map(|(&o, &g)| o * (g - s)));
                }
                acc(&mut cot, x, Tensor::new(&out.shape, d));
            }
            Op::LogSoftmax(x) => acc(&mut cot, x, log_softmax_vjp(k, out, &g)),
            Op::CrossEntropy(z, t) => {
                // Autograd through −mean_rows(Σ t ⊙ log_softmax(z)).
                let l = log_softmax_rows(k, &v[z]);
                let s = g.data[0] / (l.data.len() / l.cols()) as f32;
                let gl = v[t].map(|t| -(t * s));
                acc(&mut cot, z, log_softmax_vjp(k, &l, &gl));
                acc(&mut cot, t, l.map(|l| -(l * s)));
            }
            Op::Add(a, b) => {
                acc(&mut cot, a, g.clone());
                acc(&mut cot, b, g);
            }
            Op::Sub(a, b) => {
                acc(&mut cot, a, g.clone());
                acc(&mut cot, b, g.map(|x| -x));
            }
            Op::Mul(a, b) => {
                acc(&mut cot, a, g.zip(&v[b], |g, b| g * b));
                acc(&mut cot, b, g.zip(&v[a], |g, a| g * a));
            }
            Op::Transpose(x) => acc(&mut cot, x, t2(&g)),
            Op::Scale(x, c) => acc(&mut cot, x, g.map(|g| g * c as f32)),
        }
    }
    (0..n_in)
        .map(|i| cot[i].take().unwrap_or_else(|| Tensor::zeros(&v[i].shape)))
        .collect()
}
