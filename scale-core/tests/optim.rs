//! Certified optimizer steps (SPEC §12) against the interval spec.
//!
//! The exact update is computed here independently of the library's update code: the
//! optimizers' textbook formulas in [`Interval`] arithmetic (outward rounded), from exact
//! gradients. A claim `|exact − ŵ'| ≤ eps` is *decided* when the exact value's interval lies
//! inside `[ŵ' − eps, ŵ' + eps]` (holds) or outside it (violation); otherwise it is counted as
//! undecidable. Any-implementation claims are also checked against foreign kernels written
//! here: per-operation rounding in the runtime type, FMA, and an `f64` computation rounded
//! once.

use half::{bf16, f16};
use ndarray::{Array1, ArrayD, arr1};
use proptest::prelude::*;
use scale_core::config::{Config, Mode};
use scale_core::context::{Nil, Seg};
use scale_core::optim::{AdamW, Momentum, Optimizer, Sgd, Trainer};
use scale_core::random::cases_from_env;
use scale_core::{Interval, Rank1, RevGraphScale, Runtime, SpecScalar, TList, ops};

const N: usize = 12;

/// The exact state of one trajectory, entry by entry.
#[derive(Clone)]
struct Exact {
    w: Vec<Interval>,
    s1: Vec<Interval>,
    s2: Vec<Interval>,
}

fn pt(x: f64) -> Interval {
    Interval::from_f64(x)
}

/// One exact step of `opt` at step `t` (textbook formulas, not PyTorch's operation order).
fn exact_step(opt: &Optimizer, t: u64, e: &Exact, g: &[f64]) -> Exact {
    let g: Vec<Interval> = g.iter().map(|&x| pt(x)).collect();
    exact_step_with(opt, t, e, &g)
}

/// [`exact_step`] from enclosures of the exact gradients.
fn exact_step_with(opt: &Optimizer, t: u64, e: &Exact, g: &[Interval]) -> Exact {
    let mut out = e.clone();
    for i in 0..e.w.len() {
        let (w, g) = (e.w[i], g[i]);
        let one = pt(1.0);
        match *opt {
            Optimizer::Sgd(s) => {
                out.w[i] = w - pt(s.lr) * (g + pt(s.weight_decay) * w);
            }
            Optimizer::Momentum(m) => {
                let gd = g + pt(m.weight_decay) * w;
                let b = if t == 1 {
                    gd
                } else {
                    pt(m.momentum) * e.s1[i] + (one - pt(m.dampening)) * gd
                };
                let dir = if m.nesterov {
                    gd + pt(m.momentum) * b
                } else {
                    b
                };
                out.w[i] = w - pt(m.lr) * dir;
                out.s1[i] = b;
            }
            Optimizer::AdamW(a) => {
                let m = pt(a.beta1) * e.s1[i] + (one - pt(a.beta1)) * g;
                let v = pt(a.beta2) * e.s2[i] + (one - pt(a.beta2)) * g * g;
                let mut b1t = one;
                let mut b2t = one;
                for _ in 0..t {
                    b1t = b1t * pt(a.beta1);
                    b2t = b2t * pt(a.beta2);
                }
                let vhat = v / (one - b2t);
                // v ≥ 0 exactly: clamp the interval before the square root.
                let vhat = Interval::new(vhat.lo().max(0.0), vhat.hi());
                let mhat = m / (one - b1t);
                let denom = SpecScalar::sqrt(vhat) + pt(a.eps);
                out.w[i] = w * (one - pt(a.lr) * pt(a.weight_decay)) - pt(a.lr) * mhat / denom;
                out.s1[i] = m;
                out.s2[i] = v;
            }
        }
    }
    out
}

#[derive(Default, Debug)]
struct Tally {
    held: usize,
    violated: usize,
    /// The exact value's interval straddles a bound's edge.
    undecidable: usize,
    /// The bound is +∞ or the exact value is not finite (overflowing data): nothing to check.
    unbounded: usize,
}

