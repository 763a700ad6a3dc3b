//! Checks the documented libm accuracy assumption ([`scale_core::assumed_ulps`], default 4 ulps)
//! where the bounds rely on it: the platform's **`f64`** `ln`, `ln_1p` and `tanh`, and the
//! pure-Rust `libm` crate's `exp` (`scale_core::scalar::exp64`, every `f64` exponential of the
//! library), `erf` and `erfc` (`gelu`: `ball` enclosures and references).
//!
//! Why `f64`: every op measures its runtime result (`f32`, `bf16`, …, computed with that type's
//! libm) against an `f64` reference evaluated with the `f64` libm, and charges the reference
//! `(4·assumed_ulps + 8)·2⁻⁵³` relative error (`ops::util::libm_rel`: up to two libm calls of
//! `assumed_ulps` f64-ulps each, i.e. `2·assumed_ulps·2⁻⁵³` relative per call, plus a few
//! roundings). So the derivation needs each `f64` libm call within `assumed_ulps` ulps of the
//! exact value — that is the threshold here, not a looser one. The narrow-type libm needs no
//! assumption (its error is measured); its figures are printed by the long run for information.
//!
//! Arguments are spread over the ranges the ops call each function on:
//!
//! * `exp`: all of `[−745.1, 709.78]` (`sigmoid`, `sech²`, `softmax`'s `exp(d − max)` and its
//!   error terms, `exp` of `f32` inputs), `[−1, 1]`, and tiny `|x|`;
//! * `ln`: positive `f32` values `[2⁻¹⁴⁹, 2¹²⁸]` (`log`), all positive `f64` (log-uniform), values
//!   near 1 (`ln` of a softmax row sum, where cancellation would show), integers `1…10⁶`
//!   (`ln n` in the `log_softmax`/`cross_entropy` scale bounds);
//! * `ln_1p`: `(0, 1]` only (`softplus` calls `ln_1p(e^{−|x|})`), uniformly and log-uniformly;
//! * `tanh`: `[−20, 20]`, tiny `|x|`, and the saturated range `20 ≤ |x| ≤ 40`;
//! * `erf`: `[−6, 6]` and tiny `|x|`; `erfc`: `[−6, 27]` (`Φ(x) = erfc(−x/√2)/2` down to its
//!   underflow) and `[−1, 1]`. Their 192-bit references are series summed here (Taylor at
//!   `192 + 2.9·x²` bits, asymptotic beyond 9).
//!
//! `scale_core::scalar::{exp32, erf32}` (the runtime `eˣ` and `erf` of `f32` and the half types,
//! this crate's own code) are held to a stricter line: half an `f32` ulp plus `10⁻⁴`, on ~2·10⁴
//! arguments each against 192-bit references (`exp32_within_half_an_ulp`,
//! `erf32_within_half_an_ulp`) and on every `f32` argument of their ranges (`exp32_exhaustive`,
//! `erf32_exhaustive`, ignored; both measured at 0.500000 ulps).
//!
//! The reference is a 192-bit `dashu-float` evaluation (a few correctly rounded operations, so
//! its relative error is below 2⁻¹⁸⁵, i.e. below 10⁻⁴⁰ f64-ulps); the error of `f(x)` is
//! `|f(x) − ref| / ulp(ref)` with `ulp` of the binade below at powers of two (conservative).
//!
//! * `libm_f64_within_assumed_ulps` (normal `cargo test`): 10⁴ arguments per function.
//! * `libm_f64_within_assumed_ulps_long` (ignored, about 15 minutes in release mode): 10⁶
//!   arguments per function, plus the `f32` libm figures for information. Measured on glibc:
//!   `tanh` 2.17 ulps (on `[−1, 1]`), `ln_1p` 0.83, `exp` 0.50 (0.999 for tiny arguments, where
//!   the result sits at the binade boundary of 1 and the conservative ulp is the smaller one),
//!   `ln` 0.51:
//!   `cargo test --release -p scale-core --test libm_ulps -- --ignored --nocapture`

use dashu_float::FBig;
use dashu_float::round::mode::HalfEven;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

type H = FBig<HalfEven, 2>;

const PREC: usize = 192;

fn h(x: f64) -> H {
    H::try_from(x).unwrap().with_precision(PREC).value()
}

/// `ulp` of the exact value `r` (`r ≠ 0`), as an `f64`: `2^(e − 52)` for `|r| ∈ [2^e, 2^(e+1))`,
/// at least `2⁻¹⁰⁷⁴`. Near a power of two the rounded `|r|` may sit in the binade above; the
/// binade below is used then (a smaller ulp overstates the error, never understates it).
fn ulp_of(r: &H) -> f64 {
    let a = r.to_f64().value().abs();
    let b = a.next_down();
    (b.next_up() - b).max(f64::from_bits(1))
}

