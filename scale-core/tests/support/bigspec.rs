//! A 2400-bit interval spec (`BigIv`, a [`SpecScalar`]) to re-decide the checks that the `f64`
//! [`Interval`] spec cannot: its outward rounding of huge products (one ulp of `1e38²`) separates
//! entries that are equal in the exact semantics, and a softmax over such scores then encloses
//! every probability in `[0, 1]`. Shared by `scale-core/tests/op_obligations.rs` and
//! `tests/graph_theorems.rs` (included with `#[path]`): a check that fails in `f64` intervals is
//! re-made here, and a failure that remains is a violation only if it fails for every value of
//! the enclosure (`Fail::definite`), otherwise undecidable at this precision.
#![allow(dead_code)]

use dashu_float::FBig;
use dashu_float::round::mode::{Down, Up};
use ndarray::ArrayD;
use scale_core::SpecScalar;
use scale_core::{Bound, Interval, Runtime};
use std::cell::RefCell;

const PREC: usize = 2400;
type Lo = FBig<Down, 2>;
type Hi = FBig<Up, 2>;

/// Endpoints; `None` is −∞ (lo) or +∞ (hi).
#[derive(Clone)]
struct Ends(Option<Lo>, Option<Hi>);

thread_local! {
    static ARENA: RefCell<Vec<Ends>> = const { RefCell::new(Vec::new()) };
}

/// Clear the arena (every `BigIv` made before becomes invalid).
pub fn reset() {
    ARENA.with(|a| a.borrow_mut().clear());
}

#[derive(Clone, Copy)]
pub struct BigIv(u32);

fn get(x: BigIv) -> Ends {
    ARENA.with(|a| a.borrow()[x.0 as usize].clone())
}
fn mk(e: Ends) -> BigIv {
    ARENA.with(|a| {
        let mut a = a.borrow_mut();
        a.push(e);
        BigIv((a.len() - 1) as u32)
    })
}

fn lo_of(x: f64) -> Option<Lo> {
    x.is_finite()
        .then(|| Lo::try_from(x).unwrap().with_precision(PREC).value())
}
fn hi_of(x: f64) -> Option<Hi> {
    x.is_finite()
        .then(|| Hi::try_from(x).unwrap().with_precision(PREC).value())
}
/// An f64 at or below `v`.
fn f64_down(v: &Lo) -> f64 {
    let r = v.to_f64().value();
    if r.is_finite() && Lo::try_from(r).unwrap() > *v {
        r.next_down()
    } else {
        r
    }
}
/// An f64 at or above `v`.
fn f64_up(v: &Hi) -> f64 {
    let r = v.to_f64().value();
    if r.is_finite() && Hi::try_from(r).unwrap() < *v {
        r.next_up()
    } else {
        r
    }
}

/// Whether an end's exponent is beyond ±2⁵⁶ (from `exp` of a huge argument): a product or
/// quotient of two such could leave dashu's exponent range, so those fall back to the `f64`
/// `Interval` rule (sound: it rounds outward, to 0 or `f64::MAX`/∞).
fn wild(e: &Ends) -> bool {
    let far = |x: isize| x.unsigned_abs() > 1 << 56;
    e.0.as_ref().is_some_and(|l| far(l.repr().exponent()))
        || e.1.as_ref().is_some_and(|h| far(h.repr().exponent()))
}

