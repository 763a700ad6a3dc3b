//! `attention(q, k, v)` and `attention_causal(q, k, v)`: scaled dot-product attention
//! `softmax(q kᵀ/√d) v` over `[…, n, d], […, m, d], […, m, e] → […, n, e]` (SPEC §9b), as one
//! fused node.
//!
//! The node is the composition `bmm(q, kᵀ)` → scale by `1/√d` → `softmax` (or `softmax_causal`)
//! → `bmm(·, v)`, and its bounds are that composition's, stage by stage, with the same
//! routines: `gemm_eps` per batch slice for both products, `softmax`'s per-row analysis
//! (`row_analysis`, `softmax_row_vjp_err`) on the scores (on each unmasked prefix when causal),
//! so it is never looser than composing the pieces. The scaling stage charges the runtime's
//! rounded `ĉ = fl(1/√d)` against the exact `1/√d` of the spec as an input error
//! (`|c − ĉ|·|Ŝ|`) beside the rounding of the product. Masked probabilities (`j > i`) are exact
//! zeros at run time and in the spec (eps 0), and so are their cotangents.
//!
//! The intermediates (scores, probabilities and their cotangents) never enter the context: each
//! part recomputes them from the operands, as the runtime kernel does.

use super::bmm::{bmm_eps, bmm_with};
use super::kit::{Op, OpRuntime, out_linf};
use super::linalg::mm_scale;
use super::op_node;
use super::softmax::{
    row_analysis, rows_map, rows_map2, softmax_row_vjp_err, softmax_rt, softmax_vjp_of_probs,
    spec_row, spec_softmax_vjp_row,
};
use super::softmax_causal::{causal_map, causal_map2};
use super::util::{at, nan_max, prod_err, spec_b, wanted};
use crate::bound::{Bound, inflate};
use crate::handle::{Arg, Var};
use crate::node::Saved;
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::{Rank2, Rank3, Rank4, Shape};
use crate::tensor::linf;
use ndarray::{ArrayD, ArrayView2};

/// Shapes `attention` accepts: `q: […, n, d]`, `k: […, m, d]`, `v: […, m, e]` with equal
/// leading axes (rank 2 to 4); the output is `[…, n, e]`.
#[diagnostic::on_unimplemented(
    message = "attention needs shapes `[…, n, d]`, `[…, m, d]` and `[…, m, e]` with equal leading axes, found `{Self}`, `{K}` and `{V}`",
    label = "q and k must share the head dimension d, k and v the length m, all three the batch axes"
)]
pub trait AttentionShapes<K, V> {
    /// The output shape `[…, n, e]`.
    type Out: Shape;
}
impl<const N: usize, const M: usize, const D: usize, const E: usize>
    AttentionShapes<Rank2<M, D>, Rank2<M, E>> for Rank2<N, D>
{
    type Out = Rank2<N, E>;
}
impl<const BT: usize, const N: usize, const M: usize, const D: usize, const E: usize>
    AttentionShapes<Rank3<BT, M, D>, Rank3<BT, M, E>> for Rank3<BT, N, D>
{
    type Out = Rank3<BT, N, E>;
}
impl<
    const B1: usize,
    const B2: usize,
    const N: usize,
    const M: usize,
    const D: usize,
    const E: usize,
> AttentionShapes<Rank4<B1, B2, M, D>, Rank4<B1, B2, M, E>> for Rank4<B1, B2, N, D>
{
    type Out = Rank4<B1, B2, N, E>;
}

/// Shapes `attention_causal` accepts: those of [`AttentionShapes`] with `n = m` (query `i`
/// attends to the keys `j ≤ i`).
#[diagnostic::on_unimplemented(
    message = "attention_causal needs shapes `[…, n, d]`, `[…, n, d]` and `[…, n, e]` with equal leading axes, found `{Self}`, `{K}` and `{V}`",
    label = "causal attention needs as many keys as queries (n = m), a shared head dimension d and batch axes"
)]
pub trait CausalAttentionShapes<K, V> {
    /// The output shape `[…, n, e]`.
    type Out: Shape;
}
impl<const N: usize, const D: usize, const E: usize> CausalAttentionShapes<Rank2<N, D>, Rank2<N, E>>
    for Rank2<N, D>
{
    type Out = Rank2<N, E>;
}
impl<const BT: usize, const N: usize, const D: usize, const E: usize>
    CausalAttentionShapes<Rank3<BT, N, D>, Rank3<BT, N, E>> for Rank3<BT, N, D>
{
    type Out = Rank3<BT, N, E>;
}
impl<const B1: usize, const B2: usize, const N: usize, const D: usize, const E: usize>
    CausalAttentionShapes<Rank4<B1, B2, N, D>, Rank4<B1, B2, N, E>> for Rank4<B1, B2, N, D>
{
    type Out = Rank4<B1, B2, N, E>;
}

