//! The update formulas, written once over a small arithmetic trait and evaluated in the runtime
//! (PyTorch's order of operations), in [`Ball`] (the exact update), in [`AnyRun`] (every
//! conforming implementation) and in [`Est`] (the estimate).

use super::Optimizer;
use crate::round::{add_up, mul_up, sub_down, sub_up};
use crate::scalar::{AnyRun, Arith, Ball, Est, Runtime, SpecScalar};

/// What the update formulas need beyond `+ − × ÷`.
pub(crate) trait StepArith: Arith {
    /// `√x` of a quantity known to be `≥ 0` in exact arithmetic and in every conforming run.
    fn sqrt_nonneg(self) -> Self;
    /// A scalar constant (learning rate, `1 − β`, a bias correction) whose exact value lies in
    /// `b`, as this arithmetic holds it.
    fn konst(b: Ball) -> Self;
    /// A result stored to the runtime type (an implementation computing in a wider type rounds
    /// once more here).
    fn stored(self) -> Self {
        self
    }
    /// The exact value is known to lie in `[−k, k]`: an enclosure may be narrowed to it.
    fn capped(self, _k: f64) -> Self {
        self
    }
    /// The value (exact, and in every conforming run) is known to be `≥ lo`.
    fn at_least(self, _lo: f64) -> Self {
        self
    }
    /// AdamW's normalised update `m / denom` of the entry `e`, narrowed where this
    /// arithmetic knows more than the quotient of two independent enclosures (see
    /// [`adam_range`]).
    fn adam_ratio(m: Self, denom: Self, _e: &Entry<Self>, _k: &Consts) -> Self {
        m / denom
    }
}

/// The range of AdamW's exact normalised update
/// `r(g) = (β₁m₀ + (1 − β₁)g) / (√(β₂v₀ + (1 − β₂)g²)/√(1 − β₂ᵗ) + ε)` over the gradient ball
/// `g` (state `m₀`, `v₀` in their balls), when `r` is monotone there.
///
/// Evaluated directly, `m` and `√v` are two balls from the same `g`, treated as independent:
/// where `|g| ≫ ε` the quotient is ≈ `sign(g)` over the whole ball, yet its enclosure is about
/// `2·rad(g)/|g|` wide (the dependency problem), `|g|/ε` times the true variation. Instead:
/// `r′(g) = (b·c − a·d·g + b·ε·s·Q) / (s·Q·D²)` with `a = β₁m₀`, `b = 1 − β₁`, `c = β₂v₀`,
/// `d = 1 − β₂`, `s = √(1 − β₂ᵗ)`, `Q = √(c + d·g²)`, `D = Q/s + ε`; its sign is the
/// numerator's (`r` is continuous, `D ≥ ε`), and where the numerator's enclosure over the
/// whole box has one sign, `r` is monotone in `g` and its range lies between its values at
/// the ball's ends. `None` when the sign is not decided (or the ball is not finite).
pub(crate) fn adam_range(g: Ball, m0: Ball, v0: Ball, k: &Consts) -> Option<(f64, f64)> {
    if !(g.lo().is_finite() && g.hi().is_finite()) {
        return None;
    }
    let (a, b) = (k.beta1 * m0, k.one_m_beta1);
    let (c, d) = (k.beta2 * clamp_nonneg(v0), k.one_m_beta2);
    let q = |x: Ball| SpecScalar::sqrt(clamp_nonneg(c + d * x.square()));
    // The last term is ≥ 0: from zero state (`a = c = 0` exactly, PyTorch's first step) `r`
    // is nondecreasing whatever the ball, even where `Q` reaches 0.
    let zero = |x: Ball| x.mid() == 0.0 && x.rad() == 0.0;
    let lead = if zero(m0) && zero(v0) {
        Ball::from_f64(0.0)
    } else {
        b * c - a * d * g
    };
    let num = lead + b * k.eps * k.bc2_sqrt * q(g);
    if !(lead.lo() >= 0.0 || num.lo() >= 0.0 || num.hi() <= 0.0) {
        return None;
    }
    let r = |x: f64| {
        let x = Ball::from_f64(x);
        (a + b * x) / (q(x) / k.bc2_sqrt + k.eps)
    };
    let (lo, hi) = (r(g.lo()), r(g.hi()));
    let (l, h) = (lo.lo().min(hi.lo()), lo.hi().max(hi.hi()));
    (l.is_finite() && h.is_finite()).then_some((l, h))
}

