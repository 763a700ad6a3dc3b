//! Losses: `mse(pred, target)` and `cross_entropy(logits, target)`, both `→ []`, gradients to
//! both arguments.
//!
//! Runtime kernels (written here so every rounding is accounted for):
//! * `mse`: `d̂ᵢ = fl(p̂ᵢ − t̂ᵢ)`, `q̂ᵢ = fl(d̂ᵢ²)`, `ŝ = Σ q̂ᵢ`, `ŷ = fl(ŝ / n)`; VJP
//!   `v̂ᵢ = fl(fl(d̂ᵢ·δ̂)·fl(2/n))`, and `−v̂` for the target.
//! * `cross_entropy`: `ℓ̂ = log_softmax` rows (kernel of [`softmax`](mod@super::softmax)),
//!   `â = Σᵢⱼ t̂ᵢⱼ·ℓ̂ᵢⱼ`, `ŷ = −fl(â / b)`; VJP `ĉ = fl(δ̂/b)`,
//!   `dz = fl(ĉ·fl(fl(p̂ᵢⱼ·T̂ᵢ) − t̂ᵢⱼ))` with `T̂ᵢ = Σⱼ t̂ᵢⱼ`, `dt = −fl(ĉ·ℓ̂ᵢⱼ)`.

use super::gemm::{dot_err, sum_err};
use super::kit::{Op, OpRuntime};
use super::op_node;
use super::softmax::{flat, log_softmax_rt, row_analysis_with_logs, softmax_rt, spec_row};
use super::util::{
    at, div_err, nan_max, prod_err, ref_dist, scalar, scalar_of, spec_b, sum2_err, up,
};
use crate::bound::{Bound, U64, inflate};
use crate::handle::{Arg, Var};
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::{Rank0, Rank2, SameShape, Shape};
use crate::tensor::linf;
use ndarray::{ArrayD, IxDyn};

// ------------------------------------------------------------------------------------------ mse

op_node! {
    /// Mean squared error.
    Mse<S>[2] => Rank0
}

/// `mse(p, t) = mean((p − t)²)`; shapes must be equal.
pub fn mse<S, S2, B>(pred: Var<S, B>, target: Var<S2, B>) -> Mse<S, B>
where
    S: Shape + SameShape<S2>,
    S2: Shape,
{
    Mse::new([pred.arg(), target.arg()])
}

impl<S: Shape, B> Mse<S, B> {
    fn n() -> f64 {
        S::NUMEL as f64
    }
    fn diffs<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> (Vec<R>, Vec<R>, Vec<R>) {
        let (p, t) = (flat(at(ctx, &self.args[0])), flat(at(ctx, &self.args[1])));
        let d = p.iter().zip(&t).map(|(&a, &b)| a - b).collect();
        (p, t, d)
    }
    fn vjp_rt<R: Runtime>(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> [ArrayD<R>; 2] {
        let (_, _, d) = self.diffs(ctx);
        let (dl, c) = (scalar_of(delta), R::from_f64(2.0 / Self::n()));
        let v: Vec<R> = d.iter().map(|&x| (x * dl) * c).collect();
        let sh = IxDyn(S::DIMS);
        let vp = ArrayD::from_shape_vec(sh.clone(), v).expect("shape");
        let vt = vp.mapv(|x| -x);
        [vp, vt]
    }
}

impl<S: Shape, B> Op for Mse<S, B> {
    const NAME: &'static str = "mse";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let (p, t) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        let s = T::sum(p.iter().zip(t.iter()).map(|(&x, &y)| (x - y).square()));
        scalar(s / T::from_f64(Self::n()))
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let (p, t) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        let c = scalar_of(delta) * T::from_f64(2.0) / T::from_f64(Self::n());
        let vp = ndarray::Zip::from(p)
            .and(t)
            .map_collect(|&x, &y| (x - y) * c);
        let vt = vp.mapv(|v| -v);
        vec![vp, vt]
    }
}

