//! A certified training step (SPEC §12): mlp_deep (a 4-layer relu MLP, mse loss) trained with
//! AdamW for 5 steps in bf16, then the same in f32 for contrast.
//!
//! Every step certifies the forward and backward pass, updates the weights and the optimizer
//! state with eps and B in the graph's mode, and counts per parameter tensor the updates lost
//! to rounding (`|Δw|` below half an ulp of the stored weight: sound "lost"/"kept" claims, and
//! "undecided" where the exact increment's enclosure straddles the boundary).
//!
//! The bounds are checked against a reference trajectory: the exact gradients and AdamW's
//! textbook formulas evaluated in `f64` from the same initial weights (independent of the
//! library's update code and ~10⁹ times more precise than a bf16 or f32 run). The example
//! prints `bound / true error` of the new weights per mode and exits non-zero if a rigorous
//! bound is below the reference error.
//!
//! In the any-implementation mode each step is also computed by foreign updates — PyTorch's
//! single-tensor AdamW, a fused FMA kernel and an `f64`-accumulating one
//! (`tests/foreign/update.rs`), from the step's stored weights, state and certified
//! gradients — and the summary gives `bound / worst foreign error` beside `bound / this run's
//! error`: the tightness that matters for a tolerance meant for other implementations. Then
//! trace mode certifies one such foreign step by name, and flags one that skips AdamW's bias
//! correction.
//!
//! Run: `cargo run --release --example train_step`
#![forbid(unsafe_code)]

#[path = "../tests/foreign/update.rs"]
mod foreign_update;

use ndarray::ArrayD;
use scale_graph::config::Mode;
use scale_graph::optim::{AdamW, Optimizer, Trainer};
use scale_graph::trace::Trace;
use scale_graph::{Config, Model, Runtime, TList, scale_graph};
use std::process::ExitCode;

const STEPS: u64 = 5;

/// What one run measured.
#[derive(Default)]
struct Run {
    /// `eps / true error` of every parameter's `w'` at every step.
    ratios: Vec<f64>,
    /// `eps / worst foreign error` of every `w'` (any-implementation, this step only).
    vs_foreign: Vec<f64>,
    violations: usize,
}

