//! Foreign-kernel suite (issue #11, item 3): the same graphs evaluated by independent conforming
//! runtimes written for this test (`tests/foreign/`), every value and gradient compared with the
//! library's certified eps, per certification mode.
//!
//! A runtime *conforms* (SPEC §5, §11) when every sum or dot is computed in some order or tree,
//! blocked or split, with or without FMA, and its elementary functions are within `assumed_ulps`
//! ulps. A bound for "any implementation" must cover every such runtime; the a-posteriori
//! ("this run") bound only has to cover the run this library performed. This suite measures, per
//! runtime × mode, how many entries of a foreign run lie farther from the exact result than the
//! certified eps, and asserts:
//!
//! 1. the documented fact that the this-run eps is **not** a bound for foreign runtimes (at least
//!    one foreign run exceeds it), so nobody mistakes one mode for the other;
//! 2. zero violations for every mode marked `must_hold`: the any-implementation mode of SPEC §11;
//! 3. sanity of the experiment itself: our own run is within every mode's eps, every foreign run is
//!    near the exact result (so a broken foreign kernel cannot pass or fail the suite), and every
//!    foreign runtime really computes something else than ours (bit-different results).
//!
//! "Exact" is the library's rigorous interval spec: a violation is counted only when the foreign
//! value is farther than eps from *every* point of the enclosure, and the reported ratio uses the
//! farthest point, so neither can be an artefact of the reference.
//!
//! Default: 16 random input sets and 4 adversarial ones per graph (about ten seconds in the debug
//! test profile). `FOREIGN_CASES=N` runs N random sets. The tables (`--nocapture`) are reproduced
//! in `docs/foreign-kernels.md`:
//! `FOREIGN_CASES=200 cargo test --release --test foreign_kernels -- --nocapture`.
#![forbid(unsafe_code)]

mod foreign;

use foreign::eval::{self, Op, Tensor};
use foreign::kernels::{self, Kernel};
use foreign::update;
use ndarray::{ArrayD, IxDyn};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scale_graph::config::{Config, DotBound};
use scale_graph::optim::{AdamW, Momentum, Optimizer, Sgd, Trainer};
use scale_graph::random::cases_from_env;
use scale_graph::{Interval, SpecScalar, TList, scale_graph};
use std::collections::BTreeMap;

/// One certification mode under test.
struct Mode {
    name: &'static str,
    /// The graph configuration that selects the mode.
    config: Config,
    /// Whether every conforming runtime must be within this mode's eps (0 violations asserted).
    must_hold: bool,
}

/// The modes measured. The this-run mode (enclosure on) is the default of `certify`;
/// a-posteriori is the propagated bound alone; order-free changes only the
/// dot-product bound and still uses this run's magnitudes and relu masks, which SPEC §11 says an
/// any-implementation bound must not, so it is measured and reported, not asserted.
fn modes() -> Vec<Mode> {
    vec![
        Mode {
            name: "this-run",
            config: Config::default(),
            must_hold: false,
        },
        Mode {
            name: "a-posteriori",
            config: Config::default().with_enclose(false),
            must_hold: false,
        },
        Mode {
            name: "order-free",
            config: Config::default()
                .with_dot_bound(DotBound::OrderFree)
                .with_enclose(false),
            must_hold: false,
        },
        Mode {
            name: "any-implementation",
            config: Config::any_implementation(),
            must_hold: true,
        },
        // Not a bound: measured, and its failure rate reported (SPEC §11).
        Mode {
            name: "estimate",
            config: Config::estimate(),
            must_hold: false,
        },
    ]
}

/// What the library certified for one input set in one mode.
struct Ours {
    values: Vec<ArrayD<f32>>,
    eps: Vec<f64>,
    grads: Vec<ArrayD<f32>>,
    grad_eps: Vec<f64>,
}

/// The interval spec: enclosures of the exact values and gradients.
struct Exact {
    values: Vec<ArrayD<Interval>>,
    grads: Vec<ArrayD<Interval>>,
}

type Certifier = Box<dyn FnMut(&[ArrayD<f32>], &[Config]) -> (Vec<Ours>, Exact)>;

/// Wrap a `scale_graph!` model: certify the inputs under each config (`graph.certify` with exact
/// inputs and the loss seed, i.e. what `m.certify(&inputs, m.vars.loss)` does) and evaluate the
/// interval spec once.
macro_rules! certifier {
    ($m:expr) => {{
        let mut m = $m;
        let loss = m.vars.loss;
        let f: Certifier = Box::new(move |xs: &[ArrayD<f32>], cfgs: &[Config]| {
            let x = TList::from_arrays(xs.to_vec()).expect("inputs match Γ");
            let (eps_in, b_in) = m.graph.exact_inputs(&x);
            let (seed, eps_seed, b_seed) = m.graph.loss_seed(loss);
            let ours = cfgs
                .iter()
                .map(|&c| {
                    m.graph.set_config(c);
                    let cert =
                        m.graph
                            .certify(x.clone(), &eps_in, &b_in, &seed, &eps_seed, &b_seed);
                    assert_eq!(cert.config, c);
                    Ours {
                        values: cert.values.into_vec(),
                        eps: cert.eps.as_slice().iter().map(|b| b.get()).collect(),
                        grads: cert.grads.into_vec(),
                        grad_eps: cert.grad_eps.as_slice().iter().map(|b| b.get()).collect(),
                    }
                })
                .collect();
            let xs = x.to_spec::<Interval>();
            let values = m.graph.eval_spec(&xs).into_vec();
            let grads = m.graph.backprop_spec(&xs, &seed.to_spec()).into_vec();
            (ours, Exact { values, grads })
        });
        f
    }};
}

