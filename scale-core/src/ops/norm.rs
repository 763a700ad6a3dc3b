//! `layer_norm` and `rms_norm` over the last axis (SPEC §9b), with a stage-by-stage error trace.
//!
//! Both ops run one kernel per row, written once (`row`, `vjp_row`) and evaluated in three
//! arithmetics: the spec scalar (generic, so every mode works: sums through
//! [`SpecScalar::sum`], and in the any-implementation mode the normalisation multiplies by
//! `1/σ`, so the modelled rounding covers both a division and PyTorch's `rstd` product), the
//! runtime (mean, centred values, two-pass biased variance, `σ = √(var + eps)`, `(x − μ)/σ`,
//! `·γ + β`), and rigorous [`Ball`] arithmetic on the balls `x̂ ± ε` around the runtime
//! operands, which is what the bounds are made of.
//!
//! The error of every stage (centring, variance, square root, division, affine) is the distance
//! from this run's intermediate to the ball enclosure of the exact intermediate over the input
//! balls. That enclosure holds the exact value for every input within its eps (ball arithmetic
//! is rigorous), so the distance bounds propagated and local error at once, whatever order the
//! runtime summed in; the report shows the distances as the node's stages (TorchLean's error
//! trace). The division's precondition is decided the same way: where the enclosure of `σ`
//! reaches 0 the quotient's enclosure is the whole line and the bound `+∞` (with a finite eps,
//! `eps > 0` keeps it away from 0). Until the sixteenth session these passes ran in interval
//! arithmetic (directed rounding by TwoProd, a branch per sign case): a third of a certified
//! transformer step, now a quarter as long; balls are as narrow to first order (the bounds of
//! the propagated modes moved by 2–4 %, the order-free mode's by up to 25 %).
//!
//! Known limit of the any-implementation mode: it models the two-pass variance above and the
//! VJP formula of `vjp_row`; PyTorch's CPU kernels use Welford's update for the variance and
//! another arrangement of the same VJP, whose roundings this model does not enumerate.

use super::kit::{Op, OpRuntime, out_linf};
use super::op_node;
use super::softmax::flat_ref;
use super::util::{TINY, at, nan_max, spec_b, wanted};
use crate::bound::{Bound, ENCL, inflate, rad};
use crate::error::Error;
use crate::handle::{Arg, Var};
use crate::round::sqrt_up;
use crate::scalar::{Arith, Ball, Runtime, SpecScalar};
use crate::shape::{Rank1, Rank2, Rank3, Rank4, Shape};
use crate::tensor::{linf, sum_lanes};
use ndarray::{ArrayD, IxDyn};

/// Proof that `G` is the parameter shape `[n]` of a normalisation over the last axis of
/// `Self = […, n]` (rank 1 to 4): a `gamma` or `beta` of another length is a type error.
#[diagnostic::on_unimplemented(
    message = "layer_norm/rms_norm need `x: [.., n]` and parameters `[n]`, found `{Self}` and `{G}`",
    label = "this parameter's length must equal the last dimension of `x` (`{Self}`)"
)]
pub trait NormShapes<G>: Shape {
    /// Number of rows (the product of the leading dimensions).
    const ROWS: usize;
    /// Length `n` of the normalised axis.
    const COLS: usize;
}
impl<const N: usize> NormShapes<Rank1<N>> for Rank1<N> {
    const ROWS: usize = 1;
    const COLS: usize = N;
}
impl<const A: usize, const N: usize> NormShapes<Rank1<N>> for Rank2<A, N> {
    const ROWS: usize = A;
    const COLS: usize = N;
}
impl<const A: usize, const B: usize, const N: usize> NormShapes<Rank1<N>> for Rank3<A, B, N> {
    const ROWS: usize = A * B;
    const COLS: usize = N;
}
impl<const A: usize, const B: usize, const C: usize, const N: usize> NormShapes<Rank1<N>>
    for Rank4<A, B, C, N>
{
    const ROWS: usize = A * B * C;
    const COLS: usize = N;
}

op_node! {
    /// `layer_norm(x, γ, β, eps)` over the last axis.
    LayerNorm<S>[3, eps: f64] => S
}

op_node! {
    /// `rms_norm(x, γ, eps)` over the last axis.
    RmsNorm<S>[2, eps: f64] => S
}

/// The `eps` literal of a normalisation: positive and finite (a zero or negative one would make
/// `var + eps` reach 0, and no finite bound could be given for a constant row).
fn positive_eps(op: &'static str, eps: f64) -> Result<f64, Error> {
    if eps.is_finite() && eps > 0.0 {
        Ok(eps)
    } else {
        Err(Error::InvalidConstant {
            op,
            param: "eps",
            value: eps,
        })
    }
}

