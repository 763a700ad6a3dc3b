//! Bound arithmetic never rounds down (SPEC §5), checked against exact arithmetic.
//!
//! Every `round.rs` function, every `Bound` operation, every `Interval` operation and the
//! `tolerance.rs` functions are compared with exact big-float arithmetic (`dashu-float` at 3000
//! bits, which holds any sum or product of two `f64`s exactly) on random data from proptest, with
//! fixed seeds and with huge (1e300), tiny (1e-300), subnormal, zero and boundary values mixed in.
//! Quotients and square roots are checked through exact products (`q·b ≥ a`, `s·s ≥ a`).
//! Elementary-function enclosures are checked against a 320-bit reference.
//!
//! Cases per property: 2000 (override with `PROPTEST_CASES`).

use dashu_float::FBig;
use dashu_float::round::mode::{HalfEven, Zero};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use scale_graph::random::cases_from_env;
use scale_graph::round::{
    abs_diff_up, add_down, add_up, div_down, div_up, mul_down, mul_up, sqrt_up, sub_down, sub_up,
};
use scale_graph::tolerance::{abs_only, approx_bound, approx_r, tol_from_eps_scale};
use scale_graph::{ApproxTol, Bound, Interval, SpecScalar};
use std::cmp::Ordering;

/// Exact big float (the `Zero` mode is irrelevant: at 3000 bits nothing here rounds).
type E = FBig<Zero, 2>;
/// High-precision reference for transcendental functions.
type H = FBig<HalfEven, 2>;

fn ex(x: f64) -> E {
    assert!(x.is_finite(), "exact() of a non-finite value");
    E::try_from(x).unwrap().with_precision(3000).value()
}

fn config(cases: u32, seed: u64) -> Config {
    let cases = cases_from_env("PROPTEST_CASES", cases);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Values at the edges of the `f64` range and of the rounding helpers' special cases.
const SPECIALS: &[f64] = &[
    0.0,
    -0.0,
    5e-324,
    1e-323,
    2.2250738585072014e-308, // smallest normal
    2.225073858507201e-308,  // largest subnormal
    1e-300,
    1e-290, // round.rs's TINY threshold (its neighbours are drawn too)
    1e-150,
    0.1,
    0.5,
    1.0,
    0.9999999999999999,
    1.0000000000000002,
    3.0,
    1e16,
    9007199254740993.0,
    1e150,
    1e300,
    1.3407807929942596e154, // √MAX
    8.98846567431158e307,   // MAX / 2
    f64::MAX,
];

/// Finite `f64`s of every magnitude and sign, including the specials.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => (prop::sample::select(SPECIALS), 0u8..6).prop_map(|(x, k)| match k {
            0 | 1 => x,
            2 => x.next_up(),
            3 => x.next_down(),
            4 => -x,
            _ => -x.next_up(),
        }),
        3 => any::<u64>().prop_map(f64::from_bits).prop_filter("finite", |x| x.is_finite()),
        2 => (-1.0f64..1.0, -330i32..308).prop_map(|(m, e)| m * 10f64.powi(e)),
        1 => -1e3f64..1e3,
        1 => (-1.0e6f64..1.0e6).prop_map(f64::round),
    ]
    .prop_filter("finite", |x| x.is_finite())
}

fn nonneg_f64() -> impl Strategy<Value = f64> {
    any_f64().prop_map(f64::abs)
}

/// `r ≥ exact` (or `r = +∞`); and at most two ulps above when finite.
fn assert_up(r: f64, exact: &E, what: &str) {
    assert!(!r.is_nan(), "{what}: NaN");
    if r == f64::INFINITY {
        return;
    }
    assert!(r != f64::NEG_INFINITY, "{what}: −∞ is below every real");
    assert!(
        ex(r) >= *exact,
        "{what}: {r:e} rounds below the exact value"
    );
    let two_below = r.next_down().next_down();
    if two_below.is_finite() {
        assert!(
            ex(two_below) < *exact,
            "{what}: {r:e} is more than 2 ulps above exact"
        );
    }
}

/// `r ≤ exact` (or `r = −∞`).
fn assert_down(r: f64, exact: &E, what: &str) {
    assert!(!r.is_nan(), "{what}: NaN");
    if r == f64::NEG_INFINITY {
        return;
    }
    assert!(r != f64::INFINITY, "{what}: +∞ is above every real");
    assert!(
        ex(r) <= *exact,
        "{what}: {r:e} rounds above the exact value"
    );
}

// ---------------------------------------------------------------------------------------------
// round.rs