impl<S: Shape, B, R: Runtime> OpRuntime<R> for Mse<S, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let (_, _, d) = self.diffs(ctx);
        let s = d.iter().fold(R::zero(), |a, &x| a + x * x);
        scalar(s / R::from_f64(Self::n()))
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let e = (eps[self.args[0].pos] + eps[self.args[1].pos]).get();
        let (p, t, d) = self.diffs(ctx);
        let q: Vec<R> = d.iter().map(|&x| x * x).collect();
        let s = q.iter().fold(R::zero(), |a, &x| a + x);
        let (mut prop, mut loc) = (0.0f64, 0.0f64);
        for i in 0..d.len() {
            let di = d[i].to_spec();
            let r = sum2_err(di, p[i].to_spec(), -t[i].to_spec());
            // |(p−t)² − d̂²| ≤ r(2|d̂| + r); then the rounding of d̂².
            prop += 2.0 * (di.abs() + r) + e;
            loc += r * (2.0 * di.abs() + r) + prod_err(q[i].to_spec(), di, di);
        }
        let n = d.len();
        let s64 = s.to_spec();
        let sum_loc = inflate(loc, 2 * n + 8)
            + sum_err::<R>(q.iter().map(|v| v.to_spec()), s64)
            + Bound::new(e) * inflate(prop, 2 * n + 8);
        sum_loc / Bound::new(Self::n())
            + inflate(div_err(scalar_of(out).to_spec(), s64, Self::n()), 3)
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let s = b[self.args[0].pos] + b[self.args[1].pos];
        spec_b(s * s).max(linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        self.vjp_rt(ctx, delta).into()
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let e = (eps[self.args[0].pos] + eps[self.args[1].pos]).get();
        let fed = ed.get();
        let (p, t, dd) = self.diffs(ctx);
        let [vp, _] = self.vjp_rt(ctx, d);
        let dl = scalar_of(d).to_spec();
        let c = 2.0 / Self::n();
        let mut m = 0.0f64;
        for (i, &v) in vp.iter().enumerate() {
            let di = dd[i].to_spec();
            let r = sum2_err(di, p[i].to_spec(), -t[i].to_spec());
            // (2/n)|(p−t)ₛδₛ − (p̂−t̂)δ̂| + (2/n)|δ̂|r + |(2/n)d̂δ̂ − v̂|.
            let prop = c * (e * (dl.abs() + fed) + (di.abs() + r) * fed + dl.abs() * r);
            let w = di * dl * c;
            m = nan_max(m, prop + ref_dist(v.to_spec(), w, 4.0 * U64));
        }
        let b = inflate(m, 12);
        vec![b, b]
    }
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let [vp, _] = self.vjp_rt(ctx, d);
        let spec =
            ((b[self.args[0].pos] + b[self.args[1].pos]) * bd).scale(2.0) / Bound::new(Self::n());
        let s = spec_b(spec).max(linf(&vp));
        vec![s, s]
    }
}

// -------------------------------------------------------------------------------- cross_entropy

/// Shapes `cross_entropy` accepts: `[b, n] × [b, n] → []`.
#[diagnostic::on_unimplemented(
    message = "cross_entropy needs logits and targets of the same shape `[b, n]`, found `{Self}` and `{X}`",
    label = "logits and target must both be `[b, n]`"
)]
pub trait CrossEntropyShapes<X> {
    /// Number of rows `b`.
    const ROWS: usize;
    /// Number of classes `n`.
    const COLS: usize;
}
impl<const M: usize, const N: usize> CrossEntropyShapes<Rank2<M, N>> for Rank2<M, N> {
    const ROWS: usize = M;
    const COLS: usize = N;
}

op_node! {
    /// Cross-entropy of logits against target probabilities, averaged over rows.
    CrossEntropy<S, X>[2] => Rank0
}

/// `cross_entropy(z, t) = −(1/b) Σᵢ Σⱼ t[i, j]·log_softmax(z)[i, j]` for `z, t: [b, n]`.
pub fn cross_entropy<S, X, B>(logits: Var<S, B>, target: Var<X, B>) -> CrossEntropy<S, X, B>
where
    S: Shape + CrossEntropyShapes<X>,
    X: Shape,
{
    CrossEntropy::new([logits.arg(), target.arg()])
}

