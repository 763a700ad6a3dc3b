//! Pooling (SPEC §9b): `max_pool2d(x, k)` and `avg_pool2d(x, k)` on `[b, c, h, w] →
//! [b, c, ⌊h/k⌋, ⌊w/k⌋]`, windows `k × k` with stride `k` and no padding (PyTorch's defaults);
//! rows and columns past the last whole window are dropped (floor) and get a zero cotangent.
//!
//! * `max_pool2d` selects: its forward is exact and 1-Lipschitz in the sup norm (eps `ε_x`). Its
//!   VJP routes the cotangent to the first maximum of each window (PyTorch's tie rule); the kink
//!   rule of SPEC §5 is applied per window: where the runtime maximum beats every other entry by
//!   more than `2ε_x`, the spec routes the same way and the error is `ε_δ`; otherwise the routing
//!   may flip and the window's entries pay `|δ̂| + ε_δ`.
//! * `avg_pool2d` is the mean of each window, bounded as `mean(x, axis)` is (summation error
//!   over `k²` terms, then the division), its VJP `δ/k²` to every entry of the window.
//!
//! As for the convolutions, `⌊h/k⌋` cannot be computed from const generics in stable Rust: the
//! output shape is the constructor's type parameter (the macro writes it), checked by an inline
//! `const` assertion, and `k` is a type-level literal ([`Idx`]).

use super::axes::Idx;
use super::gemm::sum_err;
use super::kit::{Op, OpRuntime};
use super::util::{at, div_err, nan_max, spec_b};
use crate::bound::{Bound, inflate};
use crate::handle::{Arg, Var};
use crate::round::sub_down;
use crate::scalar::{Arith, Runtime, SpecScalar};
use crate::shape::{Rank4, Shape};
use crate::tensor::linf;
use ndarray::{ArrayD, IxDyn};

/// The geometry of a pooling: `planes = b·c` images of `h × w`, windows `k × k`, `oh × ow` of
/// them per image.
#[derive(Debug, Clone, Copy)]
pub struct PoolGeom {
    planes: usize,
    h: usize,
    w: usize,
    k: usize,
    oh: usize,
    ow: usize,
}

impl PoolGeom {
    fn of(x: &[usize], k: usize, out: &[usize]) -> PoolGeom {
        PoolGeom {
            planes: x[0] * x[1],
            h: x[2],
            w: x[3],
            k,
            oh: out[2],
            ow: out[3],
        }
    }
    /// Number of windows (= output entries).
    fn windows(&self) -> usize {
        self.planes * self.oh * self.ow
    }
    /// Flat input index of entry `t` (row-major in the window) of window `win` (output order).
    #[inline]
    fn idx(&self, win: usize, t: usize) -> usize {
        let (p, ij) = (win / (self.oh * self.ow), win % (self.oh * self.ow));
        let (i, j) = (ij / self.ow, ij % self.ow);
        (p * self.h + i * self.k + t / self.k) * self.w + j * self.k + t % self.k
    }
    /// The entries of window `win` of the flat input `x`.
    fn window<'a, T: Copy>(&'a self, x: &'a [T], win: usize) -> impl Iterator<Item = T> + 'a {
        (0..self.k * self.k).map(move |t| x[self.idx(win, t)])
    }
    /// One value per window, as a tensor of the output's dimensions.
    fn per_window<T>(&self, dims: &[usize], f: impl FnMut(usize) -> T) -> ArrayD<T> {
        let v: Vec<T> = (0..self.windows()).map(f).collect();
        ArrayD::from_shape_vec(IxDyn(dims), v).expect("invariant: output size")
    }
    /// A cotangent of the input's dimensions: `f(win, t)` at entry `t` of each window, exact
    /// zeros at the entries no window covers.
    fn scatter<T: Arith>(&self, dims: &[usize], f: impl Fn(usize, usize) -> T) -> ArrayD<T> {
        let mut v = vec![T::lit(0.0); self.planes * self.h * self.w];
        for win in 0..self.windows() {
            for t in 0..self.k * self.k {
                v[self.idx(win, t)] = f(win, t);
            }
        }
        ArrayD::from_shape_vec(IxDyn(dims), v).expect("invariant: input size")
    }
}