impl BigIv {
    fn from_interval(i: Interval) -> BigIv {
        mk(Ends(lo_of(i.lo()), hi_of(i.hi())))
    }
    /// The f64 interval enclosing this one.
    pub fn to_interval(self) -> Interval {
        let e = get(self);
        Interval::new(
            e.0.as_ref().map_or(f64::NEG_INFINITY, f64_down),
            e.1.as_ref().map_or(f64::INFINITY, f64_up),
        )
    }
    fn via2(self, o: BigIv, f: impl Fn(Interval, Interval) -> Interval) -> BigIv {
        BigIv::from_interval(f(self.to_interval(), o.to_interval()))
    }
    /// Upper bound (rounded up) on `max |x − r|` over the interval; `None` if unbounded.
    pub fn max_dist(self, r: f64) -> Option<Hi> {
        let Ends(lo, hi) = get(self);
        let (lo, hi) = (lo?, hi?);
        let r = hi_of(r)?;
        let a = hi - r.clone();
        let b = r - lo.with_rounding::<Up>();
        Some(if a > b { a } else { b })
    }
    /// Upper bound on `|x|` over the interval; `None` if unbounded.
    pub fn mag(self) -> Option<Hi> {
        let Ends(lo, hi) = get(self);
        let (lo, hi) = (lo?.with_rounding::<Up>(), hi?);
        let nlo = -lo;
        Some(if nlo > hi { nlo } else { hi })
    }
}

impl std::fmt::Debug for BigIv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.to_interval())
    }
}

impl std::ops::Add for BigIv {
    type Output = BigIv;
    fn add(self, o: BigIv) -> BigIv {
        let (a, b) = (get(self), get(o));
        mk(Ends(
            a.0.zip(b.0).map(|(x, y)| x + y),
            a.1.zip(b.1).map(|(x, y)| x + y),
        ))
    }
}
impl std::ops::Neg for BigIv {
    type Output = BigIv;
    fn neg(self) -> BigIv {
        let a = get(self);
        mk(Ends(
            a.1.map(|h| -h.with_rounding::<Down>()),
            a.0.map(|l| -l.with_rounding::<Up>()),
        ))
    }
}
impl std::ops::Sub for BigIv {
    type Output = BigIv;
    fn sub(self, o: BigIv) -> BigIv {
        self + (-o)
    }
}
impl std::ops::Mul for BigIv {
    type Output = BigIv;
    fn mul(self, o: BigIv) -> BigIv {
        let (a, b) = (get(self), get(o));
        if wild(&a) || wild(&b) {
            return self.via2(o, |x, y| x * y);
        }
        let (Some(al), Some(ah), Some(bl), Some(bh)) = (a.0, a.1, b.0, b.1) else {
            return self.via2(o, |x, y| x * y);
        };
        let (al_u, ah_d) = (
            al.clone().with_rounding::<Up>(),
            ah.clone().with_rounding::<Down>(),
        );
        let (bl_u, bh_d) = (
            bl.clone().with_rounding::<Up>(),
            bh.clone().with_rounding::<Down>(),
        );
        let los = [&al * &bl, &al * &bh_d, &ah_d * &bl, &ah_d * &bh_d];
        let his = [&al_u * &bl_u, &al_u * &bh, &ah * &bl_u, &ah * &bh];
        let lo = los.into_iter().min().unwrap();
        let hi = his.into_iter().max().unwrap();
        mk(Ends(Some(lo), Some(hi)))
    }
}
impl std::ops::Div for BigIv {
    type Output = BigIv;
    fn div(self, o: BigIv) -> BigIv {
        let (a, b) = (get(self), get(o));
        if wild(&a) || wild(&b) {
            return self.via2(o, |x, y| x / y);
        }
        let (Some(al), Some(ah), Some(bl), Some(bh)) = (a.0, a.1, b.0, b.1) else {
            return self.via2(o, |x, y| x / y);
        };
        if !(bl > Lo::ZERO || bh < Hi::ZERO) {
            // The divisor may be 0: the quotient is unbounded (the `Interval` rule says so).
            return self.via2(o, |x, y| x / y);
        }
        // Quotients of the four end pairs, each rounded in its direction at PREC bits
        // (the extremes of a/b over a box that excludes b = 0 are at its corners).
        let (al_u, ah_d) = (
            al.clone().with_rounding::<Up>(),
            ah.clone().with_rounding::<Down>(),
        );
        let (bl_u, bh_d) = (
            bl.clone().with_rounding::<Up>(),
            bh.clone().with_rounding::<Down>(),
        );
        let los = [&al / &bl, &al / &bh_d, &ah_d / &bl, &ah_d / &bh_d];
        let his = [&al_u / &bl_u, &al_u / &bh, &ah / &bl_u, &ah / &bh];
        let lo = los.into_iter().min().unwrap();
        let hi = his.into_iter().max().unwrap();
        mk(Ends(Some(lo), Some(hi)))
    }
}