impl Tally {
    /// Decides `|x − r| ≤ eps` for every exact `x` in `iv`.
    fn claim(&mut self, iv: Interval, r: f64, eps: f64, what: &str) {
        if !(iv.lo().is_finite() && iv.hi().is_finite() && eps.is_finite()) {
            self.unbounded += 1;
        } else if iv.lo() >= r - eps && iv.hi() <= r + eps {
            self.held += 1;
        } else if iv.hi() < r - eps || iv.lo() > r + eps {
            self.violated += 1;
            eprintln!(
                "VIOLATION {what}: exact in [{}, {}], r = {r}, eps = {eps}",
                iv.lo(),
                iv.hi()
            );
        } else {
            self.undecidable += 1;
        }
    }
}

type G1<R> = RevGraphScale<
    R,
    Seg<Nil, (Rank1<N>, Rank1<N>)>,
    Seg<Seg<Nil, (Rank1<N>,)>, (scale_core::Rank0,)>,
    (),
>;

/// `loss = Σ w·c`: the gradient of `w` is exactly `c` (in every run), so the update's own
/// rounding is what the bounds of `w'` must cover.
fn linear<R: Runtime>(mode: Mode) -> (G1<R>, scale_core::Var<scale_core::Rank0, ()>, usize) {
    let (g, (w, c)) = RevGraphScale::<R, Seg<Nil, (Rank1<N>, Rank1<N>)>, Nil, ()>::nil(());
    let (g, p) = g.snoc(ops::mul(w, c));
    let (g, loss) = g.snoc(ops::sum(p));
    let cfg = Config::default().with_mode(mode);
    (g.with_config(cfg), loss, w.pos())
}

/// Steps `opt` `steps` times on the linear graph with weights `w0` and gradient `c` (both
/// rounded to `R`), checking every step's `w'` and state against the exact trajectory
/// (`compound`) or against the exact update of the stored weights and state (each step's own
/// question); in any-implementation mode also the foreign kernels' `w'`, each step from the
/// same weights (and, for the step's question, the same stored state) as the library's run.
fn run<R: Runtime>(
    opt: Optimizer,
    mode: Mode,
    compound: bool,
    w0: &[f64],
    c: &[f64],
    steps: u64,
    tally: &mut Tally,
) {
    let (g, loss, wpos) = linear::<R>(mode);
    let w0: Vec<R> = w0.iter().map(|&x| R::from_f64(x)).collect();
    let c: Vec<R> = c.iter().map(|&x| R::from_f64(x)).collect();
    let cf: Vec<f64> = c.iter().map(|x| x.to_spec()).collect();
    let mut inputs = TList::from_arrays(vec![
        Array1::from(w0.clone()).into_dyn(),
        Array1::from(c.clone()).into_dyn(),
    ])
    .unwrap();
    let mut trainer = Trainer::<R>::new(opt, &[wpos])
        .unwrap()
        .compounding(compound);
    let mut exact = Exact {
        w: w0.iter().map(|x| pt(x.to_spec())).collect(),
        s1: vec![pt(0.0); N],
        s2: vec![pt(0.0); N],
    };
    let mut foreign = Foreign::<R>::new(&w0);
    for t in 1..=steps {
        let w_before: Vec<R> = inputs.as_slice()[0].iter().copied().collect();
        if !compound {
            let state: Vec<Vec<f64>> = trainer
                .state_of(wpos)
                .iter()
                .map(|(_, s)| s.value.iter().map(|x| x.to_spec()).collect())
                .collect();
            let slot = |k: usize| state.get(k).cloned().unwrap_or_else(|| vec![0.0; N]);
            let pts = |v: &[f64]| v.iter().map(|&x| pt(x)).collect();
            exact = Exact {
                w: w_before.iter().map(|x| pt(x.to_spec())).collect(),
                s1: pts(&slot(0)),
                s2: pts(&slot(1)),
            };
            foreign.state.fill((slot(0), slot(1)));
        }
        let step = g.train_step(inputs, loss, &mut trainer).unwrap();
        exact = exact_step(&opt, t, &exact, &cf);
        let u = &step.updates[0];
        let wn = &step.inputs.as_slice()[0];
        for (i, r) in wn.iter().enumerate() {
            tally.claim(
                exact.w[i],
                r.to_spec(),
                u.eps.get(),
                &format!("{} {} w' t={t} #{i}", opt.name(), R::NAME),
            );
        }
        for (k, (name, tr)) in trainer.state_of(wpos).into_iter().enumerate() {
            let ex = if k == 0 { &exact.s1 } else { &exact.s2 };
            for (i, r) in tr.value.iter().enumerate() {
                tally.claim(
                    ex[i],
                    r.to_spec(),
                    tr.eps.get(),
                    &format!("{} {name} t={t} #{i}", opt.name()),
                );
                // The enclosure carried into the next step holds the exact state.
                let b = tr.exact[i];
                assert!(
                    b.lo() <= ex[i].hi() && ex[i].lo() <= b.hi(),
                    "{name} enclosure"
                );
            }
        }
        // Lost updates: a "lost" claim means the exact update rounds back to the weight.
        let lost = u.lost.lost + u.lost.kept + u.lost.undecided;
        assert_eq!(lost, N);
        if mode == Mode::AnyImplementation {
            for (kname, fw) in foreign.step(&opt, t, &w_before, &c) {
                for (i, r) in fw.iter().enumerate() {
                    tally.claim(
                        exact.w[i],
                        r.to_spec(),
                        u.eps.get(),
                        &format!("{} foreign {kname} t={t} #{i}", opt.name()),
                    );
                }
            }
        }
        inputs = step.inputs;
    }
}