/// An input of `Γ`: shape and spread of its random data (names are in [`Model::names`]).
struct Input(&'static [usize], f64);

/// Where the first layer's data and weight sit, for the adversarial inputs: `x` is `[b, k]` (or
/// `[k]`), `w` is `[k, n]` (matmul) or `[n, k]` (matvec), `bias` (if any) is `[n]`.
struct FirstLayer {
    x: usize,
    w: usize,
    bias: Option<usize>,
    matvec: bool,
}

struct Model {
    name: &'static str,
    inputs: Vec<Input>,
    /// Names of `Γ ++ ss`.
    names: Vec<&'static str>,
    /// The nodes of `ss`, mirroring the `scale_graph!` text node by node.
    prog: Vec<Op>,
    first: FirstLayer,
    certify: Certifier,
}

impl Model {
    fn loss(&self) -> usize {
        self.inputs.len() + self.prog.len() - 1
    }
}

/// relu MLP [64, 48, 32, 32, 10], batch 8, mse loss (examples/generated/mlp_deep.rs): the
/// first graph of the suite and the one the update suite trains.
macro_rules! mlp_deep {
    () => {
        scale_graph! {
            runtime = f32;
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
            let z1 = matmul(x, w1);
            let a1 = add_bias(z1, b1);
            let h1 = relu(a1);
            let z2 = matmul(h1, w2);
            let a2 = add_bias(z2, b2);
            let h2 = relu(a2);
            let z3 = matmul(h2, w3);
            let a3 = add_bias(z3, b3);
            let h3 = relu(a3);
            let z4 = matmul(h3, w4);
            let a4 = add_bias(z4, b4);
            let loss = mse(a4, target);
        }
    };
}

fn models() -> Vec<Model> {
    let mlp_deep = mlp_deep!();
    // The README's main example (examples/mlp.rs): 784-128-10 relu MLP, loss sum(o²).
    let mlp = scale_graph! {
        input x: [784];
        input w1: [128, 784];
        input b1: [128];
        input w2: [10, 128];
        input b2: [10];
        let h = relu(matvec(w1, x) + b1);
        let o = matvec(w2, h) + b2;
        let loss = sum(o * o);
    };
    // Softmax classifier with cross_entropy (examples/generated/classifier.rs).
    let classifier = scale_graph! {
        runtime = f32;
        input x: [8, 20];
        input w: [20, 5];
        input b: [5];
        input target: [8, 5];
        let z = matmul(x, w);
        let logits = add_bias(z, b);
        let probs = softmax(target);
        let loss = cross_entropy(logits, probs);
    };
    // relu, tanh, softmax and mse (examples/generated/sequential.rs).
    let sequential = scale_graph! {
        runtime = f32;
        input x: [4, 8];
        input w1: [8, 16];
        input b1: [16];
        input w2: [16, 16];
        input b2: [16];
        input w3: [16, 4];
        input b3: [4];
        input target: [4, 4];
        let z1 = matmul(x, w1);
        let a1 = add_bias(z1, b1);
        let relu1 = relu(a1);
        let z2 = matmul(relu1, w2);
        let a2 = add_bias(z2, b2);
        let tanh3 = tanh(a2);
        let z3 = matmul(tanh3, w3);
        let a3 = add_bias(z3, b3);
        let softmax5 = softmax(a3);
        let loss = mse(softmax5, target);
    };
    // The remaining ops (sigmoid, mul, sub, log_softmax, mean, sum, add) in one small graph.
    let mixed = scale_graph! {
        runtime = f32;
        input x: [4, 12];
        input w: [12, 6];
        input b: [6];
        input t: [4, 6];
        let z = add_bias(matmul(x, w), b);
        let s = sigmoid(z);
        let th = tanh(z);
        let p = s * th;
        let q = p - t;
        let l = log_softmax(q);
        let loss = mean(l * t) + sum(q * q);
    };
    // A residual block (examples/generated/residual.rs).
    let residual = scale_graph! {
        runtime = f32;
        input x: [8, 16];
        input w1: [16, 32];
        input b1: [32];
        input w2: [32, 16];
        input b2: [16];
        input target: [8, 16];
        let z1 = matmul(x, w1);
        let a1 = add_bias(z1, b1);
        let h = relu(a1);
        let z2 = matmul(h, w2);
        let r = add_bias(z2, b2);
        let y = add(x, r);
        let loss = mse(y, target);
    };
    // Single-head self-attention (examples/generated/attention.rs).
    let attention = scale_graph! {
        runtime = f32;
        input x: [8, 16];
        input wq: [16, 8];
        input wk: [16, 8];
        input wv: [16, 8];
        input target: [8, 8];
        let q = matmul(x, wq);
        let k = matmul(x, wk);
        let v = matmul(x, wv);
        let kt = transpose(k);
        let scores = matmul(q, kt);
        let scaled = scale(scores, 0.35355339059327373);
        let attn = softmax(scaled);
        let out = matmul(attn, v);
        let loss = mse(out, target);
    };
    // A pre-norm transformer block with single-head causal attention, in which every
    // normalisation and activation of the transformer examples appears: layer norm, RMS norm,
    // GELU and the tanh GELU (examples/generated/transformer_block.rs has the multi-head form).
    // Rows of 24: the means and the scale 1/√24 round.
    let block = scale_graph! {
        runtime = f32;
        input x: [8, 24];
        input g1: [24];
        input be1: [24];
        input wq: [24, 24];
        input wk: [24, 24];
        input wv: [24, 24];
        input wo: [24, 24];
        input g2: [24];
        input w1: [24, 40];
        input w2: [40, 24];
        input target: [8, 24];
        let ln = layer_norm(x, g1, be1, 1e-5);
        let q = matmul(ln, wq);
        let k = matmul(ln, wk);
        let v = matmul(ln, wv);
        let att = attention_causal(q, k, v);
        let proj = matmul(att, wo);
        let h = add(x, proj);
        let rn = rms_norm(h, g2, 1e-6);
        let up = matmul(rn, w1);
        let act = gelu(up);
        let down = matmul(act, w2);
        let y = add(h, down);
        let t = gelu_tanh(y);
        let loss = mse(t, target);
    };
    // Convolutions and pooling (examples/generated/cnn.rs has a larger one): a padded conv, relu,
    // max pooling, a strided conv, relu, average pooling whose floor drops a row and a column,
    // and a linear head.
    let cnn = scale_graph! {
        runtime = f32;
        input x: [2, 3, 10, 10];
        input k1: [4, 3, 3, 3];
        input k2: [6, 4, 3, 3];
        input w: [6, 5];
        input b: [5];
        input target: [2, 5];
        let z1 = conv2d(x, k1, 1, 1);
        let a1 = relu(z1);
        let p1 = max_pool2d(a1, 2);
        let z2 = conv2d(p1, k2, 2, 1);
        let a2 = relu(z2);
        let p2 = avg_pool2d(a2, 2);
        let flat = reshape(p2, [2, 6]);
        let z = matmul(flat, w);
        let logits = add_bias(z, b);
        let loss = mse(logits, target);
    };
    use Op::*;
    vec![
        Model {
            name: "mlp_deep",
            inputs: vec![
                Input(&[8, 64], 1.0),
                Input(&[64, 48], 0.125),
                Input(&[48], 0.1),
                Input(&[48, 32], 0.144_337_567_297_406_43),
                Input(&[32], 0.1),
                Input(&[32, 32], 0.176_776_695_296_636_9),
                Input(&[32], 0.1),
                Input(&[32, 10], 0.176_776_695_296_636_9),
                Input(&[10], 0.1),
                Input(&[8, 10], 1.0),
            ],
            names: vec![
                "x", "w1", "b1", "w2", "b2", "w3", "b3", "w4", "b4", "target", "z1", "a1", "h1",
                "z2", "a2", "h2", "z3", "a3", "h3", "z4", "a4", "loss",
            ],
            prog: vec![
                Matmul(0, 1),
                AddBias(10, 2),
                Relu(11),
                Matmul(12, 3),
                AddBias(13, 4),
                Relu(14),
                Matmul(15, 5),
                AddBias(16, 6),
                Relu(17),
                Matmul(18, 7),
                AddBias(19, 8),
                Mse(20, 9),
            ],
            first: FirstLayer {
                x: 0,
                w: 1,
                bias: Some(2),
                matvec: false,
            },
            certify: certifier!(mlp_deep),
        },
        Model {
            name: "mlp",
            inputs: vec![
                Input(&[784], 1.0),
                Input(&[128, 784], (1.0f64 / 784.0).sqrt()),
                Input(&[128], 0.1),
                Input(&[10, 128], (1.0f64 / 128.0).sqrt()),
                Input(&[10], 0.1),
            ],
            names: vec![
                "x", "w1", "b1", "w2", "b2", "w1·x", "+b1", "h", "w2·h", "o", "o·o", "loss",
            ],
            prog: vec![
                Matvec(1, 0),
                Add(5, 2),
                Relu(6),
                Matvec(3, 7),
                Add(8, 4),
                Mul(9, 9),
                Sum(10),
            ],
            first: FirstLayer {
                x: 0,
                w: 1,
                bias: Some(2),
                matvec: true,
            },
            certify: certifier!(mlp),
        },
        Model {
            name: "classifier",
            inputs: vec![
                Input(&[8, 20], 1.0),
                Input(&[20, 5], 0.223_606_797_749_978_96),
                Input(&[5], 0.1),
                Input(&[8, 5], 1.0),
            ],
            names: vec!["x", "w", "b", "target", "z", "logits", "probs", "loss"],
            prog: vec![Matmul(0, 1), AddBias(4, 2), Softmax(3), CrossEntropy(5, 6)],
            first: FirstLayer {
                x: 0,
                w: 1,
                bias: Some(2),
                matvec: false,
            },
            certify: certifier!(classifier),
        },
        Model {
            name: "sequential",
            inputs: vec![
                Input(&[4, 8], 1.0),
                Input(&[8, 16], 0.353_553_390_593_273_8),
                Input(&[16], 0.1),
                Input(&[16, 16], 0.25),
                Input(&[16], 0.1),
                Input(&[16, 4], 0.25),
                Input(&[4], 0.1),
                Input(&[4, 4], 1.0),
            ],
            names: vec![
                "x", "w1", "b1", "w2", "b2", "w3", "b3", "target", "z1", "a1", "relu1", "z2", "a2",
                "tanh3", "z3", "a3", "softmax5", "loss",
            ],
            prog: vec![
                Matmul(0, 1),
                AddBias(8, 2),
                Relu(9),
                Matmul(10, 3),
                AddBias(11, 4),
                Tanh(12),
                Matmul(13, 5),
                AddBias(14, 6),
                Softmax(15),
                Mse(16, 7),
            ],
            first: FirstLayer {
                x: 0,
                w: 1,
                bias: Some(2),
                matvec: false,
            },
            certify: certifier!(sequential),
        },
        Model {
            name: "mixed",
            inputs: vec![
                Input(&[4, 12], 1.0),
                Input(&[12, 6], 0.3),
                Input(&[6], 0.1),
                Input(&[4, 6], 1.0),
            ],
            names: vec![
                "x", "w", "b", "t", "x·w", "z", "s", "th", "p", "q", "l", "l·t", "mean", "q·q",
                "sum", "loss",
            ],
            prog: vec![
                Matmul(0, 1),
                AddBias(4, 2),
                Sigmoid(5),
                Tanh(5),
                Mul(6, 7),
                Sub(8, 3),
                LogSoftmax(9),
                Mul(10, 3),
                Mean(11),
                Mul(9, 9),
                Sum(13),
                Add(12, 14),
            ],
            first: FirstLayer {
                x: 0,
                w: 1,
                bias: Some(2),
                matvec: false,
            },
            certify: certifier!(mixed),
        },
        Model {
            name: "residual",
            inputs: vec![
                Input(&[8, 16], 1.0),
                Input(&[16, 32], 0.25),
                Input(&[32], 0.1),
                Input(&[32, 16], 0.176_776_695_296_636_9),
                Input(&[16], 0.1),
                Input(&[8, 16], 1.0),
            ],
            names: vec![
                "x", "w1", "b1", "w2", "b2", "target", "z1", "a1", "h", "z2", "r", "y", "loss",
            ],
            prog: vec![
                Matmul(0, 1),
                AddBias(6, 2),
                Relu(7),
                Matmul(8, 3),
                AddBias(9, 4),
                Add(0, 10),
                Mse(11, 5),
            ],
            first: FirstLayer {
                x: 0,
                w: 1,
                bias: Some(2),
                matvec: false,
            },
            certify: certifier!(residual),
        },
        Model {
            name: "attention",
            inputs: vec![
                Input(&[8, 16], 1.0),
                Input(&[16, 8], 0.25),
                Input(&[16, 8], 0.25),
                Input(&[16, 8], 0.25),
                Input(&[8, 8], 1.0),
            ],
            names: vec![
                "x", "wq", "wk", "wv", "target", "q", "k", "v", "kt", "scores", "scaled", "attn",
                "out", "loss",
            ],
            prog: vec![
                Matmul(0, 1),
                Matmul(0, 2),
                Matmul(0, 3),
                Transpose(6),
                Matmul(5, 8),
                Scale(9, 0.353_553_390_593_273_73),
                Softmax(10),
                Matmul(11, 7),
                Mse(12, 4),
            ],
            // No bias and no kink: the cancellation set cancels `q = x·wq`; the kink set is
            // one more random set.
            first: FirstLayer {
                x: 0,
                w: 1,
                bias: None,
                matvec: false,
            },
            certify: certifier!(attention),
        },
        Model {
            name: "block",
            inputs: vec![
                Input(&[8, 24], 1.0),
                Input(&[24], 1.0),
                Input(&[24], 0.1),
                Input(&[24, 24], 0.204_124_145_231_931_5),
                Input(&[24, 24], 0.204_124_145_231_931_5),
                Input(&[24, 24], 0.204_124_145_231_931_5),
                Input(&[24, 24], 0.204_124_145_231_931_5),
                Input(&[24], 1.0),
                Input(&[24, 40], 0.204_124_145_231_931_5),
                Input(&[40, 24], 0.158_113_883_008_418_97),
                Input(&[8, 24], 1.0),
            ],
            names: vec![
                "x", "g1", "be1", "wq", "wk", "wv", "wo", "g2", "w1", "w2", "target", "ln", "q",
                "k", "v", "att", "proj", "h", "rn", "up", "act", "down", "y", "t", "loss",
            ],
            prog: vec![
                LayerNorm(0, 1, 2, 1e-5),
                Matmul(11, 3),
                Matmul(11, 4),
                Matmul(11, 5),
                AttentionCausal(12, 13, 14),
                Matmul(15, 6),
                Add(0, 16),
                RmsNorm(17, 7, 1e-6),
                Matmul(18, 8),
                Gelu(19),
                Matmul(20, 9),
                Add(17, 21),
                GeluTanh(22),
                Mse(23, 10),
            ],
            // The cancellation set makes every row of `x` sum to 0 exactly; the offset set
            // moves the rows far from 0 (layer norm's cancelling `x − mean`).
            first: FirstLayer {
                x: 0,
                w: 3,
                bias: None,
                matvec: false,
            },
            certify: certifier!(block),
        },
        Model {
            name: "cnn",
            inputs: vec![
                Input(&[2, 3, 10, 10], 1.0),
                Input(&[4, 3, 3, 3], 0.192_450_089_729_875_25),
                Input(&[6, 4, 3, 3], 0.166_666_666_666_666_66),
                Input(&[6, 5], 0.408_248_290_463_863),
                Input(&[5], 0.1),
                Input(&[2, 5], 1.0),
            ],
            names: vec![
                "x", "k1", "k2", "w", "b", "target", "z1", "a1", "p1", "z2", "a2", "p2", "flat",
                "z", "logits", "loss",
            ],
            prog: vec![
                Conv2d(0, 1, 1, 1),
                Relu(6),
                MaxPool2d(7, 2),
                Conv2d(8, 2, 2, 1),
                Relu(9),
                AvgPool2d(10, 2),
                Reshape(11, &[2, 6]),
                Matmul(12, 3),
                AddBias(13, 4),
                Mse(14, 5),
            ],
            // The adversarial sets act on `x` (the cancellation set's pairing and weight copy
            // are only more data here; the kink set needs a bias and leaves the data random).
            first: FirstLayer {
                x: 0,
                w: 1,
                bias: None,
                matvec: false,
            },
            certify: certifier!(cnn),
        },
    ]
}

/// Kinds of input sets.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Gaussian, with each input's spread from the example.
    Random,
    /// The first layer's dot products cancel exactly (`x[k/2 + i] = −x[i]` against equal weight
    /// rows): the exact pre-activations are 0, every runtime's are rounding noise.
    Cancel,
    /// The first layer's biases put row 0's pre-activations within rounding of the relu kink.
    Kink,
    /// Data magnitudes spread over 10⁻⁴…10⁴.
    Magnitudes,
    /// The data moved by a common offset of 100 (spread 1): normalisations subtract a mean
    /// that is large against the spread, and first layers sum large terms.
    Offset,
}

