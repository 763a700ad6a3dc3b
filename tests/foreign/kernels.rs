//! The foreign runtimes: independent `f32` kernels that follow SPEC §5's rounding model (every sum
//! or dot in some order or tree, blocked or split, with or without FMA; elementary functions within
//! `assumed_ulps` ulps), written for this test and sharing no code with the library.

use faer::Mat;
use ndarray::Array2;

/// Summation order of a sum or dot product (every one is legal under SPEC §5).
#[derive(Clone, Copy, Debug)]
pub enum Order {
    /// Left to right, `acc + a·b` (two roundings per term).
    Seq,
    /// Left to right with `f32::mul_add` (one rounding per term).
    SeqFma,
    /// Right to left, no FMA.
    Reverse,
    /// Balanced binary tree over the (rounded) products.
    Pairwise,
    /// Sequential partial sums over blocks of this many terms, then the partials in order.
    Blocked(usize),
    /// `L` interleaved accumulators (term `i` goes to lane `i mod L`, as a SIMD loop does), then the
    /// lanes combined pairwise.
    Lanes(usize),
    /// Split into this many contiguous parts, each summed with FMA into an `f32` partial, the
    /// partials added last to first (split-K as GPU GEMMs do).
    SplitK(usize),
}

fn tree(t: &[f32]) -> f32 {
    match t.len() {
        0 => 0.0,
        1 => t[0],
        n => tree(&t[..n / 2]) + tree(&t[n / 2..]),
    }
}

fn seq(a: &[f32], b: Option<&[f32]>, fma: bool) -> f32 {
    let mut acc = 0.0f32;
    match b {
        None => a.iter().for_each(|&x| acc += x),
        Some(b) if fma => a.iter().zip(b).for_each(|(&x, &y)| acc = x.mul_add(y, acc)),
        Some(b) => a.iter().zip(b).for_each(|(&x, &y)| acc += x * y),
    }
    acc
}

/// `Σ aᵢ·bᵢ` (or `Σ aᵢ` when `b` is `None`) in the given order.
pub fn reduce(order: Order, a: &[f32], b: Option<&[f32]>) -> f32 {
    let term = |i: usize| b.map_or(a[i], |b| a[i] * b[i]);
    match order {
        Order::Seq => seq(a, b, false),
        Order::SeqFma => seq(a, b, true),
        Order::Reverse => (0..a.len()).rev().fold(0.0f32, |acc, i| acc + term(i)),
        Order::Pairwise => tree(&(0..a.len()).map(term).collect::<Vec<_>>()),
        Order::Blocked(bs) => {
            let parts: Vec<f32> = (0..a.len())
                .step_by(bs)
                .map(|s| {
                    let e = (s + bs).min(a.len());
                    seq(&a[s..e], b.map(|b| &b[s..e]), false)
                })
                .collect();
            seq(&parts, None, false)
        }
        Order::Lanes(l) => {
            let mut lanes = vec![0.0f32; l];
            (0..a.len()).for_each(|i| lanes[i % l] += term(i));
            tree(&lanes)
        }
        Order::SplitK(p) => {
            let chunk = a.len().div_ceil(p).max(1);
            let parts: Vec<f32> = (0..a.len())
                .step_by(chunk)
                .map(|s| {
                    let e = (s + chunk).min(a.len());
                    seq(&a[s..e], b.map(|b| &b[s..e]), true)
                })
                .collect();
            parts.iter().rev().fold(0.0f32, |acc, &x| acc + x)
        }
    }
}

/// Which engine computes matrix products.
#[derive(Clone, Copy, Debug)]
pub enum Gemm {
    /// Row-by-column dot products in the runtime's [`Order`].
    Dots,
    /// ndarray's `dot`, i.e. the `matrixmultiply` crate's `sgemm` (blocked, packed, SIMD).
    MatrixMultiply,
    /// faer's safe `Mat * Mat` on column-major matrices.
    Faer,
}