proptest! {
    #![proptest_config(config(2000, 0x5EED_0001))]

    #[test]
    fn round_add_sub(a in any_f64(), b in any_f64()) {
        let s = ex(a) + ex(b);
        assert_up(add_up(a, b), &s, &format!("add_up({a:e}, {b:e})"));
        assert_down(add_down(a, b), &s, &format!("add_down({a:e}, {b:e})"));
        let d = ex(a) - ex(b);
        assert_up(sub_up(a, b), &d, &format!("sub_up({a:e}, {b:e})"));
        assert_down(sub_down(a, b), &d, &format!("sub_down({a:e}, {b:e})"));
        let ad = if d >= E::ZERO { d.clone() } else { -d.clone() };
        assert_up(abs_diff_up(a, b), &ad, &format!("abs_diff_up({a:e}, {b:e})"));
        // Exact results are not widened.
        if (a + b).is_finite() && ex(a + b) == ex(a) + ex(b) {
            prop_assert_eq!(add_up(a, b), a + b);
            prop_assert_eq!(add_down(a, b), a + b);
        }
    }

    #[test]
    fn round_mul(a in any_f64(), b in any_f64()) {
        let p = ex(a) * ex(b);
        assert_up(mul_up(a, b), &p, &format!("mul_up({a:e}, {b:e})"));
        assert_down(mul_down(a, b), &p, &format!("mul_down({a:e}, {b:e})"));
    }

    #[test]
    fn round_div(a in any_f64(), b in any_f64()) {
        prop_assume!(b != 0.0);
        // q ≥ a/b  ⇔  q·b ≥ a (b > 0)  or  q·b ≤ a (b < 0).
        let (ea, eb) = (ex(a), ex(b));
        for (q, up) in [(div_up(a, b), true), (div_down(a, b), false)] {
            prop_assert!(!q.is_nan());
            let what = format!("div_{}({a:e}, {b:e}) = {q:e}", if up { "up" } else { "down" });
            if q.is_infinite() {
                // Only the vacuous direction may be infinite.
                prop_assert!(if up { q > 0.0 } else { q < 0.0 }, "{}", what);
                continue;
            }
            let qb = ex(q) * eb.clone();
            let ge = if b > 0.0 { qb.cmp(&ea) } else { ea.cmp(&qb) };
            if up {
                prop_assert!(ge != Ordering::Less, "{}", what);
            } else {
                prop_assert!(ge != Ordering::Greater, "{}", what);
            }
        }
    }

    #[test]
    fn round_sqrt(a in nonneg_f64()) {
        let s = sqrt_up(a);
        prop_assert!(s >= 0.0);
        if s.is_finite() {
            prop_assert!(ex(s) * ex(s) >= ex(a), "sqrt_up({:e}) = {:e}", a, s);
        }
    }
}

#[test]
fn round_overflow_never_crosses_to_the_wrong_infinity() {
    // A finite exact result must not be rounded *up* to −∞ (or down to +∞).
    for (a, b) in [(f64::MIN, f64::MIN), (-1e308, -1e308)] {
        assert!(add_up(a, b) > f64::NEG_INFINITY, "add_up({a:e}, {b:e})");
    }
    assert!(add_down(f64::MAX, f64::MAX) < f64::INFINITY);
    assert!(mul_up(-1e200, 1e200) > f64::NEG_INFINITY);
    assert!(mul_down(1e200, 1e200) < f64::INFINITY);
    assert!(div_up(-1e300, 1e-300) > f64::NEG_INFINITY);
    assert!(div_down(1e300, 1e-300) < f64::INFINITY);
}

/// Regression (issue #9 item 4): at an exact tie in the top binade TwoSum's `s − a` overflowed
/// and `add_up(3·2⁹⁷⁰, −MAX)` returned the round-to-nearest sum, below the exact one; the same
/// in `add_down`, `sub_*`, `Interval` addition/subtraction and `Bound::sub_exact`.
#[test]
fn round_top_binade_tie_regression() {
    let (a, b) = (3.0 * 2f64.powi(970), -f64::MAX);
    let s = ex(a) + ex(b);
    assert_up(add_up(a, b), &s, "add_up(3·2^970, −MAX)");
    assert_up(add_up(b, a), &s, "add_up(−MAX, 3·2^970)");
    assert_down(add_down(a, b), &s, "add_down(3·2^970, −MAX)");
    assert_up(sub_up(a, -b), &s, "sub_up(3·2^970, MAX)");
    assert_down(sub_down(a, -b), &s, "sub_down(3·2^970, MAX)");
    assert_encloses(Interval::point(a) + Interval::point(b), &s, "Interval +");
    assert_encloses(Interval::point(a) - Interval::point(-b), &s, "Interval −");
    // MAX − 3·2^970 > 0: an exact quantity subtracted from a bound.
    let d = ex(f64::MAX) - ex(a);
    assert_bound(Bound::new(f64::MAX).sub_exact(a), &d, "Bound::sub_exact");
    assert_up(abs_diff_up(-b, a), &d, "abs_diff_up");
}