/// `layer_norm(x, γ, β, eps) = (x − mean)/√(var + eps)·γ + β` over the last axis (biased
/// variance, PyTorch's `F.layer_norm(x, [n], γ, β, eps)`), for `x: […, n]`, `γ, β: [n]`.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, Rank2, RevGraphScale, TList};
/// type G = Seg<Nil, (Rank2<2, 3>, Rank1<3>, Rank1<3>)>;
/// let (g, (x, ga, be)) = RevGraphScale::<f32, G, Nil, _>::nil(scale_core::brand!());
/// let (g, y) = g.snoc(ops::layer_norm(x, ga, be, 1e-5)?);
/// let (g, s) = g.snoc(ops::sum(y));
/// let xr = TList::from_arrays(vec![
///     ndarray::arr2(&[[1.0f32, 2.0, 3.0], [4.0, 4.0, 4.0]]).into_dyn(),
///     ndarray::arr1(&[1.0f32, 1.0, 1.0]).into_dyn(),
///     ndarray::arr1(&[0.0f32, 0.0, 0.0]).into_dyn(),
/// ])?;
/// let (e, b) = g.exact_inputs(&xr);
/// let (seed, es, bs) = g.loss_seed(s);
/// let cert = g.certify(xr, &e, &b, &seed, &es, &bs);
/// assert!(cert.value(s).abs() < 1e-5); // every normalised row sums to 0
/// assert!(cert.eps.get(y).get() < 1e-5);
/// assert!(ops::layer_norm(x, ga, be, 0.0).is_err()); // eps must be positive
/// # Ok::<(), scale_core::Error>(())
/// ```
pub fn layer_norm<S: NormShapes<G>, G: Shape, B>(
    x: Var<S, B>,
    gamma: Var<G, B>,
    beta: Var<G, B>,
    eps: f64,
) -> Result<LayerNorm<S, B>, Error> {
    Ok(LayerNorm::new(
        [x.arg(), gamma.arg(), beta.arg()],
        positive_eps("layer_norm", eps)?,
    ))
}

/// `rms_norm(x, γ, eps) = x / √(mean(x²) + eps) · γ` over the last axis (PyTorch's
/// `F.rms_norm(x, [n], γ, eps)`), for `x: […, n]`, `γ: [n]`.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, RevGraphScale, TList};
/// type G = Seg<Nil, (Rank1<2>, Rank1<2>)>;
/// let (g, (x, ga)) = RevGraphScale::<f64, G, Nil, _>::nil(scale_core::brand!());
/// let (g, y) = g.snoc(ops::rms_norm(x, ga, 1e-6)?);
/// let (g, s) = g.snoc(ops::sum(y));
/// let xr = TList::from_arrays(vec![
///     ndarray::arr1(&[3.0f64, -4.0]).into_dyn(),
///     ndarray::arr1(&[1.0f64, 1.0]).into_dyn(),
/// ])?;
/// let (e, b) = g.exact_inputs(&xr);
/// let (seed, es, bs) = g.loss_seed(s);
/// let cert = g.certify(xr, &e, &b, &seed, &es, &bs);
/// // rms = √12.5: y = (3, −4)/√12.5
/// assert!((cert.value(s) - (-1.0 / (12.5f64 + 1e-6).sqrt())).abs() < 1e-12);
/// # Ok::<(), scale_core::Error>(())
/// ```
pub fn rms_norm<S: NormShapes<G>, G: Shape, B>(
    x: Var<S, B>,
    gamma: Var<G, B>,
    eps: f64,
) -> Result<RmsNorm<S, B>, Error> {
    Ok(RmsNorm::new(
        [x.arg(), gamma.arg()],
        positive_eps("rms_norm", eps)?,
    ))
}

// ------------------------------------------------------------------------------ the kernel

/// What the row kernel needs beyond `+ − × ÷`, supplied by each arithmetic: a square root, a
/// sum, a square (an interval's `x·x` would straddle 0) and whether to normalise by `·(1/σ)`.
/// A trait rather than a table of function pointers, so that the runtime's kernel inlines its
/// square and sums (called per entry and per row, the indirect calls were 5 % of the
/// transformer block's runtime step).
trait Ar<T: Copy> {
    fn sqrt(&self, v: T) -> T;
    fn sum(&self, v: &[T]) -> T;
    /// [`Ar::sum`] of each column of the row-major `terms` (`cols` wide): `γ`'s and `β`'s
    /// cotangents, summed over the rows.
    fn sum_cols(&self, terms: &[T], cols: usize) -> Vec<T> {
        let rows = terms.len() / cols.max(1);
        (0..cols)
            .map(|j| {
                let col: Vec<T> = (0..rows).map(|k| terms[k * cols + j]).collect();
                self.sum(&col)
            })
            .collect()
    }
    fn sq(&self, v: T) -> T;
    fn by_recip(&self) -> bool;
    /// Intersect `n̂ᵢ` with `[−k, k]` (`k ≥ √n`, an exact fact) when [`Ar::clamps`]: rigorous
    /// enclosures of `c/σ` lose it through dependency and would poke out of the scale bound
    /// `√n·B_γ`.
    fn clamp(&self, v: T, k: f64) -> T;
    fn clamps(&self) -> bool;
}

/// The spec scalar's arithmetic: `√v` by the enclosure's own square root in an exact
/// arithmetic, and by `exp(ln v / 2)` where the arithmetic models runtimes (its modelled `ln`
/// and `exp` errors cover a runtime's `sqrt` as well as an approximate `rsqrt`; both give the
/// whole line outside the domain, never a wrong value); [`SpecScalar::sum`]; and in the
/// any-implementation mode `·(1/σ)`, whose two modelled roundings cover a runtime's single
/// division as well as PyTorch's `rstd` product. (`exp(ln v / 2)` in the interval arithmetic
/// had cost two correctly rounded big-float evaluations per row: 44 % of a certified
/// transformer step.) The exact arithmetics (intervals, balls) also normalise by `·(1/σ)`: one
/// enclosed reciprocal per row and a product per entry enclose `c/σ` as surely as a quotient
/// per entry, a rounding wider, at half the cost (two quotients per entry were 6 % of a
/// certified transformer step).
struct SpecAr;

