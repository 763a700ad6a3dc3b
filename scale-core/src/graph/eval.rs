//! The SPEC §4 operations on graphs: `eval_*` and `backprop_*`, each linear in the node count.

use super::engine::{self, AddRule, Track, VjpPart};
use super::{Graph, Kind};
use crate::bound::Bound;
use crate::context::{Append, Concat};
use crate::lists::{BList, EList, TList};
use crate::node::{FwdNodeScale, RevNode, RevNodeScale, SpecForward, SpecVjp};
use crate::scalar::{Runtime, SpecScalar};
use ndarray::ArrayD;

impl<K: Kind, R: Runtime, G: Append<Ss>, Ss, B> Graph<K, R, G, Ss, B> {
    /// Spec forward pass: the whole context `Γ ++ ss` in spec scalar `S` (Lean: `evalSpec`).
    pub fn eval_spec<S: SpecScalar>(&self, x: &TList<S, G>) -> TList<S, Concat<G, Ss>>
    where
        K::Node<R>: SpecForward<S>,
    {
        let ctx = engine::forward_spec(&self.nodes, x.as_slice().to_vec());
        TList::from_vec_unchecked(ctx)
    }

    /// Runtime forward pass: the whole context `Γ ++ ss` (Lean: `evalRuntime`).
    pub fn eval_runtime(&self, x: &TList<R, G>) -> TList<R, Concat<G, Ss>> {
        TList::from_vec_unchecked(self.forward(x))
    }

    /// Error bounds of every entry of `Γ ++ ss`, from input bounds `eps_in` (Lean: `evalBounds`).
    pub fn eval_bounds(&self, eps_in: &EList<G>, x: &TList<R, G>) -> EList<Concat<G, Ss>> {
        let ctx = self.forward(x);
        let finite = engine::finiteness(&ctx);
        let eps = crate::config::scoped(self.config, || {
            engine::forward_eps(&self.nodes, eps_in.as_slice(), &ctx, &finite, None)
        });
        EList::from_vec_unchecked(eps)
    }

    pub(crate) fn forward(&self, x: &TList<R, G>) -> Vec<ArrayD<R>> {
        engine::forward_runtime(&self.nodes, x.as_slice().to_vec())
    }
}

impl<K: Kind, R: Runtime, G: Append<Ss>, Ss, B> Graph<K, R, G, Ss, B>
where
    K::Node<R>: FwdNodeScale<R>,
{
    /// Scale bounds of every entry of `Γ ++ ss`, from input bounds `b_in` (Lean: `evalScales`).
    pub fn eval_scales(&self, b_in: &BList<G>, x: &TList<R, G>) -> BList<Concat<G, Ss>> {
        let ctx = self.forward(x);
        let finite = engine::finiteness(&ctx);
        BList::from_vec_unchecked(crate::config::scoped(self.config, || {
            engine::forward_scale(&self.nodes, b_in.as_slice(), &ctx, &finite, None)
        }))
    }
}