/// A tensor's entries in memory (standard) order.
fn flat<T: Copy>(a: &ArrayD<T>) -> Vec<T> {
    a.iter().copied().collect()
}

/// Shapes the 2-d poolings accept: `[b, c, h, w] → [b, c, h', w']` (`T` the output); the sizes
/// `h' = ⌊h/k⌋`, `w' = ⌊w/k⌋` are checked by the constructor's `const` assertion.
#[diagnostic::on_unimplemented(
    message = "pooling needs an input `[b, c, h, w]` and an output `[b, c, h', w']`, found `{Self}` and `{T}`",
    label = "a 2-d pooling keeps the batch and channel dimensions"
)]
pub trait Pool2dShapes<T: Shape>: Shape {}
impl<
    const N: usize,
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
> Pool2dShapes<Rank4<N, C, OH, OW>> for Rank4<N, C, H, W>
{
}

/// Whether `k` is a valid window for an `h × w` input with output `oh × ow` (for `const`
/// assertions): `1 ≤ k ≤ h, w` and the output sizes floor as PyTorch's.
const fn pool_ok(h: usize, w: usize, k: usize, oh: usize, ow: usize) -> bool {
    k > 0 && k <= h && k <= w && oh == h / k && ow == w / k
}

op_node! {
    /// `max_pool2d(x, k)` with output shape `O`.
    MaxPool2d<O>[1, g: PoolGeom] => O
}

op_node! {
    /// `avg_pool2d(x, k)` with output shape `O`.
    AvgPool2d<O>[1, g: PoolGeom] => O
}

/// `max_pool2d(x, k)`: PyTorch's `F.max_pool2d(x, k)` (stride `k`, no padding) for
/// `x: [b, c, h, w]`, output `T = [b, c, ⌊h/k⌋, ⌊w/k⌋]`, named by the caller (the macro writes
/// it) and checked, with `1 ≤ k ≤ h, w`, by an inline `const` assertion.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank4, RevGraphScale, Var};
/// let (g, (x,)) =
///     RevGraphScale::<f32, Seg<Nil, (Rank4<2, 3, 7, 6>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, y): (_, Var<Rank4<2, 3, 3, 3>, _>) = g.snoc(ops::max_pool2d(x, ops::Idx::<2>));
/// # let _ = y;
/// ```
///
/// ```compile_fail
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank4, RevGraphScale, Var};
/// let (g, (x,)) =
///     RevGraphScale::<f32, Seg<Nil, (Rank4<2, 3, 2, 6>,)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, y): (_, Var<Rank4<2, 3, 0, 2>, _>) = // a 3 × 3 window on 2 rows
///     g.snoc(ops::max_pool2d(x, ops::Idx::<3>));
/// ```
pub fn max_pool2d<X, T, B, const K: usize>(x: Var<X, B>, _k: Idx<K>) -> MaxPool2d<T, B>
where
    X: Pool2dShapes<T>,
    T: Shape,
{
    const {
        assert!(
            pool_ok(X::DIMS[2], X::DIMS[3], K, T::DIMS[2], T::DIMS[3]),
            "max_pool2d: the window must be positive and fit in the input, and the output must \
             be ⌊h/k⌋ by ⌊w/k⌋"
        )
    };
    MaxPool2d::new([x.arg()], PoolGeom::of(X::DIMS, K, T::DIMS))
}