/// The part of `b` within `[lo, hi]` (as a ball), or `b` if that is empty or not smaller.
fn narrowed(b: Ball, lo: f64, hi: f64) -> Ball {
    let (l, h) = (b.lo().max(lo), b.hi().min(hi));
    if !(l <= h) || (l == b.lo() && h == b.hi()) || !(l.is_finite() && h.is_finite()) {
        return b;
    }
    let m = 0.5 * l + 0.5 * h;
    Ball::new(m, sub_up(h, m).max(sub_up(m, l)))
}

impl StepArith for f32 {
    fn sqrt_nonneg(self) -> f32 {
        self.sqrt()
    }
    fn konst(b: Ball) -> f32 {
        b.mid() as f32
    }
}

impl StepArith for f64 {
    fn sqrt_nonneg(self) -> f64 {
        self.sqrt()
    }
    fn konst(b: Ball) -> f64 {
        b.mid()
    }
}

/// The ball's part at or above 0 (the exact value is known to be there).
fn clamp_nonneg(b: Ball) -> Ball {
    if b.lo() >= 0.0 || !b.hi().is_finite() {
        return b;
    }
    // [0, hi] ⊆ ⟨h, h⟩ with h ≥ hi/2 rounded up.
    let h = mul_up(b.hi().max(0.0), 0.5);
    Ball::new(h, h)
}

impl StepArith for Ball {
    fn sqrt_nonneg(self) -> Ball {
        SpecScalar::sqrt(clamp_nonneg(self))
    }
    fn konst(b: Ball) -> Ball {
        b
    }
    fn capped(self, k: f64) -> Ball {
        narrowed(self, -k, k)
    }
    fn at_least(self, lo: f64) -> Ball {
        if self.lo() >= lo || !self.hi().is_finite() {
            return self;
        }
        narrowed(self, lo, self.hi().max(lo))
    }
    fn adam_ratio(m: Ball, denom: Ball, e: &Entry<Ball>, k: &Consts) -> Ball {
        let r = (m / denom).capped(k.ratio_cap);
        match adam_range(e.g, e.s1, e.s2, k) {
            Some((lo, hi)) => narrowed(r, lo, hi),
            None => r,
        }
    }
}

impl<R: Runtime> StepArith for AnyRun<R> {
    fn sqrt_nonneg(self) -> Self {
        // Every conforming run's value is ≥ 0 too: products g·g and sums of non-negative terms
        // round to non-negative values.
        let b = clamp_nonneg(self.ball());
        SpecScalar::sqrt(AnyRun::<R>::new(b.mid(), b.rad()))
    }
    fn konst(b: Ball) -> Self {
        AnyRun::scalar(b)
    }
    fn stored(self) -> Self {
        AnyRun::stored(self)
    }
    fn at_least(self, lo: f64) -> Self {
        let b = self.ball();
        if b.lo() >= lo || !b.hi().is_finite() {
            return self;
        }
        let n = narrowed(b, lo, b.hi().max(lo));
        AnyRun::new(n.mid(), n.rad())
    }
    /// A conforming run's quotient `r̂` is within `ρ = rel·max|r| + abs`
    /// (`Consts::any_ratio_err`) of the exact `r(ĝ)` at its own gradient `ĝ`, and `r(ĝ)`
    /// lies in the exact range [`adam_range`] over the gradient ball.
    fn adam_ratio(m: Self, denom: Self, e: &Entry<Self>, k: &Consts) -> Self {
        let q = (m / denom).ball();
        let [rel, abs] = k.any_ratio_err;
        // The error analysis assumes no overflow in `m̂`, `v̂`, `d̂`: where a conforming run
        // could overflow (a ball is the whole line; e.g. `v̂ = ∞` makes `r̂ = 0`), keep the
        // quotient as it is.
        let finite = |b: Ball| b.lo().is_finite() && b.hi().is_finite();
        let known = rel.is_finite() && abs.is_finite();
        if !(known && [m.ball(), denom.ball(), q].into_iter().all(finite)) {
            return AnyRun::new(q.mid(), q.rad());
        }
        // |r(ĝ)| ≤ the Cauchy–Schwarz cap whatever ĝ, and r(ĝ) is in the monotone range.
        let (lo, hi) = adam_range(e.g.ball(), e.s1.ball(), e.s2.ball(), k)
            .unwrap_or((-k.ratio_cap, k.ratio_cap));
        let rho = add_up(mul_up(rel, lo.abs().max(hi.abs())), abs);
        let n = narrowed(q, sub_down(lo, rho), add_up(hi, rho));
        AnyRun::new(n.mid(), n.rad())
    }
}