/// `±m·2^e` for a random significand `m` (53 bits) and an exponent drawn from `lo..=hi`: `e`
/// is the unbiased exponent of the result's leading bit, so `e = 1023` is the top binade and
/// `e ≤ −1023` gives subnormals (fewer significant bits).
fn binade(lo: i32, hi: i32) -> impl Strategy<Value = f64> {
    (any::<u64>(), lo..=hi, any::<bool>()).prop_map(|(m, e, neg)| {
        let bits = if e <= -1023 {
            // Subnormal: shift the significand down; e = −1023 uses 52 fraction bits.
            let shift = (-1023 - e).min(52) as u32;
            (m & ((1u64 << 52) - 1)) >> shift
        } else {
            (((e + 1023) as u64) << 52) | (m & ((1u64 << 52) - 1))
        };
        let x = f64::from_bits(bits);
        if neg { -x } else { x }
    })
}

/// Operands at the edges that random bit patterns rarely hit together: both in the top binades,
/// with every sign combination; `b` an odd multiple of half an ulp of `a` (so `a + b` is an
/// exact tie of round-to-nearest, or exact where it cancels); subnormal pairs; products and
/// quotients near overflow and underflow; exact products of short significands (ties of `mul`).
fn edge_pair() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        // Both in the top three binades, any signs.
        (binade(1021, 1023), binade(1021, 1023)),
        // a in the top binades, b an odd multiple of 2^(e_a − 53) (a tie) with a few bits.
        (binade(1000, 1023), 1u64..(1 << 20), any::<bool>(), 0i32..8).prop_map(
            |(a, k, neg, up)| {
                let e = a.abs().log2().floor() as i32;
                let b = ((2 * k + 1) as f64) * 2f64.powi(e - 53 + up);
                (a, if neg { -b } else { b })
            }
        ),
        // Ties anywhere: a of any magnitude, b an odd multiple of half an ulp of a.
        (any_f64(), 1u64..(1 << 20), any::<bool>()).prop_filter_map("normal", |(a, k, neg)| {
            let e = a.abs().log2().floor() as i32;
            (a.is_normal() && e - 53 >= -1074).then(|| {
                let b = ((2 * k + 1) as f64) * 2f64.powi(e - 53);
                (a, if neg { -b } else { b })
            })
        }),
        // Top binade against anything, and MAX against its neighbours.
        (binade(1023, 1023), any_f64()),
        (
            prop::sample::select(vec![f64::MAX, f64::MAX.next_down(), 2f64.powi(1023)]),
            binade(960, 1023)
        ),
        // Subnormal and smallest-normal pairs, any signs.
        (binade(-1080, -1020), binade(-1080, -1020)),
        // Products and quotients near overflow / underflow: exponents summing to ±1024.
        (-60i32..60).prop_flat_map(|d| (binade(512 + d, 512 + d), binade(511 - d, 512 - d))),
        (-60i32..60).prop_flat_map(|d| (binade(-537 + d, -537 + d), binade(-538 - d, -537 - d))),
        (binade(1000, 1023), binade(-60, 60)),
        (binade(-1074, -990), binade(-60, 60)),
        // Short odd significands: exact products with 54 bits are ties of `mul`; scaled to the
        // top and the bottom of the range.
        (
            (1u64 << 26)..(1 << 28),
            (1u64 << 26)..(1 << 28),
            -1100i32..1000,
            any::<bool>()
        )
            .prop_map(|(m, n, e, neg)| {
                let a = (m | 1) as f64 * 2f64.powi(e.clamp(-1074, 970));
                let b = (n | 1) as f64 * if neg { -1.0 } else { 1.0 };
                (a, b)
            }),
    ]
    .prop_filter("finite", |(a, b)| a.is_finite() && b.is_finite())
}