impl<T: SpecScalar> Ar<T> for SpecAr {
    fn sqrt(&self, v: T) -> T {
        if T::MODELS_RUNTIME {
            (v.ln() * T::from_f64(0.5)).exp()
        } else {
            v.sqrt()
        }
    }
    fn sum(&self, v: &[T]) -> T {
        T::sum(v.iter().copied())
    }
    fn sq(&self, v: T) -> T {
        v.square()
    }
    fn by_recip(&self) -> bool {
        T::MODELS_RUNTIME || T::RIGOROUS
    }
    fn clamp(&self, v: T, k: f64) -> T {
        let k = T::from_f64(k);
        -((-(v.max(-k))).max(-k))
    }
    // Not where the arithmetic models a runtime, whose rounded n̂ may exceed √n.
    fn clamps(&self) -> bool {
        T::RIGOROUS && !T::MODELS_RUNTIME
    }
}

/// The runtime's: IEEE square root, sums in eight interleaved lanes ([`sum_lanes`]: the bounds
/// never assume an order, they measure the result).
struct RtAr;

impl<R: Runtime> Ar<R> for RtAr {
    fn sqrt(&self, v: R) -> R {
        v.sqrt()
    }
    fn sum(&self, v: &[R]) -> R {
        sum_lanes(v)
    }
    // `sum_lanes` of each column, accumulated row by row: lane `l` of a column is the running
    // sum of its rows `k ≡ l (mod 8)` in order, as in `sum_lanes`, so the bits are the same
    // (gathering the columns first was half of layer norm's VJP).
    fn sum_cols(&self, terms: &[R], cols: usize) -> Vec<R> {
        if cols == 0 {
            return Vec::new();
        }
        let mut lanes = vec![R::zero(); 8 * cols];
        for (k, row) in terms.chunks_exact(cols).enumerate() {
            let lane = &mut lanes[(k % 8) * cols..(k % 8 + 1) * cols];
            for (a, &t) in lane.iter_mut().zip(row) {
                *a = *a + t;
            }
        }
        let lane = |l: usize, j: usize| lanes[l * cols + j];
        (0..cols)
            .map(|j| {
                ((lane(0, j) + lane(1, j)) + (lane(2, j) + lane(3, j)))
                    + ((lane(4, j) + lane(5, j)) + (lane(6, j) + lane(7, j)))
            })
            .collect()
    }
    fn sq(&self, v: R) -> R {
        v * v
    }
    fn by_recip(&self) -> bool {
        false
    }
    fn clamp(&self, v: R, _k: f64) -> R {
        v
    }
    fn clamps(&self) -> bool {
        false
    }
}

/// One row's stages: the centred values (the input itself for `rms_norm`), the (biased)
/// variance or mean square, `σ = √(· + eps)`, the normalised values and the output.
struct Stages<T> {
    c: Vec<T>,
    var: T,
    sd: T,
    nrm: Vec<T>,
    y: Vec<T>,
}

/// What the runtime forward keeps for the VJP: every row's normalised values `n̂` (row-major,
/// as the input) and its `σ`.
struct NormSaved<T> {
    nrm: Vec<T>,
    sd: Vec<T>,
}

/// The forward kernel of one row, in any arithmetic: `center` selects layer norm (`x − mean`)
/// over RMS norm; `affine` is `(γ, β)` (`β` is layer norm's shift), and without it the output
/// `y` is left empty (a VJP needs only the stages before it: on interval boxes the product
/// `n̂·γ` per entry was a fifth of the layer-norm VJP bound).
fn row<T: Arith>(
    a: &impl Ar<T>,
    x: &[T],
    affine: Option<(&[T], Option<&[T]>)>,
    eps: T,
    center: bool,
) -> Stages<T> {
    let n = T::lit(x.len() as f64);
    let c: Vec<T> = if center {
        let mu = a.sum(x) / n;
        x.iter().map(|&v| v - mu).collect()
    } else {
        x.to_vec()
    };
    let sq: Vec<T> = c.iter().map(|&v| a.sq(v)).collect();
    let var = a.sum(&sq) / n;
    let sd = a.sqrt(var + eps);
    let mut nrm: Vec<T> = if a.by_recip() {
        let r = T::lit(1.0) / sd;
        c.iter().map(|&v| v * r).collect()
    } else {
        c.iter().map(|&v| v / sd).collect()
    };
    if a.clamps() {
        let k = sqrt_n_up(x.len());
        nrm.iter_mut().for_each(|v| *v = a.clamp(*v, k));
    }
    let y = match affine {
        Some((gamma, beta)) => nrm
            .iter()
            .zip(gamma)
            .enumerate()
            .map(|(j, (&v, &g))| match beta {
                Some(b) => v * g + b[j],
                None => v * g,
            })
            .collect(),
        None => Vec::new(),
    };
    Stages { c, var, sd, nrm, y }
}

