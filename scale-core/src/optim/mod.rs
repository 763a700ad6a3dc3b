//! Certified optimizer steps (SPEC §12): SGD, momentum and AdamW updates whose new weights and
//! optimizer state carry eps and scale bounds in the certificate's mode, and the count of
//! updates that rounding to the runtime type loses.
//!
//! An update `w' = update(w, g, state)` is evaluated four times, entry by entry, from one
//! formula in PyTorch's order of operations (`torch.optim.SGD`, `torch.optim.AdamW`,
//! `foreach=False`):
//!
//! * in the runtime — in `f32` for `f32`, `bf16` and `f16` (PyTorch's `opmath` type, rounded to
//!   the runtime type when stored), in `f64` for `f64` — giving the new weights;
//! * in [`Ball`] arithmetic from enclosures of the exact weight, gradient and state, giving a
//!   rigorous enclosure of the *exact* update (the weights a real-number run would reach);
//! * in [`AnyRun`] arithmetic (any-implementation mode), whose balls hold every conforming
//!   implementation's update too: every operation widened by one rounding of the runtime type,
//!   each stored tensor by one more (an implementation computing in a wider type), each scalar
//!   constant by one rounding (PyTorch computes them in Python's `f64`);
//! * in [`Est`] arithmetic (estimate mode, not a bound).
//!
//! The bound of each new tensor is then derived exactly as for a graph's values
//! ([`Mode`]): this-run from the runtime result and the exact enclosure, any-implementation
//! from the [`AnyRun`] balls as well. A gradient's exact enclosure comes from the certificate
//! when it has one ([`Certificate::enclosure`]), else from the gradient and its eps.
//!
//! # What each mode of a step promises (SPEC §11 for §12)
//!
//! By default a step's bounds answer *this step's* question: the distance to the exact update
//! of the stored weights and state ([`Trainer::compounding`] for the whole trajectory).
//!
//! * **This run**: `|ŵ' − w'| ≤ eps` for the weights and state this library computed. On
//!   mlp_deep with AdamW (`cargo run --release --example train_step`) the bound is the true
//!   error (median ratio 1.00 in bf16 and f32).
//! * **Any implementation**: the same for every implementation that follows PyTorch's
//!   formulas with per-operation rounding in the runtime type or a wider one, with any
//!   conforming gradient kernel: the tolerance for testing someone else's step.
//!   `tests/foreign_kernels.rs` checks it against 12 foreign gradient kernels × 3 foreign
//!   updates (PyTorch's single-tensor code, fused FMA, `f64`-accumulating) for SGD, momentum
//!   and AdamW on mlp_deep: 0 violations. For SGD and momentum the bound is the gradient's
//!   eps carried through a linear map (eps ÷ worst foreign error ≈ 10⁴, all of it from the
//!   gradient's bound). AdamW's normalised update `m/(√v̂ + ε)` is ≈ `sign(g)`: an entry
//!   whose gradient is within the gradient's eps of 0 may legitimately flip, moving `w'` by
//!   up to `2·lr` — that is what makes the tensor's bound ≈ `2·lr` (bound ÷ that legitimate
//!   swing: median 1.23). The ball evaluation of `m/√v` from one gradient ball used to add a
//!   factor ≈ `|g|/ε` on top (the dependency problem: bound ÷ worst foreign error was 10¹⁰);
//!   it is removed by evaluating the exact quotient at the gradient ball's ends where it is
//!   monotone, plus a forward error bound of a conforming run's own rounding (see
//!   `formula.rs`).
//! * **Trace** ([`Trainer::certify_trace`],
//!   [`Model::certify_update_trace`](crate::model::Model::certify_update_trace)): their `w'`
//!   and state, given by name, are bounded by their distance to this step's exact enclosure, and
//!   flagged where they leave the any-implementation bound (e.g. a skipped bias correction).
//! * **Estimate** (not rigorous): the probabilistic model of the update's rounding; it is
//!   not narrowed like the any-implementation balls, so it stays ≈ 10⁶ × the true error.
//!
//! `docs/training.md` has the measured tables.
//!
//! ```
//! use scale_core::optim::{AdamW, Trainer};
//! use scale_core::{ops, Rank0, Rank1, RevGraphScale, TList};
//! use scale_core::context::{Nil, Seg};
//! // loss = Σ (w·x)²: one parameter `w`, one data input `x`.
//! let (g, (w, x)) =
//!     RevGraphScale::<f32, Seg<Nil, (Rank1<3>, Rank1<3>)>, Nil, _>::nil(scale_core::brand!());
//! let (g, p) = g.snoc(ops::mul(w, x));
//! let (g, q) = g.snoc(ops::mul(p, p));
//! let (g, loss) = g.snoc(ops::sum(q));
//! let mut trainer = Trainer::new(AdamW { lr: 1e-2, ..AdamW::default() }, &[w.pos()])?;
//! let mut inputs = TList::from_arrays(vec![
//!     ndarray::arr1(&[0.5f32, -1.0, 2.0]).into_dyn(),
//!     ndarray::arr1(&[1.0f32, 0.25, -0.5]).into_dyn(),
//! ])?;
//! for _ in 0..3 {
//!     let step = g.train_step(inputs, loss, &mut trainer)?;
//!     let u = &step.updates[0];
//!     assert!(u.eps.get() < 1e-6); // w' is within 1e-6 of the exact update
//!     inputs = step.inputs;
//! }
//! assert_eq!(trainer.steps(), 3);
//! # Ok::<(), scale_core::Error>(())
//! ```

