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
    /// `layer_norm(x, γ, β, eps)` over the last axis.
    LayerNorm(usize, usize, usize, f64),
    /// `rms_norm(x, γ, eps)` over the last axis.
    RmsNorm(usize, usize, f64),
    /// `gelu(x)` (erf form).
    Gelu(usize),
    /// `gelu_tanh(x)`.
    GeluTanh(usize),
    /// `attention_causal(q, k, v)` on `[n, d], [n, d], [n, e]`.
    AttentionCausal(usize, usize, usize),
    /// `conv2d(x, w, stride, padding)` on `[b, c, h, w] × [o, c, kh, kw]`.
    Conv2d(usize, usize, usize, usize),
    /// `max_pool2d(x, k)` (windows `k × k`, stride `k`, floor).
    MaxPool2d(usize, usize),
    /// `avg_pool2d(x, k)`.
    AvgPool2d(usize, usize),
    /// `reshape(x, shape)` (row-major: the data unchanged).
    Reshape(usize, &'static [usize]),
}

/// The geometry of a `conv2d`: input `[b, c, h, w]`, weight `[o, c, kh, kw]`, output
/// `[b, o, oh, ow]`.
struct Conv {
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    s: usize,
    p: usize,
    oh: usize,
    ow: usize,
}

impl Conv {
    fn of(x: &Tensor, wt: &Tensor, s: usize, p: usize) -> Conv {
        let (&[b, c, h, w], &[o, _, kh, kw]) = (&x.shape[..], &wt.shape[..]) else {
            panic!("conv2d shapes {:?} {:?}", x.shape, wt.shape)
        };
        let (oh, ow) = ((h + 2 * p - kh) / s + 1, (w + 2 * p - kw) / s + 1);
        Conv {
            b,
            c,
            h,
            w,
            o,
            kh,
            kw,
            s,
            p,
            oh,
            ow,
        }
    }
    /// Length of one window, `c·kh·kw`.
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }
    /// The input position of window entry `(ci, u, v)` of output position `(i, j)`, if inside.
    fn at(&self, i: usize, j: usize, u: usize, v: usize) -> Option<(usize, usize)> {
        let (y, x) = (
            (i * self.s + u).checked_sub(self.p)?,
            (j * self.s + v).checked_sub(self.p)?,
        );
        (y < self.h && x < self.w).then_some((y, x))
    }
    /// PyTorch's im2col: `[b·oh·ow, c·kh·kw]`, padding entries exact zeros.
    fn cols(&self, x: &[f32]) -> Vec<f32> {
        let mut cols = Vec::with_capacity(self.b * self.oh * self.ow * self.k());
        for n in 0..self.b {
            for i in 0..self.oh {
                for j in 0..self.ow {
                    for ci in 0..self.c {
                        for u in 0..self.kh {
                            for v in 0..self.kw {
                                cols.push(self.at(i, j, u, v).map_or(0.0, |(y, xx)| {
                                    x[((n * self.c + ci) * self.h + y) * self.w + xx]
                                }));
                            }
                        }
                    }
                }
            }
        }
        cols
    }
}

/// `conv2d` as a GEMM on im2col: `cols · Wᵀ`, rearranged to `[b, o, oh, ow]`.
fn conv2d(k: &dyn Kernel, x: &Tensor, w: &Tensor, s: usize, p: usize) -> Tensor {
    let g = Conv::of(x, w, s, p);
    let (rows, kk) = (g.b * g.oh * g.ow, g.k());
    let wt = transpose(&w.data, g.o, kk);
    let y = k.matmul(&g.cols(&x.data), &wt, rows, kk, g.o);
    let sp = g.oh * g.ow;
    let mut out = vec![0.0f32; g.b * g.o * sp];
    for (r, row) in y.chunks(g.o).enumerate() {
        let (n, ij) = (r / sp, r % sp);
        for (oi, &v) in row.iter().enumerate() {
            out[(n * g.o + oi) * sp + ij] = v;
        }
    }
    Tensor::new(&[g.b, g.o, g.oh, g.ow], out)
}

