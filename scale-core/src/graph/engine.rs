//! The linear-time evaluation engine shared by every graph kind.
//!
//! Each function walks the nodes once; backward sweeps pop the last context entry as the node's
//! cotangent `δ` (SPEC: "split the seed into prefix and δ"), so no prefix is ever re-evaluated.

use crate::bound::Bound;
use crate::node::{FwdNode, FwdNodeScale, RevNode, SpecForward, SpecVjp};
use crate::ops::util::{all_finite, fold_elems, linf};
use crate::scalar::{Runtime, SpecScalar};
use ndarray::{ArrayD, Zip};

/// An accumulation rule for bounds: `(acc bound, vjp bound, runtime acc, runtime vjp) → bound of
/// the runtime sum acc + vjp`.
pub type AddRule<'a, R> = &'a dyn Fn(Bound, Bound, &ArrayD<R>, &ArrayD<R>) -> Bound;

pub(crate) fn forward_runtime<R: Runtime, N: ?Sized + FwdNode<R>>(
    nodes: &[Box<N>],
    mut ctx: Vec<ArrayD<R>>,
) -> Vec<ArrayD<R>> {
    ctx.reserve(nodes.len());
    for n in nodes {
        let out = n.forward_runtime(&ctx);
        ctx.push(out);
    }
    ctx
}

pub(crate) fn forward_spec<S: SpecScalar, N: ?Sized + SpecForward<S>>(
    nodes: &[Box<N>],
    mut ctx: Vec<ArrayD<S>>,
) -> Vec<ArrayD<S>> {
    ctx.reserve(nodes.len());
    for n in nodes {
        let out = n.forward_spec(&ctx);
        ctx.push(out);
    }
    ctx
}

/// Forward error bounds, given the runtime context of every entry (`ctx.len() = |Γ| + nodes`).
pub(crate) fn forward_eps<R: Runtime, N: ?Sized + FwdNode<R>>(
    nodes: &[Box<N>],
    eps_in: &[Bound],
    ctx: &[ArrayD<R>],
) -> Vec<Bound> {
    let n_in = eps_in.len();
    let mut eps = Vec::with_capacity(ctx.len());
    eps.extend_from_slice(eps_in);
    for (k, n) in nodes.iter().enumerate() {
        let p = n_in + k;
        // SPEC §5: a non-finite runtime value has no finite tolerance, whatever the node says.
        let e = if all_finite(&ctx[p]) {
            n.fwd_eps(&eps, &ctx[..p], &ctx[p])
        } else {
            Bound::INF
        };
        eps.push(e);
    }
    eps
}

/// Forward scale bounds. With `eps` (the forward error bounds of every entry), each node's bound
/// is also intersected with `max|runtime| + eps` (inputs keep the bounds the caller gave), which bounds the spec value too when the inputs satisfy
/// `approx` — the premise every scale obligation already has — and is usually far tighter than
/// what a node can derive from its arguments' scales alone.
pub(crate) fn forward_scale<R: Runtime, N: ?Sized + FwdNodeScale<R>>(
    nodes: &[Box<N>],
    b_in: &[Bound],
    ctx: &[ArrayD<R>],
    eps: Option<&[Bound]>,
) -> Vec<Bound> {
    let n_in = b_in.len();
    let mut b = Vec::with_capacity(ctx.len());
    b.extend_from_slice(b_in);
    for (k, n) in nodes.iter().enumerate() {
        let p = n_in + k;
        let mut s = if all_finite(&ctx[p]) {
            n.fwd_scale(&b, &ctx[..p], &ctx[p])
        } else {
            Bound::INF
        };
        if let Some(e) = eps {
            s = s.min(linf(&ctx[p]) + e[p]);
        }
        b.push(s);
    }
    b
}

/// Spec backprop (no bounds).
pub(crate) fn backprop_spec<R: Runtime, S: SpecScalar, N: ?Sized + RevNode<R> + SpecVjp<S>>(
    nodes: &[Box<N>],
    ctx: &[ArrayD<S>],
    seed: Vec<ArrayD<S>>,
) -> Vec<ArrayD<S>> {
    let n_in = ctx.len() - nodes.len();
    let mut cot = seed;
    for (k, n) in nodes.iter().enumerate().rev() {
        let p = n_in + k;
        let delta = cot.pop().expect("invariant: one cotangent per entry");
        let vs = n.vjp_spec(&ctx[..p], &delta);
        for (arg, v) in n.args().iter().zip(vs) {
            Zip::from(&mut cot[arg.pos])
                .and(&v)
                .for_each(|c, &v| *c = *c + v);
        }
    }
    cot
}

/// A node's VJP bound part: `(node, context bounds, runtime context, δ bound, δ, wanted args,
/// runtime cotangents) → bound per arg`.
pub(crate) type VjpPart<R, N> =
    fn(&N, &[Bound], &[ArrayD<R>], Bound, &ArrayD<R>, &[bool], &[Option<ArrayD<R>>]) -> Vec<Bound>;