/// `f(x)` at 192 bits (`x ≠ 0`).
fn reference(f: &str, x: f64) -> H {
    match f {
        "exp" => h(x).exp(),
        "ln" => h(x).ln(),
        "ln_1p" => h(x).ln_1p(),
        "tanh" => {
            let ax = h(x.abs());
            let m = (ax.clone() + ax).exp_m1();
            let t = m.clone() / (m + h(2.0));
            if x < 0.0 { -t } else { t }
        }
        "erf" => erf_ref(x),
        "erfc" => erfc_ref(x),
        _ => unreachable!("{f}"),
    }
}

/// `(erf x, erfc x)` by the Taylor series at `192 + ⌈2.9·x²⌉` bits (enough for the terms'
/// growth to `e^{x²}` and for `erfc`'s smallness `e^{−x²}`), summed until the terms are below
/// `2⁻²⁰⁰` of the total past their peak; `|x| ≤ 9`.
fn erf_series(x: f64) -> (H, H) {
    let prec = 192 + (2.9 * x * x).ceil() as usize;
    let b = |v: f64| H::try_from(v).unwrap().with_precision(prec).value();
    let z = b(x);
    let z2 = z.clone() * z.clone();
    let (mut p, mut s) = (z.clone(), z);
    let mut n = 0u32;
    loop {
        n += 1;
        p = p * z2.clone() / b(f64::from(n));
        let t = p.clone() / b(f64::from(2 * n + 1));
        // Compared in big floats: for tiny x both underflow as f64.
        let abs = |v: &H| if *v < H::ZERO { -v.clone() } else { v.clone() };
        let small = abs(&t) < abs(&s) * b(1e-70);
        s = if n % 2 == 1 { s - t } else { s + t };
        if f64::from(n) > x * x + 1.0 && small {
            break;
        }
    }
    let erf = b(2.0) / H::pi(prec).sqrt() * s;
    let erfc = b(1.0) - erf.clone();
    (erf, erfc)
}

fn erf_ref(x: f64) -> H {
    if x.abs() > 9.0 {
        return h(x.signum()) - erfc_ref(x.abs()) * h(x.signum());
    }
    erf_series(x).0
}

/// `erfc x`; above 9 by 60 terms of the asymptotic series (relative error below 10⁻⁴⁰ there).
fn erfc_ref(x: f64) -> H {
    if x < -9.0 {
        return h(2.0) - erfc_ref(-x);
    }
    if x <= 9.0 {
        return erf_series(x).1;
    }
    let z = h(x);
    let z2 = z.clone() * z.clone();
    let inv = h(1.0) / (h(2.0) * z2.clone());
    let (mut s, mut t) = (h(1.0), h(1.0));
    for n in 1..=60u32 {
        t = -(t * inv.clone()) * h(f64::from(2 * n - 1));
        s += t.clone();
    }
    (-z2).exp() / (z * H::pi(PREC).sqrt()) * s
}

fn libm64(f: &str, x: f64) -> f64 {
    match f {
        "exp" => scale_core::scalar::exp64(x),
        "ln" => x.ln(),
        "ln_1p" => x.ln_1p(),
        "tanh" => x.tanh(),
        "erf" => libm::erf(x),
        "erfc" => libm::erfc(x),
        _ => unreachable!("{f}"),
    }
}

fn libm32(f: &str, x: f32) -> f32 {
    match f {
        "exp" => x.exp(),
        "ln" => x.ln(),
        "ln_1p" => x.ln_1p(),
        "tanh" => x.tanh(),
        "erf" => libm::erff(x),
        "erfc" => libm::erfcf(x),
        _ => unreachable!("{f}"),
    }
}

/// `|y − r| / ulp(r)` in ulps (rounded up slightly: the reference's own error is < 10⁻⁴⁰ ulps).
fn err_ulps(y: f64, r: &H) -> f64 {
    assert!(y.is_finite(), "libm returned {y} for a finite exact value");
    let d = h(y) - r.clone();
    let d = if d < H::ZERO { -d } else { d };
    let q = d / h(ulp_of(r));
    q.to_f64().value() * (1.0 + 1e-15) + 1e-30
}

/// `10^t` for `t` uniform in `[lo, hi]`.
fn log_uniform(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    let t: f64 = rng.random_range(lo.log10()..hi.log10());
    10f64.powf(t).clamp(lo, hi)
}