/// Which scores an [`Attention`] node keeps: all ([`Full`]) or `j ≤ i` ([`Causal`]).
pub trait Mask: Send + Sync + 'static {
    /// Whether query `i` attends to the keys `j ≤ i` only.
    const CAUSAL: bool;
    /// The op's name in reports.
    const NAME: &'static str;
}

/// The mask of `attention`: every key.
pub struct Full;
impl Mask for Full {
    const CAUSAL: bool = false;
    const NAME: &'static str = "attention";
}

/// The mask of `attention_causal`: the keys `j ≤ i`.
pub struct Causal;
impl Mask for Causal {
    const CAUSAL: bool = true;
    const NAME: &'static str = "attention_causal";
}

op_node! {
    /// Scaled dot-product attention `softmax(q kᵀ/√d) v`, masked by `C`.
    Attention<O; C>[3] => O
}

/// `attention(q, k, v) = softmax(q kᵀ/√d) v` per batch index (PyTorch's
/// `scaled_dot_product_attention` without mask or dropout).
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank3, RevGraphScale};
/// type Gamma = Seg<Nil, (Rank3<2, 4, 8>, Rank3<2, 6, 8>, Rank3<2, 6, 3>)>;
/// let (g, (q, k, v)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let (_g, o) = g.snoc(ops::attention(q, k, v)); // o: Var<Rank3<2, 4, 3>, _>
/// # let _ = o;
/// ```
pub fn attention<Q, K, V, B>(q: Var<Q, B>, k: Var<K, B>, v: Var<V, B>) -> Attention<Q::Out, B, Full>
where
    Q: Shape + AttentionShapes<K, V>,
    K: Shape,
    V: Shape,
{
    Attention::new([q.arg(), k.arg(), v.arg()])
}

/// `attention_causal(q, k, v)`: [`attention`] with the causal mask of
/// [`softmax_causal`](super::softmax_causal()) (PyTorch's `is_causal=True`).
pub fn attention_causal<Q, K, V, B>(
    q: Var<Q, B>,
    k: Var<K, B>,
    v: Var<V, B>,
) -> Attention<Q::Out, B, Causal>
where
    Q: Shape + CausalAttentionShapes<K, V>,
    K: Shape,
    V: Shape,
{
    Attention::new([q.arg(), k.arg(), v.arg()])
}

/// The runtime scale `ĉ = fl(1/√d)` (`1` for `d = 0`, where every score is the empty sum 0
/// whatever the scale).
fn scale_rt<R: Runtime>(d: usize) -> R {
    R::lit(1.0 / (d.max(1) as f64).sqrt())
}

/// The exact scale `1/√d` in the spec arithmetic (an enclosure for the rigorous scalars).
fn scale_spec<T: SpecScalar>(d: usize) -> T {
    T::one() / T::from_f64(d.max(1) as f64).sqrt()
}

/// An upper bound on `|1/√d − ĉ|` and on `1/√d` itself.
fn scale_err<R: Runtime>(d: usize) -> (f64, f64) {
    use crate::round::{div_down, div_up, sqrt_down, sqrt_up};
    let dd = d.max(1) as f64;
    let (lo, hi) = (div_down(1.0, sqrt_up(dd)), div_up(1.0, sqrt_down(dd)));
    let c = scale_rt::<R>(d).to_spec();
    (inflate((c - lo).abs().max((hi - c).abs()), 2).get(), hi)
}

/// The runtime intermediates of one evaluation.
struct Fwd<R> {
    /// Scaled scores `Ŝ = fl(ĉ·Q̂K̂ᵀ)`, `[…, n, m]`.
    s: ArrayD<R>,
    /// Unscaled scores `Q̂K̂ᵀ`.
    raw: ArrayD<R>,
    /// Probabilities `P̂`.
    p: ArrayD<R>,
}