mod formula;

use crate::bound::Bound;
use crate::config::Mode;
use crate::context::{Append, Concat, ShapeList};
use crate::error::Error;
use crate::graph::Certificate;
use crate::graph::certify::{any_bound, enclosure_bound, estimate_bound};
use crate::handle::Var;
use crate::lists::{BList, EList, TList};
use crate::report::{Report, RowKind, row};
use crate::round::add_up;
use crate::scalar::{AnyRun, Ball, Est, LAMBDA, Runtime, SpecScalar};
use crate::shape::Rank0;
use crate::trace::{Trace, TraceReport, fill_row, trace_err};
use crate::{RevGraphScale, tensor::linf};
use formula::{Consts, Entry, Out, update};
use ndarray::{ArrayD, Zip};

/// Stochastic gradient descent, PyTorch's `torch.optim.SGD` without momentum:
/// `g ← g + wd·w`, `w' = w − lr·g`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    /// Learning rate (finite, `≥ 0`).
    pub lr: f64,
    /// Weight decay (L2 penalty added to the gradient; finite, `≥ 0`).
    pub weight_decay: f64,
}

impl Default for Sgd {
    /// PyTorch's defaults (`lr = 1e-3`, no weight decay).
    fn default() -> Sgd {
        Sgd {
            lr: 1e-3,
            weight_decay: 0.0,
        }
    }
}

/// SGD with momentum, PyTorch's `torch.optim.SGD(momentum=μ, dampening=τ, nesterov=…)`:
/// `g ← g + wd·w`; `b = g` at the first step, else `b ← μ·b + (1 − τ)·g`;
/// `w' = w − lr·(g + μ·b)` with Nesterov, `w − lr·b` without.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Momentum {
    /// Learning rate (finite, `≥ 0`).
    pub lr: f64,
    /// Momentum factor μ, in `[0, 1)`.
    pub momentum: f64,
    /// Dampening τ, in `[0, 1]` (0 with Nesterov).
    pub dampening: f64,
    /// Weight decay (finite, `≥ 0`).
    pub weight_decay: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening = 0`, as in PyTorch).
    pub nesterov: bool,
}

impl Default for Momentum {
    /// `lr = 1e-3`, `momentum = 0.9`, no dampening, no weight decay, no Nesterov.
    fn default() -> Momentum {
        Momentum {
            lr: 1e-3,
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

/// AdamW, PyTorch's `torch.optim.AdamW` (`amsgrad=False`): `w ← w·(1 − lr·wd)`,
/// `m ← m + (1 − β₁)(g − m)`, `v ← β₂·v + (1 − β₂)·g²`,
/// `w' = w − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamW {
    /// Learning rate (finite, `≥ 0`).
    pub lr: f64,
    /// β₁, in `[0, 1)`.
    pub beta1: f64,
    /// β₂, in `[0, 1)`.
    pub beta2: f64,
    /// ε (finite, `> 0`): keeps the denominator `≥ ε`, which is the division's precondition.
    pub eps: f64,
    /// Decoupled weight decay (finite, `≥ 0`).
    pub weight_decay: f64,
}

impl Default for AdamW {
    /// PyTorch's defaults: `lr = 1e-3`, `β = (0.9, 0.999)`, `ε = 1e-8`, `weight_decay = 0.01`.
    fn default() -> AdamW {
        AdamW {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// One of the certified optimizers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// Plain SGD.
    Sgd(Sgd),
    /// SGD with momentum.
    Momentum(Momentum),
    /// AdamW.
    AdamW(AdamW),
}

impl From<Sgd> for Optimizer {
    fn from(o: Sgd) -> Optimizer {
        Optimizer::Sgd(o)
    }
}
impl From<Momentum> for Optimizer {
    fn from(o: Momentum) -> Optimizer {
        Optimizer::Momentum(o)
    }
}
impl From<AdamW> for Optimizer {
    fn from(o: AdamW) -> Optimizer {
        Optimizer::AdamW(o)
    }
}

impl Optimizer {
    /// `sgd`, `momentum` or `adamw`.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd(_) => "sgd",
            Optimizer::Momentum(_) => "momentum",
            Optimizer::AdamW(_) => "adamw",
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            Optimizer::Sgd(o) => o.lr,
            Optimizer::Momentum(o) => o.lr,
            Optimizer::AdamW(o) => o.lr,
        }
    }