/// A range the ops call `f` on: a name and a sampler.
type Range = (&'static str, fn(&mut StdRng) -> f64);

/// Per function, the argument ranges of the module docs.
fn ranges(f: &str) -> Vec<Range> {
    match f {
        "exp" => vec![
            ("[-745.1, 709.78]", |r| r.random_range(-745.1..709.78)),
            ("[-1, 1]", |r| r.random_range(-1.0..1.0)),
            ("f32 inputs [-104, 89]", |r| {
                f64::from(r.random_range(-104.0f32..89.0))
            }),
            ("tiny |x| in [1e-300, 1e-3]", |r| {
                let x = log_uniform(r, 1e-300, 1e-3);
                if r.random() { x } else { -x }
            }),
        ],
        "ln" => vec![
            ("positive f32 [2^-149, 2^128]", |r| {
                f64::from(log_uniform(r, 1.5e-45, 3.4e38) as f32).max(1.5e-45)
            }),
            ("positive f64 [1e-320, 1e308]", |r| {
                log_uniform(r, 1e-320, 1e308)
            }),
            ("near 1: 1 ± [1e-16, 0.5]", |r| {
                let t = log_uniform(r, 1e-16, 0.5);
                if r.random() { 1.0 + t } else { 1.0 - t }
            }),
            ("integers 1..1e6", |r| {
                r.random_range(1u32..1_000_000) as f64
            }),
        ],
        "ln_1p" => vec![
            ("(0, 1] uniform", |r| r.random_range(f64::MIN_POSITIVE..1.0)),
            ("(0, 1] log-uniform [1e-320, 1]", |r| {
                log_uniform(r, 1e-320, 1.0)
            }),
        ],
        "tanh" => vec![
            ("[-20, 20]", |r| r.random_range(-20.0..20.0)),
            ("[-1, 1]", |r| r.random_range(-1.0..1.0)),
            ("tiny |x| in [1e-300, 1e-3]", |r| {
                let x = log_uniform(r, 1e-300, 1e-3);
                if r.random() { x } else { -x }
            }),
            ("saturated 20 <= |x| <= 40", |r| {
                let x = r.random_range(20.0..40.0);
                if r.random() { x } else { -x }
            }),
        ],
        // `erf` of `x/√2` in `gelu`'s any-implementation spec and its runtime kernels; `erfc`
        // of `−x/√2` in `gelu`'s references, down to where `Φ` underflows (|x| ≈ 38).
        "erf" => vec![
            ("[-6, 6]", |r| r.random_range(-6.0..6.0)),
            ("tiny |x| in [1e-300, 1e-3]", |r| {
                let x = log_uniform(r, 1e-300, 1e-3);
                if r.random() { x } else { -x }
            }),
        ],
        "erfc" => vec![
            ("[-6, 27]", |r| r.random_range(-6.0..27.0)),
            ("[-1, 1]", |r| r.random_range(-1.0..1.0)),
        ],
        _ => unreachable!("{f}"),
    }
}

const FUNCTIONS: [&str; 6] = ["exp", "ln", "ln_1p", "tanh", "erf", "erfc"];

/// Measures every function on `per_fn` arguments spread evenly over its ranges; returns
/// `(function, range, worst f64 error in ulps, argument)` per range. With `f32`, also prints the
/// `f32` libm's error (in `f32` ulps, against the same kind of reference) for information.
fn measure(per_fn: usize, f32_too: bool) -> Vec<(&'static str, &'static str, f64, f64)> {
    let mut rng = StdRng::seed_from_u64(0x11B_0005);
    let mut out = vec![];
    for f in FUNCTIONS {
        let rs = ranges(f);
        let n = per_fn.div_ceil(rs.len());
        for (name, sample) in rs {
            let (mut worst, mut at) = (0.0f64, f64::NAN);
            let mut worst32 = 0.0f64;
            for _ in 0..n {
                let x = sample(&mut rng);
                if x == 0.0 {
                    continue;
                }
                let e = err_ulps(libm64(f, x), &reference(f, x));
                if e > worst {
                    (worst, at) = (e, x);
                }
                if f32_too {
                    let x32 = x as f32;
                    if x32 != 0.0 && x32.is_finite() {
                        let r = reference(f, f64::from(x32));
                        let y = f64::from(libm32(f, x32));
                        let r64 = r.to_f64().value();
                        if (r64 as f32).is_finite() && y.is_finite() {
                            let d = h(y) - r.clone();
                            let d = if d < H::ZERO { -d } else { d };
                            let a = (r64.abs() as f32).next_down();
                            let ulp = f64::from((a.next_up() - a).max(f32::from_bits(1)));
                            worst32 = worst32.max((d / h(ulp)).to_f64().value());
                        }
                    }
                }
            }
            eprintln!(
                "libm f64 {f:>5} on {name}: max error {worst:.3} ulps (at {at:e}) over {n} arguments{}",
                if f32_too {
                    format!("; f32 libm (information only): {worst32:.3} f32-ulps")
                } else {
                    String::new()
                }
            );
            out.push((f, name, worst, at));
        }
    }
    out
}

fn assert_within(results: &[(&str, &str, f64, f64)]) {
    let a = scale_core::assumed_ulps();
    let bad: Vec<String> = results
        .iter()
        .filter(|r| r.2 > a)
        .map(|(f, name, e, x)| format!("{f} on {name}: {e:.3} ulps at {x:e}"))
        .collect();
    assert!(
        bad.is_empty(),
        "f64 libm beyond the assumed {a} ulps per call (the bounds would be unsound): {bad:?}"
    );
}

/// The assumption the bounds rest on: each `f64` libm call within `assumed_ulps` ulps, on 10⁴
/// arguments per function over the ranges the ops use.
#[test]
fn libm_f64_within_assumed_ulps() {
    let r = measure(10_000, false);
    assert_eq!(r.len(), 18, "every function on every range");
    assert_within(&r);
}

/// The same on 10⁶ arguments per function, with the `f32` libm figures for information.
#[test]
#[ignore = "about 15 minutes in release mode on 2 shared cores; see the module docs"]
fn libm_f64_within_assumed_ulps_long() {
    assert_within(&measure(1_000_000, true));
}

/// The measurement can fail: a function off by 8 ulps is caught.
#[test]
fn error_measure_detects_a_bad_libm() {
    let x = 0.7f64;
    let r = reference("exp", x);
    let mut y = scale_core::scalar::exp64(x);
    for _ in 0..8 {
        y = y.next_up();
    }
    let e = err_ulps(y, &r);
    assert!(e > 7.0 && e < 9.0, "{e}");
    assert!(err_ulps(scale_core::scalar::exp64(x), &r) <= 1.0);
}

/// `|y − r|` in units of the `f32` spacing at `r` (`2^(e − 23)` for `|r| ∈ [2^e, 2^(e+1))`,
/// `2⁻¹⁴⁹` among subnormals): a correctly rounded result is within 0.5.
fn err_f32_ulps(y: f32, r: f64) -> f64 {
    let e = ((r.abs().to_bits() >> 52) as i32 - 1023).max(-126);
    (f64::from(y) - r).abs() / 2f64.powi(e - 23)
}

/// 10 000 `f32` arguments uniform on `[lo, hi)` and 10 000 of log-uniform magnitude in
/// `[10⁻⁴⁵, max_abs]` (down to the subnormals), both signs.
fn spread(seed: u64, lo: f32, hi: f32, max_abs: f64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut args: Vec<f32> = (0..10_000).map(|_| rng.random_range(lo..hi)).collect();
    args.extend((0..10_000).map(|_| {
        let x = log_uniform(&mut rng, 1e-45, max_abs) as f32;
        if rng.random() { x } else { -x }
    }));
    args
}

/// The worst error of `f` in `f32` ulps over `args` against `exact` (plus `ref_err`, the
/// reference's own error in `f32` ulps), printed and asserted within half an ulp plus `10⁻⁴`.
/// Where the exact value overflows `f32`, `f` must give `+∞`.
fn assert_within_half_an_ulp(
    name: &str,
    f: fn(f32) -> f32,
    exact: impl Fn(f32) -> f64,
    ref_err: f64,
    args: impl IntoIterator<Item = f32>,
    over: &str,
) {
    let (mut worst, mut at, mut n) = (0.0f64, 0.0f32, 0u64);
    for x in args {
        let (r, y) = (exact(x), f(x));
        n += 1;
        if r > f64::from(f32::MAX) * (1.0 + 2f64.powi(-25)) {
            assert_eq!(y, f32::INFINITY, "{name}({x:e})");
            continue;
        }
        let e = err_f32_ulps(y, r) + ref_err;
        if e > worst {
            (worst, at) = (e, x);
        }
    }
    eprintln!("{name}: max error {worst:.6} f32-ulps (at {at:e}) over {n} arguments {over}");
    assert!(worst <= 0.5001, "{name}: {worst} ulps at {at:e}");
}

/// The 192-bit reference of `f` at an `f32` argument, as an `f64`.
fn exact192(f: &'static str) -> impl Fn(f32) -> f64 {
    move |x| reference(f, f64::from(x)).to_f64().value()
}

/// `scale_core::scalar::exp32`, the runtime `eˣ` of `f32` and the half types, is within half an
/// `f32` ulp (plus `10⁻⁴`) of the 192-bit `eˣ`: on 20 000 `f32` arguments spread over its whole
/// finite range (uniform and log-uniform magnitudes, both signs), and at the edges where the
/// result overflows, underflows to a subnormal or to 0.
#[test]
fn exp32_within_half_an_ulp() {
    use scale_core::scalar::exp32;
    let mut args = spread(0xE3E3, -104.0, 89.0, 104.0);
    // Around the overflow threshold, the subnormal range's start and the last nonzero result.
    for c in [88.722_84f32, -87.336_55, -103.278_93, -103.972_08] {
        let mut x = c;
        for _ in 0..200 {
            args.push(x);
            x = x.next_down();
        }
    }
    assert_within_half_an_ulp("exp32", exp32, exact192("exp"), 0.0, args, "sampled");
    assert_eq!(exp32(f32::NEG_INFINITY), 0.0);
    assert_eq!(exp32(f32::INFINITY), f32::INFINITY);
    assert!(exp32(f32::NAN).is_nan());
    assert_eq!(exp32(-0.0), 1.0);
    assert_eq!(exp32(f32::from_bits(1)), 1.0);
}

/// Every `f32` argument from −104 to 89 (2.2·10⁹ of them) against the `f64` `exp`
/// (`scale_core::scalar::exp64`, within `assumed_ulps` `f64` ulps, i.e. 10⁻⁸ `f32` ulps).
#[test]
#[ignore = "about 30 s in release mode: cargo test --release -p scale-core --test libm_ulps -- --ignored exp32 --nocapture"]
fn exp32_exhaustive() {
    use scale_core::scalar::{exp32, exp64};
    let args = (0u32..=0x42B2_0000)
        .chain(0x8000_0000u32..=0xC2D0_0000)
        .map(f32::from_bits);
    let exact = |x: f32| exp64(f64::from(x));
    assert_within_half_an_ulp(
        "exp32",
        exp32,
        exact,
        1e-8,
        args,
        "(every f32 in [-104, 89])",
    );
}

/// `scale_core::scalar::erf32`, the runtime `erf` of `f32` and the half types, is within half
/// an `f32` ulp (plus `10⁻⁴`) of the 192-bit `erf`: on 20 000 arguments (uniform on
/// `[−4.5, 4.5]`, log-uniform magnitudes down to the subnormals) and 200 on each side of 0.75
/// (where its form changes), 4.25 (where `|x|` is clamped) and the half-integers between
/// (where an earlier version changed polynomials).
#[test]
fn erf32_within_half_an_ulp() {
    use scale_core::scalar::erf32;
    let mut args = spread(0xE3F3, -4.5, 4.5, 4.5);
    for c in [0.75f32, 1.25, 1.75, 2.25, 2.75, 3.25, 3.75, 4.25] {
        let (mut up, mut down) = (c, c);
        for _ in 0..100 {
            args.extend([up, down, -up, -down]);
            (up, down) = (up.next_up(), down.next_down());
        }
    }
    assert_within_half_an_ulp("erf32", erf32, exact192("erf"), 0.0, args, "sampled");
    assert_eq!(erf32(f32::INFINITY), 1.0);
    assert_eq!(erf32(f32::NEG_INFINITY), -1.0);
    assert!(erf32(f32::NAN).is_nan());
    assert_eq!(erf32(-0.0).to_bits(), (-0.0f32).to_bits());
}

/// Every `f32` argument in `[−5, 5]` (2.2·10⁹) against the `f64` `erf` of the `libm` crate
/// (within `assumed_ulps` `f64` ulps, i.e. 10⁻⁸ `f32` ulps); beyond 5 `erf` rounds to ±1.
#[test]
#[ignore = "about 30 s in release mode: cargo test --release -p scale-core --test libm_ulps -- --ignored erf32 --nocapture"]
fn erf32_exhaustive() {
    use scale_core::scalar::erf32;
    let args = (0u32..=0x40A0_0000)
        .chain(0x8000_0000u32..=0xC0A0_0000)
        .map(f32::from_bits);
    let exact = |x: f32| libm::erf(f64::from(x));
    assert_within_half_an_ulp("erf32", erf32, exact, 1e-8, args, "(every f32 in [-5, 5])");
}