fn gaussian(rng: &mut StdRng, std: f64) -> f32 {
    let (u1, u2): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random_range(0.0..1.0));
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * std) as f32
}

fn make_inputs(model: &Model, kind: Kind, seed: u64) -> Vec<Tensor> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut xs: Vec<Tensor> = model
        .inputs
        .iter()
        .map(|Input(shape, std)| {
            let n = shape.iter().product();
            Tensor::new(shape, (0..n).map(|_| gaussian(&mut rng, *std)).collect())
        })
        .collect();
    let FirstLayer { x, w, bias, matvec } = model.first;
    let k = *xs[x].shape.last().expect("x has a feature axis");
    let n = xs[w].data.len() / k;
    // Weight of input feature i for unit j.
    let widx = |i: usize, j: usize| if matvec { j * k + i } else { i * n + j };
    match kind {
        Kind::Random => {}
        Kind::Cancel => {
            let h = k / 2;
            for row in xs[x].data.chunks_mut(k) {
                for i in 0..h {
                    row[h + i] = -row[i];
                }
            }
            for i in 0..h {
                for j in 0..n {
                    xs[w].data[widx(h + i, j)] = xs[w].data[widx(i, j)];
                }
            }
            // Half the units get no bias: their exact pre-activation is exactly the relu kink.
            if let Some(b) = bias {
                xs[b].data[..n / 2].fill(0.0);
            }
        }
        Kind::Kink => {
            let Some(bias) = bias else {
                return xs;
            };
            for j in 0..n {
                let z: f64 = (0..k)
                    .map(|i| f64::from(xs[x].data[i]) * f64::from(xs[w].data[widx(i, j)]))
                    .sum();
                xs[bias].data[j] = -z as f32;
            }
        }
        Kind::Magnitudes => {
            for v in &mut xs[x].data {
                *v *= 10f32.powf(rng.random_range(-4.0f32..4.0));
            }
        }
        Kind::Offset => xs[x].data.iter_mut().for_each(|v| *v += 100.0),
    }
    xs
}

/// One compared entry: the value of an entry of `Γ ++ ss`, or the gradient of an input.
#[derive(Clone, Copy)]
enum Slot {
    Value(usize),
    Grad(usize),
}