/// Elementary functions: the platform's `f32` libm, or the correctly rounded result deliberately
/// moved by a number of ulps in a direction chosen by a seeded hash of the argument
/// (deterministic, so the same argument always gives the same result, as a real libm does).
#[derive(Clone, Copy, Debug)]
pub struct Libm {
    pub ulps_off: u32,
    pub seed: u64,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Libm {
    fn nudge(&self, f: u64, x: f32, y: f32) -> f32 {
        if self.ulps_off == 0 || !y.is_finite() {
            return y;
        }
        let up = splitmix(self.seed ^ f ^ u64::from(x.to_bits())) & 1 == 1;
        // `ulps_off` units of the spacing just below |y| (the smaller one at a binade boundary, so
        // a step across 1.0 or a power of two cannot silently count double): move one float at a
        // time while the distance stays within that.
        let unit = f64::from(y.abs()) - f64::from(y.abs().next_down());
        let max = f64::from(self.ulps_off) * unit;
        let mut v = y;
        loop {
            let next = if up { v.next_up() } else { v.next_down() };
            if (f64::from(next) - f64::from(y)).abs() > max {
                return v;
            }
            v = next;
        }
    }
    /// The platform's `f32` function, or — when nudging — the `f64` function rounded to `f32`
    /// (within ½ ulp plus ~10⁻⁹ ulp), so the nudged result stays within `ulps_off + ½` ulps
    /// whatever the accuracy of the platform's `f32` libm (glibc's `tanhf` is ~1.1 ulps off).
    fn eval(&self, x: f32, f32_fn: fn(f32) -> f32, f64_fn: fn(f64) -> f64) -> f32 {
        if self.ulps_off == 0 {
            f32_fn(x)
        } else {
            f64_fn(f64::from(x)) as f32
        }
    }
    // The platform's `exp` on purpose: a foreign runtime shares no code with the library's.
    #[allow(clippy::disallowed_methods)]
    pub fn exp(&self, x: f32) -> f32 {
        self.nudge(1 << 40, x, self.eval(x, f32::exp, f64::exp))
    }
    pub fn ln(&self, x: f32) -> f32 {
        self.nudge(2 << 40, x, self.eval(x, f32::ln, f64::ln))
    }
    pub fn tanh(&self, x: f32) -> f32 {
        self.nudge(3 << 40, x, self.eval(x, f32::tanh, f64::tanh))
    }
    /// The `libm` crate's `erff` (std has no stable `f32::erf`; the library's `f32` runtime uses
    /// its own `erf32`, so this shares no code with it either).
    pub fn erf(&self, x: f32) -> f32 {
        self.nudge(4 << 40, x, self.eval(x, libm::erff, libm::erf))
    }
}

/// One foreign runtime: a summation order for sums and dots, a matrix-product engine and a libm.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub name: &'static str,
    pub order: Order,
    pub gemm: Gemm,
    pub libm: Libm,
    /// PyTorch's CPU layer-norm algorithm (Welford moments; the backward's uncentred
    /// `a·δγ + b·x + c`), which is *outside* SPEC §5's model of the op: its backward cancels as
    /// `|mean|/σ` grows. Measured, never asserted.
    pub torch_norm: bool,
}

/// The kernel interface the generic evaluator is written against.
pub trait Kernel {
    fn name(&self) -> &str;
    /// `Σ xᵢ`.
    fn sum(&self, x: &[f32]) -> f32;
    /// `Σ aᵢ·bᵢ`.
    fn dot(&self, a: &[f32], b: &[f32]) -> f32;
    /// Row-major `[m, k] · [k, n]`.
    fn matmul(&self, a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32>;
    fn exp(&self, x: f32) -> f32;
    fn ln(&self, x: f32) -> f32;
    fn tanh(&self, x: f32) -> f32;
    fn erf(&self, x: f32) -> f32;
    /// Whether elementwise `a·b + c` is one fused multiply-add (one rounding instead of two).
    fn fused(&self) -> bool;
    /// Whether a normalisation multiplies by `rstd = 1/√v` (PyTorch's kernels: two roundings)
    /// rather than dividing by `√v` (one).
    fn by_rstd(&self) -> bool;
    /// See [`Runtime::torch_norm`].
    fn torch_norm(&self) -> bool;
}

/// Row-major transpose of an `[r, c]` matrix.
pub fn transpose(a: &[f32], r: usize, c: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; a.len()];
    for i in 0..r {
        for j in 0..c {
            t[j * r + i] = a[i * c + j];
        }
    }
    t
}

