//! The linear-time evaluation engine shared by every graph kind.
//!
//! Each function walks the nodes once; backward sweeps pop the last context entry as the node's
//! cotangent `δ` (SPEC: "split the seed into prefix and δ"), so no prefix is ever re-evaluated.

use crate::bound::Bound;
use crate::handle::Arg;
use crate::lists::TList;
use crate::node::{FwdNode, FwdNodeScale, RevNode, Saved, SpecForward, SpecVjp};
use crate::scalar::{Runtime, SpecScalar};
use crate::tensor::{all_finite, fold_elems, linf};
use ndarray::{ArrayD, Zip};

/// An accumulation rule for bounds: `(acc bound, vjp bound, runtime acc, runtime vjp) → bound of
/// the runtime sum acc + vjp`.
pub type AddRule<'a, R> = &'a dyn Fn(Bound, Bound, &ArrayD<R>, &ArrayD<R>) -> Bound;

/// A sound bound of one entry (a value or a cotangent) established before a sweep, from this
/// run's exact enclosure: `tight` when its slack is negligible (then it is within 1.12× of the
/// true error, and no propagated bound can improve on it by more than that).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Known {
    pub eps: Bound,
    pub tight: bool,
}

impl Known {
    /// Nothing known.
    pub const NONE: Known = Known {
        eps: Bound::INF,
        tight: false,
    };
}

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