    /// The weight decay.
    pub fn weight_decay(&self) -> f64 {
        match self {
            Optimizer::Sgd(o) => o.weight_decay,
            Optimizer::Momentum(o) => o.weight_decay,
            Optimizer::AdamW(o) => o.weight_decay,
        }
    }

    /// The names of the optimizer's state tensors per parameter (PyTorch's `state` keys).
    pub fn state_names(&self) -> &'static [&'static str] {
        match self {
            Optimizer::Sgd(_) => &[],
            Optimizer::Momentum(_) => &["momentum_buffer"],
            Optimizer::AdamW(_) => &["exp_avg", "exp_avg_sq"],
        }
    }

    /// The optimizer, if every hyper-parameter is in range; otherwise a typed error naming it.
    ///
    /// ```
    /// use scale_core::optim::{AdamW, Optimizer, Sgd};
    /// assert!(Optimizer::from(Sgd { lr: -0.1, ..Sgd::default() }).validate().is_err());
    /// let e = Optimizer::from(AdamW { beta2: 1.0, ..AdamW::default() }).validate();
    /// assert_eq!(e.unwrap_err().to_string(), "`adamw`: `beta2` must be in [0, 1), got 1");
    /// ```
    pub fn validate(self) -> Result<Optimizer, Error> {
        let name = self.name();
        let check = |param, value: f64, ok: bool, range| {
            if ok {
                Ok(())
            } else {
                Err(Error::InvalidHyperparameter {
                    optimizer: name,
                    param,
                    value,
                    range,
                })
            }
        };
        let nonneg = |x: f64| x.is_finite() && x >= 0.0;
        let unit = |x: f64| (0.0..1.0).contains(&x);
        check("lr", self.lr(), nonneg(self.lr()), "a finite number ≥ 0")?;
        let wd = self.weight_decay();
        check("weight_decay", wd, nonneg(wd), "a finite number ≥ 0")?;
        match self {
            Optimizer::Sgd(_) => {}
            Optimizer::Momentum(m) => {
                check("momentum", m.momentum, unit(m.momentum), "in [0, 1)")?;
                let d = m.dampening;
                check("dampening", d, (0.0..=1.0).contains(&d), "in [0, 1]")?;
                if m.nesterov {
                    check(
                        "nesterov",
                        m.momentum,
                        m.momentum > 0.0 && d == 0.0,
                        "used with momentum > 0 and dampening 0",
                    )?;
                }
            }
            Optimizer::AdamW(a) => {
                check("beta1", a.beta1, unit(a.beta1), "in [0, 1)")?;
                check("beta2", a.beta2, unit(a.beta2), "in [0, 1)")?;
                check(
                    "eps",
                    a.eps,
                    a.eps.is_finite() && a.eps > 0.0,
                    "finite and > 0",
                )?;
            }
        }
        Ok(self)
    }
}

/// A tensor with its bounds in one mode, and an enclosure of its exact value.
#[derive(Debug, Clone)]
pub struct Tracked<R> {
    /// The runtime tensor.
    pub value: ArrayD<R>,
    /// Its error bound (in the mode of the step that made it).
    pub eps: Bound,
    /// Its scale bound.
    pub scale: Bound,
    /// A rigorous enclosure of the exact tensor, entry by entry.
    pub exact: ArrayD<Ball>,
}

/// Updates lost to rounding in one parameter tensor: an entry's update is *lost* when the exact
/// increment `Δw`, added to the stored weight `ŵ` and rounded to nearest in the runtime type,
/// gives `ŵ` back (`|Δw|` below half the gap to the neighbour on its side) — decided for every
/// `Δw` in its exact enclosure, so both "lost" and "kept" are sound claims.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LostUpdates {
    /// Entries whose update is certainly lost.
    pub lost: usize,
    /// Entries whose update certainly changes the weight.
    pub kept: usize,
    /// Entries whose enclosure straddles the rounding boundary (or is not finite).
    pub undecided: usize,
}

impl LostUpdates {
    /// Lost entries as a share of all entries (0 for an empty tensor).
    pub fn lost_share(&self) -> f64 {
        let n = self.lost + self.kept + self.undecided;
        if n == 0 {
            0.0
        } else {
            self.lost as f64 / n as f64
        }
    }
}