/// `avg_pool2d(x, k)`: PyTorch's `F.avg_pool2d(x, k)` (stride `k`, no padding), shapes and
/// checks as [`max_pool2d`].
pub fn avg_pool2d<X, T, B, const K: usize>(x: Var<X, B>, _k: Idx<K>) -> AvgPool2d<T, B>
where
    X: Pool2dShapes<T>,
    T: Shape,
{
    const {
        assert!(
            pool_ok(X::DIMS[2], X::DIMS[3], K, T::DIMS[2], T::DIMS[3]),
            "avg_pool2d: the window must be positive and fit in the input, and the output must \
             be ⌊h/k⌋ by ⌊w/k⌋"
        )
    };
    AvgPool2d::new([x.arg()], PoolGeom::of(X::DIMS, K, T::DIMS))
}

// ------------------------------------------------------------------------------- max_pool2d

/// The position in window `win` of its first maximum (a NaN counts as the maximum, as in
/// PyTorch, which propagates NaNs).
fn argmax<R: Runtime>(g: &PoolGeom, x: &[R], win: usize) -> usize {
    let mut best = 0;
    let mut bv = x[g.idx(win, 0)];
    for t in 1..g.k * g.k {
        let v = x[g.idx(win, t)];
        if v > bv || (v.is_nan() && !bv.is_nan()) {
            best = t;
            bv = v;
        }
    }
    best
}

impl<O: Shape, B> Op for MaxPool2d<O, B> {
    const NAME: &'static str = "max_pool2d";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let x = flat(at(ctx, &self.args[0]));
        let g = &self.g;
        g.per_window(O::DIMS, |win| {
            g.window(&x, win)
                .reduce(|m, v| m.max(v))
                .expect("invariant: windows are non-empty (k ≥ 1)")
        })
    }
    /// Entry `t` of a window gets `δ` where it is the first maximum: above every earlier entry
    /// and not below any later one, each comparison a [`SpecScalar::select_pos`] (the hull of
    /// `δ` and 0 where the order is uncertain).
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let x = flat(at(ctx, &self.args[0]));
        let d = flat(delta);
        let g = &self.g;
        let zero = T::lit(0.0);
        vec![g.scatter(self.args[0].dims, |win, t| {
            let xt = x[g.idx(win, t)];
            let mut v = d[win];
            for u in 0..g.k * g.k {
                let xu = x[g.idx(win, u)];
                if u < t {
                    v = (xt - xu).select_pos(v, zero);
                } else if u > t {
                    v = (xu - xt).select_pos(zero, v);
                }
            }
            v
        })]
    }
}

impl<O: Shape, B, R: Runtime> OpRuntime<R> for MaxPool2d<O, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let x = flat(at(ctx, &self.args[0]));
        let g = &self.g;
        g.per_window(O::DIMS, |win| x[g.idx(win, argmax(g, &x, win))])
    }
    /// A selection rounds nothing and `max` is 1-Lipschitz in the sup norm: `ε_x`, unless a
    /// window reads a non-finite entry.
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        let x = flat(at(ctx, &self.args[0]));
        let g = &self.g;
        let read_nonfinite = (0..g.windows()).any(|win| g.window(&x, win).any(|v| !v.is_finite()));
        if read_nonfinite {
            Bound::INF
        } else {
            eps[self.args[0].pos]
        }
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(b[self.args[0].pos]).max(linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        let x = flat(at(ctx, &self.args[0]));
        let d = flat(delta);
        let g = &self.g;
        let am: Vec<usize> = (0..g.windows()).map(|win| argmax(g, &x, win)).collect();
        vec![g.scatter(self.args[0].dims, |win, t| {
            if am[win] == t { d[win] } else { R::zero() }
        })]
    }
    /// Per window (SPEC §5's kink rule): `ε_δ` where the runtime maximum `x̂ₐ` beats every other
    /// entry by more than `2ε_x` (the spec's first maximum is then `a` too), else `|δ̂| + ε_δ`
    /// (the spec may route `δ` to another entry). With `ε_x = 0` the spec operands are the
    /// runtime ones and the routing is certain. Non-finite data: `+∞`.
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let x = flat(at(ctx, &self.args[0]));
        let d = flat(d);
        let g = &self.g;
        let ex = eps[self.args[0].pos];
        let two_e = (ex + ex).get();
        let mut out = Bound::ZERO;
        for win in 0..g.windows() {
            if g.window(&x, win).any(|v| !v.is_finite()) || !d[win].is_finite() {
                return vec![Bound::INF];
            }
            let a = argmax(g, &x, win);
            let xa = x[g.idx(win, a)].to_spec();
            let certain = ex.get() == 0.0
                || (0..g.k * g.k)
                    .all(|t| t == a || sub_down(xa, x[g.idx(win, t)].to_spec()) > two_e);
            out = out.max(if certain {
                ed
            } else {
                inflate(d[win].to_spec().abs(), 0) + ed
            });
        }
        vec![out]
    }
    fn vjp_scale(&self, _b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let dx = self.vjp_runtime(ctx, d);
        vec![spec_b(bd).max(linf(&dx[0]))]
    }
}