/// Which entries of `Γ ++ ss` need a cotangent: the inputs in `wrt`, and every node output that
/// depends on one of them. Backprop skips the rest (no VJP work for constants and data).
pub(crate) fn needs<R: Runtime, N: ?Sized + FwdNode<R>>(
    nodes: &[Box<N>],
    wrt: &[bool],
) -> Vec<bool> {
    let mut need = Vec::with_capacity(wrt.len() + nodes.len());
    need.extend_from_slice(wrt);
    for n in nodes {
        let any = n.args().iter().any(|a| need[a.pos]);
        need.push(any);
    }
    need
}

/// A bound tracked through a backward sweep (eps or scale).
pub(crate) struct Track<'a, R, N: ?Sized> {
    /// Forward bounds of every entry.
    pub fwd: &'a [Bound],
    /// Bounds of the accumulated cotangents (starts as the seed's bounds).
    pub acc: Vec<Bound>,
    /// The node part that bounds each argument's cotangent (`vjp_eps` or `vjp_scale`).
    pub part: VjpPart<R, N>,
    /// How bounds combine under the runtime addition into the prefix.
    pub add: AddRule<'a, R>,
    /// Whether `add(0, e, zeros, v)` is `e` (true of the default rules: adding into an untouched
    /// zero seed is exact), so the rule's pass over the tensors can be skipped then.
    pub exact_into_zero: bool,
}

/// Runtime backprop, optionally tracking eps and/or scale bounds along the way. Returns the
/// cotangents of the inputs; tracked bounds are left in each `Track::acc` (truncated to `|Γ|`).
/// `need` (from [`needs`]) says which entries need a cotangent; the others keep their seed.
///
/// Cotangents start as references to the seed and are materialised on first contribution; when
/// the seed entry is zero the VJP is moved in (computing `v + 0`, exactly the runtime sum), so
/// neither the seed nor zero accumulators are ever copied.
pub(crate) fn backprop_runtime<R: Runtime, N: ?Sized + RevNode<R>>(
    nodes: &[Box<N>],
    ctx: &[ArrayD<R>],
    seed: &[ArrayD<R>],
    need: &[bool],
    tracks: &mut [&mut Track<'_, R, N>],
) -> Vec<ArrayD<R>> {
    let n_in = ctx.len() - nodes.len();
    let mut cot: Vec<Option<ArrayD<R>>> = (0..ctx.len()).map(|_| None).collect();
    let mut wants = Vec::new();
    for (k, n) in nodes.iter().enumerate().rev() {
        let p = n_in + k;
        let owned = cot.pop().expect("invariant: one cotangent per entry");
        let delta = owned.as_ref().unwrap_or(&seed[p]);
        let mut deltas_b = Vec::with_capacity(tracks.len());
        for t in tracks.iter_mut() {
            deltas_b.push(t.acc.pop().expect("invariant: one bound per entry"));
        }
        if !need[p] {
            continue;
        }
        wants.clear();
        wants.extend(n.args().iter().map(|a| need[a.pos]));
        let vs = n.vjp_runtime_some(&ctx[..p], delta, &wants);
        let parts: Vec<Vec<Bound>> = tracks
            .iter()
            .zip(&deltas_b)
            .map(|(t, &d)| (t.part)(n, &t.fwd[..p], &ctx[..p], d, delta, &wants, &vs))
            .collect();
        for (i, (arg, v)) in n.args().iter().zip(vs).enumerate() {
            let Some(mut v) = v else { continue };
            let pos = arg.pos;
            let finite = tracks.is_empty() || all_finite(&v);
            let zero_seed = cot[pos].is_none()
                && fold_elems(&seed[pos], true, |z, x| {
                    z & (x == R::zero() && x.is_sign_positive())
                });
            for (t, part) in tracks.iter_mut().zip(&parts) {
                let e = match part.get(i) {
                    Some(&e) if finite => e,
                    _ => Bound::INF,
                };
                t.acc[pos] = if zero_seed && t.exact_into_zero && t.acc[pos] == Bound::ZERO {
                    e
                } else {
                    let acc = cot[pos].as_ref().unwrap_or(&seed[pos]);
                    (t.add)(t.acc[pos], e, acc, &v)
                };
            }
            match &mut cot[pos] {
                Some(c) => Zip::from(c).and(&v).for_each(|c, &v| *c = *c + v),
                slot @ None => {
                    let s = &seed[pos];
                    if zero_seed {
                        v.mapv_inplace(|x| x + R::zero());
                    } else {
                        Zip::from(&mut v).and(s).for_each(|v, &s| *v = s + *v);
                    }
                    *slot = Some(v);
                }
            }
        }
    }
    cot.into_iter()
        .zip(seed)
        .map(|(c, s)| c.unwrap_or_else(|| s.clone()))
        .collect()
}