impl<O: Shape, B, C: Mask> Attention<O, B, C> {
    /// `(n, m, d, e)`.
    fn dims4(&self) -> (usize, usize, usize, usize) {
        let (q, v) = (self.args[0].dims, self.args[2].dims);
        let r = q.len();
        (q[r - 2], v[r - 2], q[r - 1], v[r - 1])
    }
    /// Dimensions of the scores `[…, n, m]`.
    fn score_dims(&self) -> Vec<usize> {
        let (n, m, _, _) = self.dims4();
        let q = self.args[0].dims;
        let mut s = q[..q.len() - 2].to_vec();
        s.extend([n, m]);
        s
    }
    /// Row-wise softmax of the scores (each unmasked prefix when causal, exact zeros after it).
    fn probs_map<T: Copy, U: Clone>(
        &self,
        s: &ArrayD<T>,
        zero: U,
        f: impl FnMut(&[T]) -> Vec<U>,
    ) -> ArrayD<U> {
        let (_, m, _, _) = self.dims4();
        if C::CAUSAL {
            causal_map(s, m, zero, f)
        } else {
            rows_map(s, m, f)
        }
    }
    /// [`Attention::probs_map`] over the scores and their cotangent.
    fn probs_map2<T: Copy, U: Clone>(
        &self,
        s: &ArrayD<T>,
        d: &ArrayD<T>,
        zero: U,
        f: impl FnMut(&[T], &[T]) -> Vec<U>,
    ) -> ArrayD<U> {
        let (_, m, _, _) = self.dims4();
        if C::CAUSAL {
            causal_map2(s, d, m, zero, f)
        } else {
            rows_map2(s, d, m, f)
        }
    }
    fn fwd_rt<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> Fwd<R> {
        let (q, k) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        let (_, _, d, _) = self.dims4();
        let raw = bmm_with((q, false), (k, true), &self.score_dims(), |a, b| {
            R::matmul(a, b)
        });
        let c = scale_rt::<R>(d);
        let s = raw.mapv(|x| c * x);
        let p = self.probs_map(&s, R::zero(), softmax_rt);
        Fwd { s, raw, p }
    }
    /// Error of the scaled scores: `c·ε_raw + |c − ĉ|·|Ŝraw| + |ĉŜraw − Ŝ|` per entry.
    fn scale_eps<R: Runtime>(&self, e_raw: Bound, raw: &ArrayD<R>, s: &ArrayD<R>) -> Bound {
        let (_, _, d, _) = self.dims4();
        let (dc, c_hi) = scale_err::<R>(d);
        let c = scale_rt::<R>(d).to_spec();
        if e_raw.is_infinite() {
            return Bound::INF;
        }
        let mut m = 0.0f64;
        for (&r, &sv) in raw.iter().zip(s.iter()) {
            let (r, sv) = (r.to_spec(), sv.to_spec());
            if !(r.is_finite() && sv.is_finite()) {
                return Bound::INF;
            }
            m = nan_max(m, dc * r.abs() + prod_err(sv, c, r));
        }
        e_raw.scale(c_hi) + inflate(m, 3)
    }
    /// The forward errors of the stages: raw scores, scaled scores, probabilities, output.
    fn fwd_stage_eps<R: Runtime>(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        f: &Fwd<R>,
        out: &ArrayD<R>,
    ) -> [Bound; 4] {
        let [eq, ek, ev] = [0, 1, 2].map(|i| eps[self.args[i].pos]);
        let (q, k, v) = (
            at(ctx, &self.args[0]),
            at(ctx, &self.args[1]),
            at(ctx, &self.args[2]),
        );
        let e_raw = bmm_eps((q, eq, false), (k, ek, true), &f.raw);
        let e_s = self.scale_eps(e_raw, &f.raw, &f.s);
        let es = e_s.get();
        let mut mp = 0.0f64;
        self.probs_map(&f.s, (), |r| {
            mp = row_analysis(r, es)
                .ep
                .iter()
                .fold(mp, |m, &x| nan_max(m, x));
            vec![(); r.len()]
        });
        let e_p = if e_s.is_infinite() {
            Bound::INF
        } else {
            Bound::new(mp)
        };
        let e_o = bmm_eps((&f.p, e_p, false), (v, ev, false), out);
        [e_raw, e_s, e_p, e_o]
    }
    /// The runtime score cotangents `(dP, dS, dSraw)`: `dP = δVᵀ`, softmax's VJP, `ĉ·dS`.
    fn score_cot_rt<R: Runtime>(
        &self,
        ctx: &[ArrayD<R>],
        p: &ArrayD<R>,
        delta: &ArrayD<R>,
    ) -> Scores<R> {
        let v = at(ctx, &self.args[2]);
        let (_, _, d, _) = self.dims4();
        let mm = |a: ArrayView2<'_, R>, b: ArrayView2<'_, R>| R::matmul(a, b);
        let dp = bmm_with((delta, false), (v, true), &self.score_dims(), mm);
        // The masked entries of `p̂` are exact zeros and each unmasked prefix is that prefix's
        // softmax, so the row VJP from `p̂` is bit for bit the one recomputed from `Ŝ`.
        let ds = self.probs_map2(p, &dp, R::zero(), softmax_vjp_of_probs);
        let c = scale_rt::<R>(d);
        let dsr = ds.mapv(|x| c * x);
        Scores { dp, ds, dsr }
    }
    /// Runtime cotangents `(dQ, dK, dV)`, from the probabilities `p` of the forward.
    fn vjp_rt<R: Runtime>(&self, ctx: &[ArrayD<R>], p: &ArrayD<R>, delta: &ArrayD<R>) -> Bwd<R> {
        let (q, k) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        let mm = |a: ArrayView2<'_, R>, b: ArrayView2<'_, R>| R::matmul(a, b);
        let dv = bmm_with((p, true), (delta, false), self.args[2].dims, mm);
        let s = self.score_cot_rt(ctx, p, delta);
        let dq = bmm_with((&s.dsr, false), (k, false), self.args[0].dims, mm);
        let dk = bmm_with((&s.dsr, true), (q, false), self.args[1].dims, mm);
        Bwd { dq, dk, dv }
    }
    /// The output's error bound, and what the VJP's error bounds reuse of the forward `f`.
    fn bounds_kept<R: Runtime>(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        f: Fwd<R>,
        out: &ArrayD<R>,
    ) -> (Bound, BoundsKept<R>) {
        let [_, e_s, e_p, e_o] = self.fwd_stage_eps(eps, ctx, &f, out);
        let Fwd { s, p, .. } = f;
        (e_o, BoundsKept { s, p, e_s, e_p })
    }
    /// VJP error bounds of the wanted arguments, whose runtime cotangents are `outs` (`+∞` for
    /// the others): the products' a-posteriori bounds against those cotangents, without
    /// recomputing them.
    fn vjp_eps_of<R: Runtime>(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        (ed, d): (Bound, &ArrayD<R>),
        outs: [Option<&ArrayD<R>>; 3],
        kept: Option<&Saved>,
    ) -> Vec<Bound> {
        let [eq, ek, ev] = [0, 1, 2].map(|i| eps[self.args[i].pos]);
        let (q, k, v) = (
            at(ctx, &self.args[0]),
            at(ctx, &self.args[1]),
            at(ctx, &self.args[2]),
        );
        // The forward bound's scores, probabilities and stage errors when it kept them (for
        // this context and these bounds), else recomputed: the same either way.
        let kept = kept
            .and_then(|k| k.downcast_ref::<BoundsKept<R>>())
            .filter(|k| k.p.shape() == self.score_dims().as_slice());
        let fresh;
        let f = match kept {
            Some(k) => k,
            None => {
                let f = self.fwd_rt(ctx);
                let out = bmm_with((&f.p, false), (v, false), O::DIMS, |a, b| R::matmul(a, b));
                fresh = self.bounds_kept(eps, ctx, f, &out).1;
                &fresh
            }
        };
        let (e_s, e_p) = (f.e_s, f.e_p);
        // dV = Pᵀ δ: a product.
        let e_dv = outs[2].map_or(Bound::INF, |dv| {
            bmm_eps((&f.p, e_p, true), (d, ed, false), dv)
        });
        if outs[0].is_none() && outs[1].is_none() {
            return vec![Bound::INF, Bound::INF, e_dv];
        }
        let g = self.score_cot_rt(ctx, &f.p, d);
        // dP = δ Vᵀ: a product.
        let e_dp = bmm_eps((d, ed, false), (v, ev, true), &g.dp);
        // dS: softmax's VJP analysis per row (per unmasked prefix).
        let (es, fed) = (e_s.get(), e_dp.get());
        let mut m = 0.0f64;
        self.probs_map2(&f.s, &g.dp, (), |r, dr| {
            m = nan_max(m, softmax_row_vjp_err(r, dr, es, fed));
            vec![(); r.len()]
        });
        let e_ds = if e_s.is_infinite() || e_dp.is_infinite() {
            Bound::INF
        } else {
            inflate(m, 12)
        };
        // dSraw = c·dS: the scaling stage again.
        let e_dsr = self.scale_eps(e_ds, &g.ds, &g.dsr);
        let e_dq = outs[0].map_or(Bound::INF, |dq| {
            bmm_eps((&g.dsr, e_dsr, false), (k, ek, false), dq)
        });
        let e_dk = outs[1].map_or(Bound::INF, |dk| {
            bmm_eps((&g.dsr, e_dsr, true), (q, eq, false), dk)
        });
        vec![e_dq, e_dk, e_dv]
    }
}