/// Every compared entry of a graph with its label: the values of `ss` (inputs are exact and
/// shared) and the gradients of `Γ`.
fn slots(model: &Model) -> Vec<(String, Slot)> {
    let n_in = model.inputs.len();
    let label = |i: usize, d: &str| format!("{}/{d}{}", model.name, model.names[i]);
    let values = (n_in..model.names.len()).map(|i| (label(i, ""), Slot::Value(i)));
    let grads = (0..n_in).map(|i| (label(i, "d"), Slot::Grad(i)));
    values.chain(grads).collect()
}

fn to_nd(t: &Tensor) -> ArrayD<f32> {
    ArrayD::from_shape_vec(IxDyn(&t.shape), t.data.clone()).expect("shape")
}

/// Measurements of one runtime in one mode.
#[derive(Default, Clone)]
struct Stat {
    entries: usize,
    violations: usize,
    /// Largest `|run − exact| / eps` (farthest point of the enclosure), and where.
    max_ratio: f64,
    max_at: String,
    /// Tensor names (graph/name) with at least one violation.
    where_: BTreeMap<String, usize>,
}

impl Stat {
    fn merge(&mut self, o: &Stat) {
        self.entries += o.entries;
        self.violations += o.violations;
        if o.max_ratio > self.max_ratio {
            self.max_ratio = o.max_ratio;
            self.max_at.clone_from(&o.max_at);
        }
        for (k, v) in &o.where_ {
            *self.where_.entry(k.clone()).or_default() += v;
        }
    }
}

/// Compare one tensor of a run with the enclosure of the exact values and the certified eps.
/// `case` names the input set (only recorded with the largest ratio).
fn compare(
    stat: &mut Stat,
    (label, case): (&str, &str),
    run: &[f32],
    exact: &ArrayD<Interval>,
    eps: f64,
) {
    assert_eq!(run.len(), exact.len(), "{label}: size");
    let before = stat.violations;
    for (&r, e) in run.iter().zip(exact.iter()) {
        let r = f64::from(r);
        let (lo, hi) = (e.lo(), e.hi());
        // Distance to the nearest and the farthest point of the enclosure.
        let near = if r < lo {
            lo - r
        } else if r > hi {
            r - hi
        } else {
            0.0
        };
        let far = (r - lo).abs().max((r - hi).abs());
        stat.entries += 1;
        if eps.is_finite() {
            if near > eps {
                stat.violations += 1;
            }
            let ratio = if far == 0.0 { 0.0 } else { far / eps };
            if ratio > stat.max_ratio {
                stat.max_ratio = ratio;
                stat.max_at = format!("{label}, {case}");
            }
        }
    }
    if stat.violations > before {
        *stat.where_.entry(label.to_string()).or_default() += stat.violations - before;
    }
}

/// Largest `|run − exact|` over a tensor, to the farthest point of each enclosure.
fn linf_err(run: &[f32], exact: &ArrayD<Interval>) -> f64 {
    let far = |(&r, e): (&f32, &Interval)| {
        let r = f64::from(r);
        (r - e.lo()).abs().max((r - e.hi()).abs())
    };
    run.iter().zip(exact.iter()).map(far).fold(0.0, f64::max)
}

/// Foreign values and gradients must be near the exact ones (within 10⁻³ of the tensor's largest
/// exact magnitude, plus `floor`), or the foreign kernel is broken and proves nothing either way.
/// The floor is for the cancellation and kink sets, whose exact first-layer values are (near) 0 and whose computed
/// ones are rounding noise of the O(1) terms (a broken kernel is off by a whole term, ≫ 10⁻⁴).
fn assert_near(label: &str, run: &[f32], exact: &ArrayD<Interval>, floor: f64) {
    let scale = exact.iter().fold(0.0f64, |m, e| m.max(e.mid().abs()));
    for (i, (&r, e)) in run.iter().zip(exact.iter()).enumerate() {
        let d = (f64::from(r) - e.mid()).abs();
        assert!(
            d <= 1e-3 * scale + floor,
            "{label}[{i}]: foreign {r} vs exact {} (tensor scale {scale:e})",
            e.mid()
        );
    }
}