/// Directed big-float transcendental functions at each end of an interval (`None` = the
/// infinite end), each result rounded outward: exact-real `exp`/`ln`/`ln_1p`/`expm1` of
/// `dashu-float` are correctly rounded in the requested direction, and the compositions below
/// are monotone in each rounded intermediate, rounded in the matching direction. Arguments
/// are rounded (outward) to [`TPREC`] bits first: the results only need to be far tighter
/// than an `f64` ulp, not exact. Bounded functions get bounded enclosures (`tanh ∈ [−1, 1]`,
/// `sigmoid ∈ [0, 1]`, `softplus ≥ 0`) whatever the input, including an infinite end.
mod tr {
    use super::{Hi, Lo, lo_of};
    use dashu_float::round::mode::{Down, Up};

    /// Working precision of the transcendental results (relative error ≤ 2⁻²⁵⁵).
    const TPREC: usize = 256;
    /// `eˣ` is evaluated for `|x| ≤ 2⁵⁰` (exponents up to ~1.6·10¹⁵ bits, which dashu handles
    /// in microseconds); beyond, monotonicity gives the bound at the clamp point, the infinite
    /// end, or (below `−2⁵⁰`) the power of two of [`exp_lo`].
    const CAP: f64 = 1_125_899_906_842_624.0;

    fn cap_lo() -> Lo {
        lo_of(CAP).unwrap()
    }
    fn is_zero_lo(x: &Lo) -> bool {
        *x == Lo::ZERO
    }
    fn is_zero_hi(x: &Hi) -> bool {
        *x == Hi::ZERO
    }
    /// `x` rounded down / up to TPREC bits.
    fn rd(x: &Lo) -> Lo {
        x.clone().with_precision(TPREC).value()
    }
    fn ru(x: &Hi) -> Hi {
        x.clone().with_precision(TPREC).value()
    }
    fn neg_lo(x: &Lo) -> Hi {
        -x.clone().with_rounding::<Up>()
    }
    fn neg_hi(x: &Hi) -> Lo {
        -x.clone().with_rounding::<Down>()
    }
    fn one_lo() -> Lo {
        lo_of(1.0).unwrap()
    }
    fn one_hi() -> Hi {
        super::hi_of(1.0).unwrap()
    }
    /// `2⁻¹⁰⁰⁰`: below this `|x|`, `eˣ`, `eˣ − 1` and `ln(1 + x)` are bounded by their first
    /// Taylor terms instead of calling dashu, whose series for arguments with exponents
    /// near −10¹⁵ (a power of two from [`exp_lo`]) shift by that many bits and run out of
    /// memory.
    fn tiny() -> Hi {
        super::hi_of(2f64.powi(-1000)).unwrap()
    }
    fn is_tiny_lo(x: &Lo) -> bool {
        let t = tiny().with_rounding::<Down>();
        *x < t && *x > -t.clone()
    }
    fn is_tiny_hi(x: &Hi) -> bool {
        let t = tiny();
        *x < t && *x > -t.clone()
    }