/// The VJP of one row for the output cotangent `d`: the input's cotangent
/// `(gδ − mean(gδ) − n̂·mean(gδ·n̂))/σ` (layer norm; RMS norm has no `mean(gδ)` term), and the
/// row's terms `δ·n̂` of `γ`'s cotangent (`β`'s are `δ` itself).
fn vjp_row<T: Arith>(
    a: &impl Ar<T>,
    (nrm, sd): (&[T], T),
    gamma: &[T],
    d: &[T],
    center: bool,
) -> (Vec<T>, Vec<T>) {
    let n = T::lit(d.len() as f64);
    let gd: Vec<T> = d.iter().zip(gamma).map(|(&d, &g)| d * g).collect();
    let gn: Vec<T> = gd.iter().zip(nrm).map(|(&g, &v)| g * v).collect();
    let m2 = a.sum(&gn) / n;
    let m1 = if center { Some(a.sum(&gd) / n) } else { None };
    let r = a.by_recip().then(|| T::lit(1.0) / sd);
    let dx = gd
        .iter()
        .zip(nrm)
        .map(|(&g, &v)| {
            let t = match m1 {
                Some(m1) => g - m1 - v * m2,
                None => g - v * m2,
            };
            match r {
                Some(r) => t * r,
                None => t / sd,
            }
        })
        .collect();
    let dg = d.iter().zip(nrm).map(|(&d, &v)| d * v).collect();
    (dx, dg)
}

// ------------------------------------------------------------------- shared node machinery

/// What distinguishes the two ops for the shared machinery.
struct Norm<'a> {
    args: &'a [Arg],
    eps: f64,
    center: bool,
    cols: usize,
}

/// An upper bound on `√n` (the largest `|x̂ᵢ − μ|/σ` of a row of `n`, and of `|xᵢ|/rms`).
fn sqrt_n_up(n: usize) -> f64 {
    sqrt_up(n as f64)
}

/// Error bound of a runtime value `r` whose exact value lies in `encl` (for inputs within their
/// eps): `encl` is the spec's formula evaluated in [`Ball`] arithmetic on balls `x̂ ± ε` that
/// contain the exact inputs, so it holds the exact value (balls are rigorous, and to first order
/// as narrow as intervals: four times faster than the interval passes these replaced in the
/// sixteenth session, for bounds 2–4 % looser in the propagated modes). `pt` (the enclosure at the
/// runtime operands) adds its width once more for rigorous enclosures computed another way (the
/// `f64` interval spec's outward rounding; where that reaches further the harness re-decides at
/// 2400 bits) and `ENCL·|r|` the last ulps.
///
/// Plain `f64` over nonnegative terms, six roundings covered by [`rad`] (`2·r` is the width of
/// `pt` exactly): directed rounding here, per entry and twice per pass, was a quarter of an
/// order-free transformer step. A non-finite `r` makes the sum `+∞` or NaN, which `rad` maps
/// to `+∞`.
#[inline]
fn dist(encl: Ball, pt: Ball, r: f64) -> f64 {
    let s = (r - encl.mid()).abs() + encl.rad() + 2.0 * pt.rad() + ENCL * r.abs() + TINY;
    rad(s, 6)
}

/// Per-stage error bounds of one pass, maximised over rows.
#[derive(Default, Clone, Copy)]
struct StageEps {
    c: f64,
    var: f64,
    sd: f64,
    nrm: f64,
    y: f64,
}