/// Every directed operation, the `Interval` operations and `Bound::sub_exact` on `(a, b)`,
/// against exact arithmetic.
fn check_directed(a: f64, b: f64) -> Result<(), TestCaseError> {
    let (ea, eb) = (ex(a), ex(b));
    let s = ea.clone() + eb.clone();
    let d = ea.clone() - eb.clone();
    assert_up(add_up(a, b), &s, &format!("add_up({a:e}, {b:e})"));
    assert_down(add_down(a, b), &s, &format!("add_down({a:e}, {b:e})"));
    assert_up(sub_up(a, b), &d, &format!("sub_up({a:e}, {b:e})"));
    assert_down(sub_down(a, b), &d, &format!("sub_down({a:e}, {b:e})"));
    let ad = if d >= E::ZERO { d.clone() } else { -d.clone() };
    assert_up(
        abs_diff_up(a, b),
        &ad,
        &format!("abs_diff_up({a:e}, {b:e})"),
    );
    let p = ea.clone() * eb.clone();
    assert_up(mul_up(a, b), &p, &format!("mul_up({a:e}, {b:e})"));
    assert_down(mul_down(a, b), &p, &format!("mul_down({a:e}, {b:e})"));
    let (ia, ib) = (Interval::point(a), Interval::point(b));
    assert_encloses(ia + ib, &s, &format!("[{a:e}] + [{b:e}]"));
    assert_encloses(ia - ib, &d, &format!("[{a:e}] − [{b:e}]"));
    assert_encloses(ia * ib, &p, &format!("[{a:e}] · [{b:e}]"));
    if a >= 0.0 && d > E::ZERO {
        assert_bound(
            Bound::new(a).sub_exact(b),
            &d,
            &format!("Bound({a:e}).sub_exact({b:e})"),
        );
    }
    if b != 0.0 {
        for (q, up) in [(div_up(a, b), true), (div_down(a, b), false)] {
            let what = format!(
                "div_{}({a:e}, {b:e}) = {q:e}",
                if up { "up" } else { "down" }
            );
            prop_assert!(!q.is_nan(), "{}", what);
            if q.is_infinite() {
                prop_assert!(if up { q > 0.0 } else { q < 0.0 }, "{}", what);
                continue;
            }
            let qb = ex(q) * eb.clone();
            let ord = if b > 0.0 { qb.cmp(&ea) } else { ea.cmp(&qb) };
            prop_assert!(
                if up {
                    ord != Ordering::Less
                } else {
                    ord != Ordering::Greater
                },
                "{}",
                what
            );
            // Tight: one ulp further inward is on the wrong side (or the quotient is exact).
            let inner = if up { q.next_down() } else { q.next_up() };
            if inner.is_finite()
                && ord != Ordering::Equal
                && a.abs() > 1e-280
                && b.abs() > 1e-280
                && q.abs() > 1e-280
            {
                let ib = ex(inner) * eb.clone();
                let o2 = if b > 0.0 { ib.cmp(&ea) } else { ea.cmp(&ib) };
                prop_assert!(
                    if up {
                        o2 == Ordering::Less
                    } else {
                        o2 == Ordering::Greater
                    },
                    "{} is not the neighbour of the exact quotient",
                    what
                );
            }
        }
    }
    let r = sqrt_up(a.abs());
    prop_assert!(r >= 0.0, "sqrt_up({:e}) = {:e}", a.abs(), r);
    if r.is_finite() {
        prop_assert!(
            ex(r) * ex(r) >= ex(a.abs()),
            "sqrt_up({:e}) = {:e}",
            a.abs(),
            r
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(4000, 0x5EED_0006))]

    /// Top binade, ties, mixed signs, subnormals (issue #9 item 4: random bit patterns missed
    /// the top-binade tie).
    #[test]
    fn round_edges_top_binade_ties_subnormals((a, b) in edge_pair()) {
        check_directed(a, b)?;
        check_directed(b, a)?;
        check_directed(-a, b)?;
    }
}