/// Foreign implementations of the updates: each keeps its own state and starts every step from
/// the same weights as the library's run (the any-implementation claim of one step).
struct Foreign<R> {
    /// Per kernel: the two state slots.
    state: Vec<(Vec<f64>, Vec<f64>)>,
    _r: std::marker::PhantomData<R>,
}

impl<R: Runtime> Foreign<R> {
    const KERNELS: [&'static str; 3] = ["per-op in R", "fma in opmath", "f64, rounded once"];

    fn new(w: &[R]) -> Self {
        Foreign {
            state: vec![(vec![0.0; w.len()], vec![0.0; w.len()]); 3],
            _r: std::marker::PhantomData,
        }
    }

    /// One rounding: per-op in `R`, in `f32` (with FMA where it fuses), or none (f64).
    fn step(&mut self, opt: &Optimizer, t: u64, w: &[R], g: &[R]) -> Vec<(&'static str, Vec<R>)> {
        let mut out = Vec::new();
        for (k, name) in Self::KERNELS.iter().enumerate() {
            // PyTorch's opmath: f32 for the narrower types, f64 for f64.
            let wide = R::U < 1e-10;
            let rnd = |x: f64| -> f64 {
                match k {
                    0 => R::from_f64(x).to_spec(),
                    1 if !wide => (x as f32) as f64,
                    _ => x,
                }
            };
            let fma = |a: f64, b: f64, c: f64| -> f64 {
                match k {
                    1 if wide => a.mul_add(b, c),
                    1 => (a as f32).mul_add(b as f32, c as f32) as f64,
                    _ => rnd(rnd(a * b) + c),
                }
            };
            let (s1, s2) = &mut self.state[k];
            let mut nw = Vec::with_capacity(w.len());
            for i in 0..w.len() {
                let (wi, gi) = (w[i].to_spec(), g[i].to_spec());
                let r = match *opt {
                    Optimizer::Sgd(s) => {
                        let gd = fma(s.weight_decay, wi, gi);
                        fma(-s.lr, gd, wi)
                    }
                    Optimizer::Momentum(m) => {
                        let gd = fma(m.weight_decay, wi, gi);
                        s1[i] = if t == 1 {
                            gd
                        } else {
                            fma(m.momentum, s1[i], rnd((1.0 - m.dampening) * gd))
                        };
                        let dir = if m.nesterov {
                            fma(m.momentum, s1[i], gd)
                        } else {
                            s1[i]
                        };
                        fma(-m.lr, dir, wi)
                    }
                    Optimizer::AdamW(a) => {
                        let decayed = rnd(wi * rnd(1.0 - a.lr * a.weight_decay));
                        s1[i] = fma(1.0 - a.beta1, rnd(gi - s1[i]), s1[i]);
                        s2[i] = fma(rnd((1.0 - a.beta2) * gi), gi, rnd(s2[i] * a.beta2));
                        let bc1 = 1.0 - a.beta1.powi(t as i32);
                        let bc2 = (1.0 - a.beta2.powi(t as i32)).sqrt();
                        let denom = rnd(rnd(rnd(s2[i].sqrt()) / rnd(bc2)) + rnd(a.eps));
                        fma(-rnd(a.lr / bc1), rnd(s1[i] / denom), decayed)
                    }
                };
                // Every kernel stores its results in R.
                s1[i] = R::from_f64(s1[i]).to_spec();
                s2[i] = R::from_f64(s2[i]).to_spec();
                nw.push(R::from_f64(r));
            }
            out.push((*name, nw));
        }
        out
    }
}

fn optimizers() -> Vec<Optimizer> {
    vec![
        Sgd {
            lr: 0.1,
            weight_decay: 0.0,
        }
        .into(),
        Sgd {
            lr: 0.03,
            weight_decay: 0.01,
        }
        .into(),
        Momentum {
            lr: 0.05,
            ..Momentum::default()
        }
        .into(),
        Momentum {
            lr: 0.05,
            dampening: 0.3,
            weight_decay: 1e-3,
            ..Momentum::default()
        }
        .into(),
        Momentum {
            lr: 0.05,
            nesterov: true,
            ..Momentum::default()
        }
        .into(),
        AdamW::default().into(),
        AdamW {
            lr: 0.5,
            weight_decay: 0.1,
            eps: 1e-3,
            ..AdamW::default()
        }
        .into(),
    ]
}

/// Adversarial gradients: zeros (ε-dominated Adam denominators), tiny and subnormal, huge,
/// ties and sign changes; weights at power-of-two boundaries.
fn adversarial() -> Vec<(Vec<f64>, Vec<f64>)> {
    let w = vec![
        1.0, -1.0, 0.5, 2.0, 1e-3, -7.25, 0.0, 3.0e-39, 1e4, -0.1, 0.75, 6.0,
    ];
    vec![
        (w.clone(), vec![0.0; N]),
        (
            w.clone(),
            vec![
                1e-30, -1e-30, 1e-40, 0.0, 1e-12, -1e-12, 1e-38, 2e-38, 1e-20, 0.0, -1e-39, 1e-8,
            ],
        ),
        (
            w.clone(),
            vec![
                1e30, -1e30, 3e8, -3e8, 1e20, 1.0, -1.0, 1e10, -1e10, 5.0, 0.0, 1e15,
            ],
        ),
        (
            w.clone(),
            vec![
                1.0, -1.0, 1.0, -1.0, 0.5, -0.5, 0.25, -0.25, 1e-3, -1e-3, 2.0, -2.0,
            ],
        ),
    ]
}

/// Both questions a step answers: the trajectory's and the step's own.
fn check_all<R: Runtime>(mode: Mode, data: &[(Vec<f64>, Vec<f64>)], steps: u64) -> Tally {
    let mut tally = Tally::default();
    for opt in optimizers() {
        for (w, c) in data {
            for compound in [true, false] {
                run::<R>(opt, mode, compound, w, c, steps, &mut tally);
            }
        }
    }
    tally
}

#[test]
fn adversarial_updates_are_sound_in_every_runtime_and_mode() {
    let data = adversarial();
    for mode in [Mode::ThisRun, Mode::AnyImplementation] {
        let tallies = [
            ("f32", check_all::<f32>(mode, &data, 5)),
            ("bf16", check_all::<bf16>(mode, &data, 5)),
            ("f16", check_all::<f16>(mode, &data, 5)),
            ("f64", check_all::<f64>(mode, &data, 3)),
        ];
        for (rt, t) in tallies {
            eprintln!("{mode:?} {rt}: {t:?}");
            assert_eq!(t.violated, 0, "{mode:?} {rt}");
            assert!(t.held > 0);
            // Unbounded: gradients that overflow f16/bf16 (1e30) make the bound +∞, as they
            // must; straddling intervals are rare.
            assert!(t.undecidable * 100 <= t.held, "{mode:?} {rt}: {t:?}");
        }
    }
}

proptest! {
    // `PROPTEST_CASES=N` for a longer run.
    #![proptest_config(ProptestConfig::with_cases(
        cases_from_env("PROPTEST_CASES", 48)
    ))]

    #[test]
    fn random_updates_are_sound(
        w in prop::collection::vec(-4.0f64..4.0, N),
        c in prop::collection::vec(-2.0f64..2.0, N),
        scale in -20i32..20,
    ) {
        let c: Vec<f64> = c.iter().map(|x| x * 2f64.powi(scale)).collect();
        let data = vec![(w, c)];
        for mode in [Mode::ThisRun, Mode::AnyImplementation] {
            let t = check_all::<f32>(mode, &data, 3);
            prop_assert_eq!(t.violated, 0);
            let t = check_all::<bf16>(mode, &data, 3);
            prop_assert_eq!(t.violated, 0);
        }
    }
}