impl Norm<'_> {
    fn spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let x = flat_ref(at(ctx, &self.args[0]));
        let g = flat_ref(at(ctx, &self.args[1]));
        let b = self.center.then(|| flat_ref(at(ctx, &self.args[2])));
        let a = SpecAr;
        let eps = spec_eps::<T>(self.eps);
        let mut out = Vec::with_capacity(x.len());
        for r in x.chunks(self.cols.max(1)) {
            let st = row(&a, r, Some((&g, b.as_deref())), eps, self.center);
            out.extend(st.y);
        }
        ArrayD::from_shape_vec(IxDyn(self.args[0].dims), out).expect("invariant: same shape")
    }

    fn spec_vjp<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let x = flat_ref(at(ctx, &self.args[0]));
        let g = flat_ref(at(ctx, &self.args[1]));
        let d = flat_ref(delta);
        let a = SpecAr;
        let eps = spec_eps::<T>(self.eps);
        let (dx, dg, db) = vjp_all(&a, &x, &g, &d, eps, self.cols, self.center, true, None);
        let mut v = vec![
            ArrayD::from_shape_vec(IxDyn(self.args[0].dims), dx).expect("invariant: same shape"),
            ArrayD::from_shape_vec(IxDyn(self.args[1].dims), dg).expect("invariant: [n]"),
        ];
        if self.center {
            v.push(ArrayD::from_shape_vec(IxDyn(self.args[2].dims), db).expect("invariant: [n]"));
        }
        v
    }

    fn runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        self.runtime_saving(ctx, false).0
    }

    /// [`Norm::runtime`], and with `keep` the rows' normalised values and `σ` for the VJP (the
    /// same bits it would recompute: [`row`] computes them the same way with or without the
    /// affine step), so that the backward sweep does not run each row's forward again.
    fn runtime_saving<R: Runtime>(
        &self,
        ctx: &[ArrayD<R>],
        keep: bool,
    ) -> (ArrayD<R>, NormSaved<R>) {
        let x = flat_ref(at(ctx, &self.args[0]));
        let g = flat_ref(at(ctx, &self.args[1]));
        let b = self.center.then(|| flat_ref(at(ctx, &self.args[2])));
        let eps = R::lit(self.eps);
        let mut out = Vec::with_capacity(x.len());
        let rows = if keep { x.len() / self.cols.max(1) } else { 0 };
        let mut saved = NormSaved {
            nrm: Vec::with_capacity(if keep { x.len() } else { 0 }),
            sd: Vec::with_capacity(rows),
        };
        for r in x.chunks(self.cols.max(1)) {
            let st = row(&RtAr, r, Some((&g, b.as_deref())), eps, self.center);
            out.extend(st.y);
            if keep {
                saved.nrm.extend(st.nrm);
                saved.sd.push(st.sd);
            }
        }
        let out =
            ArrayD::from_shape_vec(IxDyn(self.args[0].dims), out).expect("invariant: same shape");
        (out, saved)
    }

    /// The runtime VJP of the wanted arguments (`x`, `γ`, and layer norm's `β`), from the
    /// forward's saved rows when given.
    fn runtime_vjp_some<R: Runtime>(
        &self,
        ctx: &[ArrayD<R>],
        delta: &ArrayD<R>,
        wants: &[bool],
        saved: Option<&NormSaved<R>>,
    ) -> Vec<Option<ArrayD<R>>> {
        let x = flat_ref(at(ctx, &self.args[0]));
        let g = flat_ref(at(ctx, &self.args[1]));
        let d = flat_ref(delta);
        let want = |i: usize| wants.get(i) == Some(&true);
        let (dx, dg, db) = vjp_all(
            &RtAr,
            &x,
            &g,
            &d,
            R::lit(self.eps),
            self.cols,
            self.center,
            want(0),
            saved,
        );
        let array = |i: usize, v: Vec<R>| {
            want(i).then(|| {
                ArrayD::from_shape_vec(IxDyn(self.args[i].dims), v).expect("invariant: shape")
            })
        };
        let mut v = vec![array(0, dx), array(1, dg)];
        if self.center {
            v.push(array(2, db));
        }
        v
    }

    fn runtime_vjp<R: Runtime>(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        let all = [true; 3];
        let v = self.runtime_vjp_some(ctx, delta, &all, None);
        v.into_iter()
            .map(|a| a.expect("invariant: every argument wanted"))
            .collect()
    }

    /// Whether every operand is finite and has a finite eps (otherwise no finite bound: SPEC §5).
    fn bounded<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>]) -> bool {
        self.args
            .iter()
            .all(|a| !eps[a.pos].is_infinite() && at(ctx, a).iter().all(|v| v.is_finite()))
    }

    /// Whether every operand is exact (`ε = 0`): its balls `x̂ ± ε` are then the points `x̂`.
    fn exact(&self, eps: &[Bound]) -> bool {
        self.args.iter().all(|a| eps[a.pos].get() == 0.0)
    }

    /// The balls `x̂ ± ε` and the points `x̂` of the operands.
    fn boxes<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>]) -> Vec<[Vec<Ball>; 2]> {
        self.args
            .iter()
            .map(|a| {
                let e = eps[a.pos].get();
                let v: Vec<f64> = at(ctx, a).iter().map(|v| v.to_spec()).collect();
                [
                    v.iter().map(|&v| Ball::new(v, e)).collect(),
                    v.iter().map(|&v| Ball::new(v, 0.0)).collect(),
                ]
            })
            .collect()
    }

    /// The forward stage errors (see the module documentation).
    fn stage_eps<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>]) -> Option<StageEps> {
        if !self.bounded(eps, ctx) {
            return None;
        }
        let bx = self.boxes(eps, ctx);
        // Exact operands make the boxes the points: one ball pass, not two equal ones.
        let exact = self.exact(eps);
        let x = flat_ref(at(ctx, &self.args[0]));
        let g = flat_ref(at(ctx, &self.args[1]));
        let b = self.center.then(|| flat_ref(at(ctx, &self.args[2])));
        let (ia, ra) = (SpecAr, RtAr);
        let (ie, re) = (Ball::from_f64(self.eps), R::lit(self.eps));
        let mut s = StageEps::default();
        let max = |m: &mut f64, e: &[Ball], p: &[Ball], r: &[R]| {
            for ((&e, &p), &r) in e.iter().zip(p).zip(r) {
                *m = nan_max(*m, dist(e, p, r.to_spec()));
            }
        };
        let n = self.cols;
        for (k, xr) in x.chunks(n.max(1)).enumerate() {
            let rt = row(&ra, xr, Some((&g, b.as_deref())), re, self.center);
            let iv = |w: usize| {
                let beta = self.center.then(|| &bx[2][w][..]);
                row(
                    &ia,
                    &bx[0][w][k * n..(k + 1) * n],
                    Some((&bx[1][w], beta)),
                    ie,
                    self.center,
                )
            };
            let e = iv(0);
            let pt = (!exact).then(|| iv(1));
            let p = pt.as_ref().unwrap_or(&e);
            max(&mut s.c, &e.c, &p.c, &rt.c);
            max(&mut s.var, &[e.var], &[p.var], &[rt.var]);
            max(&mut s.sd, &[e.sd], &[p.sd], &[rt.sd]);
            max(&mut s.nrm, &e.nrm, &p.nrm, &rt.nrm);
            max(&mut s.y, &e.y, &p.y, &rt.y);
        }
        Some(s)
    }

    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>]) -> Bound {
        match self.stage_eps(eps, ctx) {
            // An intermediate that overflowed at run time gives no finite bound, even where the
            // output came out finite (SPEC §5).
            Some(s) if [s.c, s.var, s.sd, s.nrm].iter().all(|v| v.is_finite()) => inflate(s.y, 4),
            _ => Bound::INF,
        }
    }

    fn stages<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>]) -> Vec<(&'static str, Bound)> {
        let s = self.stage_eps(eps, ctx);
        let get = |f: fn(&StageEps) -> f64| s.as_ref().map_or(Bound::INF, |s| inflate(f(s), 4));
        if self.center {
            vec![
                ("centring", get(|s| s.c)),
                ("variance", get(|s| s.var)),
                ("sqrt", get(|s| s.sd)),
                ("division", get(|s| s.nrm)),
                ("affine", get(|s| s.y)),
            ]
        } else {
            vec![
                ("mean square", get(|s| s.var)),
                ("sqrt", get(|s| s.sd)),
                ("division", get(|s| s.nrm)),
                ("scale", get(|s| s.y)),
            ]
        }
    }

    /// `|y| ≤ √n·B_γ + B_β` (every `|n̂ᵢ| ≤ √n`, with or without centring), and the runtime's.
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], out: &ArrayD<R>) -> Bound {
        let mut s = b[self.args[1].pos].scale(sqrt_n_up(self.cols));
        if self.center {
            s += b[self.args[2].pos];
        }
        spec_b(s).max(linf(out))
    }

    /// The VJP error bounds of the wanted arguments (`outs`: their runtime cotangents); `+∞`
    /// for the others. Without the input's, the ball passes skip its formula.
    fn vjp_eps<R: Runtime>(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        (ed, d): (Bound, &ArrayD<R>),
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
    ) -> Vec<Bound> {
        let k = self.args.len();
        if !self.bounded(eps, ctx) || ed.is_infinite() || d.iter().any(|v| !v.is_finite()) {
            return vec![Bound::INF; k];
        }
        let bx = self.boxes(eps, ctx);
        let dv: Vec<f64> = d.iter().map(|v| v.to_spec()).collect();
        let db: Vec<Ball> = dv.iter().map(|&v| Ball::new(v, ed.get())).collect();
        let dp: Vec<Ball> = dv.iter().map(|&v| Ball::new(v, 0.0)).collect();
        let ie = Ball::from_f64(self.eps);
        let ia = SpecAr;
        let (n, c) = (self.cols, self.center);
        let get = |i: usize| wanted(outs, wants, i);
        let with_dx = get(0).is_some();
        // The box pass and the point pass are independent: with two threads, side by side; one
        // pass where they are equal (exact operands and cotangent).
        let point = || vjp_all(&ia, &bx[0][1], &bx[1][1], &dp, ie, n, c, with_dx, None);
        let (e, pt) = if self.exact(eps) && ed.get() == 0.0 {
            (point(), None)
        } else {
            let (e, p) = crate::config::beside(
                dv.len() * n,
                || vjp_all(&ia, &bx[0][0], &bx[1][0], &db, ie, n, c, with_dx, None),
                point,
            );
            (e, Some(p))
        };
        let p = pt.as_ref().unwrap_or(&e);
        let m = |e: &[Ball], p: &[Ball], r: Option<&ArrayD<R>>| {
            let Some(r) = r.filter(|r| r.len() == e.len()) else {
                return Bound::INF;
            };
            let v = e
                .iter()
                .zip(p)
                .zip(r.iter())
                .fold(0.0, |m, ((&e, &p), &r)| nan_max(m, dist(e, p, r.to_spec())));
            inflate(v, 4)
        };
        let mut out = vec![m(&e.0, &p.0, get(0)), m(&e.1, &p.1, get(1))];
        if c {
            out.push(m(&e.2, &p.2, get(2)));
        }
        out
    }

    /// `|∂x| ≤ (2 + √n)·B_δ·B_γ/√eps` (`σ ≥ √eps`, `|mean(gδ·n̂)| ≤ B_δ·B_γ` as `mean n̂² ≤ 1`),
    /// `|∂γ| ≤ rows·√n·B_δ`, `|∂β| ≤ rows·B_δ`; each maxed with the runtime's.
    /// `rt(i)`: the magnitude of the runtime cotangent of argument `i`, `None` where it was not
    /// computed (its scale is then `+∞`).
    fn vjp_scale(
        &self,
        b: &[Bound],
        bd: Bound,
        rows: usize,
        rt: impl Fn(usize) -> Option<Bound>,
    ) -> Vec<Bound> {
        let sn = sqrt_n_up(self.cols);
        // 1/√eps, rounded up (the quotient and root each err by at most one ulp).
        let inv_sd = (1.0 / self.eps.sqrt()) * (1.0 + 1e-15);
        let bg = bd * b[self.args[1].pos];
        let with = |i: usize, s: Bound| rt(i).map_or(Bound::INF, |l| spec_b(s).max(l));
        let mut out = vec![
            with(0, bg.scale(2.0 + sn).scale(inv_sd)),
            with(1, bd.scale(sn).scale(rows as f64)),
        ];
        if self.center {
            out.push(with(2, bd.scale(rows as f64)));
        }
        out
    }
}

