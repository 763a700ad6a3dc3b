//! Nodes (SPEC §4): the four kinds, as traits a graph stores behind `dyn`.
//!
//! A node reads its arguments from the context `Γ ++ ss` built so far (`ctx`, a slice of every
//! entry before the node) at the positions of its [`Arg`]s, and provides up to six parts:
//!
//! | part | trait |
//! |---|---|
//! | `forward_spec`, `forward_runtime`, `fwd_eps` | [`FwdNode`] (spec part: [`SpecForward`]) |
//! | `fwd_scale` | [`FwdNodeScale`] |
//! | `vjp_spec`, `vjp_runtime`, `vjp_eps` | [`RevNode`] (spec part: [`SpecVjp`]) |
//! | `vjp_scale` | [`RevNodeScale`] |
//!
//! Two deliberate differences from the Lean signatures, both for linear time and neither changing
//! what is computed: the bound parts receive the node's own runtime output `out` (which is
//! `forward_runtime(ctx)`, computed once by the graph), and VJPs return one cotangent per
//! *argument* rather than per context entry (the others are zero, and the graph adds each
//! argument's cotangent into its entry with runtime addition).
//!
//! A third, for the same reason: a node may keep what its forward computed for its VJP on the
//! same context ([`Saved`]), once for the runtime VJP ([`FwdNode::forward_runtime_saving`] →
//! [`RevNode::vjp_runtime_saved`]) and once for the VJP's error bound
//! ([`FwdNode::fwd_eps_saving`] → [`RevNode::vjp_eps_kept`]). Attention keeps its probabilities
//! for the first, its scores, probabilities and their error bounds for the second; layer and
//! RMS norm keep each row's normalised values and `σ`; the smooth elementwise family keeps the
//! part its derivative shares with it (GELU's `erf`, `tanh`'s value; `SmoothFn::KEEPS`). The
//! defaults keep nothing, and a VJP given nothing recomputes: the same results either way.
//!
//! Soundness obligations (checked by the test suite against the interval spec), for spec context
//! `xs`, runtime context `xr` with `|xs − xr| ≤ eps` and `|xs|, |xr| ≤ b` entrywise in L∞:
//! `fwd_eps` bounds `|forward_spec(xs) − forward_runtime(xr)|`, `fwd_scale` bounds both outputs,
//! and likewise for the VJPs given a cotangent pair within `eps_delta` / `b_delta`.

use crate::bound::Bound;
use crate::handle::Arg;
use crate::scalar::{AnyRun, Ball, Est, Interval, Runtime, SpecScalar};
use crate::shape::Shape;
use ndarray::ArrayD;

/// The typed face of a node: its output shape and the graph brand its handles come from.
pub trait NodeType {
    /// Output shape `τ`.
    type Out: Shape;
    /// Brand of the graph whose handles the node reads.
    type Brand;
}

/// Spec forward semantics in spec scalar `S`.
pub trait SpecForward<S: SpecScalar> {
    /// The exact-real output, evaluated in `S`.
    fn forward_spec(&self, ctx: &[ArrayD<S>]) -> ArrayD<S>;
}