/// What one parameter's update produced.
#[derive(Debug, Clone)]
pub struct ParamUpdate {
    /// The parameter's position among the inputs `Γ`.
    pub pos: usize,
    /// Error bound of the new weights `w'` (in the step's mode).
    pub eps: Bound,
    /// Scale bound of `w'`.
    pub scale: Bound,
    /// The optimizer state after the step: name, eps and scale per state tensor.
    pub state: Vec<(&'static str, Bound, Bound)>,
    /// Updates lost to rounding.
    pub lost: LostUpdates,
}

/// One parameter's optimizer state between steps.
#[derive(Debug, Clone)]
struct ParamState<R> {
    /// Error bound of the stored weights (0 before the first step: the given weights are exact).
    w_eps: Bound,
    /// Enclosure of the exact weights (`None`: the stored weights are exact).
    w_exact: Option<ArrayD<Ball>>,
    /// The state tensors ([`Optimizer::state_names`]), `None` before the first step.
    state: [Option<Tracked<R>>; 2],
}

/// An optimizer with its state, for the parameters at given input positions: each
/// [`train_step`](RevGraphScale::train_step) certifies a forward and backward pass and
/// updates the parameters and state.
///
/// Two questions a step's bounds can answer:
///
/// * **this step** (default): how far the new weights and state are from the exact update of
///   the *stored* weights and state (taken as exact inputs of the step) — the local error of
///   one step, which is what a test of an optimizer implementation needs;
/// * **the whole trajectory** ([`compounding`](Trainer::compounding)): how far they are from
///   the exact-arithmetic trajectory started at the initial weights; every step's eps enters
///   the next pass as input eps, so the bounds compound soundly — and, being per-tensor worst
///   cases propagated through the whole graph, grow quickly (see `docs/training.md`).
#[derive(Debug, Clone)]
pub struct Trainer<R> {
    optimizer: Optimizer,
    params: Vec<usize>,
    steps: u64,
    states: Vec<ParamState<R>>,
    compound: bool,
}

impl<R: Runtime> Trainer<R> {
    /// A trainer for the inputs at positions `params` (e.g. `&[m.vars.w1.pos(), …]`), with
    /// validated hyper-parameters.
    pub fn new(optimizer: impl Into<Optimizer>, params: &[usize]) -> Result<Trainer<R>, Error> {
        let optimizer = optimizer.into().validate()?;
        Ok(Trainer {
            optimizer,
            params: params.to_vec(),
            steps: 0,
            states: params
                .iter()
                .map(|_| ParamState {
                    w_eps: Bound::ZERO,
                    w_exact: None,
                    state: [None, None],
                })
                .collect(),
            compound: false,
        })
    }