/// The spec's `eps`: the literal's `f64` value, and in the any-implementation mode also its
/// rounding to the runtime type (PyTorch casts it to the accumulation type), modelled as one
/// rounded product by 1.
fn spec_eps<T: SpecScalar>(eps: f64) -> T {
    let e = T::from_f64(eps);
    if T::MODELS_RUNTIME { e * T::one() } else { e }
}

/// The VJP of every row: the input's cotangent (row-major; empty without `with_dx`, which
/// saves most of the work when only `γ` and `β` need one), then `γ`'s and `β`'s (column sums
/// over the rows through the arithmetic's sum). `saved`: the forward's rows (the runtime's
/// backward sweep), else each row's stages are computed here.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn vjp_all<T: Arith>(
    a: &impl Ar<T>,
    x: &[T],
    g: &[T],
    d: &[T],
    eps: T,
    cols: usize,
    center: bool,
    with_dx: bool,
    saved: Option<&NormSaved<T>>,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let rows = x.len() / cols.max(1);
    let mut dx = Vec::with_capacity(if with_dx { x.len() } else { 0 });
    // `γ`'s terms row by row, as `δ` is: the columns are summed at the end.
    let mut dg_terms = Vec::with_capacity(x.len());
    let saved = saved.filter(|s| s.nrm.len() == x.len() && s.sd.len() == rows);
    for (k, (xr, dr)) in x.chunks(cols.max(1)).zip(d.chunks(cols.max(1))).enumerate() {
        let st;
        let stages = match saved {
            Some(s) => (&s.nrm[k * cols..(k + 1) * cols], s.sd[k]),
            None => {
                st = row(a, xr, None, eps, center);
                (&st.nrm[..], st.sd)
            }
        };
        if with_dx {
            let (rx, rg) = vjp_row(a, stages, g, dr, center);
            dx.extend(rx);
            dg_terms.extend(rg);
        } else {
            dg_terms.extend(dr.iter().zip(stages.0).map(|(&d, &v)| d * v));
        }
    }
    let dg = a.sum_cols(&dg_terms, cols);
    let db = a.sum_cols(d.get(..rows * cols).unwrap_or(d), cols);
    (dx, dg, db)
}