#[test]
fn this_run_bounds_are_tight_for_adamw() {
    // Moderate data: the this-run bound should be close to the true error, not just sound.
    let w: Vec<f64> = (0..N).map(|i| (i as f64 - 5.5) * 0.37).collect();
    let c: Vec<f64> = (0..N)
        .map(|i| ((i * 7 % 5) as f64 - 2.0) * 0.11 + 0.013)
        .collect();
    let (g, loss, wpos) = linear::<f32>(Mode::ThisRun);
    let inputs = TList::from_arrays(vec![
        arr1(&w.iter().map(|&x| x as f32).collect::<Vec<_>>()).into_dyn(),
        arr1(&c.iter().map(|&x| x as f32).collect::<Vec<_>>()).into_dyn(),
    ])
    .unwrap();
    let opt: Optimizer = AdamW {
        lr: 0.1,
        ..AdamW::default()
    }
    .into();
    let mut trainer = Trainer::<f32>::new(opt, &[wpos]).unwrap();
    let step = g.train_step(inputs, loss, &mut trainer).unwrap();
    let ex = exact_step(
        &opt,
        1,
        &Exact {
            w: w.iter().map(|&x| pt(x as f32 as f64)).collect(),
            s1: vec![pt(0.0); N],
            s2: vec![pt(0.0); N],
        },
        &c.iter().map(|&x| x as f32 as f64).collect::<Vec<_>>(),
    );
    let wn: &ArrayD<f32> = &step.inputs.as_slice()[0];
    let true_err = wn
        .iter()
        .zip(&ex.w)
        .map(|(r, e)| (*r as f64 - e.lo()).abs().max((*r as f64 - e.hi()).abs()))
        .fold(0.0, f64::max);
    let eps = step.updates[0].eps.get();
    assert!(eps >= true_err);
    assert!(
        eps <= 1.2 * true_err + 1e-15,
        "eps {eps} vs true {true_err}"
    );
}