impl<R: Runtime> StepArith for Est<R> {
    fn sqrt_nonneg(self) -> Self {
        if self.mid() < 0.0 {
            Est::new(0.0, self.sigma())
        } else {
            SpecScalar::sqrt(self)
        }
    }
    fn konst(b: Ball) -> Self {
        Est::from_f64(b.mid())
    }
    fn stored(self) -> Self {
        Est::stored(self)
    }
}

/// The constants of one step, enclosed exactly (PyTorch computes them in Python's `f64`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Consts {
    lr: Ball,
    wd: Ball,
    beta1: Ball,
    /// `1 − lr·wd` (AdamW's decoupled decay).
    decay: Ball,
    momentum: Ball,
    /// `1 − dampening`.
    undamped: Ball,
    one_m_beta1: Ball,
    beta2: Ball,
    one_m_beta2: Ball,
    /// `lr / (1 − β₁ᵗ)`.
    step_size: Ball,
    /// `√(1 − β₂ᵗ)`.
    bc2_sqrt: Ball,
    eps: Ball,
    /// An upper bound on `|m / (√v / √(1 − β₂ᵗ) + ε)|` along every exact AdamW trajectory
    /// from zero state (see [`adam_ratio_cap`]); `+∞` when none is known.
    ratio_cap: f64,
    /// A lower bound on AdamW's denominator in exact arithmetic and in every conforming run:
    /// `ε·(1 − u)³` of the runtime's roundings, minus the underflow term.
    eps_floor: f64,
    /// The runtime's unit roundoff and underflow term (every operation of a conforming run,
    /// in the runtime type or a wider one, rounds within `u·|z| + η`).
    u: f64,
    eta: f64,
    /// `[rel, abs]`: a conforming run's `m̂/d̂` from *given* state is within
    /// `rel·|r(ĝ)| + abs` of the exact quotient `r(ĝ)` at its gradient `ĝ` (see
    /// `Consts::ratio_err_terms`); `+∞` when not known (the trajectory question, where
    /// each run starts from its own state).
    any_ratio_err: [f64; 2],
}

/// Along an exact Adam trajectory from `m₀ = v₀ = 0`, Cauchy–Schwarz gives
/// `|m_t| ≤ (1 − β₁)·√S·√(v_t / (1 − β₂))` with `S = Σ_{k<t} (β₁²/β₂)^k`, so
/// `|m_t| / (√v_t / √(1 − β₂ᵗ) + ε) ≤ (1 − β₁)·√S·√(1 − β₂ᵗ) / √(1 − β₂)`. Ball arithmetic
/// treats `m` and `v` as independent and can exceed this by orders of magnitude (at `t = 1`
/// the ratio is exactly `(1 − β₁)·sign(g)`), so the exact enclosure is narrowed to it.
fn adam_ratio_cap(beta1: Ball, beta2: Ball, bc2_sqrt: Ball, t: u64) -> f64 {
    let one = Ball::from_f64(1.0);
    if !(beta2.lo() > 0.0) {
        return f64::INFINITY;
    }
    let q = beta1 * beta1 / beta2;
    // S ≤ t·max(1, q)^(t−1): a coarse but rigorous bound without a loop over t.
    let qmax = q.hi().max(1.0);
    let s_hi = if qmax == 1.0 {
        t as f64
    } else {
        (t as f64) * qmax.powf((t - 1) as f64) * (1.0 + 1e-12)
    };
    let s = if q.hi() < 1.0 {
        // Geometric series: S = (1 − qᵗ)/(1 − q) ≤ 1/(1 − q).
        (one / (one - q)).hi().min(s_hi)
    } else {
        s_hi
    };
    let k = (one - beta1) * SpecScalar::sqrt(Ball::from_f64(s)) * bc2_sqrt
        / SpecScalar::sqrt(one - beta2);
    let k = k.hi();
    if k.is_finite() { k } else { f64::INFINITY }
}