/// Spec VJP in spec scalar `S`.
pub trait SpecVjp<S: SpecScalar> {
    /// One cotangent per argument (same order as [`FwdNode::args`]).
    fn vjp_spec(&self, ctx: &[ArrayD<S>], delta: &ArrayD<S>) -> Vec<ArrayD<S>>;
    /// The cotangents of the arguments with `wants[i]` only (`None` for the others): a node
    /// whose cotangents are separate products (a GEMM per argument) skips the unwanted ones.
    /// Every op implements it through the op kit (`Op::vjp_spec_some`, whose default is
    /// `vjp_spec` filtered by `wants`).
    fn vjp_spec_some(
        &self,
        ctx: &[ArrayD<S>],
        delta: &ArrayD<S>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<S>>>;
}

/// What a node's runtime forward kept for its VJP on the same context (attention keeps its
/// probabilities), so that backprop reuses it instead of recomputing it: forward quantities
/// are computed once. Any type: the node that made it downcasts it, and a VJP handed nothing,
/// or something else, recomputes.
pub type Saved = Box<dyn std::any::Any + Send + Sync>;

/// Forward node with an error bound (Lean: `FwdNode`).
pub trait FwdNode<R: Runtime>:
    SpecForward<f64>
    + SpecForward<Interval>
    + SpecForward<Ball>
    + SpecForward<AnyRun<R>>
    + SpecForward<Est<R>>
    + Send
    + Sync
{
    /// Op name for reports (e.g. `"matvec"`).
    fn op_name(&self) -> &'static str;
    /// Context entries the node reads, with the dimensions it was typed against.
    fn args(&self) -> &[Arg];
    /// Output dimensions.
    fn out_dims(&self) -> &'static [usize];
    /// Runtime forward pass.
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R>;
    /// [`FwdNode::forward_runtime`], and what the node's VJP reuses of it
    /// ([`RevNode::vjp_runtime_saved`]); nothing by default.
    fn forward_runtime_saving(&self, ctx: &[ArrayD<R>]) -> (ArrayD<R>, Option<Saved>) {
        (self.forward_runtime(ctx), None)
    }
    /// L∞ error bound of the output, given the context's error bounds.
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound;
    /// [`FwdNode::fwd_eps`], and what the node's VJP error bound reuses of it on the same
    /// context and bounds ([`RevNode::vjp_eps_kept`]); nothing by default.
    fn fwd_eps_saving(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        out: &ArrayD<R>,
    ) -> (Bound, Option<Saved>) {
        (self.fwd_eps(eps, ctx, out), None)
    }
    /// Where the output's error comes from: named error bounds of the node's internal stages
    /// (e.g. layer norm's centring, variance, square root, division, affine), each an L∞ bound
    /// on that intermediate of this run given the context's error bounds. Reports show them
    /// beside the node's row; most nodes have one stage and return none.
    fn fwd_stages(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        out: &ArrayD<R>,
    ) -> Vec<(&'static str, Bound)> {
        let _ = (eps, ctx, out);
        Vec::new()
    }
}

/// Forward node with error and scale bounds (Lean: `FwdNodeScale`).
pub trait FwdNodeScale<R: Runtime>: FwdNode<R> {
    /// L∞ scale bound of the output (covers spec and runtime), given the context's scale bounds.
    fn fwd_scale(&self, b: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound;
}

/// Reverse node: forward, VJP and VJP error bound (Lean: `RevNode`).
pub trait RevNode<R: Runtime>:
    FwdNode<R> + SpecVjp<f64> + SpecVjp<Interval> + SpecVjp<Ball> + SpecVjp<AnyRun<R>> + SpecVjp<Est<R>>
{
    /// Runtime VJP: one cotangent per argument.
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>>;
    /// Error bound of each argument's cotangent.
    fn vjp_eps(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        eps_delta: Bound,
        delta: &ArrayD<R>,
    ) -> Vec<Bound>;

    /// [`RevNode::vjp_runtime`] for the arguments with `wants[i]` only (`None` elsewhere). The
    /// default computes all and drops the rest; ops whose per-argument VJPs are expensive (matrix
    /// products) override it so backprop does no work for entries nobody asked a gradient of.
    fn vjp_runtime_some(
        &self,
        ctx: &[ArrayD<R>],
        delta: &ArrayD<R>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<R>>> {
        self.vjp_runtime(ctx, delta)
            .into_iter()
            .zip(wants)
            .map(|(v, &w)| w.then_some(v))
            .collect()
    }

    /// [`RevNode::vjp_runtime_some`] given what [`FwdNode::forward_runtime_saving`] kept on
    /// this same context (`None`: nothing kept, recompute). The same cotangents either way.
    fn vjp_runtime_saved(
        &self,
        ctx: &[ArrayD<R>],
        saved: Option<&Saved>,
        delta: &ArrayD<R>,
        wants: &[bool],
    ) -> Vec<Option<ArrayD<R>>> {
        let _ = saved;
        self.vjp_runtime_some(ctx, delta, wants)
    }

    /// [`RevNode::vjp_eps`] for the arguments with `wants[i]` only (any value elsewhere), given
    /// the runtime cotangents `outs` that [`RevNode::vjp_runtime_some`] returned for the same
    /// `delta` (so bounds that measure the runtime result need not recompute it).
    fn vjp_eps_some(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        eps_delta: Bound,
        delta: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
    ) -> Vec<Bound> {
        let _ = (wants, outs);
        self.vjp_eps(eps, ctx, eps_delta, delta)
    }

    /// [`RevNode::vjp_eps_some`] given what [`FwdNode::fwd_eps_saving`] kept for the same
    /// context and forward bounds (`None`: nothing kept, recompute). The same bounds either way.
    #[allow(clippy::too_many_arguments)]
    fn vjp_eps_kept(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        eps_delta: Bound,
        delta: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
        kept: Option<&Saved>,
    ) -> Vec<Bound> {
        let _ = kept;
        self.vjp_eps_some(eps, ctx, eps_delta, delta, wants, outs)
    }
}

/// Reverse node with scale bounds too: all six parts (Lean: `RevNodeScale`).
pub trait RevNodeScale<R: Runtime>: RevNode<R> + FwdNodeScale<R> {
    /// Scale bound of each argument's cotangent.
    fn vjp_scale(
        &self,
        b: &[Bound],
        ctx: &[ArrayD<R>],
        b_delta: Bound,
        delta: &ArrayD<R>,
    ) -> Vec<Bound>;

    /// [`RevNodeScale::vjp_scale`] for the arguments with `wants[i]` only (any value
    /// elsewhere), given the runtime cotangents as in [`RevNode::vjp_eps_some`] and, where the
    /// caller measured them, their magnitudes `mags[i] = max|outs[i]|` (as
    /// [`linf`](crate::tensor::linf); shorter or `None` where not measured).
    #[allow(clippy::too_many_arguments)]
    fn vjp_scale_some(
        &self,
        b: &[Bound],
        ctx: &[ArrayD<R>],
        b_delta: Bound,
        delta: &ArrayD<R>,
        wants: &[bool],
        outs: &[Option<ArrayD<R>>],
        mags: &[Option<Bound>],
    ) -> Vec<Bound> {
        let _ = (wants, outs, mags);
        self.vjp_scale(b, ctx, b_delta, delta)
    }
}