fn run<R: Runtime>(mode: Mode, compound: bool, print: bool) -> Result<Run, scale_graph::Error> {
    let m = scale_graph! {
        runtime = R;
        input x: [8, 64];
        input w1: [64, 48];
        input b1: [48];
        input w2: [48, 32];
        input b2: [32];
        input w3: [32, 32];
        input b3: [32];
        input w4: [32, 10];
        input b4: [10];
        input target: [8, 10];
        let h1 = relu(add_bias(matmul(x, w1), b1));
        let h2 = relu(add_bias(matmul(h1, w2), b2));
        let h3 = relu(add_bias(matmul(h2, w3), b3));
        let loss = mse(add_bias(matmul(h3, w4), b4), target);
    };
    let mut m = m;
    m.graph = m.graph.with_config(Config::default().with_mode(mode));
    let v = m.vars;
    let mut inputs = m.random_inputs(7);
    // He-style initialisation: the weights' spread 1/√fan_in, biases 0.1.
    let scale = |a: &mut ndarray::Array2<R>| {
        let s = 1.0 / (a.nrows() as f64).sqrt();
        a.mapv_inplace(|x| R::from_f64(Runtime::to_spec(x) * s));
    };
    scale(&mut inputs.w1);
    scale(&mut inputs.w2);
    scale(&mut inputs.w3);
    scale(&mut inputs.w4);
    for b in [&mut inputs.b1, &mut inputs.b2, &mut inputs.b3] {
        b.mapv_inplace(|x| R::from_f64(Runtime::to_spec(x) * 0.1));
    }
    inputs
        .b4
        .mapv_inplace(|x| R::from_f64(Runtime::to_spec(x) * 0.1));

    let params = [v.w1.pos(), v.w2.pos(), v.w3.pos(), v.w4.pos()];
    let bias = [v.b1.pos(), v.b2.pos(), v.b3.pos(), v.b4.pos()];
    let all: Vec<usize> = params.iter().chain(&bias).copied().collect();
    let adamw = AdamW {
        lr: 1e-3,
        ..AdamW::default()
    };
    let mut trainer = Trainer::<R>::new(adamw, &all)?.compounding(compound);

    // The f64 reference trajectory: exact gradients (spec pass in f64) and AdamW in f64.
    let mut reference = Reference::new(&m.input_list(&inputs)?, &all, Optimizer::from(adamw));
    let seed = m.graph.loss_seed(v.loss).0.to_spec::<f64>();
    let mut out = Run::default();
    for t in 1..=STEPS {
        if !compound {
            // This step's question: the exact update of the stored weights and state.
            reference.restart(&m.input_list(&inputs)?, &trainer);
        }
        let xs = TList::from_arrays(reference.x.clone())?;
        let grads = m.graph.backprop_spec::<f64>(&xs, &seed).into_vec();
        // The stored weights and state the step starts from (for the foreign updates).
        let before = m.input_list(&inputs)?;
        let state: Vec<Vec<Vec<f32>>> = all
            .iter()
            .map(|&p| {
                let st = trainer.state_of(p);
                st.iter().map(|(_, s)| to_f32(&s.value)).collect()
            })
            .collect();
        let step = m.train_step(&mut inputs, v.loss, &mut trainer)?;
        reference.update(t, &grads);
        let foreign = mode == Mode::AnyImplementation && !compound;
        // Their step: PyTorch's AdamW from the same stored weights and state, with our
        // certified gradients (a conforming gradient), each op stored to R.
        let store: fn(f32) -> f32 = |x| Runtime::to_spec(R::from_f64(f64::from(x))) as f32;
        let theirs = |kind, k: usize, p: usize| {
            let prev = state[k].first().map(|m1| (&m1[..], &state[k][1][..]));
            let w = to_f32(&before.as_slice()[p]);
            let g = to_f32(&step.certificate.grads.as_slice()[p]);
            foreign_update::step(kind, &Optimizer::from(adamw), t, &w, &g, prev, store)
        };
        if print {
            println!(
                "\n── {} {mode:?}, step {t}: loss {:.6}",
                R::NAME,
                Runtime::to_spec(step.certificate.value(v.loss))
            );
            println!(
                "{:<8} {:>11} {:>11} {:>11} {:>9}   lost updates",
                "param", "eps(w')", "true err", "bound/true", ""
            );
        }
        for u in &step.updates {
            let name = m.names()[u.pos];
            let w_new = &step.inputs.as_slice()[u.pos];
            let truth = reference.error(u.pos, w_new);
            let eps = u.eps.get();
            if truth > eps {
                out.violations += 1;
                if mode != Mode::Estimate {
                    eprintln!("VIOLATION: {name}' step {t}: true error {truth:e} > eps {eps:e}");
                }
            }
            if truth > 0.0 {
                out.ratios.push(eps / truth);
            }
            if foreign {
                let k = all.iter().position(|&p| p == u.pos).expect("a parameter");
                let mut worst = 0.0f64;
                for kind in foreign_update::CONFORMING {
                    let theirs = theirs(kind, k, u.pos);
                    let err = reference.error_f32(u.pos, &theirs.w);
                    if err > eps {
                        out.violations += 1;
                        eprintln!(
                            "VIOLATION: {name}' step {t} ({}): foreign error {err:e} > eps {eps:e}",
                            kind.name()
                        );
                    }
                    worst = worst.max(err);
                }
                if worst > 0.0 {
                    out.vs_foreign.push(eps / worst);
                }
            }
            if print {
                let l = u.lost;
                println!(
                    "{:<8} {:>11.3e} {:>11.3e} {:>11.2} {:>9}   {:>5.1} % lost ({} lost, {} kept, {} undecided)",
                    format!("{name}'"),
                    eps,
                    truth,
                    if truth > 0.0 { eps / truth } else { f64::NAN },
                    "",
                    100.0 * l.lost_share(),
                    l.lost,
                    l.kept,
                    l.undecided
                );
            }
        }
        if foreign && t == 1 && R::NAME == "f32" {
            // Trace mode: their w' and state by name, certified against this step's exact
            // enclosure; then the same update without bias correction.
            for kind in [
                foreign_update::Update::Torch,
                foreign_update::Update::NoBiasCorrection,
            ] {
                let mut trace = Trace::default();
                for (k, &p) in all.iter().enumerate() {
                    let theirs = theirs(kind, k, p);
                    let shape = before.as_slice()[p].shape();
                    let name = m.names()[p];
                    for (suffix, vals) in [
                        ("'", &theirs.w),
                        (".exp_avg", &theirs.s1),
                        (".exp_avg_sq", &theirs.s2),
                    ] {
                        let a = ArrayD::from_shape_vec(
                            shape,
                            vals.iter().map(|&x| f64::from(x)).collect(),
                        )
                        .expect("the parameter's shape");
                        trace.insert_value(&format!("{name}{suffix}"), a);
                    }
                }
                let out = m.certify_update_trace(&step, &trainer, &trace)?;
                println!(
                    "\n── trace mode: {} AdamW step 1 of mlp_deep (f32), certified by name",
                    kind.name()
                );
                println!(
                    "{:<16} {:>11} {:>11}   note",
                    "tensor", "eps(theirs)", "observed"
                );
                for row in out.report.rows.iter().filter(|r| r.name.ends_with('\'')) {
                    println!(
                        "{:<16} {:>11.3e} {:>11.3e}   {}",
                        row.name,
                        row.eps.unwrap_or(f64::INFINITY),
                        row.observed.unwrap_or(f64::NAN),
                        row.note.as_deref().unwrap_or("")
                    );
                }
                println!(
                    "outside the any-implementation bound: {} of {} tensors",
                    out.outside_any_implementation.len(),
                    out.report.rows.len()
                );
            }
        }
    }
    Ok(out)
}

fn to_f32<R: Runtime>(a: &ArrayD<R>) -> Vec<f32> {
    a.iter().map(|&x| Runtime::to_spec(x) as f32).collect()
}