impl<S: Shape + CrossEntropyShapes<X>, X: Shape, B> CrossEntropy<S, X, B> {
    fn b() -> f64 {
        S::ROWS as f64
    }
    fn cols() -> usize {
        S::COLS.max(1)
    }
    fn logsm<R: Runtime>(z: &[R]) -> Vec<R> {
        z.chunks(Self::cols()).flat_map(log_softmax_rt).collect()
    }
    fn vjp_rt<R: Runtime>(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> [ArrayD<R>; 2] {
        let (z, t) = (flat(at(ctx, &self.args[0])), flat(at(ctx, &self.args[1])));
        let c = scalar_of(delta) / R::from_f64(Self::b());
        let mut dz = Vec::with_capacity(z.len());
        for (zr, tr) in z.chunks(Self::cols()).zip(t.chunks(Self::cols())) {
            let p = softmax_rt(zr);
            let tt = tr.iter().fold(R::zero(), |a, &b| a + b);
            dz.extend(p.iter().zip(tr).map(|(&p, &t)| c * (p * tt - t)));
        }
        let dt: Vec<R> = Self::logsm(&z).iter().map(|&l| -(c * l)).collect();
        let sh = IxDyn(S::DIMS);
        [
            ArrayD::from_shape_vec(sh.clone(), dz).expect("shape"),
            ArrayD::from_shape_vec(sh, dt).expect("shape"),
        ]
    }
}

impl<S: Shape + CrossEntropyShapes<X>, X: Shape, B> Op for CrossEntropy<S, X, B> {
    const NAME: &'static str = "cross_entropy";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let (z, t) = (flat(at(ctx, &self.args[0])), flat(at(ctx, &self.args[1])));
        let mut terms = Vec::with_capacity(z.len());
        for (zr, tr) in z.chunks(Self::cols()).zip(t.chunks(Self::cols())) {
            let l = spec_row(zr).1;
            terms.extend(l.iter().zip(tr).map(|(&l, &t)| t * l));
        }
        let acc = T::sum(terms);
        scalar(-(acc / T::from_f64(Self::b())))
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let (z, t) = (flat(at(ctx, &self.args[0])), flat(at(ctx, &self.args[1])));
        let c = scalar_of(delta) / T::from_f64(Self::b());
        let (mut dz, mut dt) = (Vec::new(), Vec::new());
        for (zr, tr) in z.chunks(Self::cols()).zip(t.chunks(Self::cols())) {
            let (p, l) = spec_row(zr);
            if T::MODELS_RUNTIME {
                // Autograd through −mean(Σ t ⊙ log_softmax(z)): g_l = −t·c, then
                // log_softmax's backward g_l − exp(l)·Σ g_l.
                let gl: Vec<T> = tr.iter().map(|&t| -(t * c)).collect();
                let s = T::sum(gl.iter().copied());
                dz.extend(l.iter().zip(&gl).map(|(&l, &g)| g - l.exp() * s));
                dt.extend(l.iter().map(|&l| -(l * c)));
                continue;
            }
            let tt = T::sum(tr.iter().copied());
            dz.extend(p.iter().zip(tr).map(|(&p, &t)| c * (p * tt - t)));
            dt.extend(l.iter().map(|&l| -(c * l)));
        }
        let sh = IxDyn(S::DIMS);
        vec![
            ArrayD::from_shape_vec(sh.clone(), dz).expect("shape"),
            ArrayD::from_shape_vec(sh, dt).expect("shape"),
        ]
    }
}