#[test]
fn non_finite_gradients_give_infinite_bounds() {
    let (g, loss, wpos) = linear::<f32>(Mode::ThisRun);
    let inputs = TList::from_arrays(vec![
        Array1::from(vec![1.0f32; N]).into_dyn(),
        Array1::from(
            (0..N)
                .map(|i| if i == 3 { f32::NAN } else { 1.0 })
                .collect::<Vec<_>>(),
        )
        .into_dyn(),
    ])
    .unwrap();
    let mut trainer = Trainer::<f32>::new(AdamW::default(), &[wpos]).unwrap();
    let step = g.train_step(inputs, loss, &mut trainer).unwrap();
    assert!(step.updates[0].eps.is_infinite());
    assert!(
        step.updates[0]
            .state
            .iter()
            .all(|(_, e, _)| e.is_infinite())
    );
    assert!(step.updates[0].lost.undecided >= 1);
}

#[test]
fn bf16_loses_small_updates_and_says_so() {
    // lr·g far below half an ulp of w = 1 in bf16 (2^-9) but above it in f32.
    let (g, loss, wpos) = linear::<bf16>(Mode::ThisRun);
    let one = Array1::from(vec![bf16::from_f64(1.0); N]).into_dyn();
    let c = Array1::from(vec![bf16::from_f64(1e-3); N]).into_dyn();
    let mut trainer = Trainer::<bf16>::new(
        Sgd {
            lr: 0.1,
            weight_decay: 0.0,
        },
        &[wpos],
    )
    .unwrap();
    let step = g
        .train_step(
            TList::from_arrays(vec![one, c]).unwrap(),
            loss,
            &mut trainer,
        )
        .unwrap();
    let l = step.updates[0].lost;
    assert_eq!((l.lost, l.kept, l.undecided), (N, 0, 0));
    assert!(
        step.inputs.as_slice()[0]
            .iter()
            .all(|&x| x == bf16::from_f64(1.0))
    );

    let (g, loss, wpos) = linear::<f32>(Mode::ThisRun);
    let one = Array1::from(vec![1.0f32; N]).into_dyn();
    let c = Array1::from(vec![1e-3f32; N]).into_dyn();
    let mut trainer = Trainer::<f32>::new(
        Sgd {
            lr: 0.1,
            weight_decay: 0.0,
        },
        &[wpos],
    )
    .unwrap();
    let step = g
        .train_step(
            TList::from_arrays(vec![one, c]).unwrap(),
            loss,
            &mut trainer,
        )
        .unwrap();
    let l = step.updates[0].lost;
    assert_eq!((l.lost, l.kept, l.undecided), (0, N, 0));
}