impl Consts {
    /// The constants for a step from *given* (stored) AdamW state `m`, `v` rather than the
    /// exact trajectory from zero: the ratio cap then follows from one Cauchy–Schwarz step,
    /// `|β₁m + (1 − β₁)g| ≤ √(β₁²K²/β₂ + (1 − β₁)²/(1 − β₂))·√(β₂v + (1 − β₂)g²)` with
    /// `K = max |m|/√v` over the stored entries (`+∞` if some `v = 0 < |m|`).
    pub(crate) fn with_stored_state<'a>(
        mut self,
        opt: &Optimizer,
        state: Option<(
            impl Iterator<Item = f64> + 'a,
            impl Iterator<Item = f64> + 'a,
        )>,
    ) -> Consts {
        let Optimizer::AdamW(a) = *opt else {
            return self;
        };
        let mut k = Ball::from_f64(0.0);
        if let Some((ms, vs)) = state {
            let mut worst = 0.0f64;
            for (m, v) in ms.zip(vs) {
                let r = if m == 0.0 {
                    0.0
                } else if v > 0.0 {
                    (Ball::from_f64(m.abs()) / SpecScalar::sqrt(Ball::from_f64(v))).hi()
                } else {
                    f64::INFINITY
                };
                worst = if r.is_nan() {
                    f64::INFINITY
                } else {
                    worst.max(r)
                };
            }
            k = Ball::from_f64(worst);
        }
        let one = Ball::from_f64(1.0);
        let (b1, b2) = (Ball::from_f64(a.beta1), Ball::from_f64(a.beta2));
        if !(b2.lo() > 0.0) || !k.hi().is_finite() {
            self.ratio_cap = f64::INFINITY;
            return self;
        }
        let next = b1 * b1 / b2 * k * k + (one - b1) * (one - b1) / (one - b2);
        let cap = (SpecScalar::sqrt(next) * self.bc2_sqrt).hi();
        self.ratio_cap = if cap.is_finite() { cap } else { f64::INFINITY };
        self.any_ratio_err = self.ratio_err_terms(k, Ball::from_f64(a.eps));
        self
    }

    /// The `[rel, abs]` of `any_ratio_err` from `K = max |m₀|/√v₀` of the stored state,
    /// by a forward error analysis of the quotient a conforming run computes at its own
    /// gradient `ĝ`, every operation (and every scalar constant, and every store) rounding
    /// within `u·|z| + η` — generously counted:
    ///
    /// * `m̂ = m₀ + (1 − β₁)(ĝ − m₀)` (or PyTorch's other `lerp` branch): at most 6 roundings
    ///   of terms bounded by `|m₀|(1 + (1 − β₁)) + |ĝ|` ≤ `E·√v` with
    ///   `E = 2K/√β₂ + 2/√(1 − β₂)` (as `β₂v₀ ≤ v`, `(1 − β₂)ĝ² ≤ v`), so
    ///   `|m̂ − m| ≤ γ₆·E·√v + 8η`;
    /// * `d̂ = √v̂/√(1 − β₂ᵗ) + ε`: sums of non-negative terms, so with at most 11 roundings
    ///   `f·d − a ≤ d̂ ≤ F·d + a`, `F = (1 + u)¹²/(1 − u)²`, `f = (1 − u)¹²/(1 + u)²`,
    ///   `a = 4√η·F/s + 4η`, and `d̂ ≥ f·√v/s + e′` with `e′ = ε(1 − u)³ − a > 0`;
    /// * `r̂ = m̂/d̂` rounded and stored: `|r̂ − r| ≤ |r|·rel + abs` with
    ///   `rel = max((1 + u)²/(f − a/ε) − 1, 1 − (1 − u)²/(F + a/ε))` (as `d ≥ ε`) and
    ///   `abs = (1 + u)²·(γ₆·E·s/f + 8η/e′) + 4η` (`(A·√v + α)/(B·√v + e′) ≤ A/B + α/e′`;
    ///   `4η` for the underflow of the quotient and its store).
    fn ratio_err_terms(&self, k: Ball, eps: Ball) -> [f64; 2] {
        let p = Ball::from_f64;
        let one = p(1.0);
        let (u, eta) = (p(self.u), p(self.eta));
        let pow = |b: Ball, n: u32| (0..n).fold(one, |acc, _| acc * b);
        let (up, down) = (one + u, one - u);
        let big_f = pow(up, 12) / pow(down, 2);
        let small_f = pow(down, 12) / pow(up, 2);
        let gamma6 = p(6.0) * u / (one - p(6.0) * u);
        let s = self.bc2_sqrt;
        let e =
            p(2.0) * k / SpecScalar::sqrt(self.beta2) + p(2.0) / SpecScalar::sqrt(self.one_m_beta2);
        let a = (p(4.0) * SpecScalar::sqrt(eta) * big_f / s + p(4.0) * eta).hi();
        let e_prime = (eps * pow(down, 3)).lo() - a;
        let f_lo = small_f.lo() - a / eps.lo();
        if !(e_prime > 0.0 && f_lo > 0.0 && s.lo() > 0.0) {
            return [f64::INFINITY; 2];
        }
        let over = (pow(up, 2) / p(f_lo) - one).hi();
        let under = (one - pow(down, 2) / (big_f + p(a) / eps)).hi();
        let rel = over.max(under);
        let abs = (pow(up, 2) * (gamma6 * e * s / small_f + p(8.0) * eta / p(e_prime))
            + p(4.0) * eta)
            .hi();
        if rel.is_finite() && abs.is_finite() {
            [rel, abs]
        } else {
            [f64::INFINITY; 2]
        }
    }

    /// The constants of step `t ≥ 1`.
    pub(crate) fn new<R: Runtime>(opt: &Optimizer, t: u64) -> Consts {
        let p = Ball::from_f64;
        let one = Ball::from_f64(1.0);
        let (lr, wd) = (p(opt.lr()), p(opt.weight_decay()));
        let (mut momentum, mut undamped) = (one, one);
        let zero = Ball::from_f64(0.0);
        let (mut beta1, mut beta2, mut eps) = (zero, zero, zero);
        match *opt {
            Optimizer::Momentum(m) => {
                momentum = p(m.momentum);
                undamped = one - p(m.dampening);
            }
            Optimizer::AdamW(a) => {
                beta1 = p(a.beta1);
                beta2 = p(a.beta2);
                eps = p(a.eps);
            }
            Optimizer::Sgd(_) => {}
        }
        // βᵗ by repeated squaring in ball arithmetic (each product encloses the exact one).
        let pow = |b: Ball, mut n: u64| {
            let (mut acc, mut base) = (one, b);
            while n > 0 {
                if n & 1 == 1 {
                    acc = acc * base;
                }
                base = base * base;
                n >>= 1;
            }
            acc
        };
        let bc1 = one - pow(beta1, t);
        let bc2 = one - pow(beta2, t);
        let bc2_sqrt = SpecScalar::sqrt(bc2);
        let ratio_cap = match opt {
            Optimizer::AdamW(_) => adam_ratio_cap(beta1, beta2, bc2_sqrt, t),
            _ => f64::INFINITY,
        };
        Consts {
            lr,
            wd,
            beta1,
            decay: one - lr * wd,
            momentum,
            undamped,
            one_m_beta1: one - beta1,
            beta2,
            one_m_beta2: one - beta2,
            step_size: lr / bc1,
            bc2_sqrt,
            eps,
            ratio_cap,
            eps_floor: {
                let shrink = 1.0 - 4.0 * (R::U + 2f64.powi(-50));
                (eps.lo() * shrink - 4.0 * R::ETA).max(0.0)
            },
            u: R::U,
            eta: R::ETA,
            any_ratio_err: [f64::INFINITY; 2],
        }
    }
}