    /// A lower bound on `eˣ` (`x = None`: −∞). Below `−CAP` it is a power of two `2ᵏ`
    /// with `k ≤ x·log₂e` (for `x ≥ −2⁶¹`, so `k` fits an exponent), not 0: a softmax row
    /// sum whose entries all lie far below the shift stays positive, and its `ln` finite.
    pub fn exp_lo(x: Option<&Lo>) -> Lo {
        let Some(x) = x else { return Lo::ZERO };
        let cap = cap_lo();
        if *x < -cap.clone() {
            let xd = super::f64_down(x); // xd ≤ x < 0
            if xd < -2f64.powi(61) {
                return Lo::ZERO;
            }
            // 1.4426950408889644 > log₂e, so xd·L ≤ x·log₂e; the product's rounding
            // (relative 2⁻⁵³) is covered by the factor (1 + 10⁻¹⁴) and the − 2.
            let k = (xd * 1.4426950408889644 * (1.0 + 1e-14)).floor() - 2.0;
            one_lo() << (k as isize)
        } else if *x > cap {
            rd(&cap).exp()
        } else if is_zero_lo(x) {
            one_lo()
        } else if is_tiny_lo(x) {
            // eˣ ≥ 1 + x (convexity).
            one_lo() + x.clone()
        } else {
            rd(x).exp()
        }
    }
    /// An upper bound on `eˣ` (`None`: +∞).
    pub fn exp_hi(x: Option<&Hi>) -> Option<Hi> {
        let x = x?;
        let cap = cap_lo().with_rounding::<Up>();
        if *x > cap {
            None
        } else if *x < -cap.clone() {
            let xu = super::f64_up(x); // x ≤ xu < 0
            if xu < -2f64.powi(61) {
                return Some(ru(&-cap).exp());
            }
            // 1.4426950408889624 < log₂e, so x·log₂e ≤ xu·L; rounding as in exp_lo.
            let k = (xu * 1.4426950408889624 * (1.0 - 1e-14)).ceil() + 2.0;
            Some(one_hi() << (k as isize))
        } else if is_zero_hi(x) {
            Some(one_hi())
        } else if is_tiny_hi(x) {
            // eˣ ≤ 1 + x + x² for |x| ≤ 1, and x² < 2⁻²⁰⁰⁰.
            Some(one_hi() + x.clone() + super::hi_of(2f64.powi(-1000)).unwrap() * tiny())
        } else {
            Some(ru(x).exp())
        }
    }
    /// A lower bound on `eˣ − 1` for `x ≥ 0`.
    fn expm1_lo(x: &Lo) -> Lo {
        if is_zero_lo(x) {
            Lo::ZERO
        } else if is_tiny_lo(x) {
            // eˣ − 1 ≥ x.
            x.clone()
        } else {
            rd(x).exp_m1()
        }
    }
    /// An upper bound on `eˣ − 1` for `0 ≤ x ≤ 2·CAP`.
    fn expm1_hi(x: &Hi) -> Hi {
        if is_zero_hi(x) {
            Hi::ZERO
        } else if is_tiny_hi(x) {
            // eˣ − 1 ≤ x + x² ≤ x·(1 + 2⁻¹⁰⁰⁰) for 0 ≤ x < 2⁻¹⁰⁰⁰.
            x.clone() + x.clone() * tiny()
        } else {
            ru(x).exp_m1()
        }
    }
    /// A lower bound on `ln x` (`x > 0`).
    pub fn ln_lo(x: &Lo) -> Lo {
        rd(x).ln()
    }
    /// An upper bound on `ln x` (`x > 0`).
    pub fn ln_hi(x: &Hi) -> Hi {
        ru(x).ln()
    }

    /// A lower bound on `tanh x` (`None`: −∞). For `x ≥ 0`, `tanh x = m/(m + 2)` with
    /// `m = eˣˣ − 1 ≥ 0`, increasing in `m` (no cancellation near 0); odd below.
    pub fn tanh_lo(x: Option<&Lo>) -> Lo {
        let Some(x) = x else {
            return -one_lo();
        };
        if *x < Lo::ZERO {
            return neg_hi(&tanh_hi(Some(&neg_lo(x))));
        }
        let x = if *x > cap_lo() { cap_lo() } else { x.clone() };
        let m = expm1_lo(&(rd(&x) * lo_of(2.0).unwrap()));
        if is_zero_lo(&m) {
            return Lo::ZERO;
        }
        let den = m.clone().with_rounding::<Up>() + super::hi_of(2.0).unwrap();
        m / den.with_rounding::<Down>()
    }
    /// An upper bound on `tanh x` (`None`: +∞), at most 1.
    pub fn tanh_hi(x: Option<&Hi>) -> Hi {
        let Some(x) = x else { return one_hi() };
        if *x < Hi::ZERO {
            return neg_lo(&tanh_lo(Some(&neg_hi(x))));
        }
        if *x > cap_lo().with_rounding::<Up>() {
            return one_hi();
        }
        let m = expm1_hi(&(ru(x) * super::hi_of(2.0).unwrap()));
        if is_zero_hi(&m) {
            return Hi::ZERO;
        }
        let den = m.clone().with_rounding::<Down>() + lo_of(2.0).unwrap();
        let t = m / den.with_rounding::<Up>();
        // tanh x ≤ min(x, 1) for x ≥ 0.
        let cap = if *x < one_hi() { x.clone() } else { one_hi() };
        if t > cap { cap } else { t }
    }