/// The reference: inputs in `f64`, AdamW state per parameter.
struct Reference {
    x: Vec<ArrayD<f64>>,
    params: Vec<usize>,
    opt: Optimizer,
    m: Vec<ArrayD<f64>>,
    v: Vec<ArrayD<f64>>,
}

impl Reference {
    fn new<R: Runtime, G>(x: &TList<R, G>, params: &[usize], opt: Optimizer) -> Reference {
        let x: Vec<ArrayD<f64>> = x
            .as_slice()
            .iter()
            .map(|a| a.map(|v| Runtime::to_spec(*v)))
            .collect();
        let zeros: Vec<ArrayD<f64>> = params.iter().map(|&p| x[p].map(|_| 0.0)).collect();
        Reference {
            x,
            params: params.to_vec(),
            opt,
            m: zeros.clone(),
            v: zeros,
        }
    }

    /// Restarts the reference from the stored weights and optimizer state.
    fn restart<R: Runtime, G>(&mut self, x: &TList<R, G>, trainer: &Trainer<R>) {
        self.x = x
            .as_slice()
            .iter()
            .map(|a| a.map(|v| Runtime::to_spec(*v)))
            .collect();
        for (k, &p) in self.params.iter().enumerate() {
            for (name, tr) in trainer.state_of(p) {
                let v = tr.value.map(|v| Runtime::to_spec(*v));
                match name {
                    "exp_avg" => self.m[k] = v,
                    _ => self.v[k] = v,
                }
            }
        }
    }

    fn update(&mut self, t: u64, grads: &[ArrayD<f64>]) {
        let Optimizer::AdamW(a) = self.opt else {
            return;
        };
        for (k, &p) in self.params.iter().enumerate() {
            let g = &grads[p];
            let (bc1, bc2) = (1.0 - a.beta1.powi(t as i32), 1.0 - a.beta2.powi(t as i32));
            ndarray::Zip::from(&mut self.x[p])
                .and(&mut self.m[k])
                .and(&mut self.v[k])
                .and(g)
                .for_each(|w, m, v, &g| {
                    *m = a.beta1 * *m + (1.0 - a.beta1) * g;
                    *v = a.beta2 * *v + (1.0 - a.beta2) * g * g;
                    let denom = (*v / bc2).sqrt() + a.eps;
                    *w = *w * (1.0 - a.lr * a.weight_decay) - a.lr * (*m / bc1) / denom;
                });
        }
    }

    /// Largest distance between the runtime tensor and the reference parameter at `pos`.
    fn error<R: Runtime>(&self, pos: usize, w: &ArrayD<R>) -> f64 {
        self.error_f32(pos, &to_f32(w))
    }

    /// [`Reference::error`] of a flat `f32` tensor (a foreign update's).
    fn error_f32(&self, pos: usize, w: &[f32]) -> f64 {
        w.iter()
            .zip(&self.x[pos])
            .map(|(a, b)| (f64::from(*a) - b).abs())
            .fold(0.0, f64::max)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// A certified AdamW training step of mlp_deep, 5 steps in bf16 and f32, each bound checked
/// against an f64 reference trajectory.
#[derive(clap::Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 every rigorous bound holds (an estimate may be exceeded); 1 a rigorous bound is below the reference error, or a step failed; 2 usage error."
)]
struct Cli {}

fn main() -> ExitCode {
    // No flags: `--help` and `--version`, and a usage error (2) for anything else.
    <Cli as clap::Parser>::parse();
    let mut violations = 0;
    let mut summary = Vec::new();
    for compound in [false, true] {
        for rt in ["bf16", "f32"] {
            for mode in [Mode::ThisRun, Mode::AnyImplementation, Mode::Estimate] {
                let print = !compound && mode == Mode::ThisRun;
                let r = match rt {
                    "bf16" => run::<half::bf16>(mode, compound, print),
                    _ => run::<f32>(mode, compound, print),
                };
                match r {
                    Ok(r) => {
                        // An estimate is not a bound: exceeding it is not a violation.
                        if mode != Mode::Estimate {
                            violations += r.violations;
                        }
                        let max = r.ratios.iter().copied().fold(0.0, f64::max);
                        let question = if compound { "trajectory" } else { "this step" };
                        let foreign = if r.vs_foreign.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; bound/worst foreign median {:.2}, max {:.2}",
                                median(r.vs_foreign.clone()),
                                r.vs_foreign.iter().copied().fold(0.0, f64::max)
                            )
                        };
                        summary.push(format!(
                            "{question:<10} {rt:<5} {mode:?}: w' bound/true median {:.2}, max {:.2}{foreign} ({} tensors × steps{})",
                            median(r.ratios.clone()),
                            max,
                            r.ratios.len(),
                            if mode == Mode::Estimate {
                                format!(", not a bound: below the true error {} times", r.violations)
                            } else {
                                String::new()
                            }
                        ));
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
        }
    }
    println!(
        "\n── bound / true error of the new weights (reference: exact gradients and AdamW in f64)"
    );
    for s in summary {
        println!("{s}");
    }
    println!("violations: {violations}");
    if violations == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