/// What the forward error bound keeps for the VJP's error bounds on the same context and
/// bounds ([`OpRuntime::fwd_eps_saving`]): the runtime scores and probabilities it evaluated,
/// and the errors of both (the scores' product and the softmax analysis then run once per
/// certified step, not again in the backward sweep).
struct BoundsKept<R> {
    /// Scaled scores `Ŝ`.
    s: ArrayD<R>,
    /// Probabilities `P̂`.
    p: ArrayD<R>,
    /// Error bound of `Ŝ`.
    e_s: Bound,
    /// Error bound of `P̂`.
    e_p: Bound,
}

/// The runtime cotangents of the scores: `dP`, `dS` and `dSraw = ĉ·dS`.
struct Scores<R> {
    dp: ArrayD<R>,
    ds: ArrayD<R>,
    dsr: ArrayD<R>,
}

/// The runtime cotangents of the arguments.
struct Bwd<R> {
    dq: ArrayD<R>,
    dk: ArrayD<R>,
    dv: ArrayD<R>,
}

impl<O: Shape, B, C: Mask> Op for Attention<O, B, C> {
    const NAME: &'static str = C::NAME;
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let (q, k, v) = (
            at(ctx, &self.args[0]),
            at(ctx, &self.args[1]),
            at(ctx, &self.args[2]),
        );
        let (_, _, d, _) = self.dims4();
        let c = scale_spec::<T>(d);
        let raw = bmm_with((q, false), (k, true), &self.score_dims(), |a, b| {
            T::matmul(a, b)
        });
        let s = raw.mapv(|x| x * c);
        let p = self.probs_map(&s, T::zero(), |r| spec_row(r).0);
        bmm_with((&p, false), (v, false), O::DIMS, |a, b| T::matmul(a, b))
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let (q, k, v) = (
            at(ctx, &self.args[0]),
            at(ctx, &self.args[1]),
            at(ctx, &self.args[2]),
        );
        let (_, _, d, _) = self.dims4();
        let c = scale_spec::<T>(d);
        let mm = |a: ArrayView2<'_, T>, b: ArrayView2<'_, T>| T::matmul(a, b);
        let sd = self.score_dims();
        let s = bmm_with((q, false), (k, true), &sd, mm).mapv(|x| x * c);
        let p = self.probs_map(&s, T::zero(), |r| spec_row(r).0);
        let dp = bmm_with((delta, false), (v, true), &sd, mm);
        let dv = bmm_with((&p, true), (delta, false), self.args[2].dims, mm);
        let ds = self.probs_map2(&s, &dp, T::zero(), spec_softmax_vjp_row);
        let dsr = ds.mapv(|x| x * c);
        let dq = bmm_with((&dsr, false), (k, false), self.args[0].dims, mm);
        let dk = bmm_with((&dsr, true), (q, false), self.args[1].dims, mm);
        vec![dq, dk, dv]
    }
}