    /// A lower bound on `σ(x) = 1/(1 + e⁻ˣ)` (`None`: −∞), at least 0.
    pub fn sigmoid_lo(x: Option<&Lo>) -> Lo {
        let Some(x) = x else { return Lo::ZERO };
        match exp_hi(Some(&neg_lo(x))) {
            None => Lo::ZERO,
            Some(e) => {
                let den = e + one_hi();
                one_lo() / den.with_rounding::<Down>()
            }
        }
    }
    /// An upper bound on `σ(x)` (`None`: +∞), at most 1.
    pub fn sigmoid_hi(x: Option<&Hi>) -> Hi {
        let Some(x) = x else { return one_hi() };
        let e = exp_lo(Some(&neg_hi(x)));
        let den = e + one_lo();
        one_hi() / den.with_rounding::<Up>()
    }

    /// A lower bound on `ln(1 + e)` for `e ≥ 0`.
    fn ln1p_lo(e: Lo) -> Lo {
        if is_zero_lo(&e) {
            Lo::ZERO
        } else if is_tiny_lo(&e) {
            // ln(1 + e) ≥ e − e²/2 ≥ e·(1 − 2⁻¹⁰⁰⁰) for 0 < e < 2⁻¹⁰⁰⁰.
            let t = tiny().with_rounding::<Down>();
            e.clone() - e * t
        } else {
            e.ln_1p()
        }
    }
    /// An upper bound on `ln(1 + e)` for `e ≥ 0`.
    fn ln1p_hi(e: Hi) -> Hi {
        // ln(1 + e) ≤ e.
        if is_zero_hi(&e) || is_tiny_hi(&e) {
            e
        } else {
            e.ln_1p()
        }
    }

    /// A lower bound on `softplus x = ln(1 + eˣ)` (`None`: −∞), at least 0. For `x > 0`,
    /// `x + ln(1 + e⁻ˣ)` (the form the `f64` rule uses: no rounding of a huge `eˣ`).
    pub fn softplus_lo(x: Option<&Lo>) -> Lo {
        let Some(x) = x else { return Lo::ZERO };
        if *x > Lo::ZERO {
            x.clone() + ln1p_lo(exp_lo(Some(&-x.clone())))
        } else {
            ln1p_lo(exp_lo(Some(x)))
        }
    }
    /// An upper bound on `softplus x` (`None`: +∞).
    pub fn softplus_hi(x: Option<&Hi>) -> Option<Hi> {
        let x = x?;
        Some(if *x > Hi::ZERO {
            let e = exp_hi(Some(&-x.clone())).expect("e^-x is bounded for x > 0");
            x.clone() + ln1p_hi(e)
        } else {
            ln1p_hi(exp_hi(Some(x)).expect("e^x ≤ 1 for x ≤ 0"))
        })
    }
}