/// [`forward_runtime`], with what each node kept for its VJP ([`FwdNode::forward_runtime_saving`];
/// one entry per node) — for a sweep that backpropagates through this same context next.
pub(crate) fn forward_runtime_saving<R: Runtime, N: ?Sized + FwdNode<R>>(
    nodes: &[Box<N>],
    mut ctx: Vec<ArrayD<R>>,
) -> (Vec<ArrayD<R>>, Vec<Option<Saved>>) {
    ctx.reserve(nodes.len());
    let mut saved = Vec::with_capacity(nodes.len());
    for n in nodes {
        let (out, s) = n.forward_runtime_saving(&ctx);
        ctx.push(out);
        saved.push(s);
    }
    (ctx, saved)
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

/// Which entries of a runtime context are finite: computed once per pass (one sweep over each
/// tensor) and reused by every bound sweep of that pass.
pub(crate) fn finiteness<R: Runtime>(ctx: &[ArrayD<R>]) -> Vec<bool> {
    ctx.iter().map(all_finite).collect()
}

/// `max|·|` of every entry ([`linf`]) and, from the same pass, each entry's [`finiteness`]
/// (`linf` is `+∞` exactly when an entry is not finite): a certified pass needs both, and
/// [`forward_scale`] reads the magnitudes instead of measuring every value again.
pub(crate) fn magnitudes<R: Runtime>(ctx: &[ArrayD<R>]) -> (Vec<Bound>, Vec<bool>) {
    let mags: Vec<Bound> = ctx.iter().map(linf).collect();
    let finite = mags.iter().map(|m| !m.is_infinite()).collect();
    (mags, finite)
}

/// Whether an argument list reads a non-finite runtime entry.
#[inline]
fn reads_non_finite<R: Runtime, N: ?Sized + FwdNode<R>>(n: &N, finite: &[bool]) -> bool {
    n.args().iter().any(|a| !finite[a.pos])
}

/// Forward error bounds, given the runtime context of every entry (`ctx.len() = |Γ| + nodes`)
/// and its [`finiteness`].
///
/// SPEC §5, applied here once for every op: a non-finite runtime value has no finite tolerance,
/// and no finite bound is derived from a non-finite number. So an entry's eps is `+∞` when its
/// runtime value is not finite, when it is an input given a non-finite value (whatever eps the
/// caller claimed), or when its node reads an argument that is not finite or whose eps is `+∞`
/// (`relu(NaN)` is 0 at run time, but the exact result is undefined).
///
/// `known` (per entry, optional) gives bounds already established for this run, each with
/// whether it is tight (this-run mode's enclosure, [`Known`]): a node whose bound is tight
/// keeps it and its `fwd_eps` is not evaluated; the others take the smaller of the two. Either
/// way every bound stays sound, and later nodes propagate from the smaller one.
pub(crate) fn forward_eps<R: Runtime, N: ?Sized + FwdNode<R>>(
    nodes: &[Box<N>],
    eps_in: &[Bound],
    ctx: &[ArrayD<R>],
    finite: &[bool],
    known: Option<&[Known]>,
) -> Vec<Bound> {
    forward_eps_saving(nodes, eps_in, ctx, finite, known).0
}

/// [`forward_eps`], with what each node kept for its VJP's error bound
/// ([`FwdNode::fwd_eps_saving`]; one entry per node, `None` where its `fwd_eps` was not
/// evaluated) — for a backward sweep that bounds cotangents on this same context next
/// ([`Track::fwd_saved`]).
pub(crate) fn forward_eps_saving<R: Runtime, N: ?Sized + FwdNode<R>>(
    nodes: &[Box<N>],
    eps_in: &[Bound],
    ctx: &[ArrayD<R>],
    finite: &[bool],
    known: Option<&[Known]>,
) -> (Vec<Bound>, Vec<Option<Saved>>) {
    let n_in = eps_in.len();
    let mut saved = Vec::with_capacity(nodes.len());
    let mut eps = Vec::with_capacity(ctx.len());
    eps.extend(
        eps_in
            .iter()
            .zip(finite)
            .map(|(&e, &ok)| if ok { e } else { Bound::INF }),
    );
    for (k, n) in nodes.iter().enumerate() {
        let p = n_in + k;
        let poisoned = !finite[p]
            || reads_non_finite(n.as_ref(), finite)
            || n.args().iter().any(|a| eps[a.pos].is_infinite());
        let (e, kept) = match known.and_then(|k| k.get(p)) {
            _ if poisoned => (Bound::INF, None),
            Some(k) if k.tight => (k.eps, None),
            Some(k) => {
                let (e, kept) = n.fwd_eps_saving(&eps, &ctx[..p], &ctx[p]);
                (e.min(k.eps), kept)
            }
            None => n.fwd_eps_saving(&eps, &ctx[..p], &ctx[p]),
        };
        eps.push(e);
        saved.push(kept);
    }
    (eps, saved)
}

/// Forward scale bounds. With `eps` (the forward error bounds of every entry, and the
/// [`magnitudes`] `max|runtime|` of every entry), each node's bound
/// is also intersected with `max|runtime| + eps` (inputs keep the bounds the caller gave, unless
/// their runtime value is not finite), which bounds the spec value too when the inputs satisfy
/// `approx` — the premise every scale obligation already has — and is usually far tighter than
/// what a node can derive from its arguments' scales alone. A node that reads a non-finite
/// argument gets `+∞`: the magnitude of what it was computed from is unknown.
pub(crate) fn forward_scale<R: Runtime, N: ?Sized + FwdNodeScale<R>>(
    nodes: &[Box<N>],
    b_in: &[Bound],
    ctx: &[ArrayD<R>],
    finite: &[bool],
    eps: Option<(&[Bound], &[Bound])>,
) -> Vec<Bound> {
    let n_in = b_in.len();
    let mut b = Vec::with_capacity(ctx.len());
    b.extend(
        b_in.iter()
            .zip(finite)
            .map(|(&e, &ok)| if ok { e } else { Bound::INF }),
    );
    for (k, n) in nodes.iter().enumerate() {
        let p = n_in + k;
        let mut s = if finite[p] && !reads_non_finite(n.as_ref(), finite) {
            n.fwd_scale(&b, &ctx[..p], &ctx[p])
        } else {
            Bound::INF
        };
        if let Some((e, mags)) = eps {
            s = s.min(mags[p] + e[p]);
        }
        b.push(s);
    }
    b
}

/// Spec backprop (no bounds). A node whose cotangent is exactly zero contributes nothing (it is
/// not visited, as in PyTorch), so an undefined value off the loss path (`log(0)` after the loss)
/// does not make the gradients undefined. `observe` sees each visited node's final cotangent
/// (its position and `δ`) before its VJP.
pub(crate) fn backprop_spec<R: Runtime, S: SpecScalar, N: ?Sized + RevNode<R> + SpecVjp<S>>(
    nodes: &[Box<N>],
    ctx: &[ArrayD<S>],
    seed: Vec<Option<ArrayD<S>>>,
    need: Option<&[bool]>,
    mut observe: Option<&mut dyn FnMut(usize, &ArrayD<S>)>,
) -> Vec<ArrayD<S>> {
    let n_in = ctx.len() - nodes.len();
    // Entries nobody asked a cotangent of keep their seed (see [`needs`]).
    let need = |p: usize| need.is_none_or(|n| n[p]);
    // How many contributions each entry's cotangent can receive (the seed and one per use), so
    // a scalar that models rounding can cover every order of their accumulation.
    let mut terms = vec![1usize; ctx.len()];
    for n in nodes {
        for a in n.args() {
            terms[a.pos] += 1;
        }
    }
    // How many contributions each accumulated cotangent holds so far (the seed counts when it
    // is not zero).
    let mut held: Vec<usize> = seed.iter().map(|s| usize::from(s.is_some())).collect();
    // `None` is an exact zero cotangent: no tensor is allocated until a contribution arrives.
    let mut cot = seed;
    for (k, n) in nodes.iter().enumerate().rev() {
        let p = n_in + k;
        let Some(delta) = cot.pop() else { break };
        let Some(delta) = delta else { continue };
        if !need(p) || delta.iter().all(|d| d.is_exact_zero()) {
            continue;
        }
        if let Some(f) = observe.as_deref_mut() {
            f(p, &delta);
        }
        let wants: Vec<bool> = n.args().iter().map(|a| need(a.pos)).collect();
        let vs = n.vjp_spec_some(&ctx[..p], &delta, &wants);
        for (arg, v) in n.args().iter().zip(vs) {
            let Some(v) = v else { continue };
            let (t, single) = (terms[arg.pos], held[arg.pos] == 1);
            held[arg.pos] += 1;
            match &mut cot[arg.pos] {
                None if S::MOVES_INTO_ZERO => cot[arg.pos] = Some(v),
                None => cot[arg.pos] = Some(v.mapv(|v| S::accumulate(S::zero(), v, t, single))),
                Some(c) => Zip::from(c)
                    .and(&v)
                    .for_each(|c, &v| *c = S::accumulate(*c, v, t, single)),
            }
        }
    }
    let zeros = |x: &ArrayD<S>| ArrayD::from_elem(x.raw_dim(), S::zero());
    cot.into_iter()
        .zip(ctx)
        .map(|(c, x)| c.unwrap_or_else(|| zeros(x)))
        .collect()
}

/// A seed as [`backprop_spec`] takes it: `None` when it is an exact zero.
pub(crate) fn spec_seed<S: SpecScalar>(s: ArrayD<S>) -> Option<ArrayD<S>> {
    (!s.iter().all(|d| d.is_exact_zero())).then_some(s)
}

/// A node's VJP bound part: `(node, context bounds, runtime context, δ bound, δ, wanted args,
/// runtime cotangents, their `max|·|` where measured, what the forward part kept) → bound per
/// arg`.
pub(crate) type VjpPart<R, N> = fn(
    &N,
    &[Bound],
    &[ArrayD<R>],
    Bound,
    &ArrayD<R>,
    &[bool],
    &[Option<ArrayD<R>>],
    &[Option<Bound>],
    Option<&Saved>,
) -> Vec<Bound>;

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
    /// What each node's forward bound kept for its part, node by node
    /// ([`forward_eps_saving`]); parts recompute without it.
    pub fwd_saved: Option<&'a [Option<Saved>]>,
    /// Bounds of the accumulated cotangents (starts as the seed's bounds).
    pub acc: Vec<Bound>,
    /// The node part that bounds each argument's cotangent (`vjp_eps` or `vjp_scale`).
    pub part: VjpPart<R, N>,
    /// How bounds combine under the runtime addition into the prefix.
    pub add: AddRule<'a, R>,
    /// Whether `add(0, e, zeros, v)` is `e` (true of the default rules: adding into an untouched
    /// zero seed is exact), so the rule's pass over the tensors can be skipped then.
    pub exact_into_zero: bool,
    /// Whether a `+∞` bound on an argument or on `δ` forces `+∞` on every argument's cotangent
    /// (true of error bounds, SPEC §5: nothing finite is derived from an unbounded error; scale
    /// parts may still know a magnitude, e.g. `tanh′ ≤ 1`).
    pub poison_on_inf: bool,
    /// Bounds of the final cotangents known before the sweep (this-run mode's enclosure, per
    /// entry of `Γ ++ ss`). A node's part is asked only for the wanted arguments without a
    /// tight known bound (through its `wants`), and not at all when there are none; the others
    /// take the known bound when their `δ` is popped, and every popped `δ` bound is the smaller
    /// of the propagated and the known one. Entries poisoned by SPEC §5's rules stay `+∞`. For
    /// the error track only (`poison_on_inf`); the input entries' final bounds are left to the
    /// caller (their known bounds are the enclosure's own).
    pub known: Option<&'a [Known]>,
}