#[test]
fn foreign_kernels_against_certified_eps() {
    let n_random: usize = cases_from_env("FOREIGN_CASES", 16);
    let modes = modes();
    let cfgs: Vec<Config> = modes.iter().map(|m| m.config).collect();
    // The conforming runtimes first, then those outside SPEC §5's model of some op (measured,
    // reported, never asserted).
    let mut runtimes = kernels::all(Config::default().assumed_ulps());
    let conforming = runtimes.len();
    runtimes.extend(kernels::beyond_the_model());
    let mut models = models();

    // (runtime, mode, graph) → stat; runtime `ours_idx` is the library's own run.
    let mut table: BTreeMap<(usize, usize, usize), Stat> = BTreeMap::new();
    // (runtime, model) → (bit-different entries, compared entries).
    let mut differ: BTreeMap<(usize, &'static str), (usize, usize)> = BTreeMap::new();
    // mlp_deep, this-run mode: input sets in which some foreign run exceeds eps in z1/a1/h1.
    let mut first_layer_sets = 0usize;
    let mut random_sets_deep = 0usize;
    // (graph, mode, is gradient) → eps ÷ the worst foreign error of the tensor, per random set and
    // tensor: how far each mode's eps is above what conforming runtimes actually reach (the
    // baseline an any-implementation bound's tightness is measured against).
    let mut vs_worst: BTreeMap<(usize, usize, bool), Vec<f64>> = BTreeMap::new();
    // mlp_deep's gradients in detail: (mode, tensor) → eps ÷ worst foreign error per random set.
    let mut deep_grads: BTreeMap<(usize, String), Vec<f64>> = BTreeMap::new();
    let ours_idx = runtimes.len();

    for (gi, model) in models.iter_mut().enumerate() {
        let mut cases: Vec<(Kind, u64)> = (0..n_random as u64).map(|s| (Kind::Random, s)).collect();
        cases.extend([
            (Kind::Cancel, 1000),
            (Kind::Kink, 1001),
            (Kind::Magnitudes, 1002),
            (Kind::Offset, 1003),
        ]);
        let slots = slots(model);
        for &(kind, seed) in &cases {
            let xs = make_inputs(model, kind, seed);
            let case = format!("{kind:?} {seed}");
            let nd: Vec<ArrayD<f32>> = xs.iter().map(to_nd).collect();
            let (ours, exact) = (model.certify)(&nd, &cfgs);
            assert_eq!(exact.values.len(), model.names.len(), "{}", model.name);
            let exact_of = |slot: Slot| match slot {
                Slot::Value(i) => &exact.values[i],
                Slot::Grad(i) => &exact.grads[i],
            };
            let eps_of = |o: &Ours, slot: Slot| match slot {
                Slot::Value(i) => o.eps[i],
                Slot::Grad(i) => o.grad_eps[i],
            };
            let ours_of = |o: &Ours, slot: Slot| -> Vec<f32> {
                match slot {
                    Slot::Value(i) => o.values[i].iter().copied().collect(),
                    Slot::Grad(i) => o.grads[i].iter().copied().collect(),
                }
            };
            let mut first_layer_hit = false;
            // Per slot: the largest |foreign − exact| over every runtime and entry.
            let mut worst = vec![0.0f64; slots.len()];

            // Our own run: sound in every mode (checks the comparison itself).
            for (mi, o) in ours.iter().enumerate() {
                let st = table.entry((ours_idx, mi, gi)).or_default();
                for (label, slot) in &slots {
                    let run = ours_of(o, *slot);
                    compare(st, (label, &case), &run, exact_of(*slot), eps_of(o, *slot));
                }
            }

            for (ri, rt) in runtimes.iter().enumerate() {
                let vals = eval::forward(rt, &xs, &model.prog);
                let grads = eval::backward(rt, &vals, &model.prog, model.loss());
                assert_eq!(vals.len(), model.names.len());
                for (v, o) in vals.iter().zip(&ours[0].values) {
                    assert_eq!(v.shape, o.shape(), "{}: shapes", model.name);
                }
                let run_of = |slot: Slot| match slot {
                    Slot::Value(i) => &vals[i].data[..],
                    Slot::Grad(i) => &grads[i].data[..],
                };
                // Sanity: near the exact result, with a floor for the cancellation and kink sets
                // (see `assert_near`). Gradients are checked on the random sets only: at a kink
                // a conforming runtime may take the other relu branch, and where tanh or sigmoid
                // saturate (magnitudes set) `1 − y²` of a libm a few ulps off is legitimately
                // far from the exact derivative, relative to the tensor.
                let floor = if matches!(kind, Kind::Cancel | Kind::Kink) {
                    1e-4
                } else {
                    1e-30
                };
                let d = differ.entry((ri, model.name)).or_default();
                for (w, (_, slot)) in worst.iter_mut().zip(&slots) {
                    *w = w.max(linf_err(run_of(*slot), exact_of(*slot)));
                }
                for (label, slot) in &slots {
                    let run = run_of(*slot);
                    if kind == Kind::Random || matches!(slot, Slot::Value(_)) {
                        let label = format!("{label} ({case}, {})", rt.name());
                        assert_near(&label, run, exact_of(*slot), floor);
                    }
                    let o = ours_of(&ours[0], *slot);
                    let bits = |(a, b): (&f32, &f32)| a.to_bits() != b.to_bits();
                    d.0 += run.iter().zip(&o).filter(|&p| bits(p)).count();
                    d.1 += run.len();
                }
                for (mi, o) in ours.iter().enumerate() {
                    let st = table.entry((ri, mi, gi)).or_default();
                    for (label, slot) in &slots {
                        let before = st.violations;
                        let run = run_of(*slot);
                        compare(st, (label, &case), run, exact_of(*slot), eps_of(o, *slot));
                        let first = ["z1", "a1", "h1"].map(|n| format!("mlp_deep/{n}"));
                        if mi == 0
                            && kind == Kind::Random
                            && first.contains(label)
                            && st.violations > before
                        {
                            first_layer_hit = true;
                        }
                    }
                }
            }
            if kind == Kind::Random {
                for (mi, o) in ours.iter().enumerate() {
                    for (w, (label, slot)) in worst.iter().zip(&slots) {
                        let e = eps_of(o, *slot);
                        if *w > 0.0 && e.is_finite() {
                            let grad = matches!(slot, Slot::Grad(_));
                            vs_worst.entry((gi, mi, grad)).or_default().push(e / w);
                            if grad && model.name == "mlp_deep" {
                                let key = (mi, label.clone());
                                deep_grads.entry(key).or_default().push(e / w);
                            }
                        }
                    }
                }
            }
            if model.name == "mlp_deep" && kind == Kind::Random {
                random_sets_deep += 1;
                first_layer_sets += usize::from(first_layer_hit);
            }
        }
    }

    // The tables: runtime × mode → violations / entries, max |foreign − exact| / eps; then per
    // graph.
    let name = |ri: usize| {
        if ri == ours_idx {
            "ours (certify)".to_string()
        } else if ri >= conforming {
            format!("{} (outside §5)", runtimes[ri].name)
        } else {
            runtimes[ri].name.to_string()
        }
    };
    let total = |ri: usize, mi: usize| {
        let mut t = Stat::default();
        (0..models.len()).for_each(|gi| t.merge(&table[&(ri, mi, gi)]));
        t
    };
    let mut out = String::from("| runtime |");
    for m in &modes {
        out += &format!(" {} violations | {} max ratio (at) |", m.name, m.name);
    }
    out += "\n|---|";
    out += &"---:|---|".repeat(modes.len());
    for ri in 0..=ours_idx {
        out += &format!("\n| {} |", name(ri));
        for mi in 0..modes.len() {
            let s = total(ri, mi);
            out += &format!(
                " {} / {} | {:.3} ({}) |",
                s.violations, s.entries, s.max_ratio, s.max_at
            );
        }
    }
    println!("\nforeign kernels: {n_random} random + 4 adversarial input sets per graph\n{out}");
    for (mi, m) in modes.iter().enumerate() {
        let mut out = format!(
            "\n{}: violations (max ratio) per graph\n| runtime |",
            m.name
        );
        models.iter().for_each(|g| out += &format!(" {} |", g.name));
        out += "\n|---|";
        out += &"---:|".repeat(models.len());
        for ri in 0..=ours_idx {
            out += &format!("\n| {} |", name(ri));
            for gi in 0..models.len() {
                let s = &table[&(ri, mi, gi)];
                out += &format!(" {} ({:.2}) |", s.violations, s.max_ratio);
            }
        }
        println!("{out}");
    }
    let ratio = |r: f64| {
        if r >= 1e5 {
            format!("{r:.1e}")
        } else if r >= 100.0 {
            format!("{r:.0}")
        } else {
            format!("{r:.2}")
        }
    };
    let q = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    };
    let mut out = String::from(
        "\neps ÷ worst foreign error (random sets; per tensor): median / max\n| graph |",
    );
    for m in &modes {
        out += &format!(" {} values | {} gradients |", m.name, m.name);
    }
    out += "\n|---|";
    out += &"---:|---:|".repeat(modes.len());
    for (gi, g) in models.iter().enumerate() {
        out += &format!("\n| {} |", g.name);
        for mi in 0..modes.len() {
            for grad in [false, true] {
                let (med, max) = vs_worst.get(&(gi, mi, grad)).map_or((0.0, 0.0), |v| q(v));
                out += &format!(" {} / {} |", ratio(med), ratio(max));
            }
        }
    }
    println!("{out}");
    let mut out =
        String::from("\nmlp_deep gradients, eps ÷ worst foreign error: median / max\n| gradient |");
    modes.iter().for_each(|m| out += &format!(" {} |", m.name));
    out += "\n|---|";
    out += &"---:|".repeat(modes.len());
    let tensors: Vec<&String> = deep_grads
        .keys()
        .filter(|(mi, _)| *mi == 0)
        .map(|(_, t)| t)
        .collect();
    for t in tensors {
        out += &format!("\n| {t} |");
        for mi in 0..modes.len() {
            let (med, max) = q(&deep_grads[&(mi, t.clone())]);
            out += &format!(" {} / {} |", ratio(med), ratio(max));
        }
    }
    println!("{out}\n");
    for (mi, m) in modes.iter().enumerate() {
        let mut all = Stat::default();
        (0..ours_idx).for_each(|ri| all.merge(&total(ri, mi)));
        let tensors: Vec<String> = all
            .where_
            .iter()
            .map(|(k, v)| format!("{k} ({v})"))
            .collect();
        println!("{}: violated tensors: {}", m.name, tensors.join(", "));
    }
    println!(
        "mlp_deep, this-run mode: {first_layer_sets} of {random_sets_deep} random input sets have a \
         foreign first-layer value (z1, a1, h1) beyond eps"
    );
    for ri in 0..ours_idx {
        let per: Vec<String> = models
            .iter()
            .map(|m| {
                let (d, n) = differ[&(ri, m.name)];
                format!("{} {:.0}%", m.name, 100.0 * d as f64 / n as f64)
            })
            .collect();
        println!(
            "bit-different from ours, {}: {}",
            runtimes[ri].name,
            per.join(", ")
        );
    }

    // 3. Sanity: our own run is within its eps in every mode …
    for (mi, m) in modes.iter().enumerate() {
        let s = total(ours_idx, mi);
        assert_eq!(
            s.violations, 0,
            "our own run violates {} eps: {:?}",
            m.name, s.where_
        );
    }
    // … and every foreign runtime computes something else than ours: on the graph where its
    // difference applies, most entries are bit-different.
    for (ri, rt) in runtimes.iter().enumerate() {
        let best = models
            .iter()
            .map(|m| {
                let (d, n) = differ[&(ri, m.name)];
                d as f64 / n as f64
            })
            .fold(0.0, f64::max);
        assert!(
            best > 0.5,
            "{} is bit-identical to ours on most entries",
            rt.name
        );
    }

    // 1. The documented fact: the this-run (a-posteriori) eps is NOT a bound for other
    // implementations. It is computed from this library's own result (the sum is recomputed in
    // f64 from our operands and our rounding error is measured), so it fits our kernel's
    // result and leaves no room for another legal summation order, whose error is different.
    // Do not use it to test someone else's result; SPEC §11's any-implementation mode is for that.
    let this_run: usize = (0..ours_idx).map(|ri| total(ri, 0).violations).sum();
    assert!(
        this_run > 0,
        "a foreign run exceeded no this-run eps: the documented fact changed"
    );
    assert!(
        first_layer_sets > 0,
        "no foreign first-layer value of mlp_deep exceeded the this-run eps"
    );

    // 2. Modes that claim to hold for any conforming implementation: 0 violations.
    for (mi, m) in modes.iter().enumerate().filter(|(_, m)| m.must_hold) {
        for (ri, rt) in runtimes.iter().enumerate().take(conforming) {
            let s = total(ri, mi);
            assert_eq!(
                s.violations, 0,
                "{} violates {} eps: {:?}",
                rt.name, m.name, s.where_
            );
        }
    }
}