impl SpecScalar for BigIv {
    const NAME: &'static str = "interval2400";
    const RIGOROUS: bool = true;
    fn from_f64(x: f64) -> BigIv {
        if x.is_nan() {
            return BigIv::from_interval(Interval::ENTIRE);
        }
        mk(Ends(lo_of(x), hi_of(x)))
    }
    fn lo(self) -> f64 {
        self.to_interval().lo()
    }
    fn hi(self) -> f64 {
        self.to_interval().hi()
    }
    fn mid(self) -> f64 {
        self.to_interval().mid()
    }
    fn hull(self, o: BigIv) -> BigIv {
        let (a, b) = (get(self), get(o));
        mk(Ends(
            a.0.zip(b.0).map(|(x, y)| x.min(y)),
            a.1.zip(b.1).map(|(x, y)| x.max(y)),
        ))
    }
    fn select_pos(self, a: BigIv, b: BigIv) -> BigIv {
        let e = get(self);
        if e.0.as_ref().is_some_and(|l| *l > Lo::ZERO) {
            a
        } else if e.1.as_ref().is_some_and(|h| *h <= Hi::ZERO) {
            b
        } else {
            a.hull(b)
        }
    }
    fn abs(self) -> BigIv {
        let e = get(self);
        if e.0.as_ref().is_some_and(|l| *l >= Lo::ZERO) {
            self
        } else if e.1.as_ref().is_some_and(|h| *h <= Hi::ZERO) {
            -self
        } else {
            let m = self.mag();
            mk(Ends(Some(Lo::ZERO), m))
        }
    }
    fn max(self, o: BigIv) -> BigIv {
        let (a, b) = (get(self), get(o));
        let lo = match (a.0, b.0) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, None) => x,
            (None, y) => y,
        };
        mk(Ends(lo, a.1.zip(b.1).map(|(x, y)| x.max(y))))
    }
    fn square(self) -> BigIv {
        if wild(&get(self)) {
            return BigIv::from_interval(self.to_interval().square());
        }
        let a = self.abs();
        let Ends(lo, hi) = get(a);
        mk(Ends(lo.map(|l| &l * &l), hi.map(|h| &h * &h)))
    }
    fn exp(self) -> BigIv {
        let Ends(lo, hi) = get(self);
        mk(Ends(Some(tr::exp_lo(lo.as_ref())), tr::exp_hi(hi.as_ref())))
    }
    fn ln(self) -> BigIv {
        let Ends(lo, hi) = get(self);
        match lo.filter(|l| *l > Lo::ZERO) {
            Some(l) => mk(Ends(Some(tr::ln_lo(&l)), hi.map(|h| tr::ln_hi(&h)))),
            None => BigIv::from_interval(Interval::ENTIRE),
        }
    }
    fn tanh(self) -> BigIv {
        let Ends(lo, hi) = get(self);
        mk(Ends(
            Some(tr::tanh_lo(lo.as_ref())),
            Some(tr::tanh_hi(hi.as_ref())),
        ))
    }
    fn sigmoid(self) -> BigIv {
        let Ends(lo, hi) = get(self);
        mk(Ends(
            Some(tr::sigmoid_lo(lo.as_ref())),
            Some(tr::sigmoid_hi(hi.as_ref())),
        ))
    }
    fn softplus(self) -> BigIv {
        let Ends(lo, hi) = get(self);
        mk(Ends(
            Some(tr::softplus_lo(lo.as_ref())),
            tr::softplus_hi(hi.as_ref()),
        ))
    }
    /// At `f64` precision (the outward-rounded `Interval` rule): sound, and `√` loses
    /// nothing to cancellation that 2400 bits would recover.
    fn sqrt(self) -> BigIv {
        BigIv::from_interval(self.to_interval().sqrt())
    }
    fn erf(self) -> BigIv {
        BigIv::from_interval(SpecScalar::erf(self.to_interval()))
    }
    fn erfc(self) -> BigIv {
        BigIv::from_interval(SpecScalar::erfc(self.to_interval()))
    }
}

/// Lift `f64` interval tensors into `BigIv`.
pub fn lift(t: &[ArrayD<Interval>]) -> Vec<ArrayD<BigIv>> {
    t.iter().map(|a| a.mapv(BigIv::from_interval)).collect()
}

/// A failed 2400-bit check: `definite` if it fails for every value in the spec enclosure
/// (so for the true spec value), otherwise undecidable at this precision.
pub struct Fail {
    pub definite: bool,
    pub entry: usize,
    pub msg: String,
}