impl<'a, R, N: ?Sized> Track<'a, R, N> {
    /// What node `k`'s forward bound kept for its part, if anything.
    fn kept(&self, k: usize) -> Option<&'a Saved> {
        self.fwd_saved
            .and_then(|s| s.get(k))
            .and_then(Option::as_ref)
    }
}

/// What a runtime backward sweep reports besides the gradients (see [`backprop_runtime`]).
pub(crate) struct Record<'a, R> {
    /// Per entry: whether its cotangent was computed from a non-finite `δ` or argument.
    pub undefined: Option<&'a mut [bool]>,
    /// Receives each visited node's final cotangent (position, tensor) after its VJP.
    pub cotangents: Option<&'a mut dyn FnMut(usize, ArrayD<R>)>,
    /// What each node kept in the forward sweep that computed this context, node by node
    /// ([`forward_runtime_saving`]); VJPs recompute without it.
    pub saved: Option<&'a [Option<Saved>]>,
    /// Receives `max|ĝ|` of each returned gradient ([`linf`]: `+∞` when an entry is not
    /// finite). With tracks these come from the sweep's own finiteness checks: a gradient with
    /// one contribution into a `+0` seed is that contribution, whose magnitude the sweep
    /// already measured, so the certificate's gradient scales need no pass of their own.
    pub magnitudes: Option<&'a mut Vec<Bound>>,
}