/// The comparison counts a violation only when the run is farther than eps from every point of
/// the enclosure, and reports the ratio to the farthest point.
#[test]
fn compare_counts_certain_violations_only() {
    let exact = ArrayD::from_shape_vec(
        IxDyn(&[3]),
        vec![
            Interval::new(1.0, 1.0),
            Interval::new(0.0, 2.0),
            Interval::new(5.0, 5.0),
        ],
    )
    .expect("shape");
    let mut s = Stat::default();
    // 2.5 vs 1.0 (off by 1.5: a violation at eps 1), 2.5 vs [0, 2] (near 0.5, far 2.5: none),
    // 5.0 at 5.0 (exact).
    compare(&mut s, ("t", "c"), &[2.5, 2.5, 5.0], &exact, 1.0);
    assert_eq!((s.entries, s.violations), (3, 1));
    assert_eq!(s.max_ratio, 2.5);
    assert_eq!(s.max_at, "t, c");
    assert_eq!(s.where_.get("t"), Some(&1));
    // An infinite eps is never violated and adds no ratio.
    let mut s = Stat::default();
    compare(
        &mut s,
        ("t", "c"),
        &[100.0, 100.0, 100.0],
        &exact,
        f64::INFINITY,
    );
    assert_eq!((s.violations, s.max_ratio), (0, 0.0));
}

/// ulp of an `f32` at the exact value `e` (the spacing of its binade; the subnormal spacing below
/// the normal range).
fn ulp_f32(e: f64) -> f64 {
    let a = e.abs().max(f64::from(f32::MIN_POSITIVE));
    2f64.powi(a.log2().floor() as i32 - 23)
}