impl<O: Shape, B, C: Mask, R: Runtime> OpRuntime<R> for Attention<O, B, C> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        self.forward_runtime_saving(ctx).0
    }
    /// The output, and the probabilities for the VJP (the scores' product and softmax are
    /// then computed once per step, not again in the backward sweep).
    fn forward_runtime_saving(&self, ctx: &[ArrayD<R>]) -> (ArrayD<R>, Option<Saved>) {
        let f = self.fwd_rt(ctx);
        let v = at(ctx, &self.args[2]);
        let out = bmm_with((&f.p, false), (v, false), O::DIMS, |a, b| R::matmul(a, b));
        (out, Some(Box::new(f.p)))
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        self.bounds_kept(eps, ctx, self.fwd_rt(ctx), out).0
    }
    fn fwd_eps_saving(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        out: &ArrayD<R>,
    ) -> (Bound, Option<Saved>) {
        let (e_o, kept) = self.bounds_kept(eps, ctx, self.fwd_rt(ctx), out);
        (e_o, Some(Box::new(kept)))
    }
    fn fwd_stages(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        out: &ArrayD<R>,
    ) -> Vec<(&'static str, Bound)> {
        let f = self.fwd_rt(ctx);
        let [raw, s, p, o] = self.fwd_stage_eps(eps, ctx, &f, out);
        vec![
            ("scores q·kᵀ", raw),
            ("scaled by 1/√d", s),
            ("softmax", p),
            ("output p·v", o),
        ]
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        // `bmm(p, v)`'s bound with `|p| ≤ 1`: the convex-combination bound `B_v` would not cover
        // an enclosure of the spec, whose probabilities need not sum to exactly 1.
        let (_, m, _, _) = self.dims4();
        mm_scale(m, Bound::ONE, b[self.args[2].pos], linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        let g = self.vjp_rt(ctx, &self.fwd_rt(ctx).p, delta);
        vec![g.dq, g.dk, g.dv]
    }
    fn vjp_runtime_saved(
        &self,
        ctx: &[ArrayD<R>],
        saved: Option<&Saved>,
        delta: &ArrayD<R>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<R>>> {
        // The forward's probabilities when they were kept (and have the scores' shape), else
        // recomputed: the same tensor either way.
        let kept = saved
            .and_then(|s| s.downcast_ref::<ArrayD<R>>())
            .filter(|p| p.shape() == self.score_dims().as_slice());
        let g = match kept {
            Some(p) => self.vjp_rt(ctx, p, delta),
            None => self.vjp_rt(ctx, &self.fwd_rt(ctx).p, delta),
        };
        [g.dq, g.dk, g.dv]
            .into_iter()
            .zip(wants)
            .map(|(v, &w)| w.then_some(v))
            .collect()
    }
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let g = self.vjp_rt(ctx, &self.fwd_rt(ctx).p, d);
        self.vjp_eps_of(
            eps,
            ctx,
            (ed, d),
            [Some(&g.dq), Some(&g.dk), Some(&g.dv)],
            None,
        )
    }
    fn vjp_eps_some(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        ed: Bound,
        d: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
    ) -> Vec<Bound> {
        self.vjp_eps_kept(eps, ctx, ed, d, wants, outs, None)
    }
    fn vjp_eps_kept(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        ed: Bound,
        d: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
        kept: Option<&Saved>,
    ) -> Vec<Bound> {
        let get = |i: usize| wanted(outs, wants, i);
        self.vjp_eps_of(eps, ctx, (ed, d), [get(0), get(1), get(2)], kept)
    }
    fn vjp_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let g = self.vjp_rt(ctx, &self.fwd_rt(ctx).p, d);
        let outs = [Some(g.dq), Some(g.dk), Some(g.dv)];
        self.vjp_scale_some(b, ctx, bd, d, &[true; 3], &outs, &[])
    }
    // From the runtime cotangents the backward sweep already computed: the formulas need only
    // their maxima (recomputing the scores, the softmax and four products per call was the
    // propagated modes' price of this op).
    fn vjp_scale_some(
        &self,
        b: &[Bound],
        _ctx: &[ArrayD<R>],
        bd: Bound,
        _d: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
        mags: &[Option<Bound>],
    ) -> Vec<Bound> {
        let [bq, bk, bv] = [0, 1, 2].map(|i| b[self.args[i].pos]);
        let (n, m, dd, e) = self.dims4();
        // |dP| ≤ e·B_δ·B_v; |dS| ≤ B_dP/2 (softmax's VJP); |dSraw| ≤ c·B_dS.
        let b_dp = mm_scale(e, bd, bv, Bound::ZERO);
        let (_, c_hi) = scale_err::<R>(dd);
        let b_dsr = spec_b(b_dp.scale(0.5)).scale(c_hi);
        let rt = |i: usize| out_linf(outs, mags, i).filter(|_| wants.get(i) == Some(&true));
        vec![
            rt(0).map_or(Bound::INF, |l| mm_scale(m, b_dsr, bk, l)),
            rt(1).map_or(Bound::INF, |l| mm_scale(n, b_dsr, bq, l)),
            // Column sums of P are at most n.
            rt(2).map_or(Bound::INF, |l| mm_scale(n, Bound::ONE, bd, l)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_error_covers_the_runtime_rounding() {
        for d in [1usize, 2, 3, 8, 64, 1000] {
            let (e32, hi) = scale_err::<f32>(d);
            let exact = 1.0 / (d as f64).sqrt();
            assert!((exact - scale_rt::<f32>(d).to_spec()).abs() <= e32, "{d}");
            assert!(hi >= exact && e32 < 1e-7 * hi.max(1e-300) * 10.0);
        }
        assert_eq!(scale_rt::<f32>(0), 1.0);
    }
}