impl BigIv {
    /// Lower bound (rounded down) on `min |x − r|` over the interval.
    fn min_dist(self, r: f64) -> Lo {
        let Ends(lo, hi) = get(self);
        let rl = lo_of(r).unwrap();
        if let Some(h) = hi.map(|h| h.with_rounding::<Down>()).filter(|h| rl > *h) {
            return rl - h;
        }
        match lo.filter(|l| *l > rl) {
            Some(l) => l - rl,
            None => Lo::ZERO,
        }
    }
    /// Lower bound on `min |x|` over the interval.
    fn min_mag(self) -> Lo {
        self.min_dist(0.0)
    }
}

/// The first definite failure, else the first undecidable one.
fn worst(fails: Vec<Fail>) -> Result<(), Fail> {
    let mut it = fails.into_iter();
    match it.next() {
        None => Ok(()),
        Some(first) if first.definite => Err(first),
        Some(first) => Err(it.find(|f| f.definite).unwrap_or(first)),
    }
}

/// `approx` over a context, decided at 2400 bits (every entry is checked).
pub fn approx<R: Runtime>(
    spec: &[ArrayD<BigIv>],
    rt: &[ArrayD<R>],
    eps: &[Bound],
) -> Result<(), Fail> {
    let mut fails = vec![];
    for (i, ((s, r), e)) in spec.iter().zip(rt).zip(eps).enumerate() {
        if e.is_infinite() {
            continue;
        }
        let (eh, el) = (hi_of(e.get()).unwrap(), lo_of(e.get()).unwrap());
        for (&s, &r) in s.iter().zip(r) {
            let ok = r.is_finite() && s.max_dist(r.to_spec()).is_some_and(|d| d <= eh);
            if !ok {
                fails.push(Fail {
                    definite: !r.is_finite() || s.min_dist(r.to_spec()) > el,
                    entry: i,
                    msg: format!(
                        "entry {i}: spec {s:?} runtime {:e} eps {:e}",
                        r.to_spec(),
                        e.get()
                    ),
                });
            }
        }
    }
    worst(fails)
}

/// `scale` over a context, decided at 2400 bits (every entry is checked).
pub fn scale<R: Runtime>(
    spec: &[ArrayD<BigIv>],
    rt: &[ArrayD<R>],
    b: &[Bound],
) -> Result<(), Fail> {
    let mut fails = vec![];
    for (i, ((s, r), b)) in spec.iter().zip(rt).zip(b).enumerate() {
        if b.is_infinite() {
            continue;
        }
        for (&s, &r) in s.iter().zip(r) {
            let rt_ok = r.to_spec().abs() <= b.get();
            let ok = rt_ok && s.mag().is_some_and(|m| m <= hi_of(b.get()).unwrap());
            if !ok {
                fails.push(Fail {
                    definite: !rt_ok || s.min_mag() > lo_of(b.get()).unwrap(),
                    entry: i,
                    msg: format!("entry {i}: spec {s:?} runtime {:e} B {b:?}", r.to_spec()),
                });
            }
        }
    }
    worst(fails)
}