impl<R> Record<'_, R> {
    /// Nothing recorded.
    pub fn none() -> Self {
        Record {
            undefined: None,
            cotangents: None,
            saved: None,
            magnitudes: None,
        }
    }
}

/// Runtime backprop, optionally tracking eps and/or scale bounds along the way. Returns the
/// cotangents of the inputs; tracked bounds are left in each `Track::acc` (truncated to `|Γ|`).
/// `need` (from [`needs`]) says which entries need a cotangent; the others keep their seed.
/// `finite` is the context's [`finiteness`] (read only when bounds are tracked).
///
/// Cotangents start as references to the seed and are materialised on first contribution; when
/// the seed entry is zero the VJP is moved in, so neither the seed nor zero accumulators are
/// ever copied. The sum `fl(v + 0)` is still formed (one fused pass over `v`): it turns a `−0`
/// of `v` into `+0` and quietens a signalling NaN, as the runtime addition of SPEC §4 does, and
/// a scan for those values costs more than the addition. Which seed entries are `+0` (for the
/// tracks' rule of a first contribution) is looked up once per seed [`TList`] and kept there,
/// so a seed reused for every step is scanned once.
pub(crate) fn backprop_runtime<R: Runtime, N: ?Sized + RevNode<R>, C>(
    nodes: &[Box<N>],
    ctx: &[ArrayD<R>],
    finite: &[bool],
    seed: &TList<R, C>,
    need: &[bool],
    tracks: &mut [&mut Track<'_, R, N>],
    record: Record<'_, R>,
) -> Vec<ArrayD<R>> {
    let Record {
        mut undefined,
        mut cotangents,
        saved,
        magnitudes,
    } = record;
    // Scanned once per seed list and kept (a loop that reuses its seed, as training does, pays
    // once): a first contribution into a `+0` seed then only needs its zeros' signs made `+0`.
    let seed_zero: &[bool] = seed.positive_zeros();
    let seed = seed.as_slice();
    let n_in = ctx.len() - nodes.len();
    let mut cot: Vec<Option<ArrayD<R>>> = (0..ctx.len()).map(|_| None).collect();
    let mut wants = Vec::new();
    // Per track with `known`: entries that received a contribution whose part was not computed
    // (their bound is the known one), and entries a poisoned part reached (theirs stays +∞).
    let mut stand_in: Vec<Vec<bool>> = tracks
        .iter()
        .map(|t| vec![false; if t.known.is_some() { ctx.len() } else { 0 }])
        .collect();
    let mut poisoned = stand_in.clone();
    // Per entry with tracks: `max|ĝ|` while its cotangent is a single contribution into a +0
    // seed (measured once, when the contribution's finiteness is checked).
    let mut single_mag: Vec<Option<Bound>> =
        vec![None; if tracks.is_empty() { 0 } else { ctx.len() }];
    for (k, n) in nodes.iter().enumerate().rev() {
        let p = n_in + k;
        let Some(owned) = cot.pop() else { break };
        let delta = owned.as_ref().unwrap_or(&seed[p]);
        let mut deltas_b = Vec::with_capacity(tracks.len());
        for (j, t) in tracks.iter_mut().enumerate() {
            let d = t.acc.pop().unwrap_or(Bound::INF);
            deltas_b.push(match t.known.and_then(|kn| kn.get(p)) {
                Some(_) if poisoned[j][p] => Bound::INF,
                Some(kn) if stand_in[j][p] => kn.eps,
                Some(kn) if !d.is_infinite() => d.min(kn.eps),
                _ => d,
            });
        }
        if !need[p] {
            continue;
        }
        // A runtime cotangent that is exactly zero contributes nothing at run time: the node is
        // not visited (as in PyTorch), so `0 · ∞` off the loss path (an overflowed or undefined
        // value no gradient flows through) cannot turn a gradient into NaN. The decision depends
        // on runtime data only, so values and gradients are the same with or without bounds.
        // A track whose bound says the spec cotangent is exactly zero too (bound 0) gets no
        // contribution; a track with a nonzero bound still counts the spec's below. Each track
        // decides for itself, so `certify` gives the same bounds as the separate sweeps.
        // Without tracks or an `undefined` record nobody reads `delta_finite`: the zero test
        // alone stops at the first nonzero entry instead of sweeping the whole cotangent.
        let (delta_zero, delta_finite) = if tracks.is_empty() && undefined.is_none() {
            (!any_elem(delta, |x| x != R::zero()), true)
        } else {
            fold_elems(delta, (true, true), |(z, f), x| {
                (z & (x == R::zero()), f & x.is_finite())
            })
        };
        if delta_zero && deltas_b.iter().all(|&d| d == Bound::ZERO) {
            continue;
        }
        let skip_runtime = delta_zero;
        wants.clear();
        wants.extend(n.args().iter().map(|a| need[a.pos]));
        let kept = saved.and_then(|s| s.get(k)).and_then(Option::as_ref);
        let vs = n.vjp_runtime_saved(&ctx[..p], kept, delta, &wants);
        // `max|v̂|` of each contribution, when bounds are tracked: +∞ exactly when it is not
        // finite, and the magnitude of a gradient it alone makes.
        let mags: Vec<Option<Bound>> = if tracks.is_empty() {
            Vec::new()
        } else {
            vs.iter().map(|v| v.as_ref().map(linf)).collect()
        };
        // SPEC §5 for cotangents, once for every op: a non-finite argument or δ leaves every
        // argument's cotangent without a finite bound; an unbounded error does too.
        let non_finite =
            !delta_finite || (!tracks.is_empty() && reads_non_finite(n.as_ref(), finite));
        // The same rule, recorded per entry for callers without tracks (`undefined`).
        let undefined_here = undefined.as_deref().is_some_and(|u| u[p])
            || !delta_finite
            || (!finite.is_empty() && reads_non_finite(n.as_ref(), finite));
        let parts: Vec<Vec<Bound>> = tracks
            .iter()
            .zip(&deltas_b)
            .enumerate()
            .map(|(j, (t, &d))| {
                let unbounded = t.poison_on_inf
                    && (d.is_infinite() || n.args().iter().any(|a| t.fwd[a.pos].is_infinite()));
                let args = n.args().iter().zip(&wants).filter(|(_, w)| **w);
                let part = |w: &[bool]| {
                    let (fwd, kept) = (&t.fwd[..p], t.kept(k));
                    (t.part)(n, fwd, &ctx[..p], d, delta, w, &vs, &mags, kept)
                };
                if non_finite || unbounded {
                    if t.known.is_some() {
                        args.for_each(|(a, _)| poisoned[j][a.pos] = true);
                    }
                    vec![Bound::INF; n.args().len()]
                } else if let Some(kn) = t.known {
                    // Arguments with a tight known bound take it (a stand-in); the part is asked
                    // for the others only, and not at all when there are none.
                    let tight = |a: &Arg| kn.get(a.pos).is_some_and(|k| k.tight);
                    let rest: Vec<bool> = n
                        .args()
                        .iter()
                        .zip(&wants)
                        .map(|(a, &w)| w && !tight(a))
                        .collect();
                    args.filter(|(a, _)| tight(a))
                        .for_each(|(a, _)| stand_in[j][a.pos] = true);
                    if rest.iter().any(|&w| w) {
                        part(&rest)
                    } else {
                        vec![Bound::INF; n.args().len()]
                    }
                } else {
                    part(&wants)
                }
            })
            .collect();
        for (i, (arg, v)) in n.args().iter().zip(vs).enumerate() {
            let Some(mut v) = v else { continue };
            let pos = arg.pos;
            if let Some(u) = undefined.as_deref_mut()
                && !skip_runtime
            {
                u[pos] |= undefined_here || !all_finite(&v);
            }
            let v_mag = mags.get(i).copied().flatten();
            let v_finite = v_mag.is_none_or(|m| !m.is_infinite());
            if skip_runtime {
                // Nothing is added at run time; the spec may still receive the VJP of a
                // cotangent within its bound of 0, which is within `part + |v̂|` of 0.
                let mag = v_mag.unwrap_or_else(|| linf(&v));
                for ((t, part), &d) in tracks.iter_mut().zip(&parts).zip(&deltas_b) {
                    if d != Bound::ZERO {
                        let e = part.get(i).copied().unwrap_or(Bound::INF);
                        t.acc[pos] = t.acc[pos] + e + mag;
                    }
                }
                continue;
            }
            // Only the tracks' rule for a first contribution into a +0 seed needs to know the
            // seed is zero; at run time `fl(s + v)` is one fused pass either way (for a +0 seed
            // it is `v + 0`, which turns −0 into +0 as the addition does).
            let zero_seed = !tracks.is_empty() && cot[pos].is_none() && seed_zero[pos];
            for (j, (t, part)) in tracks.iter_mut().zip(&parts).enumerate() {
                let e = match part.get(i) {
                    Some(&e) if v_finite => e,
                    _ => {
                        if t.known.is_some() && !v_finite {
                            poisoned[j][pos] = true;
                        }
                        Bound::INF
                    }
                };
                t.acc[pos] = if zero_seed && t.exact_into_zero && t.acc[pos] == Bound::ZERO {
                    e
                } else {
                    let acc = cot[pos].as_ref().unwrap_or(&seed[pos]);
                    (t.add)(t.acc[pos], e, acc, &v)
                };
            }
            if let Some(m) = single_mag.get_mut(pos) {
                // `fl(v̂ + 0) = v̂` up to the sign of zeros: the same magnitude.
                *m = if zero_seed { v_mag } else { None };
            }
            match &mut cot[pos] {
                Some(c) => add_into(c, &v),
                slot @ None => {
                    if seed_zero.get(pos) == Some(&true) {
                        plus_zero_into(&mut v);
                    } else {
                        add_into(&mut v, &seed[pos]);
                    }
                    *slot = Some(v);
                }
            }
        }
        if let Some(f) = cotangents.as_deref_mut() {
            f(p, owned.unwrap_or_else(|| seed[p].clone()));
        }
    }
    let grads: Vec<ArrayD<R>> = cot
        .into_iter()
        .zip(seed)
        .map(|(c, s)| c.unwrap_or_else(|| s.clone()))
        .collect();
    if !tracks.is_empty() || magnitudes.is_some() {
        let mags: Vec<Bound> = grads
            .iter()
            .enumerate()
            .map(|(i, g)| {
                single_mag
                    .get(i)
                    .copied()
                    .flatten()
                    .unwrap_or_else(|| linf(g))
            })
            .collect();
        // A gradient that is not finite (e.g. a non-finite seed no node added to) has no
        // finite bound, whatever the seed's bound claimed.
        for (i, m) in mags.iter().enumerate() {
            if m.is_infinite() {
                for t in tracks.iter_mut() {
                    if let Some(b) = t.acc.get_mut(i) {
                        *b = Bound::INF;
                    }
                }
            }
        }
        if let Some(out) = magnitudes {
            *out = mags;
        }
    }
    grads
}

/// `c ← fl(x + c)` entrywise (the cotangent accumulation), over plain slices when both are
/// contiguous in the same order so the loop vectorises; `x + c` and `c + x` are the same
/// rounded sum, so the order of the operands does not matter.
fn add_into<R: Runtime>(c: &mut ArrayD<R>, x: &ArrayD<R>) {
    if c.is_standard_layout()
        && x.is_standard_layout()
        && let (Some(cs), Some(xs)) = (c.as_slice_mut(), x.as_slice())
    {
        cs.iter_mut().zip(xs).for_each(|(c, &x)| *c = x + *c);
        return;
    }
    Zip::from(c).and(x).for_each(|c, &x| *c = x + *c);
}

/// `c ← fl(c + 0)` entrywise: [`add_into`] of a `+0` seed without reading it (`−0` becomes
/// `+0`, everything else keeps its bits).
fn plus_zero_into<R: Runtime>(c: &mut ArrayD<R>) {
    match c.as_slice_memory_order_mut() {
        Some(cs) => crate::tensor::map_in_place_vectorised(cs, |x| x + R::zero()),
        None => c.mapv_inplace(|x| x + R::zero()),
    }
}

/// Whether some element satisfies `f`, stopping at the first that does.
fn any_elem<R: Copy>(a: &ArrayD<R>, f: impl Fn(R) -> bool) -> bool {
    match a.as_slice_memory_order() {
        Some(s) => s.iter().any(|&x| f(x)),
        None => a.iter().any(|&x| f(x)),
    }
}