impl Kernel for Runtime {
    fn name(&self) -> &str {
        self.name
    }
    fn sum(&self, x: &[f32]) -> f32 {
        reduce(self.order, x, None)
    }
    fn dot(&self, a: &[f32], b: &[f32]) -> f32 {
        reduce(self.order, a, Some(b))
    }
    fn matmul(&self, a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        match self.gemm {
            Gemm::Dots => {
                let bt = transpose(b, k, n);
                let mut c = Vec::with_capacity(m * n);
                for i in 0..m {
                    for j in 0..n {
                        c.push(self.dot(&a[i * k..(i + 1) * k], &bt[j * k..(j + 1) * k]));
                    }
                }
                c
            }
            Gemm::MatrixMultiply => {
                let a = Array2::from_shape_vec((m, k), a.to_vec()).expect("shape");
                let b = Array2::from_shape_vec((k, n), b.to_vec()).expect("shape");
                a.dot(&b).iter().copied().collect()
            }
            Gemm::Faer => {
                let fa = Mat::<f32>::from_fn(m, k, |i, j| a[i * k + j]);
                let fb = Mat::<f32>::from_fn(k, n, |i, j| b[i * n + j]);
                let c = &fa * &fb;
                let mut out = Vec::with_capacity(m * n);
                for i in 0..m {
                    for j in 0..n {
                        out.push(c[(i, j)]);
                    }
                }
                out
            }
        }
    }
    fn exp(&self, x: f32) -> f32 {
        self.libm.exp(x)
    }
    fn ln(&self, x: f32) -> f32 {
        self.libm.ln(x)
    }
    fn tanh(&self, x: f32) -> f32 {
        self.libm.tanh(x)
    }
    fn erf(&self, x: f32) -> f32 {
        self.libm.erf(x)
    }
    fn fused(&self) -> bool {
        matches!(self.order, Order::SeqFma | Order::SplitK(_))
    }
    fn by_rstd(&self) -> bool {
        self.torch_norm
            || matches!(
                self.order,
                Order::SeqFma | Order::Pairwise | Order::Lanes(_)
            )
    }
    fn torch_norm(&self) -> bool {
        self.torch_norm
    }
}

/// The libm every runtime but the last uses: the platform's, unmodified.
const PLATFORM: Libm = Libm {
    ulps_off: 0,
    seed: 0,
};

/// The foreign runtimes of the suite. `assumed_ulps` is the graph's elementary-function
/// assumption: the last runtime's libm is `assumed_ulps − 1` ulps off the platform's (which is
/// itself within about one ulp), so it stays inside the assumption.
pub fn all(assumed_ulps: f64) -> Vec<Runtime> {
    let rt = |name, order, gemm| Runtime {
        name,
        order,
        gemm,
        libm: PLATFORM,
        torch_norm: false,
    };
    vec![
        rt("sequential", Order::Seq, Gemm::Dots),
        rt("sequential-fma", Order::SeqFma, Gemm::Dots),
        rt("reverse", Order::Reverse, Gemm::Dots),
        rt("pairwise", Order::Pairwise, Gemm::Dots),
        rt("blocked-4", Order::Blocked(4), Gemm::Dots),
        rt("blocked-8", Order::Blocked(8), Gemm::Dots),
        rt("blocked-32", Order::Blocked(32), Gemm::Dots),
        rt("lanes-8", Order::Lanes(8), Gemm::Dots),
        rt("split-k-3", Order::SplitK(3), Gemm::Dots),
        rt("matrixmultiply", Order::Seq, Gemm::MatrixMultiply),
        rt("faer", Order::Pairwise, Gemm::Faer),
        Runtime {
            name: "libm-off",
            order: Order::SeqFma,
            gemm: Gemm::Dots,
            libm: Libm {
                ulps_off: (assumed_ulps - 1.0).floor().max(0.0) as u32,
                seed: 0x5eed,
            },
            torch_norm: false,
        },
    ]
}

/// Runtimes outside SPEC §5's model of some op (see [`Runtime::torch_norm`]): the suite
/// measures how far they get from the exact result against each mode's eps, and asserts
/// nothing about them but sanity.
pub fn beyond_the_model() -> Vec<Runtime> {
    vec![Runtime {
        name: "torch-cpu-layer-norm",
        order: Order::Lanes(8),
        gemm: Gemm::MatrixMultiply,
        libm: PLATFORM,
        torch_norm: true,
    }]
}