/// `conv2d`'s VJP as autograd computes it: `∂W = Δᵀ·cols`, and `∂x` by col2im of `Δ·W`
/// (each input entry the sum, window by window, of its `o`-long dots: a tree like any other).
fn conv2d_vjp(
    k: &dyn Kernel,
    x: &Tensor,
    w: &Tensor,
    s: usize,
    p: usize,
    d: &Tensor,
) -> (Tensor, Tensor) {
    let g = Conv::of(x, w, s, p);
    let (rows, kk, sp) = (g.b * g.oh * g.ow, g.k(), g.oh * g.ow);
    // Δ as [b·oh·ow, o].
    let mut d2 = vec![0.0f32; rows * g.o];
    for n in 0..g.b {
        for oi in 0..g.o {
            for ij in 0..sp {
                d2[(n * sp + ij) * g.o + oi] = d.data[(n * g.o + oi) * sp + ij];
            }
        }
    }
    let dw = k.matmul(&transpose(&d2, rows, g.o), &g.cols(&x.data), g.o, rows, kk);
    let dcols = k.matmul(&d2, &w.data, rows, g.o, kk);
    let mut dx = vec![0.0f32; x.data.len()];
    for n in 0..g.b {
        for i in 0..g.oh {
            for j in 0..g.ow {
                let r = (n * g.oh + i) * g.ow + j;
                for ci in 0..g.c {
                    for u in 0..g.kh {
                        for v in 0..g.kw {
                            if let Some((y, xx)) = g.at(i, j, u, v) {
                                let t = (ci * g.kh + u) * g.kw + v;
                                dx[((n * g.c + ci) * g.h + y) * g.w + xx] += dcols[r * kk + t];
                            }
                        }
                    }
                }
            }
        }
    }
    (Tensor::new(&x.shape, dx), Tensor::new(&w.shape, dw))
}

/// The windows of a `k × k` pooling of `[b, c, h, w]` (stride `k`, floor): for each output
/// entry, the flat input indices of its window in row-major order.
fn pool_windows(x: &Tensor, k: usize) -> (Vec<usize>, Vec<Vec<usize>>) {
    let &[b, c, h, w] = &x.shape[..] else {
        panic!("pool shape {:?}", x.shape)
    };
    let (oh, ow) = (h / k, w / k);
    let mut wins = Vec::with_capacity(b * c * oh * ow);
    for pl in 0..b * c {
        for i in 0..oh {
            for j in 0..ow {
                let idx = (0..k * k).map(|t| (pl * h + i * k + t / k) * w + j * k + t % k);
                wins.push(idx.collect());
            }
        }
    }
    (vec![b, c, oh, ow], wins)
}

/// PyTorch's max-pool argmax: the first maximum in scan order (a NaN wins).
fn first_max(x: &[f32], win: &[usize]) -> usize {
    let mut best = win[0];
    for &i in &win[1..] {
        if x[i] > x[best] || x[i].is_nan() {
            best = i;
        }
    }
    best
}

/// Causal attention's probabilities `softmax(fl(1/√d)·q·kᵀ)` over each row's prefix `j ≤ i`
/// (masked entries exact zeros), as PyTorch's math path computes them.
fn causal_probs(k: &dyn Kernel, q: &Tensor, kt: &Tensor) -> Tensor {
    let (n, d) = q.dims2();
    let c = (1.0 / (d.max(1) as f64).sqrt()) as f32;
    let raw = matmul(k, q, &t2(kt));
    let mut p = vec![0.0f32; n * n];
    for (i, row) in raw.data.chunks(n).enumerate() {
        let s: Vec<f32> = row[..=i].iter().map(|&v| v * c).collect();
        let sm = softmax_rows(k, &Tensor::new(&[i + 1], s));
        p[i * n..=i * n + i].copy_from_slice(&sm.data);
    }
    Tensor::new(&[n, n], p)
}