impl<S: Shape + CrossEntropyShapes<X>, X: Shape, B, R: Runtime> OpRuntime<R>
    for CrossEntropy<S, X, B>
{
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let (z, t) = (flat(at(ctx, &self.args[0])), flat(at(ctx, &self.args[1])));
        let l = Self::logsm(&z);
        let acc = l.iter().zip(&t).fold(R::zero(), |a, (&l, &t)| a + t * l);
        scalar(-(acc / R::from_f64(Self::b())))
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let (ez, et) = (eps[self.args[0].pos].get(), eps[self.args[1].pos].get());
        let (z, t) = (flat(at(ctx, &self.args[0])), flat(at(ctx, &self.args[1])));
        let l = Self::logsm(&z);
        let acc = l.iter().zip(&t).fold(R::zero(), |a, (&l, &t)| a + t * l);
        let mut prop = 0.0f64;
        for (k, zr) in z.chunks(Self::cols()).enumerate() {
            let a = row_analysis_with_logs(zr, ez);
            for (j, el) in a.el.iter().enumerate() {
                let i = k * Self::cols() + j;
                let (lv, tv) = (l[i].to_spec().abs(), t[i].to_spec().abs());
                prop += et * lv + tv * el + et * el;
            }
        }
        let acc64 = acc.to_spec();
        let n = z.len();
        let s = inflate(prop, 3 * n + 8)
            + dot_err::<R>(
                t.iter()
                    .map(|v| v.to_spec())
                    .zip(l.iter().map(|v| v.to_spec())),
                acc64,
            );
        s / Bound::new(Self::b()) + inflate(div_err(-scalar_of(out).to_spec(), acc64, Self::b()), 3)
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let n = S::COLS as f64;
        let lmax = b[self.args[0].pos].scale(2.0) + Bound::new(up(n.ln()));
        spec_b((b[self.args[1].pos] * lmax).scale(n)).max(linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        self.vjp_rt(ctx, delta).into()
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let (ez, et) = (eps[self.args[0].pos].get(), eps[self.args[1].pos].get());
        let (z, t) = (flat(at(ctx, &self.args[0])), flat(at(ctx, &self.args[1])));
        let [vz, vt] = self.vjp_rt(ctx, d);
        let (vz, vt) = (flat(&vz), flat(&vt));
        let dl = scalar_of(d);
        let c = dl / R::from_f64(Self::b());
        let c64 = c.to_spec();
        let ec = ed.get() / Self::b() + div_err(c64, dl.to_spec(), Self::b());
        let cols = Self::cols();
        let l = Self::logsm(&z);
        let (mut mz, mut mt) = (0.0f64, 0.0f64);
        for (k, (zr, tr)) in z.chunks(cols).zip(t.chunks(cols)).enumerate() {
            let a = row_analysis_with_logs(zr, ez);
            let p = softmax_rt(zr);
            let tt = tr.iter().fold(R::zero(), |a, &b| a + b);
            let tt64 = tt.to_spec();
            let e_t = cols as f64 * et + sum_err::<R>(tr.iter().map(|v| v.to_spec()), tt64).get();
            for j in 0..zr.len() {
                let i = k * cols + j;
                let h = p[j] * tt;
                let g = (h - tr[j]).to_spec();
                let eg = a.ep[j] * (tt64.abs() + e_t)
                    + a.p[j] * e_t
                    + et
                    + prod_err(h.to_spec(), a.p[j], tt64)
                    + sum2_err(g, h.to_spec(), -tr[j].to_spec());
                let tz = ec * (g.abs() + eg) + c64.abs() * eg + prod_err(vz[i].to_spec(), c64, g);
                mz = nan_max(mz, tz);
                let (lv, el) = (l[i].to_spec(), a.el[j]);
                let tl =
                    ec * (lv.abs() + el) + c64.abs() * el + prod_err(-vt[i].to_spec(), c64, lv);
                mt = nan_max(mt, tl);
            }
        }
        vec![inflate(mz, 16), inflate(mt, 12)]
    }
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let [vz, vt] = self.vjp_rt(ctx, d);
        let n = S::COLS as f64;
        let cb = bd / Bound::new(Self::b());
        let bt = b[self.args[1].pos];
        let lmax = b[self.args[0].pos].scale(2.0) + Bound::new(up(n.ln()));
        vec![
            spec_b(cb * bt.scale(n + 1.0)).max(linf(&vz)),
            spec_b(cb * lmax).max(linf(&vt)),
        ]
    }
}