#[test]
fn parameters_must_be_inputs() {
    let (g, loss, _) = linear::<f32>(Mode::ThisRun);
    let inputs = TList::from_arrays(vec![
        Array1::from(vec![1.0f32; N]).into_dyn(),
        Array1::from(vec![1.0f32; N]).into_dyn(),
    ])
    .unwrap();
    let mut trainer = Trainer::<f32>::new(Sgd::default(), &[7]).unwrap();
    assert!(g.train_step(inputs, loss, &mut trainer).is_err());
}

/// Ten AdamW (and momentum) steps of a small relu MLP: the gradients now carry their own eps,
/// the weights' eps of one step enter the next pass, and the exact trajectory is followed in
/// interval arithmetic (the graph's interval spec pass for the gradients, the textbook update
/// for the weights).
fn mlp_trajectory(opt: Optimizer, mode: Mode, steps: u64) -> Tally {
    use scale_core::{Rank2, TList};
    let (g, (x, w1, w2, target)) = RevGraphScale::<
        f32,
        Seg<Nil, (Rank2<4, 3>, Rank2<3, 5>, Rank2<5, 2>, Rank2<4, 2>)>,
        Nil,
        (),
    >::nil(());
    let (g, z) = g.snoc(ops::matmul(x, w1));
    let (g, h) = g.snoc(ops::relu(z));
    let (g, y) = g.snoc(ops::matmul(h, w2));
    let (g, loss) = g.snoc(ops::mse(y, target));
    let g = g.with_config(Config::default().with_mode(mode));
    let data = |n: usize, seed: u64| -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u64 * 2654435761 + seed * 97) % 1000) as f32 / 500.0 - 1.0) * 0.9)
            .collect()
    };
    let arr = |r: usize, c: usize, seed: u64| {
        ndarray::Array2::from_shape_vec((r, c), data(r * c, seed))
            .unwrap()
            .into_dyn()
    };
    let mut inputs =
        TList::from_arrays(vec![arr(4, 3, 1), arr(3, 5, 2), arr(5, 2, 3), arr(4, 2, 4)]).unwrap();
    let params = [w1.pos(), w2.pos()];
    let mut trainer = Trainer::<f32>::new(opt, &params).unwrap().compounding(true);
    let iv = |a: &ArrayD<f32>| a.map(|&v| pt(v as f64));
    let mut exact: Vec<Exact> = params
        .iter()
        .map(|&p| {
            let w: Vec<Interval> = iv(&inputs.as_slice()[p]).iter().copied().collect();
            let n = w.len();
            Exact {
                w,
                s1: vec![pt(0.0); n],
                s2: vec![pt(0.0); n],
            }
        })
        .collect();
    let (seed, _, _) = g.loss_seed(loss);
    let seed_iv = seed.to_spec::<Interval>();
    let mut tally = Tally::default();
    for t in 1..=steps {
        // The exact gradients at the exact weights.
        let mut xs: Vec<ArrayD<Interval>> = inputs.as_slice().iter().map(iv).collect();
        for (k, &p) in params.iter().enumerate() {
            xs[p] = ArrayD::from_shape_vec(xs[p].raw_dim(), exact[k].w.clone()).unwrap();
        }
        let xs = TList::from_arrays(xs).unwrap();
        let grads = g.backprop_spec::<Interval>(&xs, &seed_iv);
        let step = g.train_step(inputs, loss, &mut trainer).unwrap();
        for (k, &p) in params.iter().enumerate() {
            let gk: Vec<Interval> = grads.as_slice()[p].iter().copied().collect();
            exact[k] = exact_step_iv(&opt, t, &exact[k], &gk);
            let u = &step.updates[k];
            for (i, r) in step.inputs.as_slice()[p].iter().enumerate() {
                tally.claim(
                    exact[k].w[i],
                    *r as f64,
                    u.eps.get(),
                    &format!("mlp {} t={t} w{k} #{i}", opt.name()),
                );
            }
        }
        inputs = step.inputs;
    }
    tally
}