// -------------------------------------------------------------------------------------- nodes

impl<S: Shape, B> LayerNorm<S, B> {
    fn norm(&self) -> Norm<'_> {
        Norm {
            args: &self.args,
            eps: self.eps,
            center: true,
            cols: self.args[1].dims[0],
        }
    }
}

impl<S: Shape, B> RmsNorm<S, B> {
    fn norm(&self) -> Norm<'_> {
        Norm {
            args: &self.args,
            eps: self.eps,
            center: false,
            cols: self.args[1].dims[0],
        }
    }
}

macro_rules! norm_node {
    ($ty:ident, $name:literal) => {
        impl<S: Shape, B> Op for $ty<S, B> {
            const NAME: &'static str = $name;
            fn args(&self) -> &[Arg] {
                &self.args
            }
            fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
                self.norm().spec(ctx)
            }
            fn vjp_spec<T: SpecScalar>(
                &self,
                ctx: &[ArrayD<T>],
                delta: &ArrayD<T>,
            ) -> Vec<ArrayD<T>> {
                self.norm().spec_vjp(ctx, delta)
            }
        }

        impl<S: Shape, B, R: Runtime> OpRuntime<R> for $ty<S, B> {
            fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
                self.norm().runtime(ctx)
            }
            fn forward_runtime_saving(
                &self,
                ctx: &[ArrayD<R>],
            ) -> (ArrayD<R>, Option<crate::node::Saved>) {
                let (out, saved) = self.norm().runtime_saving(ctx, true);
                (out, Some(Box::new(saved)))
            }
            fn vjp_runtime_saved(
                &self,
                ctx: &[ArrayD<R>],
                saved: Option<&crate::node::Saved>,
                delta: &ArrayD<R>,
                wants: &[bool],
            ) -> Vec<Option<ArrayD<R>>> {
                let saved = saved.and_then(|s| s.downcast_ref::<NormSaved<R>>());
                self.norm().runtime_vjp_some(ctx, delta, wants, saved)
            }
            fn vjp_runtime_some(
                &self,
                ctx: &[ArrayD<R>],
                delta: &ArrayD<R>,
                wants: &[bool],
            ) -> Vec<Option<ArrayD<R>>> {
                self.norm().runtime_vjp_some(ctx, delta, wants, None)
            }
            fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
                self.norm().fwd_eps(eps, ctx)
            }
            fn fwd_stages(
                &self,
                eps: &[Bound],
                ctx: &[ArrayD<R>],
                _out: &ArrayD<R>,
            ) -> Vec<(&'static str, Bound)> {
                self.norm().stages(eps, ctx)
            }
            fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
                self.norm().fwd_scale(b, out)
            }
            fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
                self.norm().runtime_vjp(ctx, delta)
            }
            fn vjp_eps(
                &self,
                eps: &[Bound],
                ctx: &[ArrayD<R>],
                ed: Bound,
                d: &ArrayD<R>,
            ) -> Vec<Bound> {
                let outs: Vec<_> = self.vjp_runtime(ctx, d).into_iter().map(Some).collect();
                let wants = vec![true; outs.len()];
                self.norm().vjp_eps(eps, ctx, (ed, d), &wants, &outs)
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
                self.norm().vjp_eps(eps, ctx, (ed, d), wants, outs)
            }
            fn vjp_scale(
                &self,
                b: &[Bound],
                ctx: &[ArrayD<R>],
                bd: Bound,
                d: &ArrayD<R>,
            ) -> Vec<Bound> {
                let rt = self.vjp_runtime(ctx, d);
                let rows = S::NUMEL / self.args[1].dims[0].max(1);
                self.norm().vjp_scale(b, bd, rows, |i| rt.get(i).map(linf))
            }
            // From the runtime cotangents the backward sweep already computed (recomputing
            // the VJP here was 3.5 % of an order-free transformer step); an argument without
            // one gets `+∞`, as no bound reads it.
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
                let rows = S::NUMEL / self.args[1].dims[0].max(1);
                let rt = |i: usize| out_linf(outs, mags, i).filter(|_| wants.get(i) == Some(&true));
                self.norm().vjp_scale(b, bd, rows, rt)
            }
        }
    };
}