impl<K: Kind, R: Runtime, G: Append<Ss>, Ss, B> Graph<K, R, G, Ss, B>
where
    K::Node<R>: RevNode<R>,
{
    /// Spec backprop: cotangents of the inputs for seed `seed` on `Γ ++ ss` (Lean: `backpropSpec`).
    pub fn backprop_spec<S: SpecScalar>(
        &self,
        x: &TList<S, G>,
        seed: &TList<S, Concat<G, Ss>>,
    ) -> TList<S, G>
    where
        K::Node<R>: SpecForward<S> + SpecVjp<S>,
    {
        let ctx = engine::forward_spec(&self.nodes, x.as_slice().to_vec());
        let cot = {
            let seed = seed
                .as_slice()
                .iter()
                .cloned()
                .map(engine::spec_seed)
                .collect();
            engine::backprop_spec::<R, S, _>(&self.nodes, &ctx, seed, None, None)
        };
        TList::from_vec_unchecked(cot)
    }

    /// Runtime backprop (Lean: `backpropRuntime`): VJPs are added into the prefix with runtime
    /// addition, last node first.
    pub fn backprop_runtime(&self, x: &TList<R, G>, seed: &TList<R, Concat<G, Ss>>) -> TList<R, G> {
        let ctx = self.forward(x);
        let need = engine::needs(&self.nodes, &vec![true; self.n_inputs]);
        let cot = engine::backprop_runtime(
            &self.nodes,
            &ctx,
            &[],
            seed,
            &need,
            &mut [],
            engine::Record::none(),
        );
        TList::from_vec_unchecked(cot)
    }

    /// Error bounds of the input cotangents (Lean: `backpropBounds`). `add` combines bounds when a
    /// VJP is added into an earlier cotangent; [`eps_add`](crate::eps_add) is the sound default.
    pub fn backprop_bounds(
        &self,
        eps_in: &EList<G>,
        x: &TList<R, G>,
        eps_seed: &EList<Concat<G, Ss>>,
        seed: &TList<R, Concat<G, Ss>>,
        add: impl Fn(Bound, Bound, &ArrayD<R>, &ArrayD<R>) -> Bound,
    ) -> EList<G> {
        let ctx = self.forward(x);
        let finite = engine::finiteness(&ctx);
        let part: VjpPart<R, K::Node<R>> =
            |n, e, c, d, delta, w, o, _, _| n.vjp_eps_some(e, c, d, delta, w, o);
        EList::from_vec_unchecked(crate::config::scoped(self.config, || {
            let fwd = engine::forward_eps(&self.nodes, eps_in.as_slice(), &ctx, &finite, None);
            self.backprop_tracked(
                &ctx,
                &finite,
                &fwd,
                eps_seed.as_slice(),
                seed,
                part,
                &add,
                true,
            )
        }))
    }

    /// One backward sweep tracking one kind of bound (shared by `backprop_bounds` and
    /// `backprop_scales`).
    #[allow(clippy::too_many_arguments)]
    fn backprop_tracked(
        &self,
        ctx: &[ArrayD<R>],
        finite: &[bool],
        fwd: &[Bound],
        seed_bounds: &[Bound],
        seed: &TList<R, Concat<G, Ss>>,
        part: VjpPart<R, K::Node<R>>,
        add: AddRule<'_, R>,
        poison_on_inf: bool,
    ) -> Vec<Bound> {
        let mut t = Track {
            fwd,
            fwd_saved: None,
            acc: seed_bounds.to_vec(),
            part,
            add,
            // A user's rule may do anything: always call it.
            exact_into_zero: false,
            poison_on_inf,
            known: None,
        };
        let need = engine::needs(&self.nodes, &vec![true; self.n_inputs]);
        engine::backprop_runtime(
            &self.nodes,
            ctx,
            finite,
            seed,
            &need,
            &mut [&mut t],
            engine::Record::none(),
        );
        t.acc
    }
}

impl<K: Kind, R: Runtime, G: Append<Ss>, Ss, B> Graph<K, R, G, Ss, B>
where
    K::Node<R>: RevNodeScale<R>,
{
    /// Scale bounds of the input cotangents (Lean: `backpropScales`); [`scale_add`](crate::scale_add)
    /// is the sound default for `add`.
    pub fn backprop_scales(
        &self,
        b_in: &BList<G>,
        x: &TList<R, G>,
        b_seed: &BList<Concat<G, Ss>>,
        seed: &TList<R, Concat<G, Ss>>,
        add: impl Fn(Bound, Bound, &ArrayD<R>, &ArrayD<R>) -> Bound,
    ) -> BList<G> {
        let ctx = self.forward(x);
        let finite = engine::finiteness(&ctx);
        let part: VjpPart<R, K::Node<R>> =
            |n, b, c, d, delta, w, o, mags, _| n.vjp_scale_some(b, c, d, delta, w, o, mags);
        BList::from_vec_unchecked(crate::config::scoped(self.config, || {
            let fwd = engine::forward_scale(&self.nodes, b_in.as_slice(), &ctx, &finite, None);
            self.backprop_tracked(
                &ctx,
                &finite,
                &fwd,
                b_seed.as_slice(),
                seed,
                part,
                &add,
                false,
            )
        }))
    }
}