/// [`exact_step`] with interval gradients.
fn exact_step_iv(opt: &Optimizer, t: u64, e: &Exact, g: &[Interval]) -> Exact {
    // The update is monotone in nothing useful; evaluate it on the gradient intervals directly
    // (interval arithmetic encloses every exact gradient in them).
    let mut out = e.clone();
    for (i, &gi) in g.iter().enumerate().take(e.w.len()) {
        let one_entry = Exact {
            w: vec![e.w[i]],
            s1: vec![e.s1[i]],
            s2: vec![e.s2[i]],
        };
        let r = exact_step_with(opt, t, &one_entry, &[gi]);
        out.w[i] = r.w[0];
        out.s1[i] = r.s1[0];
        out.s2[i] = r.s2[0];
    }
    out
}

#[test]
fn ten_steps_of_a_relu_mlp_stay_sound() {
    let opts: [Optimizer; 2] = [
        AdamW {
            lr: 0.05,
            ..AdamW::default()
        }
        .into(),
        Momentum {
            lr: 0.1,
            nesterov: true,
            ..Momentum::default()
        }
        .into(),
    ];
    for opt in opts {
        for mode in [Mode::ThisRun, Mode::AnyImplementation] {
            let t = mlp_trajectory(opt, mode, 10);
            eprintln!("mlp {} {mode:?}: {t:?}", opt.name());
            assert_eq!(t.violated, 0);
            assert!(t.held > 0);
            assert!(t.undecidable * 10 <= t.held, "{t:?}");
        }
    }
}

#[test]
fn zero_size_parameters_update_to_nothing() {
    let (g, (w, c)) = RevGraphScale::<f32, Seg<Nil, (Rank1<0>, Rank1<0>)>, Nil, ()>::nil(());
    let (g, p) = g.snoc(ops::mul(w, c));
    let (g, loss) = g.snoc(ops::sum(p));
    let empty = || Array1::<f32>::zeros(0).into_dyn();
    for opt in optimizers() {
        let mut trainer = Trainer::<f32>::new(opt, &[w.pos()]).unwrap();
        let step = g
            .train_step(
                TList::from_arrays(vec![empty(), empty()]).unwrap(),
                loss,
                &mut trainer,
            )
            .unwrap();
        let u = &step.updates[0];
        assert_eq!(u.eps.get(), 0.0, "{}", opt.name());
        assert_eq!((u.lost.lost, u.lost.kept, u.lost.undecided), (0, 0, 0));
        assert_eq!(u.lost.lost_share(), 0.0);
    }
}