    /// Bounds against the exact trajectory from the initial weights (`true`) or against the
    /// exact update of each step's stored weights and state (`false`, the default).
    pub fn compounding(mut self, on: bool) -> Trainer<R> {
        self.compound = on;
        self
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// The parameters' positions among the inputs.
    pub fn params(&self) -> &[usize] {
        &self.params
    }

    /// The state tensors of the parameter at input position `pos`, by name (empty before its
    /// first step, and for SGD).
    pub fn state_of(&self, pos: usize) -> Vec<(&'static str, &Tracked<R>)> {
        let names = self.optimizer.state_names();
        self.params
            .iter()
            .zip(&self.states)
            .filter(|(p, _)| **p == pos)
            .flat_map(|(_, s)| names.iter().zip(&s.state))
            .filter_map(|(&n, t)| t.as_ref().map(|t| (n, t)))
            .collect()
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The error bound each input carries into the next step: the parameters' from their last
    /// update, 0 for the data. In any-implementation mode a parameter's is doubled: the next
    /// pass must start from a ball that holds every conforming run's weights (each within eps
    /// of the exact ones), not only this run's.
    fn input_eps(&self, n_inputs: usize, mode: Mode) -> Vec<Bound> {
        let mut eps = vec![Bound::ZERO; n_inputs];
        if !self.compound {
            return eps;
        }
        for (&p, s) in self.params.iter().zip(&self.states) {
            if let Some(e) = eps.get_mut(p) {
                *e = match mode {
                    Mode::AnyImplementation => s.w_eps.scale(2.0),
                    _ => s.w_eps,
                };
            }
        }
        eps
    }
}

/// The result of [`RevGraphScale::train_step`].
pub struct Step<R, G, Ctx> {
    /// The certified forward and backward pass (at the weights before the update).
    pub certificate: Certificate<R, G, Ctx>,
    /// The inputs for the next step: the updated parameters, the other inputs unchanged.
    pub inputs: TList<R, G>,
    /// One entry per parameter, in the trainer's order.
    pub updates: Vec<ParamUpdate>,
}

impl<R: Runtime, G: Append<Ss>, Ss, B> RevGraphScale<R, G, Ss, B> {
    /// One certified training step: the forward and backward pass of `loss` with gradients of
    /// the trainer's parameters ([`certify_wrt`](Self::certify_wrt), with each parameter's
    /// eps from the previous steps, so bounds compound soundly), then the optimizer's update of
    /// every parameter with eps and scale bounds of the new weights and state in the graph's
    /// mode, and the updates lost to rounding.
    ///
    /// A parameter position that is not an input is a typed error.
    pub fn train_step(
        &self,
        inputs: TList<R, G>,
        loss: Var<Rank0, B>,
        trainer: &mut Trainer<R>,
    ) -> Result<Step<R, G, Concat<G, Ss>>, Error>
    where
        G: ShapeList,
    {
        let n_in = self.n_inputs();
        if let Some(&p) = trainer.params.iter().find(|&&p| p >= n_in) {
            return Err(Error::LengthMismatch {
                expected: n_in,
                found: p + 1,
            });
        }
        let mode = self.config.mode;
        let eps_in = EList::<G>::from_vec(trainer.input_eps(n_in, mode))?;
        let b_in = BList::<G>::from_vec(
            inputs
                .as_slice()
                .iter()
                .zip(eps_in.as_slice())
                .map(|(x, e)| Bound::new(add_up(linf(x).get(), e.get())))
                .collect(),
        )?;
        let (seed, eps_seed, b_seed) = self.loss_seed(loss);
        let cert = self.certify_wrt(
            inputs,
            &eps_in,
            &b_in,
            &seed,
            &eps_seed,
            &b_seed,
            &trainer.params,
        );
        trainer.steps += 1;
        let (t, opt) = (trainer.steps, trainer.optimizer);
        let k = Consts::new::<R>(&opt, t);
        let mut next: Vec<ArrayD<R>> = cert.values.as_slice()[..n_in].to_vec();
        let mut updates = Vec::with_capacity(trainer.params.len());
        for (&p, st) in trainer.params.iter().zip(trainer.states.iter_mut()) {
            let g_exact = cert.enclosure.as_ref().map(|e| &e.grads.as_slice()[p]);
            let compound = trainer.compound;
            let w = Operand {
                value: &next[p],
                eps: if compound { st.w_eps } else { Bound::ZERO },
                exact: st.w_exact.as_ref().filter(|_| compound),
            };
            let g = Operand {
                value: &cert.grads.as_slice()[p],
                eps: cert.grad_eps.as_slice()[p],
                exact: g_exact,
            };
            let first = st.state[0].is_none();
            let s = [0, 1].map(|i| {
                st.state[i].as_ref().map(|s| Operand {
                    value: &s.value,
                    eps: if compound { s.eps } else { Bound::ZERO },
                    exact: Some(&s.exact).filter(|_| compound),
                })
            });
            // The AdamW ratio cap of `k` holds along the exact trajectory (compounding);
            // from stored state it is recomputed from that state.
            let k = if compound {
                k
            } else {
                let stored = match (&st.state[0], &st.state[1]) {
                    (Some(m), Some(v)) => Some((
                        m.value.iter().map(|x| x.to_spec()),
                        v.value.iter().map(|x| x.to_spec()),
                    )),
                    _ => None,
                };
                k.with_stored_state(&opt, stored)
            };
            let done = update_tensor(&opt, &k, mode, first, w, g, s);
            let names = opt.state_names();
            let mut state = Vec::new();
            for (i, tracked) in done.state.into_iter().enumerate() {
                if let (Some(tr), Some(&name)) = (tracked, names.get(i)) {
                    state.push((name, tr.eps, tr.scale));
                    st.state[i] = Some(tr);
                }
            }
            st.w_eps = done.w.eps;
            st.w_exact = Some(done.w.exact);
            updates.push(ParamUpdate {
                pos: p,
                eps: done.w.eps,
                scale: done.w.scale,
                state,
                lost: done.lost,
            });
            next[p] = done.w.value;
        }
        Ok(Step {
            certificate: cert,
            inputs: TList::from_arrays(next)?,
            updates,
        })
    }
}

impl<R: Runtime> Trainer<R> {
    /// Trace mode (SPEC §11) for the last update: certify the new weights and optimizer state
    /// that *another implementation* computed for the same step — from the same stored
    /// weights and state, with its own gradients and its own update kernel.
    ///
    /// `trace` holds, by name, their `w'` of every parameter (`<name>'`, e.g. `w1'`) and their
    /// state tensors (`<name>.<state>`, e.g. `w1.exp_avg`), the names of
    /// [`Report::push_updates`](crate::report::Report::push_updates); `names` are the names
    /// of `Γ ++ ss` (a model's `m.names()`). Each row (mode `trace`) bounds `|theirs − exact|`
    /// by `max |t − m| + 2r` over the step's exact enclosure `⟨m, r⟩` of the tensor, and every
    /// tensor outside the step's any-implementation bound is flagged: that update does not
    /// follow PyTorch's formulas within the rounding SPEC §5 allows (a skipped bias
    /// correction, a wrong β, a bug). `step` must be this trainer's last step, certified in
    /// the any-implementation mode (that is the bound a foreign update is tested against).
    ///
    /// Errors ([`Error::Trace`]): a step in another mode, a missing or unknown name, a
    /// gradient in the trace, a wrong shape.
    pub fn certify_trace<G, Ctx>(
        &self,
        step: &Step<R, G, Ctx>,
        names: &[&str],
        trace: &Trace,
    ) -> Result<TraceReport, Error> {
        let mode = step.certificate.config.mode;
        if mode != Mode::AnyImplementation {
            return Err(trace_err(
                "<step>",
                format!("certify the step in the any-implementation mode, not {mode:?}"),
            ));
        }
        if let Some(name) = trace.grad_names().next() {
            return Err(trace_err(
                name,
                "an update trace holds new weights and state, not gradients",
            ));
        }
        let name = |i: usize| names.get(i).map_or(format!("#{i}"), |s| s.to_string());
        // Every update tensor: name, enclosure of the exact tensor, any-implementation eps.
        let mut wanted: Vec<(String, usize, &ArrayD<Ball>, Bound)> = Vec::new();
        for u in &step.updates {
            let k = self
                .params
                .iter()
                .position(|&p| p == u.pos)
                .ok_or_else(|| trace_err(name(u.pos), "not a parameter of this trainer"))?;
            let w_exact = self.states[k]
                .w_exact
                .as_ref()
                .ok_or_else(|| trace_err(name(u.pos), "the trainer has not stepped"))?;
            wanted.push((format!("{}'", name(u.pos)), u.pos, w_exact, u.eps));
            for ((sname, tracked), (_, eps, _)) in self.state_of(u.pos).into_iter().zip(&u.state) {
                wanted.push((
                    format!("{}.{sname}", name(u.pos)),
                    u.pos,
                    &tracked.exact,
                    *eps,
                ));
            }
        }
        if let Some(n) = trace
            .value_names()
            .find(|n| !wanted.iter().any(|(w, ..)| w == n))
        {
            return Err(trace_err(
                n,
                "not a new weight or state tensor of this step",
            ));
        }
        let mut report = Report {
            mode: "trace".to_string(),
            runtime: R::NAME.to_string(),
            assumed_ulps: step.certificate.config.assumed_ulps(),
            n_inputs: step.inputs.as_slice().len(),
            rows: Vec::with_capacity(wanted.len()),
            nodes: Vec::new(),
        };
        let mut outside = Vec::new();
        for (n, pos, exact, any_eps) in wanted {
            let t = trace
                .value(&n)
                .ok_or_else(|| trace_err(&n, "missing from the trace"))?;
            if t.shape() != exact.shape() {
                return Err(trace_err(
                    &n,
                    format!("expected shape {:?}, found {:?}", exact.shape(), t.shape()),
                ));
            }
            let mut r = row(n, RowKind::Update, pos, t, Bound::INF, Bound::INF);
            if fill_row(&mut r, t, exact, any_eps) {
                outside.push(r.name.clone());
            }
            report.rows.push(r);
        }
        Ok(TraceReport {
            report,
            outside_any_implementation: outside,
        })
    }
}

/// One operand tensor of an update: runtime values, eps, and an exact enclosure if known.
#[derive(Clone, Copy)]
struct Operand<'a, R> {
    value: &'a ArrayD<R>,
    eps: Bound,
    exact: Option<&'a ArrayD<Ball>>,
}

impl<R: Runtime> Operand<'_, R> {
    /// Enclosures of the exact entries: per entry the narrower of the given enclosure and the
    /// ball of radius eps around the runtime value (both hold the exact value; the given one
    /// can be the whole line where the certificate fell back to a propagated bound).
    fn exact(&self) -> ArrayD<Ball> {
        let eps = self.eps.get();
        let around = |x: &R| Ball::new(x.to_spec(), eps);
        match self.exact {
            Some(e) if e.shape() == self.value.shape() => {
                Zip::from(e).and(self.value).map_collect(|&b, x| {
                    let a = around(x);
                    if a.rad() < b.rad() { a } else { b }
                })
            }
            _ => self.value.map(around),
        }
    }
}

/// The new weights and state of one parameter tensor.
struct Done<R> {
    w: Tracked<R>,
    state: [Option<Tracked<R>>; 2],
    lost: LostUpdates,
}

/// The update of one parameter tensor in the runtime and in the mode's models.
fn update_tensor<R: Runtime>(
    opt: &Optimizer,
    k: &Consts,
    mode: Mode,
    first: bool,
    w: Operand<'_, R>,
    g: Operand<'_, R>,
    s: [Option<Operand<'_, R>>; 2],
) -> Done<R> {
    let zeros = w.value.map(|_| R::zero());
    let zero_op = Operand {
        value: &zeros,
        eps: Bound::ZERO,
        exact: None,
    };
    let [s1, s2] = s.map(|o| o.unwrap_or(zero_op));
    let ops = [w, g, s1, s2];
    let exact: Vec<ArrayD<Ball>> = ops.iter().map(Operand::exact).collect();
    let eps: Vec<f64> = ops.iter().map(|o| o.eps.get()).collect();
    // Entries assembled once per arithmetic: runtime values, exact balls.
    let rt_in = Zip::from(w.value)
        .and(g.value)
        .and(s1.value)
        .and(s2.value)
        .map_collect(|&w, &g, &a, &b| Entry {
            w: w.to_spec(),
            g: g.to_spec(),
            s1: a.to_spec(),
            s2: b.to_spec(),
        });
    let ex_in = Zip::from(&exact[0])
        .and(&exact[1])
        .and(&exact[2])
        .and(&exact[3])
        .map_collect(|&w, &g, &s1, &s2| Entry { w, g, s1, s2 });
    let rt: ArrayD<Out<R>> = rt_in.map(|&e| runtime_update::<R>(opt, k, first, e));
    let ex: ArrayD<Out<Ball>> = ex_in.map(|&e| update(opt, k, first, e));
    let pick = |f: fn(&Out<R>) -> R| rt.map(f);
    let pick_ex = |f: fn(&Out<Ball>) -> Ball| ex.map(f);
    let outs: [(ArrayD<R>, ArrayD<Ball>); 3] = [
        (pick(|o| o.w), pick_ex(|o| o.w)),
        (pick(|o| o.s1), pick_ex(|o| o.s1)),
        (pick(|o| o.s2), pick_ex(|o| o.s2)),
    ];
    // Bounds per output tensor in the mode.
    let bounds: [(Bound, Bound); 3] = match mode {
        Mode::ThisRun => {
            let b = |(r, e): &(ArrayD<R>, ArrayD<Ball>)| {
                let (eps, scale, _) = enclosure_bound(r, e);
                (eps, scale)
            };
            [b(&outs[0]), b(&outs[1]), b(&outs[2])]
        }
        Mode::AnyImplementation => {
            let model = modelled(&ex_in, &eps, |m, r| AnyRun::<R>::new(m, r));
            let any = model.map(|&e| update(opt, k, first, e));
            let b = |i: usize, f: fn(&Out<AnyRun<R>>) -> AnyRun<R>| {
                any_bound(&outs[i].0, &outs[i].1, &any.map(f))
            };
            [b(0, |o| o.w), b(1, |o| o.s1), b(2, |o| o.s2)]
        }
        Mode::Estimate => {
            let model = modelled(&ex_in, &eps, |m, r| Est::<R>::new(m, r / LAMBDA));
            let est = model.map(|&e| update(opt, k, first, e));
            let b = |i: usize, f: fn(&Out<Est<R>>) -> Est<R>| {
                estimate_bound(&outs[i].0, &outs[i].1, &est.map(f))
            };
            [b(0, |o| o.w), b(1, |o| o.s1), b(2, |o| o.s2)]
        }
    };
    let lost = lost_updates(w.value, &ex.map(|o| o.delta));
    let n_state = opt.state_names().len();
    let [(wv, we), (s1v, s1e), (s2v, s2e)] = outs;
    let tracked = |value, exact, (eps, scale): (Bound, Bound)| Tracked {
        value,
        eps,
        scale,
        exact,
    };
    Done {
        w: tracked(wv, we, bounds[0]),
        state: [
            (n_state > 0).then(|| tracked(s1v, s1e, bounds[1])),
            (n_state > 1).then(|| tracked(s2v, s2e, bounds[2])),
        ],
        lost,
    }
}

/// Model inputs for every entry: each operand's exact ball widened by its eps (a conforming
/// run's operand is within eps of the exact one).
fn modelled<S: Copy>(
    exact: &ArrayD<Entry<Ball>>,
    eps: &[f64],
    mk: impl Fn(f64, f64) -> S,
) -> ArrayD<Entry<S>> {
    let m = |b: Ball, e: f64| mk(b.mid(), add_up(b.rad(), e));
    exact.map(|e| Entry {
        w: m(e.w, eps[0]),
        g: m(e.g, eps[1]),
        s1: m(e.s1, eps[2]),
        s2: m(e.s2, eps[3]),
    })
}

/// The runtime's update of one entry: in `f64` for an `f64` runtime, else in `f32` (PyTorch's
/// `opmath` for `f32`, `bf16`, `f16`), each result rounded to `R` when stored.
fn runtime_update<R: Runtime>(opt: &Optimizer, k: &Consts, first: bool, e: Entry<f64>) -> Out<R> {
    let store = |x: f64| R::from_f64(x);
    if R::U < f32::EPSILON as f64 / 2.0 {
        let o = update::<f64>(opt, k, first, e);
        Out {
            w: store(o.w),
            s1: store(o.s1),
            s2: store(o.s2),
            delta: store(o.delta),
        }
    } else {
        let f = |x: f64| x as f32;
        let o = update::<f32>(
            opt,
            k,
            first,
            Entry {
                w: f(e.w),
                g: f(e.g),
                s1: f(e.s1),
                s2: f(e.s2),
            },
        );
        let st = |x: f32| store(x as f64);
        Out {
            w: st(o.w),
            s1: st(o.s1),
            s2: st(o.s2),
            delta: st(o.delta),
        }
    }
}

/// Half the gaps from `w` to its neighbours in `R`, below and above: `w + d` rounds to `w`
/// when `−below < d < above`, and to another value when `d < −below` or `d > above`.
fn half_gaps<R: Runtime>(w: f64) -> (f64, f64) {
    // The spacing of R in the binade [2^e, 2^(e+1)) is 2^e·ε (ε: the spacing at 1), never
    // below the smallest subnormal (the smallest normal times ε). `R::U` is padded for double
    // rounding in the half types, so it is not used here.
    let eps = R::epsilon().to_spec();
    let tiny = R::min_positive_value().to_spec() * eps;
    let spacing = |e: i32| (2f64.powi(e) * eps).max(tiny);
    if w == 0.0 {
        return (tiny / 2.0, tiny / 2.0);
    }
    let (m, exp) = libm::frexp(w.abs());
    let e = exp - 1;
    let away = spacing(e);
    // At a power of two the gap towards zero is the lower binade's.
    let toward = if m == 0.5 { spacing(e - 1) } else { away };
    let (below, above) = if w > 0.0 {
        (toward, away)
    } else {
        (away, toward)
    };
    (below / 2.0, above / 2.0)
}

/// Counts the lost, kept and undecided updates of `w` by the exact increments `delta`.
fn lost_updates<R: Runtime>(w: &ArrayD<R>, delta: &ArrayD<Ball>) -> LostUpdates {
    let mut out = LostUpdates::default();
    for (&w, d) in w.iter().zip(delta) {
        let w = w.to_spec();
        let (lo, hi) = (d.lo(), d.hi());
        if !(w.is_finite() && lo.is_finite() && hi.is_finite()) {
            out.undecided += 1;
            continue;
        }
        let (below, above) = half_gaps::<R>(w);
        if -below < lo && hi < above {
            out.lost += 1;
        } else if lo > above || hi < -below {
            out.kept += 1;
        } else {
            out.undecided += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::bf16;

    #[test]
    fn half_gaps_match_the_neighbours() {
        for w in [1.0f32, 1.5, -1.0, 3.0e-39, 2.0f32.powi(-126), 1e30, -0.375] {
            let (b, a) = half_gaps::<f32>(w as f64);
            assert_eq!(w.next_up() as f64 - w as f64, 2.0 * a, "{w}");
            assert_eq!(w as f64 - w.next_down() as f64, 2.0 * b, "{w}");
        }
        let (b, a) = half_gaps::<bf16>(1.0);
        assert_eq!((a, b), (2f64.powi(-8), 2f64.powi(-9)));
    }

    #[test]
    fn lost_kept_and_undecided() {
        let w = ndarray::arr1(&[1.0f32, 1.0, 1.0, 1.0]).into_dyn();
        let u = 2f64.powi(-24);
        let d = ndarray::arr1(&[
            Ball::new(0.4 * u, 0.1 * u),
            Ball::new(3.0 * u, 0.5 * u),
            Ball::new(1.0 * u, 0.2 * u),
            Ball::new(0.0, f64::INFINITY),
        ])
        .into_dyn();
        let l = lost_updates(&w, &d);
        assert_eq!((l.lost, l.kept, l.undecided), (1, 1, 2));
    }

    #[test]
    fn hyperparameters_are_validated() {
        let bad: [Optimizer; 6] = [
            Sgd {
                lr: f64::NAN,
                ..Sgd::default()
            }
            .into(),
            Sgd {
                weight_decay: -1.0,
                ..Sgd::default()
            }
            .into(),
            Momentum {
                momentum: 1.0,
                ..Momentum::default()
            }
            .into(),
            Momentum {
                nesterov: true,
                dampening: 0.5,
                ..Momentum::default()
            }
            .into(),
            AdamW {
                beta1: -0.1,
                ..AdamW::default()
            }
            .into(),
            AdamW {
                eps: 0.0,
                ..AdamW::default()
            }
            .into(),
        ];
        for o in bad {
            assert!(
                matches!(o.validate(), Err(Error::InvalidHyperparameter { .. })),
                "{o:?}"
            );
        }
        assert!(Optimizer::from(AdamW::default()).validate().is_ok());
    }
}