// ------------------------------------------------------------------------------- avg_pool2d

impl<O: Shape, B> AvgPool2d<O, B> {
    /// The window size `k²`.
    fn n(&self) -> f64 {
        (self.g.k * self.g.k) as f64
    }
    /// `v / k²` in spec and runtime arithmetic alike (the runtime's `k²` may round for `bf16`).
    fn per_entry<T: Arith>(&self, v: T) -> T {
        v / T::lit(self.n())
    }
    /// The runtime window sums, left to right.
    fn sums<R: Runtime>(&self, x: &[R]) -> Vec<R> {
        (0..self.g.windows())
            .map(|win| self.g.window(x, win).fold(R::zero(), |s, v| s + v))
            .collect()
    }
    /// `δ/k²` at every entry of each window, in spec and runtime arithmetic alike.
    fn vjp<T: Arith>(&self, delta: &ArrayD<T>) -> ArrayD<T> {
        let d: Vec<T> = delta.iter().map(|&v| self.per_entry(v)).collect();
        self.g.scatter(self.args[0].dims, |win, _| d[win])
    }
}

impl<O: Shape, B> Op for AvgPool2d<O, B> {
    const NAME: &'static str = "avg_pool2d";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let x = flat(at(ctx, &self.args[0]));
        let g = &self.g;
        g.per_window(O::DIMS, |win| self.per_entry(T::sum(g.window(&x, win))))
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![self.vjp(delta)]
    }
}

impl<O: Shape, B, R: Runtime> OpRuntime<R> for AvgPool2d<O, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let s = self.sums(&flat(at(ctx, &self.args[0])));
        self.g.per_window(O::DIMS, |win| self.per_entry(s[win]))
    }
    /// Per window `|S/n − ŷ| ≤ (n·ε + |S_x̂ − ŝ|)/n + |ŝ/n − ŷ|` (as `mean(x, axis)`).
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let x = flat(at(ctx, &self.args[0]));
        let g = &self.g;
        let n = self.n();
        let y = flat(out);
        let s = self.sums(&x);
        let mut local = Bound::ZERO;
        for win in 0..g.windows() {
            let sw = s[win].to_spec();
            let se = sum_err::<R>(g.window(&x, win).map(|v| v.to_spec()), sw);
            local = local.max(se / Bound::new(n) + inflate(div_err(y[win].to_spec(), sw, n), 3));
        }
        eps[self.args[0].pos] + local
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(b[self.args[0].pos]).max(linf(out))
    }
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![self.vjp(delta)]
    }
    /// `ε_δ/k²` plus the rounding of each `δ̂/k²`.
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let n = self.n();
        let mut m = 0.0f64;
        for &dv in d {
            m = nan_max(m, div_err(self.per_entry(dv).to_spec(), dv.to_spec(), n));
        }
        vec![ed / Bound::new(n) + inflate(m, 3)]
    }
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        vec![spec_b(bd / Bound::new(self.n())).max(linf(&self.vjp(d)))]
    }
}