/// Deterministic sweep of the top binade: every sign combination of `±m·2^971·k` against
/// `±MAX`, `±2^1023`, and their neighbours, for small `k` (the exact ties TwoSum mishandled).
#[test]
fn round_top_binade_sweep() {
    let anchors = [
        f64::MAX,
        f64::MAX.next_down(),
        2f64.powi(1023),
        2f64.powi(1023).next_up(),
    ];
    for &anchor in &anchors {
        for k in 1..200u32 {
            for half in [2f64.powi(969), 2f64.powi(970), 2f64.powi(971)] {
                let b = f64::from(k) * half;
                for (x, y) in [(anchor, b), (anchor, -b), (-anchor, b), (-anchor, -b)] {
                    check_directed(x, y).unwrap();
                    check_directed(y, x).unwrap();
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bound

fn bound_strategy() -> impl Strategy<Value = Bound> {
    prop_oneof![
        8 => nonneg_f64().prop_map(Bound::new),
        1 => Just(Bound::ZERO),
        1 => Just(Bound::INF),
    ]
}

/// A bound `r` is sound for an exact nonnegative value: `r = +∞` or `r ≥ exact`.
fn assert_bound(r: Bound, exact: &E, what: &str) {
    let v = r.get();
    assert!(!v.is_nan() && v >= 0.0, "{what}: invalid bound {v:e}");
    assert!(v.is_sign_positive(), "{what}: negative zero");
    if v.is_infinite() {
        return;
    }
    assert!(ex(v) >= *exact, "{what}: {v:e} is below the exact value");
}

proptest! {
    #![proptest_config(config(2000, 0x5EED_0002))]

    #[test]
    fn bound_add_mul_div(a in bound_strategy(), b in bound_strategy()) {
        let (x, y) = (a.get(), b.get());
        if a.is_infinite() || b.is_infinite() {
            prop_assert!((a + b).is_infinite());
            if x != 0.0 && y != 0.0 {
                prop_assert!((a * b).is_infinite());
            }
            // 0 · ∞ is vacuous, never 0.
            if x == 0.0 || y == 0.0 {
                prop_assert!((a * b).is_infinite());
            }
            return Ok(());
        }
        assert_bound(a + b, &(ex(x) + ex(y)), &format!("{a:?} + {b:?}"));
        let mut c = a;
        c += b;
        prop_assert_eq!(c, a + b);
        assert_bound(a * b, &(ex(x) * ex(y)), &format!("{a:?} * {b:?}"));
        let q = a / b;
        if y == 0.0 {
            prop_assert!(q.is_infinite());
        } else if !q.is_infinite() {
            prop_assert!(ex(q.get()) * ex(y) >= ex(x), "{:?} / {:?} = {:?}", a, b, q);
        }
        // max/min pick one of the two, so stay sound.
        prop_assert!(a.max(b) >= a && a.max(b) >= b);
        prop_assert!(a.min(b) == a || a.min(b) == b);
    }

    #[test]
    fn bound_scale_widen_sub(a in bound_strategy(), x in any_f64(), u in 0.0f64..0.5) {
        let s = a.scale(x);
        if x < 0.0 {
            prop_assert!(s.is_infinite(), "negative factor must give +∞");
        } else if !a.is_infinite() {
            assert_bound(s, &(ex(a.get()) * ex(x)), &format!("{a:?}.scale({x:e})"));
        }
        if !a.is_infinite() {
            let w = a.widen(u);
            assert_bound(w, &(ex(a.get()) * (ex(1.0) + ex(u))), &format!("{a:?}.widen({u:e})"));
            let d = a.sub_exact(x);
            let exact = ex(a.get()) - ex(x);
            if exact > E::ZERO {
                assert_bound(d, &exact, &format!("{a:?}.sub_exact({x:e})"));
            } else {
                prop_assert!(d.get() >= 0.0);
            }
        }
    }

    #[test]
    fn bound_gamma(n in prop_oneof![0usize..70, 0usize..(1 << 26), Just(1 << 24), Just((1 << 24) - 1)],
                   which in 0usize..4) {
        let u = [
            <f32 as scale_graph::Runtime>::U,
            <f64 as scale_graph::Runtime>::U,
            <half::f16 as scale_graph::Runtime>::U,
            <half::bf16 as scale_graph::Runtime>::U,
        ][which];
        let g = Bound::gamma(n, u);
        let nu = ex(n as f64) * ex(u);
        if n == 0 {
            prop_assert_eq!(g, Bound::ZERO);
        } else if nu >= ex(1.0) {
            prop_assert!(g.is_infinite(), "γ_{} must be ∞ when n·u ≥ 1", n);
        } else if !g.is_infinite() {
            // g ≥ nu / (1 − nu)  ⇔  g·(1 − nu) ≥ nu.
            prop_assert!(ex(g.get()) * (ex(1.0) - nu.clone()) >= nu, "γ_{}({:e}) = {:?}", n, u, g);
        }
    }

    #[test]
    fn bound_sum(v in prop::collection::vec(nonneg_f64(), 0..40)) {
        let s = Bound::sum(v.iter().map(|&x| Bound::new(x)));
        let exact = v.iter().fold(E::ZERO, |acc, &x| acc + ex(x));
        assert_bound(s, &exact, "Bound::sum");
    }

    #[test]
    fn bound_new_and_abs(x in any_f64()) {
        let b = Bound::new(x);
        if x > 0.0 { prop_assert_eq!(b.get(), x) } else { prop_assert_eq!(b, Bound::ZERO) }
        prop_assert_eq!(Bound::abs(x).get(), x.abs());
    }
}

#[test]
fn bound_nan_and_negative() {
    assert_eq!(Bound::new(f64::NAN), Bound::INF);
    assert_eq!(Bound::new(-f64::NAN), Bound::INF);
    assert_eq!(Bound::new(-1.0), Bound::ZERO);
    assert_eq!(Bound::new(f64::NEG_INFINITY), Bound::ZERO);
    assert_eq!(Bound::new(-0.0).get().to_bits(), 0.0f64.to_bits());
    assert_eq!(Bound::new(f64::INFINITY), Bound::INF);
    assert!(Bound::ONE.scale(f64::NAN).is_infinite());
    assert!(Bound::ONE.scale(-1.0).is_infinite());
    assert!((Bound::ZERO * Bound::INF).is_infinite());
    assert!((Bound::ZERO / Bound::ZERO).is_infinite());
    assert!((Bound::new(f64::MAX) + Bound::new(f64::MAX)).is_infinite());
    assert!(Bound::new(5e-324) * Bound::new(5e-324) > Bound::ZERO);
    assert!(Bound::new(1.0) / Bound::new(f64::MAX) > Bound::ZERO);
    assert!(Bound::new(5e-324) / Bound::new(3.0) > Bound::ZERO);
}

// ---------------------------------------------------------------------------------------------
// Interval

/// A point and an interval around it (possibly degenerate, possibly unbounded).
fn point_in_interval() -> impl Strategy<Value = (f64, Interval)> {
    (any_f64(), nonneg_f64(), nonneg_f64(), 0u8..8).prop_map(|(p, dl, dh, kind)| {
        let (lo, hi) = match kind {
            0 => (p, p),
            1 => (f64::NEG_INFINITY, add_up(p, dh)),
            2 => (sub_down(p, dl), f64::INFINITY),
            3 => (sub_down(p, dl.min(1e-3)), add_up(p, dh.min(1e-3))),
            _ => (sub_down(p, dl), add_up(p, dh)),
        };
        (p, Interval::new(lo, hi))
    })
}

fn assert_encloses(iv: Interval, exact: &E, what: &str) {
    let (lo, hi) = (iv.lo(), iv.hi());
    assert!(
        !lo.is_nan() && !hi.is_nan() && lo <= hi,
        "{what}: malformed {iv:?}"
    );
    assert!(
        lo == f64::NEG_INFINITY || (lo.is_finite() && ex(lo) <= *exact),
        "{what}: lo {lo:e} above exact ({iv:?})"
    );
    assert!(
        hi == f64::INFINITY || (hi.is_finite() && ex(hi) >= *exact),
        "{what}: hi {hi:e} below exact ({iv:?})"
    );
}

proptest! {
    #![proptest_config(config(2000, 0x5EED_0003))]

    #[test]
    fn interval_arith_encloses((p, a) in point_in_interval(), (q, b) in point_in_interval()) {
        prop_assert!(a.contains(p) && b.contains(q));
        let (ep, eq) = (ex(p), ex(q));
        assert_encloses(a + b, &(ep.clone() + eq.clone()), &format!("{a:?} + {b:?} at {p:e}, {q:e}"));
        assert_encloses(a - b, &(ep.clone() - eq.clone()), &format!("{a:?} - {b:?} at {p:e}, {q:e}"));
        assert_encloses(a * b, &(ep.clone() * eq.clone()), &format!("{a:?} * {b:?} at {p:e}, {q:e}"));
        assert_encloses(-a, &(-ep.clone()), "neg");
        assert_encloses(a.square(), &(ep.clone() * ep.clone()), &format!("({a:?})² at {p:e}"));
        assert_encloses(a.abs(), &(if p < 0.0 { -ep.clone() } else { ep.clone() }), "abs");
        assert_encloses(a.max(b), &ex(p.max(q)), "max");
        assert_encloses(a.hull(b), &ep, "hull ⊇ a");
        assert_encloses(a.hull(b), &eq, "hull ⊇ b");
        assert_encloses(SpecScalar::relu(a), &ex(p.max(0.0)), "relu");
        // Division: lo ≤ p/q ≤ hi, checked through exact products.
        if q != 0.0 {
            let d = a / b;
            let what = format!("{a:?} / {b:?} at {p:e}, {q:e} = {d:?}");
            let lo_ok = d.lo() == f64::NEG_INFINITY || {
                let lq = ex(d.lo()) * eq.clone();
                if q > 0.0 { lq <= ep } else { lq >= ep }
            };
            let hi_ok = d.hi() == f64::INFINITY || {
                let hq = ex(d.hi()) * eq.clone();
                if q > 0.0 { hq >= ep } else { hq <= ep }
            };
            prop_assert!(lo_ok && hi_ok, "{}", what);
        }
        // select_pos: the mask of the exact point is inside.
        let (one, zero) = (Interval::point(1.0), Interval::point(0.0));
        let m = a.select_pos(one, zero);
        let mask = if p > 0.0 { 1.0 } else { 0.0 };
        prop_assert!(m.contains(mask), "select_pos");
        // max_dist and mag are upper bounds for the point.
        if p.is_finite() {
            let r = q;
            let dist = a.max_dist(r);
            let exact = { let d = ep.clone() - eq.clone(); if d < E::ZERO { -d } else { d } };
            prop_assert!(dist == f64::INFINITY || ex(dist) >= exact, "max_dist");
            let mag = a.mag();
            prop_assert!(mag == f64::INFINITY || ex(mag) >= ex(p.abs()), "mag");
        }
    }
}

fn h(x: f64) -> H {
    if x == 0.0 {
        // dashu's zero carries precision 0, which its transcendental functions reject.
        let one = h(1.0);
        return one.clone() - one;
    }
    H::try_from(x).unwrap().with_precision(320).value()
}

/// Reference values at 320 bits (error far below 2^-250 relative).
fn reference(f: &str, x: f64) -> H {
    let one = h(1.0);
    if x == 0.0 {
        // dashu returns exact constants (precision 0) here, which later operations reject.
        return match f {
            "exp" => one,
            "tanh" => h(0.0),
            "sigmoid" => h(0.5),
            "softplus" => h(2.0).ln(),
            _ => unreachable!("ln(0) is outside the domain"),
        };
    }
    match f {
        "exp" => h(x).exp(),
        "ln" => h(x).ln(),
        "tanh" => {
            let ax = h(x.abs());
            let m = (ax.clone() + ax).exp_m1();
            let t = m.clone() / (m + h(2.0));
            if x < 0.0 { -t } else { t }
        }
        "sigmoid" => one.clone() / (one + h(-x).exp()),
        "softplus" => h(x).exp().ln_1p(),
        _ => unreachable!(),
    }
}

fn elementary_arg(f: &'static str) -> BoxedStrategy<f64> {
    match f {
        "ln" => prop_oneof![
            nonneg_f64().prop_filter("positive", |&x| x > 0.0),
            0.5f64..2.0,
            (0.0f64..1.0).prop_map(|t| 1.0 + t * 1e-12),
        ]
        .boxed(),
        "tanh" => prop_oneof![
            -25.0f64..25.0,
            (-1.0f64..1.0, -320i32..0).prop_map(|(m, e)| m * 10f64.powi(e))
        ]
        .boxed(),
        _ => prop_oneof![
            -800.0f64..800.0,
            -40.0f64..40.0,
            (-1.0f64..1.0, -320i32..0).prop_map(|(m, e)| m * 10f64.powi(e)),
        ]
        .boxed(),
    }
}

fn check_elementary(f: &'static str, x: f64, width: f64) -> Result<(), TestCaseError> {
    let iv = Interval::new(x, add_up(x, width.abs()));
    let iv = if f == "ln" && iv.lo() <= 0.0 {
        Interval::point(x)
    } else {
        iv
    };
    let out = match f {
        "exp" => SpecScalar::exp(iv),
        "ln" => SpecScalar::ln(iv),
        "tanh" => SpecScalar::tanh(iv),
        "sigmoid" => SpecScalar::sigmoid(iv),
        "softplus" => SpecScalar::softplus(iv),
        _ => unreachable!(),
    };
    prop_assert!(out.lo() <= out.hi(), "{} malformed {:?}", f, out);
    let slack = |r: &H| {
        let a = if *r < H::ZERO { -r.clone() } else { r.clone() };
        a * h(2f64.powi(-250))
    };
    for pt in [iv.lo(), iv.hi()] {
        if !pt.is_finite() {
            continue; // add_up(MAX, w) is +∞: no reference value there
        }
        let r = reference(f, pt);
        let s = slack(&r);
        let lo_ok = out.lo() == f64::NEG_INFINITY || h(out.lo()) <= r.clone() + s.clone();
        let hi_ok = out.hi() == f64::INFINITY || h(out.hi()) >= r.clone() - s;
        prop_assert!(
            lo_ok && hi_ok,
            "{}({:e}) ≈ {} not in {:?}",
            f,
            pt,
            r.to_f64().value(),
            out
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(300, 0x5EED_0004))]

    #[test]
    fn interval_exp_encloses(x in elementary_arg("exp"), w in 0.0f64..1e-3) { check_elementary("exp", x, w)?; }
    #[test]
    fn interval_ln_encloses(x in elementary_arg("ln"), w in 0.0f64..1e-3) { check_elementary("ln", x, w)?; }
    #[test]
    fn interval_tanh_encloses(x in elementary_arg("tanh"), w in 0.0f64..1e-3) { check_elementary("tanh", x, w)?; }
    #[test]
    fn interval_sigmoid_encloses(x in elementary_arg("sigmoid"), w in 0.0f64..1e-3) { check_elementary("sigmoid", x, w)?; }
    #[test]
    fn interval_softplus_encloses(x in elementary_arg("softplus"), w in 0.0f64..1e-3) { check_elementary("softplus", x, w)?; }

    /// The documented libm assumption (`assumed_ulps`, default 4) holds for this platform's
    /// **f64** libm on random arguments: the ops measure narrow-type results against `f64`
    /// references, so the `f64` libm is what the bounds trust (`scale-core/tests/libm_ulps.rs`
    /// checks it over the ranges the ops use).
    #[test]
    fn platform_libm_within_assumed_ulps(x in -80.0f64..80.0, which in 0usize..3) {
        let ulps = scale_graph::assumed_ulps();
        let (name, arg) = [("exp", x), ("ln", x.abs() + 1e-3), ("tanh", x / 8.0)][which];
        let r = reference(name, arg).to_f64().value();
        let y64 = match name { "exp" => scale_graph::scalar::exp64(arg), "ln" => arg.ln(), _ => arg.tanh() };
        let ulp64 = (r.abs().next_up() - r.abs()).max(5e-324);
        prop_assert!((y64 - r).abs() <= ulps * ulp64, "f64 {}({:e})", name, arg);
    }
}

// ---------------------------------------------------------------------------------------------
// Tolerances

fn tol_strategy() -> impl Strategy<Value = ApproxTol> {
    (
        nonneg_f64(),
        nonneg_f64(),
        prop_oneof![Just(1.0), 0.0f64..10.0],
    )
        .prop_map(|(abs, rel, slack)| ApproxTol { abs, rel, slack })
}

proptest! {
    #![proptest_config(config(2000, 0x5EED_0005))]

    #[test]
    fn tolerance_bound_rounds_up(t in tol_strategy(), x in any_f64(), y in any_f64()) {
        let bnd = approx_bound(&t, x, y);
        prop_assert_eq!(bnd.to_bits(), t.approx_bound(x, y).to_bits());
        let exact = ex(t.slack) * (ex(t.abs) + ex(t.rel) * ex(x.abs().max(y.abs())));
        prop_assert!(bnd == f64::INFINITY || ex(bnd) >= exact, "approx_bound rounds down");
        let diff = { let d = ex(y) - ex(x); if d < E::ZERO { -d } else { d } };
        // approx_r never accepts a difference above its own bound, and accepts every difference
        // within the exact bound.
        if approx_r(x, y, &t) {
            prop_assert!(bnd == f64::INFINITY || diff <= ex(bnd));
        }
        if diff <= exact {
            prop_assert!(approx_r(x, y, &t));
        }
        prop_assert_eq!(approx_r(x, y, &t), t.approx_r(x, y));
    }

    #[test]
    fn tolerance_from_eps_scale(e in bound_strategy(), b in bound_strategy(), x in any_f64(), y in any_f64()) {
        let t = tol_from_eps_scale(e, b);
        let a = abs_only(e);
        prop_assert_eq!(a, ApproxTol { abs: e.get(), rel: 0.0, slack: 1.0 });
        prop_assert_eq!(t.abs, e.get());
        prop_assert_eq!(t.slack, 1.0);
        prop_assert!(t.rel >= 0.0);
        if b.get() <= ApproxTol::FLOOR {
            // At the underflow floor eps/B is no relative accuracy: rel is 0 (abs_only).
            prop_assert_eq!(t.rel, 0.0);
        } else if !e.is_infinite() && !b.is_infinite() && t.rel.is_finite() {
            prop_assert!(ex(t.rel) * ex(b.get()) >= ex(e.get()), "rel = eps/B rounded up");
        }
        // At least as loose as abs_only, everywhere.
        prop_assert!(t.approx_bound(x, y) >= a.approx_bound(x, y));
        if a.approx_r(x, y) {
            prop_assert!(t.approx_r(x, y));
        }
    }

    #[test]
    fn tolerance_tensor(vals in prop::collection::vec((any_f64(), -1e-3f64..1e-3, any_f64()), 1..12),
                        t in tol_strategy()) {
        let spec: Vec<Interval> = vals.iter().map(|&(s, w, _)| Interval::new(s.min(add_up(s, w)), s.max(add_up(s, w)))).collect();
        let rt: Vec<f64> = vals.iter().map(|&(s, w, r)| if w > 0.0 { r } else { s }).collect();
        let spec = ndarray::Array1::from(spec);
        let rtarr = ndarray::Array1::from(rt.clone());
        let ok = t.approx_tensor(&spec, &rtarr);
        let ls = spec.iter().map(|s| s.mag()).fold(0.0f64, f64::max);
        let lr = rt.iter().map(|r| r.abs()).fold(0.0f64, f64::max);
        let bnd = t.approx_bound(ls, lr);
        // Sound: a pass means every point of every enclosure is within the bound.
        if ok && bnd.is_finite() {
            for (s, &r) in spec.iter().zip(&rt) {
                for end in [s.lo(), s.hi()] {
                    if end.is_finite() {
                        let d = ex(end) - ex(r);
                        let d = if d < E::ZERO { -d } else { d };
                        prop_assert!(d <= ex(bnd), "approx_tensor accepted {:?} vs {:e}", s, r);
                    }
                }
            }
        }
        // abs_only with the true L∞ distance (rounded up) always passes.
        let dist = spec.iter().zip(&rt).map(|(s, &r)| s.max_dist(r)).fold(0.0f64, f64::max);
        if dist.is_finite() {
            prop_assert!(abs_only(Bound::new(dist)).approx_tensor(&spec, &rtarr));
        }
    }
}

#[test]
fn tolerance_infinite_rel_is_not_nan() {
    // A tiny B gives rel = 0 (eps/B at the underflow floor is meaningless) …
    let t = tol_from_eps_scale(Bound::new(0.1), Bound::new(5e-324));
    assert_eq!(t.rel, 0.0);
    // … and an infinite rel (user-made) with x = y = 0 keeps the bound at `abs`, never NaN.
    let t = ApproxTol {
        abs: 0.1,
        rel: f64::INFINITY,
        slack: 1.0,
    };
    assert_eq!(t.approx_bound(0.0, 0.0), 0.1);
    assert!(t.approx_r(0.0, -0.1));
    assert!(t.approx_r(1.0, 2.0)); // rel = ∞ accepts every finite pair away from 0
    let zero_slack = ApproxTol {
        abs: f64::INFINITY,
        rel: 0.0,
        slack: 0.0,
    };
    assert_eq!(zero_slack.approx_bound(1.0, 1.0), 0.0);
}