/// `a·b + c`, fused where the kernel fuses.
fn mad(k: &dyn Kernel, a: f32, b: f32, c: f32) -> f32 {
    if k.fused() {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// One row of a normalisation, as PyTorch's kernels compute it (the centred values, their
/// mean square, `v = var + eps`, and `n̂ = c·rstd` or `c/√v` by the kernel's choice).
struct NormRow {
    nrm: Vec<f32>,
    /// `1/√v` (multiplied) or `√v` (divided by), per [`Kernel::by_rstd`].
    s: f32,
    /// The row's mean ([`Kernel::torch_norm`] only).
    mean: f32,
}

fn norm_row(k: &dyn Kernel, x: &[f32], eps: f64, center: bool) -> NormRow {
    let n = x.len() as f32;
    if center && k.torch_norm() {
        let (mean, var) = welford(x);
        let r = 1.0 / (var + eps as f32).sqrt();
        return NormRow {
            nrm: x.iter().map(|&x| (x - mean) * r).collect(),
            s: r,
            mean,
        };
    }
    let c: Vec<f32> = if center {
        let mu = k.sum(x) / n;
        x.iter().map(|&v| v - mu).collect()
    } else {
        x.to_vec()
    };
    let v = k.dot(&c, &c) / n + eps as f32;
    if k.by_rstd() {
        let r = 1.0 / v.sqrt();
        NormRow {
            nrm: c.iter().map(|&c| c * r).collect(),
            s: r,
            mean: 0.0,
        }
    } else {
        let sd = v.sqrt();
        NormRow {
            nrm: c.iter().map(|&c| c / sd).collect(),
            s: sd,
            mean: 0.0,
        }
    }
}

/// Welford's running mean and (biased) variance, as PyTorch's `RowwiseMoments` (one lane).
fn welford(x: &[f32]) -> (f32, f32) {
    let (mut m1, mut m2) = (0.0f32, 0.0f32);
    for (i, &v) in x.iter().enumerate() {
        let delta = v - m1;
        m1 += delta / (i + 1) as f32;
        m2 += delta * (v - m1);
    }
    (m1, m2 / x.len() as f32)
}

/// `layer_norm` (`beta` given) or `rms_norm` (no `beta`): `y = n̂·γ + β` per row, and the rows.
fn norm(
    k: &dyn Kernel,
    x: &Tensor,
    g: &[f32],
    beta: Option<&[f32]>,
    eps: f64,
) -> (Tensor, Vec<NormRow>) {
    let rows: Vec<NormRow> = x
        .data
        .chunks(x.cols())
        .map(|r| norm_row(k, r, eps, beta.is_some()))
        .collect();
    let y = rows.iter().flat_map(|r| {
        r.nrm.iter().enumerate().map(move |(j, &v)| match beta {
            Some(b) => mad(k, v, g[j], b[j]),
            None => v * g[j],
        })
    });
    let y = Tensor::new(&x.shape, y.collect());
    (y, rows)
}

/// The VJP of a normalisation for the output cotangent `d` (PyTorch's formula on `n̂`):
/// `∂x = (gδ − mean(gδ) − n̂·mean(gδ·n̂))/σ` (RMS norm: no `mean(gδ)`), `gδ = δ·γ`;
/// `∂γ = Σ_rows δ·n̂`, `∂β = Σ_rows δ`.
fn norm_vjp(
    k: &dyn Kernel,
    x: &Tensor,
    rows: &[NormRow],
    g: &[f32],
    d: &Tensor,
    center: bool,
) -> (Tensor, Tensor, Tensor) {
    let c = d.cols();
    let n = c as f32;
    let mut dx = Vec::with_capacity(d.data.len());
    let mut nrm_all = Vec::with_capacity(d.data.len());
    for ((row, dr), xr) in rows.iter().zip(d.data.chunks(c)).zip(x.data.chunks(c)) {
        let gd: Vec<f32> = dr.iter().zip(g).map(|(&d, &g)| d * g).collect();
        if center && k.torch_norm() {
            // PyTorch's CPU backward: ds = Σ δγ·x, db = Σ δγ, b = (db·mean − ds)·a³/n,
            // c = −b·mean − db·a/n, ∂x = a·δγ + b·x + c (a = rstd).
            let (ds, db) = (k.dot(&gd, xr), k.sum(&gd));
            let (a, scale) = (row.s, 1.0 / n);
            let b = (db * row.mean - ds) * a * a * a * scale;
            let c = -b * row.mean - db * a * scale;
            dx.extend(gd.iter().zip(xr).map(|(&gd, &x)| a * gd + b * x + c));
            nrm_all.extend_from_slice(&row.nrm);
            continue;
        }
        let m2 = k.dot(&gd, &row.nrm) / n;
        let m1 = center.then(|| k.sum(&gd) / n);
        dx.extend(gd.iter().zip(&row.nrm).map(|(&gd, &v)| {
            let t = match m1 {
                Some(m1) => mad(k, -v, m2, gd - m1),
                None => mad(k, -v, m2, gd),
            };
            if k.by_rstd() { t * row.s } else { t / row.s }
        }));
        nrm_all.extend_from_slice(&row.nrm);
    }
    let r = rows.len();
    let (dt, nt) = (transpose(&d.data, r, c), transpose(&nrm_all, r, c));
    let col = |j: usize| j * r..(j + 1) * r;
    let dg = (0..c).map(|j| k.dot(&dt[col(j)], &nt[col(j)])).collect();
    let db = (0..c).map(|j| k.sum(&dt[col(j)])).collect();
    (
        Tensor::new(&d.shape, dx),
        Tensor::new(&[c], dg),
        Tensor::new(&[c], db),
    )
}

/// PyTorch's GELU kernels (`approximate='none'`): `x·½·(1 + erf(x·√½))`, and its derivative
/// `cdf + x·pdf`, `pdf = e^{−½x²}·(2/√π)·√½·½`.
fn gelu(k: &dyn Kernel, x: f32) -> f32 {
    x * 0.5 * (1.0 + k.erf(x * std::f32::consts::FRAC_1_SQRT_2))
}
fn gelu_d(k: &dyn Kernel, x: f32) -> f32 {
    use std::f32::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI};
    let cdf = 0.5 * (1.0 + k.erf(x * FRAC_1_SQRT_2));
    let pdf = k.exp(-0.5 * x * x) * (FRAC_2_SQRT_PI * FRAC_1_SQRT_2 * 0.5);
    mad(k, x, pdf, cdf)
}

/// PyTorch's `approximate='tanh'` kernels: `½x(1 + tanh(β(x + κx³)))` and
/// `½(1 + t) + ½x·(1 − t²)·β(1 + 3κx²)`.
const BETA: f32 = 0.797_884_6;
const KAPPA: f32 = 0.044715;
fn gelu_tanh(k: &dyn Kernel, x: f32) -> f32 {
    let inner = BETA * mad(k, KAPPA, x * x * x, x);
    0.5 * x * (1.0 + k.tanh(inner))
}
fn gelu_tanh_d(k: &dyn Kernel, x: f32) -> f32 {
    let x_sq = x * x;
    let inner = BETA * mad(k, KAPPA, x_sq * x, x);
    let t = k.tanh(inner);
    let left = 0.5 * x;
    let inner_d = BETA * mad(k, 3.0 * KAPPA, x_sq, 1.0);
    let tanh_d = mad(k, -t, t, 1.0);
    mad(k, 0.5, 1.0 + t, left * tanh_d * inner_d)
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
            Op::LayerNorm(x, g, b, eps) => norm(k, &v[x], &v[g].data, Some(&v[b].data), eps).0,
            Op::RmsNorm(x, g, eps) => norm(k, &v[x], &v[g].data, None, eps).0,
            Op::Gelu(x) => v[x].map(|x| gelu(k, x)),
            Op::GeluTanh(x) => v[x].map(|x| gelu_tanh(k, x)),
            Op::AttentionCausal(q, kk, vv) => matmul(k, &causal_probs(k, &v[q], &v[kk]), &v[vv]),
            Op::Conv2d(x, w, s, p) => conv2d(k, &v[x], &v[w], s, p),
            Op::MaxPool2d(x, kk) => {
                let (shape, wins) = pool_windows(&v[x], kk);
                let m = wins.iter().map(|w| v[x].data[first_max(&v[x].data, w)]);
                Tensor::new(&shape, m.collect())
            }
            Op::AvgPool2d(x, kk) => {
                let (shape, wins) = pool_windows(&v[x], kk);
                let avg = wins.iter().map(|w| {
                    let t: Vec<f32> = w.iter().map(|&i| v[x].data[i]).collect();
                    k.sum(&t) / (kk * kk) as f32
                });
                Tensor::new(&shape, avg.collect())
            }
            Op::Reshape(x, shape) => Tensor::new(shape, v[x].data.clone()),
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
            Op::LayerNorm(x, ga, b, eps) => {
                let (_, rows) = norm(k, &v[x], &v[ga].data, Some(&v[b].data), eps);
                let (dx, dg, db) = norm_vjp(k, &v[x], &rows, &v[ga].data, &g, true);
                acc(&mut cot, x, dx);
                acc(&mut cot, ga, dg);
                acc(&mut cot, b, db);
            }
            Op::RmsNorm(x, ga, eps) => {
                let (_, rows) = norm(k, &v[x], &v[ga].data, None, eps);
                let (dx, dg, _) = norm_vjp(k, &v[x], &rows, &v[ga].data, &g, false);
                acc(&mut cot, x, dx);
                acc(&mut cot, ga, dg);
            }
            Op::Gelu(x) => acc(&mut cot, x, g.zip(&v[x], |g, x| g * gelu_d(k, x))),
            Op::GeluTanh(x) => acc(&mut cot, x, g.zip(&v[x], |g, x| g * gelu_tanh_d(k, x))),
            Op::AttentionCausal(q, kk, vv) => {
                // Autograd through the math path: dP = δVᵀ, dV = Pᵀδ, softmax's VJP per
                // prefix, dS scaled by fl(1/√d), dQ = dS·K, dK = dSᵀ·Q.
                let p = causal_probs(k, &v[q], &v[kk]);
                let n = p.shape[0];
                let c = (1.0 / (v[q].dims2().1.max(1) as f64).sqrt()) as f32;
                let dp = matmul(k, &g, &t2(&v[vv]));
                acc(&mut cot, vv, matmul(k, &t2(&p), &g));
                let mut ds = vec![0.0f32; n * n];
                for i in 0..n {
                    let (pr, dr) = (&p.data[i * n..=i * n + i], &dp.data[i * n..=i * n + i]);
                    let s = k.dot(dr, pr);
                    for j in 0..=i {
                        ds[i * n + j] = pr[j] * (dr[j] - s) * c;
                    }
                }
                let ds = Tensor::new(&[n, n], ds);
                acc(&mut cot, q, matmul(k, &ds, &v[kk]));
                acc(&mut cot, kk, matmul(k, &t2(&ds), &v[q]));
            }
            Op::Conv2d(x, w, s, p) => {
                let (dx, dw) = conv2d_vjp(k, &v[x], &v[w], s, p, &g);
                acc(&mut cot, x, dx);
                acc(&mut cot, w, dw);
            }
            Op::MaxPool2d(x, kk) => {
                let (_, wins) = pool_windows(&v[x], kk);
                let mut dx = vec![0.0f32; v[x].data.len()];
                for (w, &gi) in wins.iter().zip(&g.data) {
                    dx[first_max(&v[x].data, w)] += gi;
                }
                acc(&mut cot, x, Tensor::new(&v[x].shape, dx));
            }
            Op::AvgPool2d(x, kk) => {
                let (_, wins) = pool_windows(&v[x], kk);
                let mut dx = vec![0.0f32; v[x].data.len()];
                for (w, &gi) in wins.iter().zip(&g.data) {
                    let share = gi / (kk * kk) as f32;
                    w.iter().for_each(|&i| dx[i] += share);
                }
                acc(&mut cot, x, Tensor::new(&v[x].shape, dx));
            }
            Op::Reshape(x, _) => {
                let shape = v[x].shape.clone();
                acc(&mut cot, x, Tensor::new(&shape, g.data));
            }
        }
    }
    (0..n_in)
        .map(|i| cot[i].take().unwrap_or_else(|| Tensor::zeros(&v[i].shape)))
        .collect()
}