/// One entry's operands: the weight, its gradient and the optimizer's two state slots
/// (momentum buffer; Adam's `m`, `v`), zero where unused.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<A> {
    pub w: A,
    pub g: A,
    pub s1: A,
    pub s2: A,
}

/// One entry's results: the new weight and state, and the increment `Δw = w' − w` (exact
/// arithmetic only: the runtime's `w'` is not computed as `w + Δw`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Out<A> {
    pub w: A,
    pub s1: A,
    pub s2: A,
    pub delta: A,
}

/// The update of one entry in arithmetic `A`, in PyTorch's order of operations
/// (`torch.optim.SGD` and `AdamW` with `foreach=False`); `first` is true at a momentum
/// buffer's first step (PyTorch clones the gradient into it, without dampening).
pub(crate) fn update<A: StepArith>(
    opt: &Optimizer,
    k: &Consts,
    first: bool,
    e: Entry<A>,
) -> Out<A> {
    let c = A::konst;
    let zero = A::lit(0.0);
    match *opt {
        Optimizer::Sgd(s) => {
            let g = if s.weight_decay != 0.0 {
                (e.g + e.w * c(k.wd)).stored()
            } else {
                e.g
            };
            let step = c(k.lr) * g;
            Out {
                w: (e.w - step).stored(),
                s1: zero,
                s2: zero,
                delta: zero - step,
            }
        }
        Optimizer::Momentum(m) => {
            let g = if m.weight_decay != 0.0 {
                (e.g + e.w * c(k.wd)).stored()
            } else {
                e.g
            };
            let buf = if first {
                g
            } else {
                (e.s1 * c(k.momentum) + g * c(k.undamped)).stored()
            };
            let dir = if m.nesterov {
                (g + buf * c(k.momentum)).stored()
            } else {
                buf
            };
            let step = c(k.lr) * dir;
            Out {
                w: (e.w - step).stored(),
                s1: buf,
                s2: zero,
                delta: zero - step,
            }
        }
        Optimizer::AdamW(_) => {
            let decayed = (e.w * c(k.decay)).stored();
            // `exp_avg.lerp_(grad, 1 − β₁)`: `m + (1 − β₁)·(g − m)` for a weight below ½.
            let m = (e.s1 + c(k.one_m_beta1) * (e.g - e.s1)).stored();
            // `exp_avg_sq.mul_(β₂).addcmul_(grad, grad, value = 1 − β₂)`.
            let v = ((e.s2 * c(k.beta2)).stored() + c(k.one_m_beta2) * e.g * e.g).stored();
            // `√v/√(1 − β₂ᵗ) ≥ 0`, so the denominator is at least ε — and at least ε rounded
            // down by two roundings of R in any conforming run (sums of non-negative terms
            // round monotonically): the division's precondition holds with that margin.
            let denom = ((v.sqrt_nonneg() / c(k.bc2_sqrt)).stored() + c(k.eps))
                .stored()
                .at_least(k.eps_floor);
            let ratio = A::adam_ratio(m, denom, &e, k);
            let step = c(k.step_size) * ratio;
            Out {
                w: (decayed - step).stored(),
                s1: m,
                s2: v,
                delta: zero - e.w * c(k.lr) * c(k.wd) - step,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::AdamW;

    #[test]
    fn constants_enclose_the_bias_corrections() {
        let opt = Optimizer::AdamW(AdamW::default());
        for t in [1u64, 2, 10, 1000] {
            let k = Consts::new::<f32>(&opt, t);
            let bc1 = 1.0 - 0.9f64.powi(t as i32);
            let s = 1e-3 / bc1;
            assert!(k.step_size.lo() <= s && s <= k.step_size.hi(), "t={t}");
            let b2 = (1.0 - 0.999f64.powi(t as i32)).sqrt();
            assert!(k.bc2_sqrt.lo() <= b2 && b2 <= k.bc2_sqrt.hi(), "t={t}");
            assert!(k.step_size.rad() < 1e-12 * s);
        }
    }

    /// `adam_range` encloses the exact quotient at every gradient of the ball (sampled, in
    /// `f64`, with a relative slack far below the ranges' widths), from zero state (where the
    /// ball may straddle 0) and from stored state; and it is much narrower than the quotient
    /// of the independent balls where `|g| ≫ ε`.
    #[test]
    fn adam_range_encloses_the_quotient_over_the_ball() {
        use proptest::prelude::*;
        let opt = Optimizer::AdamW(AdamW::default());
        let a = AdamW::default();
        let mut runner = proptest::test_runner::TestRunner::default();
        let data = (
            -1e-2f64..1e-2,
            0.0f64..1.0,
            -1e-3f64..1e-3,
            0.0f64..1e-5,
            1u64..20,
            any::<bool>(),
        );
        let narrowed = std::cell::Cell::new(0usize);
        runner
            .run(&data, |(g, rel, m0, v0, t, zero)| {
                let k = Consts::new::<f32>(&opt, t);
                let (m0, v0) = if zero { (0.0, 0.0) } else { (m0, v0) };
                let rad = (g.abs() * rel).max(1e-12);
                let gb = Ball::new(g, rad);
                let r = |x: f64| {
                    let m = a.beta1 * m0 + (1.0 - a.beta1) * x;
                    let v = a.beta2 * v0 + (1.0 - a.beta2) * x * x;
                    let bc2 = 1.0 - a.beta2.powi(t as i32);
                    m / (v.sqrt() / bc2.sqrt() + a.eps)
                };
                let Some((lo, hi)) = adam_range(gb, Ball::from_f64(m0), Ball::from_f64(v0), &k)
                else {
                    prop_assert!(!zero, "undecided from zero state");
                    return Ok(());
                };
                for i in 0..=32 {
                    // Clamped: the sum rounds, and near `g ± rad` (where r is steep, at
                    // |x| ~ ε) a sample an ulp of `g` outside the ball leaves the range.
                    let x = (g - rad + 2.0 * rad * f64::from(i) / 32.0).clamp(gb.lo(), gb.hi());
                    let y = r(x);
                    let slack = 1e-12 * y.abs() + 1e-300;
                    prop_assert!(
                        lo - slack <= y && y <= hi + slack,
                        "{y} not in [{lo}, {hi}]"
                    );
                }
                // Against the independent-ball quotient where the ball is far from 0.
                if zero && rel < 0.5 && g.abs() > 1e-4 {
                    let b1 = Ball::from_f64(a.beta1);
                    let m = b1 * Ball::from_f64(m0) + (Ball::from_f64(1.0) - b1) * gb;
                    let v = k.one_m_beta2 * gb.square();
                    let q = m / (SpecScalar::sqrt(clamp_nonneg(v)) / k.bc2_sqrt + k.eps);
                    prop_assert!(hi - lo <= q.rad(), "{} vs {}", hi - lo, 2.0 * q.rad());
                    narrowed.set(narrowed.get() + 1);
                }
                Ok(())
            })
            .expect("adam_range encloses the quotient");
        assert!(narrowed.get() > 0);
    }

    #[test]
    fn clamp_keeps_the_non_negative_part() {
        let b = clamp_nonneg(Ball::new(1e-9, 2e-9));
        assert!(b.lo() <= 0.0 && b.hi() >= 3e-9);
        assert!(b.lo() >= -3e-9);
        assert_eq!(clamp_nonneg(Ball::new(2.0, 1.0)), Ball::new(2.0, 1.0));
    }
}