/// The `libm-off` runtime conforms (its `exp`, `ln`, `tanh` are within `assumed_ulps` ulps of the
/// exact values) and is really off (by more than 2 ulps somewhere), so its row of the table means
/// what it says. Exact values: the `f64` libm, whose error is ~10⁻⁹ of an `f32` ulp.
#[test]
// The platform's `f64::exp`: what the runtime under test nudges (see `kernels.rs`).
#[allow(clippy::disallowed_methods)]
fn libm_off_runtime_is_conforming_and_off() {
    let assumed = Config::default().assumed_ulps();
    let rt = kernels::all(assumed)
        .into_iter()
        .find(|r| r.name == "libm-off")
        .expect("the libm-off runtime");
    let mut rng = StdRng::seed_from_u64(99);
    type F = (&'static str, fn(f64) -> f64, f64, f64);
    let funcs: [F; 3] = [
        ("exp", f64::exp, -80.0, 80.0),
        ("ln", f64::ln, 1e-30, 1e30),
        ("tanh", f64::tanh, -12.0, 12.0),
    ];
    for (name, exact, lo, hi) in funcs {
        let mut worst = 0.0f64;
        for i in 0..20_000 {
            let x: f32 = match (name, i % 4) {
                ("ln", 0) => 10f32.powf(rng.random_range(-30.0f32..30.0)),
                ("ln", _) => rng.random_range(0.5f32..2.0),
                (_, 0) => rng.random_range(lo as f32..hi as f32),
                _ => rng.random_range(-2.0f32..2.0),
            };
            let got = match name {
                "exp" => rt.exp(x),
                "ln" => rt.ln(x),
                _ => rt.tanh(x),
            };
            let e = exact(f64::from(x));
            if !e.is_finite() || e.abs() > f64::from(f32::MAX) {
                continue;
            }
            let ulps = (f64::from(got) - e).abs() / ulp_f32(e);
            assert!(ulps <= assumed, "{name}({x}) = {got}: {ulps} ulps from {e}");
            worst = worst.max(ulps);
        }
        assert!(worst > 2.0, "{name}: only {worst} ulps off at most");
        println!("libm-off {name}: at most {worst:.2} ulps from exact");
    }
}

/// The exact update of one entry (textbook formulas, not PyTorch's operation order, and no
/// library code) in a spec arithmetic: [`Interval`] for the enclosure of the exact `w'` and
/// state, `f64` for the sensitivity measurement. `first`: the state is PyTorch's initial one.
/// Returns `(w', s1', s2')` (the unused slots 0).
fn exact_update<S: SpecScalar>(
    opt: &Optimizer,
    t: u64,
    first: bool,
    w: f64,
    g: S,
    (s1, s2): (f64, f64),
) -> (S, S, S) {
    let p = S::from_f64;
    let (w, zero, one) = (p(w), S::zero(), S::one());
    match *opt {
        Optimizer::Sgd(s) => (w - p(s.lr) * (g + p(s.weight_decay) * w), zero, zero),
        Optimizer::Momentum(m) => {
            let d = g + p(m.weight_decay) * w;
            let b = if first {
                d
            } else {
                p(m.momentum) * p(s1) + (one - p(m.dampening)) * d
            };
            let dir = if m.nesterov { d + p(m.momentum) * b } else { b };
            (w - p(m.lr) * dir, b, zero)
        }
        Optimizer::AdamW(a) => {
            let (mut b1t, mut b2t) = (one, one);
            for _ in 0..t {
                b1t = b1t * p(a.beta1);
                b2t = b2t * p(a.beta2);
            }
            let m = p(a.beta1) * p(s1) + (one - p(a.beta1)) * g;
            let v = p(a.beta2) * p(s2) + (one - p(a.beta2)) * g.square();
            let denom = (v / (one - b2t)).sqrt() + p(a.eps);
            let w2 = w * (one - p(a.lr) * p(a.weight_decay)) - p(a.lr) * (m / (one - b1t)) / denom;
            (w2, m, v)
        }
    }
}

/// The exact `(w', s1', s2')` of one entry.
type Exact3 = (Interval, Interval, Interval);

/// Claims `|foreign − exact| ≤ eps` of one update tensor, and the largest distance of a
/// foreign entry to the farthest point of the exact enclosure.
#[derive(Default)]
struct UpdateTally {
    claims: usize,
    violations: usize,
    worst: f64,
}

impl UpdateTally {
    fn check(&mut self, label: &str, run: &[f32], exact: &[Interval], eps: f64) {
        for (i, (&r, e)) in run.iter().zip(exact).enumerate() {
            let r = f64::from(r);
            let near = (e.lo() - r).max(r - e.hi()).max(0.0);
            self.claims += 1;
            if r.is_nan() || near > eps {
                self.violations += 1;
                eprintln!(
                    "VIOLATION {label}[{i}]: {r} vs exact [{}, {}], eps {eps:e}",
                    e.lo(),
                    e.hi()
                );
            }
            self.worst = self.worst.max((r - e.lo()).abs().max((r - e.hi()).abs()));
        }
    }
}

/// The update suite (issue #13, item 4): mlp_deep's gradients from every foreign runtime, then
/// the update done the way other implementations do it ([`update::CONFORMING`]: PyTorch's
/// single-tensor code, a fused FMA kernel, an `f64`-accumulating one), for SGD, momentum (with
/// dampening; Nesterov) and AdamW over three steps — each step from the library's stored
/// weights and state, the question the step's bound answers. Every foreign `w'` and state
/// entry is checked against the any-implementation eps of the same step (exact: the textbook
/// update in interval arithmetic from the interval spec's gradient): 0 violations.
///
/// It also measures, per tensor, how tight the any-implementation bound of `w'` is:
/// `eps ÷ worst foreign error`, and what a bound that knows the gradient only to within its
/// per-tensor eps must allow: `L`, the largest change of the exact update of an entry when its
/// gradient moves within `±eps_g` (sampled, so a lower estimate of the legitimate part).
/// `eps ÷ L` is then the artefact of the update's ball evaluation.
/// `FOREIGN_UPDATE_CASES=N` runs N random input sets (default 2).
#[test]
fn foreign_updates_against_the_any_implementation_eps() {
    let n_random: u64 = cases_from_env("FOREIGN_UPDATE_CASES", 2);
    let runtimes = kernels::all(Config::default().assumed_ulps());
    let model = models().swap_remove(0);
    assert_eq!(model.name, "mlp_deep");
    let mut m = mlp_deep!();
    let loss = m.vars.loss;
    let params = [1usize, 2, 3, 4, 5, 6, 7, 8];
    let optimizers: [Optimizer; 4] = [
        Sgd {
            lr: 0.1,
            weight_decay: 0.01,
        }
        .into(),
        Momentum {
            lr: 0.05,
            momentum: 0.9,
            dampening: 0.1,
            weight_decay: 0.01,
            nesterov: false,
        }
        .into(),
        Momentum {
            lr: 0.05,
            nesterov: true,
            ..Momentum::default()
        }
        .into(),
        AdamW::default().into(),
    ];
    let (seed, _, _) = m.graph.loss_seed(loss);
    let seed_iv = seed.to_spec::<Interval>();
    // Per optimizer: the tallies, and per tensor × step the tightness figures.
    let mut lines = Vec::new();
    let (mut claims, mut violations, mut differ, mut compared) = (0usize, 0usize, 0usize, 0usize);
    for opt in optimizers {
        let mut ratios: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut tally = UpdateTally::default();
        for case in 0..n_random {
            let xs0: Vec<ArrayD<f32>> = make_inputs(&model, Kind::Random, 1000 + case)
                .iter()
                .map(to_nd)
                .collect();
            let mut x = TList::from_arrays(xs0).expect("inputs match Γ");
            let mut any = Trainer::<f32>::new(opt, &params).expect("valid");
            let mut this = Trainer::<f32>::new(opt, &params).expect("valid");
            for t in 1..=3u64 {
                // The stored weights and state the step starts from.
                let stored: Vec<ArrayD<f32>> = x.as_slice().to_vec();
                let state: Vec<Vec<Vec<f32>>> = params
                    .iter()
                    .map(|&p| {
                        let st = any.state_of(p);
                        st.iter()
                            .map(|(_, s)| s.value.iter().copied().collect())
                            .collect()
                    })
                    .collect();
                m.graph.set_config(Config::default());
                let ours_this = m
                    .graph
                    .train_step(x.clone(), loss, &mut this)
                    .expect("step");
                m.graph.set_config(Config::any_implementation());
                let step = m.graph.train_step(x, loss, &mut any).expect("step");
                // The runtime update does not depend on the mode.
                assert_eq!(step.inputs.as_slice(), ours_this.inputs.as_slice());
                let xs_iv = TList::<f32, _>::from_arrays(stored.clone())
                    .expect("inputs")
                    .to_spec::<Interval>();
                let g_exact = m.graph.backprop_spec(&xs_iv, &seed_iv).into_vec();
                let tensors: Vec<Tensor> = stored
                    .iter()
                    .map(|a| Tensor::new(a.shape(), a.iter().copied().collect()))
                    .collect();
                let foreign_grads: Vec<Vec<Tensor>> = runtimes
                    .iter()
                    .map(|rt| {
                        let vals = eval::forward(rt, &tensors, &model.prog);
                        eval::backward(rt, &vals, &model.prog, model.loss())
                    })
                    .collect();
                for (k, &p) in params.iter().enumerate() {
                    let name = model.names[p];
                    let u = &step.updates[k];
                    let w: Vec<f32> = stored[p].iter().copied().collect();
                    let st = &state[k];
                    let first = st.is_empty();
                    let s_at = |j: usize, i: usize| st.get(j).map_or(0.0, |s| f64::from(s[i]));
                    let gx: Vec<Interval> = g_exact[p].iter().copied().collect();
                    let ex: Vec<(Interval, Interval, Interval)> = (0..w.len())
                        .map(|i| {
                            let s = (s_at(0, i), s_at(1, i));
                            exact_update(&opt, t, first, f64::from(w[i]), gx[i], s)
                        })
                        .collect();
                    let ex_w: Vec<Interval> = ex.iter().map(|e| e.0).collect();
                    let ex_s = [
                        ex.iter().map(|e| e.1).collect::<Vec<_>>(),
                        ex.iter().map(|e| e.2).collect::<Vec<_>>(),
                    ];
                    let mut wt = UpdateTally::default();
                    let prev =
                        (!first).then(|| (&st[0][..], st.get(1).map_or(&st[0][..], |v| &v[..])));
                    for (ri, fg) in foreign_grads.iter().enumerate() {
                        for kind in update::CONFORMING {
                            let out = update::step(kind, &opt, t, &w, &fg[p].data, prev, |x| x);
                            let label = format!(
                                "{} {name}' t={t} ({}, {})",
                                opt.name(),
                                runtimes[ri].name,
                                kind.name()
                            );
                            wt.check(&label, &out.w, &ex_w, u.eps.get());
                            for (j, (sname, eps, _)) in u.state.iter().enumerate() {
                                let run = if j == 0 { &out.s1 } else { &out.s2 };
                                let l = format!("{label} {sname}");
                                tally.check(&l, run, &ex_s[j], eps.get());
                            }
                            let ours = step.inputs.as_slice()[p].iter();
                            differ += ours
                                .zip(&out.w)
                                .filter(|(a, b)| a.to_bits() != b.to_bits())
                                .count();
                            compared += out.w.len();
                        }
                    }
                    tally.claims += wt.claims;
                    tally.violations += wt.violations;
                    // Our own run's true error, and L: the exact update's change when the
                    // gradient moves within ±eps_g (17 points and 0 per entry).
                    let mut own = UpdateTally::default();
                    let ours: Vec<f32> = step.inputs.as_slice()[p].iter().copied().collect();
                    own.check("ours", &ours, &ex_w, f64::INFINITY);
                    let eg = step.certificate.grad_eps.as_slice()[p].get();
                    let mut legit = 0.0f64;
                    for (i, g) in gx.iter().enumerate() {
                        let s = (s_at(0, i), s_at(1, i));
                        let f = |gg: f64| exact_update(&opt, t, first, f64::from(w[i]), gg, s).0;
                        let f0 = f(g.mid());
                        let mut pts: Vec<f64> = (0..=16)
                            .map(|j| g.mid() + eg * (j as f64 / 8.0 - 1.0))
                            .collect();
                        if (g.mid() - eg..=g.mid() + eg).contains(&0.0) {
                            pts.push(0.0);
                        }
                        legit = pts
                            .into_iter()
                            .fold(legit, |l, gg| l.max((f(gg) - f0).abs()));
                    }
                    let (eps_any, eps_this) = (u.eps.get(), ours_this.updates[k].eps.get());
                    if wt.worst > 0.0 && own.worst > 0.0 && legit > 0.0 {
                        ratios
                            .entry("this-run eps ÷ our error")
                            .or_default()
                            .push(eps_this / own.worst);
                        ratios
                            .entry("any eps ÷ our error")
                            .or_default()
                            .push(eps_any / own.worst);
                        ratios
                            .entry("any eps ÷ worst foreign")
                            .or_default()
                            .push(eps_any / wt.worst);
                        ratios
                            .entry("L ÷ worst foreign")
                            .or_default()
                            .push(legit / wt.worst);
                        ratios
                            .entry("any eps ÷ L")
                            .or_default()
                            .push(eps_any / legit);
                    }
                }
                x = step.inputs;
            }
        }
        claims += tally.claims;
        violations += tally.violations;
        let q = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            format!("{:.3e} / {:.3e}", v[v.len() / 2], v[v.len() - 1])
        };
        let figures: Vec<String> = ratios
            .iter()
            .map(|(k, v)| format!("{k} {}", q(v)))
            .collect();
        let label = match opt {
            Optimizer::Momentum(m) if m.nesterov => "nesterov",
            _ => opt.name(),
        };
        lines.push(format!(
            "{label:<9} {} claims, {} violations; median / max per tensor × step: {}",
            tally.claims,
            tally.violations,
            figures.join("; ")
        ));
    }
    println!(
        "\nforeign updates: {} runtimes × {} update kernels, {n_random} random sets × 3 steps",
        runtimes.len(),
        update::CONFORMING.len()
    );
    for l in &lines {
        println!("{l}");
    }
    println!(
        "total: {claims} claims, {violations} violations; {differ} of {compared} foreign w' entries bit-different from ours"
    );
    assert!(claims > 0);
    assert_eq!(
        violations, 0,
        "a foreign update is outside the any-implementation eps"
    );
    // The foreign updates really compute something else than ours somewhere.
    assert!(differ > 0, "every foreign update is bit-identical to ours");
}