norm_node!(LayerNorm, "layer_norm");
norm_node!(RmsNorm, "rms_norm");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An `f32` entry: ordinary, huge, tiny, subnormal, zero, or not finite.
    fn entry() -> impl Strategy<Value = f32> {
        prop_oneof![
            6 => -4.0f32..4.0,
            1 => (-1.0f32..1.0).prop_map(|x| x * 3e38),
            1 => (-1.0f32..1.0).prop_map(|x| x * 1e-40),
            1 => Just(0.0f32),
            1 => prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY)],
        ]
    }

    proptest! {
        /// The runtime's column sums accumulated row by row are `sum_lanes` of each gathered
        /// column bit for bit (NaN where it is NaN), for any number of rows modulo the lanes.
        #[test]
        fn column_sums_by_rows_are_the_lane_sums(
            (rows, cols) in (0usize..27, 1usize..6),
            vals in proptest::collection::vec(entry(), 26 * 5),
        ) {
            let terms = &vals[..rows * cols];
            let got = Ar::<f32>::sum_cols(&RtAr, terms, cols);
            let bits = |v: f32| if v.is_nan() { u32::MAX } else { v.to_bits() };
            for (j, &g) in got.iter().enumerate() {
                let col: Vec<f32> = (0..rows).map(|k| terms[k * cols + j]).collect();
                prop_assert_eq!(bits(g), bits(sum_lanes(&col)), "column {}", j);
            }
            prop_assert_eq!(got.len(), cols);
        }

        /// The backward sweep's VJP from the forward's saved rows is the VJP that recomputes
        /// them, bit for bit (NaNs included), for both norms and any set of wanted arguments;
        /// the saving forward gives the plain forward's output.
        #[test]
        fn saved_rows_give_the_same_vjp(
            (rows, cols) in (0usize..4, 1usize..7),
            vals in proptest::collection::vec(entry(), 3 * 4 * 6 + 2 * 6),
            center in any::<bool>(),
            wants in proptest::array::uniform3(any::<bool>()),
        ) {
            let dims_x: &'static [usize] = Box::leak(vec![rows, cols].into_boxed_slice());
            let dims_c: &'static [usize] = Box::leak(vec![cols].into_boxed_slice());
            let args = [
                Arg { pos: 0, dims: dims_x },
                Arg { pos: 1, dims: dims_c },
                Arg { pos: 2, dims: dims_c },
            ];
            let norm = Norm { args: &args, eps: 1e-5, center, cols };
            let mut it = vals.iter().copied();
            let mut take = |n: usize, dims: &[usize]| {
                let v: Vec<f32> = it.by_ref().take(n).collect();
                ArrayD::from_shape_vec(IxDyn(dims), v).unwrap()
            };
            let n = rows * cols;
            let ctx = vec![take(n, dims_x), take(cols, dims_c), take(cols, dims_c)];
            let delta = take(n, dims_x);
            let (out, saved) = norm.runtime_saving(&ctx, true);
            let bits = |a: &ArrayD<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&out), bits(&norm.runtime(&ctx)));
            let fresh = norm.runtime_vjp(&ctx, &delta);
            let kept = norm.runtime_vjp_some(&ctx, &delta, &wants, Some(&saved));
            prop_assert_eq!(kept.len(), fresh.len());
            for (i, (k, f)) in kept.iter().zip(&fresh).enumerate() {
                match k {
                    Some(k) => prop_assert_eq!(bits(k), bits(f), "argument {}", i),
                    None => prop_assert!(!wants[i], "argument {} wanted but missing", i),
                }
            }
        }
    }

    /// The VJP bounds of `γ` and `β` do not depend on whether the input's is wanted (without
    /// it the ball passes skip the input's formula), and an unwanted argument gets `+∞`.
    #[test]
    fn vjp_bounds_without_the_input_are_the_same() {
        let args = [
            Arg {
                pos: 0,
                dims: &[3, 4],
            },
            Arg { pos: 1, dims: &[4] },
            Arg { pos: 2, dims: &[4] },
        ];
        let norm = Norm {
            args: &args,
            eps: 1e-5,
            center: true,
            cols: 4,
        };
        let arr = |dims: &[usize], v: &[f32]| ArrayD::from_shape_vec(IxDyn(dims), v.to_vec());
        let ctx = vec![
            arr(
                &[3, 4],
                &[
                    0.5, -1.25, 3.0, 0.0, 1e-3, 2.0, -2.0, 7.5, 1.0, 1.0, 1.0, 1.5,
                ],
            )
            .unwrap(),
            arr(&[4], &[1.0, -0.5, 2.0, 0.25]).unwrap(),
            arr(&[4], &[0.1, 0.0, -0.3, 1.0]).unwrap(),
        ];
        let d = arr(
            &[3, 4],
            &[
                0.3, -0.1, 0.0, 2.0, 1.0, -1.0, 0.5, 0.25, -0.75, 0.0, 1e-4, 3.0,
            ],
        )
        .unwrap();
        let eps = [Bound::new(1e-7), Bound::new(2e-8), Bound::new(1e-8)];
        let ed = Bound::new(3e-8);
        let outs: Vec<_> = norm.runtime_vjp(&ctx, &d).into_iter().map(Some).collect();
        let all = norm.vjp_eps(&eps, &ctx, (ed, &d), &[true; 3], &outs);
        let some = norm.vjp_eps(&eps, &ctx, (ed, &d), &[false, true, true], &outs);
        assert!(
            all.iter().all(|b| b.get().is_finite() && b.get() > 0.0),
            "{all:?}"
        );
        assert_eq!(some[0], Bound::INF);
        assert_eq!(&some[1..], &all[1..]);
    }
}