/// The big-float transcendental rules are rigorous and tight: on arguments from 1e-320 to
/// 1e19 and both signs, each enclosure lies inside the f64 `Interval` one (itself rigorous,
/// from correctly rounded 53-bit evaluations), brackets a 600-bit round-to-nearest reference
/// (where one exists: |x| ≤ 1e4) to within 2⁻²⁴⁰ relative, and bounded functions stay
/// bounded on half-infinite and infinite inputs.
#[test]
fn bigspec_transcendentals_enclose() {
    use dashu_float::round::mode::HalfEven;
    type N = FBig<HalfEven, 2>;
    let n = |x: f64| N::try_from(x).unwrap().with_precision(600).value();
    let reference = |f: &str, x: f64| -> N {
        let one = n(1.0);
        match f {
            "exp" => n(x).exp(),
            "ln" => n(x).ln(),
            "tanh" => {
                let m = (n(x) * n(2.0)).exp_m1();
                m.clone() / (m + n(2.0))
            }
            "sigmoid" => one.clone() / (one + n(-x).exp()),
            _ => n(x).exp().ln_1p(),
        }
    };
    let to_n = |v: f64| n(v);
    let mut args = vec![
        1e-320,
        1e-300,
        2f64.powi(-1001),
        1e-20,
        0.5,
        1.0,
        3.0,
        20.0,
        700.0,
        800.0,
        1e4,
        7e4,
        1e9,
        1e15,
        2e15,
        1e18,
        1e19,
    ];
    // 200 more, spread over the exponents and mantissas by two irrational strides.
    for i in 0..200 {
        let (u, v) = ((i as f64 * 0.618_034) % 1.0, (i as f64 * 0.754_877) % 1.0);
        args.push(10f64.powf(-320.0 + 339.0 * u) * (1.0 + 9.0 * v));
    }
    type Rule = (&'static str, fn(BigIv) -> BigIv, fn(Interval) -> Interval);
    let fs: [Rule; 5] = [
        ("exp", SpecScalar::exp, SpecScalar::exp),
        ("ln", SpecScalar::ln, SpecScalar::ln),
        ("tanh", SpecScalar::tanh, SpecScalar::tanh),
        ("sigmoid", SpecScalar::sigmoid, SpecScalar::sigmoid),
        ("softplus", SpecScalar::softplus, SpecScalar::softplus),
    ];
    reset();
    for &a in &args {
        for x in [a, -a] {
            for (name, big, small) in fs {
                if name == "ln" && x <= 0.0 {
                    continue;
                }
                let b = big(BigIv::from_f64(x));
                let (bi, si) = (b.to_interval(), small(Interval::point(x)));
                assert!(
                    si.lo() <= bi.lo() && bi.hi() <= si.hi() && bi.lo() <= bi.hi(),
                    "{name}({x:e}): big {bi:?} not inside {si:?}"
                );
                if x.abs() <= 1e4 {
                    let r = reference(name, x);
                    let slack = {
                        let m = if r < N::ZERO { -r.clone() } else { r.clone() };
                        m * to_n(2f64.powi(-240))
                    };
                    let Ends(lo, hi) = get(b);
                    let (lo, hi) = (lo.unwrap(), hi.unwrap());
                    let (lo, hi) = (
                        N::from_parts(lo.repr().significand().clone(), lo.repr().exponent()),
                        N::from_parts(hi.repr().significand().clone(), hi.repr().exponent()),
                    );
                    assert!(
                        lo <= r.clone() + slack.clone() && hi >= r.clone() - slack.clone(),
                        "{name}({x:e}) = {} not enclosed",
                        r.to_f64().value()
                    );
                    assert!(
                        hi.clone() - lo.clone() <= slack.clone() * to_n(8.0) + to_n(1e-320),
                        "{name}({x:e}): enclosure wider than 2^-237 relative"
                    );
                }
            }
        }
    }
    // Unbounded inputs: bounded functions stay bounded.
    let whole = BigIv::from_interval(Interval::ENTIRE);
    assert_eq!(
        SpecScalar::tanh(whole).to_interval(),
        Interval::new(-1.0, 1.0)
    );
    assert_eq!(
        SpecScalar::sigmoid(whole).to_interval(),
        Interval::new(0.0, 1.0)
    );
    let right = BigIv::from_interval(Interval::new(2.0, f64::INFINITY));
    assert_eq!(SpecScalar::sigmoid(right).to_interval().hi(), 1.0);
    assert_eq!(SpecScalar::exp(right).to_interval().hi(), f64::INFINITY);
    let left = BigIv::from_interval(Interval::new(f64::NEG_INFINITY, -2.0));
    assert_eq!(SpecScalar::softplus(left).to_interval().lo(), 0.0);
    assert!(SpecScalar::softplus(left).to_interval().hi() < 0.13);
    // exp far below the f64 range is positive (a softmax row sum keeps a finite ln).
    let far = BigIv::from_f64(-1e17);
    let l = SpecScalar::ln(SpecScalar::exp(far)).to_interval();
    assert!(l.lo() > -1.000001e17 && l.hi() < -0.999999e17, "{l:?}");
    reset();
}