/// Trace mode for the update (SPEC §11 for §12): another implementation's AdamW step of
/// mlp_deep — gradients from a foreign runtime, PyTorch's single-tensor update — given by name
/// as a [`Trace`] and certified against the step's exact enclosure. A correct update passes
/// with a bound within a hair of its true error; the same update without bias correction is
/// flagged outside the any-implementation bound; malformed traces are typed errors.
#[test]
fn update_trace_certifies_their_step_and_flags_a_wrong_one() {
    use scale_graph::Error;
    use scale_graph::trace::Trace;
    let rt = kernels::all(Config::default().assumed_ulps())
        .into_iter()
        .find(|r| r.name == "pairwise")
        .expect("the pairwise runtime");
    let model = models().swap_remove(0);
    let mut m = mlp_deep!();
    m.graph.set_config(Config::any_implementation());
    let loss = m.vars.loss;
    let params = [1usize, 2, 3, 4, 5, 6, 7, 8];
    let opt = Optimizer::from(AdamW::default());
    let (seed, _, _) = m.graph.loss_seed(loss);
    let xs0: Vec<ArrayD<f32>> = make_inputs(&model, Kind::Random, 7)
        .iter()
        .map(to_nd)
        .collect();
    let mut x = TList::from_arrays(xs0).expect("inputs match Γ");
    let mut trainer = Trainer::<f32>::new(opt, &params).expect("valid");
    for t in 1..=2u64 {
        let stored: Vec<ArrayD<f32>> = x.as_slice().to_vec();
        let state: Vec<Vec<Vec<f32>>> = params
            .iter()
            .map(|&p| {
                let st = trainer.state_of(p);
                st.iter()
                    .map(|(_, s)| s.value.iter().copied().collect())
                    .collect()
            })
            .collect();
        let step = m.graph.train_step(x, loss, &mut trainer).expect("step");
        let xs_iv = TList::<f32, _>::from_arrays(stored.clone())
            .expect("inputs")
            .to_spec::<Interval>();
        let g_exact = m.graph.backprop_spec(&xs_iv, &seed.to_spec()).into_vec();
        let tensors: Vec<Tensor> = stored
            .iter()
            .map(|a| Tensor::new(a.shape(), a.iter().copied().collect()))
            .collect();
        let grads = eval::backward(
            &rt,
            &eval::forward(&rt, &tensors, &model.prog),
            &model.prog,
            model.loss(),
        );
        // Their step, as a trace by name, and its true error per tensor (vs the textbook
        // update in interval arithmetic).
        let theirs = |kind: update::Update| {
            let mut trace = Trace::default();
            let mut truth = BTreeMap::new();
            for (k, &p) in params.iter().enumerate() {
                let name = model.names[p];
                let w: Vec<f32> = stored[p].iter().copied().collect();
                let prev = state[k].first().map(|m1| (&m1[..], &state[k][1][..]));
                let out = update::step(kind, &opt, t, &w, &grads[p].data, prev, |x| x);
                let shape = stored[p].shape();
                let as_nd = |v: &[f32]| {
                    ArrayD::from_shape_vec(IxDyn(shape), v.iter().map(|&x| f64::from(x)).collect())
                        .expect("shape")
                };
                let gx: Vec<Interval> = g_exact[p].iter().copied().collect();
                let exact: Vec<Exact3> = (0..w.len())
                    .map(|i| {
                        let s = state[k].first().map_or((0.0, 0.0), |m1| {
                            (f64::from(m1[i]), f64::from(state[k][1][i]))
                        });
                        exact_update(&opt, t, prev.is_none(), f64::from(w[i]), gx[i], s)
                    })
                    .collect();
                // Their error lies between the distances to the nearest and the farthest
                // point of the exact enclosure.
                let dist = |run: &[f32], pick: fn(&Exact3) -> Interval| {
                    run.iter()
                        .zip(&exact)
                        .fold((0.0f64, 0.0f64), |(n, f), (&r, e)| {
                            let (e, r) = (pick(e), f64::from(r));
                            let near = (e.lo() - r).max(r - e.hi()).max(0.0);
                            (
                                n.max(near),
                                f.max((r - e.lo()).abs().max((r - e.hi()).abs())),
                            )
                        })
                };
                for (suffix, run, pick) in [
                    ("'", &out.w, (|e: &Exact3| e.0) as fn(&Exact3) -> Interval),
                    (".exp_avg", &out.s1, |e| e.1),
                    (".exp_avg_sq", &out.s2, |e| e.2),
                ] {
                    let n = format!("{name}{suffix}");
                    trace.insert_value(&n, as_nd(run));
                    truth.insert(n, dist(run, pick));
                }
            }
            (trace, truth)
        };
        let (trace, truth) = theirs(update::Update::Torch);
        let out = trainer
            .certify_trace(&step, m.names(), &trace)
            .expect("a well-formed trace");
        assert_eq!(out.report.mode, "trace");
        assert_eq!(out.report.rows.len(), 3 * params.len());
        assert!(
            out.outside_any_implementation.is_empty(),
            "t={t}: {:?}",
            out.outside_any_implementation
        );
        // The bound exceeds their true error only by the exact enclosure's width (the exact
        // update is known to within its radius), which is small against the error.
        let mut ratios = Vec::new();
        for row in &out.report.rows {
            let eps = row.eps.expect("finite");
            let (near, far) = truth[&row.name];
            let r = row.radius.expect("a bounded enclosure");
            assert!(eps >= near, "t={t} {}: {eps:e} < {near:e}", row.name);
            assert!(
                eps <= far + 2.0 * r + 1e-15,
                "t={t} {}: {eps:e} vs {far:e} (radius {r:e})",
                row.name
            );
            ratios.push(eps / far);
        }
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        println!(
            "t={t}: trace eps ÷ their error median {median:.4}, max {:.4}",
            ratios[ratios.len() - 1]
        );
        assert!(median < 1.01, "t={t}: median {median}");
        let (wrong, _) = theirs(update::Update::NoBiasCorrection);
        let bad = trainer
            .certify_trace(&step, m.names(), &wrong)
            .expect("a well-formed trace");
        let flagged: Vec<&str> = bad
            .outside_any_implementation
            .iter()
            .map(String::as_str)
            .collect();
        println!("t={t}: no bias correction flagged in {flagged:?}");
        assert!(
            flagged.iter().all(|n| n.ends_with('\'')),
            "the state is not affected: {flagged:?}"
        );
        assert!(
            flagged.len() >= params.len() / 2,
            "t={t}: only {flagged:?} flagged"
        );

        // Malformed traces: typed errors naming the tensor.
        let problem = |t: &Trace| match trainer.certify_trace(&step, m.names(), t) {
            Err(Error::Trace { name, .. }) => name,
            other => panic!(
                "expected a trace error, got {:?}",
                other.map(|o| o.report.mode)
            ),
        };
        let mut missing = trace.clone();
        missing = {
            let mut t2 = Trace::default();
            for n in missing.value_names().filter(|n| *n != "w3'") {
                t2.insert_value(n, missing.value(n).expect("listed").clone());
            }
            t2
        };
        assert_eq!(problem(&missing), "w3'");
        let mut unknown = trace.clone();
        unknown.insert_value("w9'", ndarray::arr1(&[0.0]).into_dyn());
        assert_eq!(problem(&unknown), "w9'");
        let mut shape = trace.clone();
        shape.insert_value("b2.exp_avg", ndarray::arr1(&[0.0; 3]).into_dyn());
        assert_eq!(problem(&shape), "b2.exp_avg");
        let mut grad = trace.clone();
        grad.insert_grad("w1", ndarray::arr1(&[0.0]).into_dyn());
        assert_eq!(problem(&grad), "w1");
        x = step.inputs;
    }
    // A step certified in another mode has no any-implementation bound to test against.
    m.graph.set_config(Config::default());
    let mut other = Trainer::<f32>::new(opt, &params).expect("valid");
    let step = m.graph.train_step(x, loss, &mut other).expect("step");
    assert!(matches!(
        other.certify_trace(&step, m.names(), &Trace::default()),
        Err(Error::Trace { .. })
    ));
}
