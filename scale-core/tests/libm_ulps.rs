//! Checks the documented libm accuracy assumption ([`scale_core::assumed_ulps`], default 4 ulps)
//! against the rigorous interval enclosures, on random arguments:
//!
//! * `f32` `exp`, `ln`, `tanh`, `ln_1p` (the runtime kernels), 10⁶ arguments each, error in `f32`
//!   ulps;
//! * the `f64` references the bounds rely on (`exp`, `ln`, `tanh`, `ln_1p`), 2·10⁵ each, error in
//!   `f64` ulps.
//!
//! Takes about three minutes in release mode, so it is ignored by default:
//! `cargo test --release -p scale-core --test libm_ulps -- --ignored --nocapture`

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scale_core::{Interval, SpecScalar};

fn ulp32(y: f64) -> f64 {
    let a = y.abs().max(f32::MIN_POSITIVE as f64);
    let e = a.log2().floor();
    2f64.powf(e - 23.0).max(2f64.powi(-149))
}

fn ulp64(y: f64) -> f64 {
    let a = y.abs().max(f64::MIN_POSITIVE);
    (a.next_up() - a).max(f64::from_bits(1))
}

type Case = (
    &'static str,
    fn(f64) -> f64,
    fn(Interval) -> Interval,
    f64,
    f64,
);

fn run(n: usize, wide: bool) -> f64 {
    let mut rng = StdRng::seed_from_u64(42);
    let cases: [Case; 4] = [
        ("exp", f64::exp, |x| x.exp(), -100.0, 88.0),
        ("ln", f64::ln, |x| x.ln(), -30.0, 30.0),
        ("tanh", f64::tanh, |x| x.tanh(), -20.0, 20.0),
        (
            "ln_1p",
            f64::ln_1p,
            // ln_1p(x) = softplus(ln x): no rounding of 1 + x in the enclosure (f32 check).
            // The f64 check uses 1 + x (x ≥ 1), where ln(1 + x) is enclosed to ~1 ulp.
            |x| x.ln().softplus(),
            -30.0,
            30.0,
        ),
    ];
    let mut worst = 0.0f64;
    for (name, f64f, spec, lo, hi) in cases {
        let mut m = 0.0f64;
        for _ in 0..n {
            let t: f64 = rng.random_range(lo..hi);
            // ln / ln_1p: log-uniform positive arguments.
            let mut x = if name.starts_with("ln") { t.exp() } else { t };
            if name == "ln_1p" && !wide {
                x += 1.0;
            }
            let (x, y) = if wide {
                let x = x as f32;
                let y = match name {
                    "exp" => x.exp(),
                    "ln" => x.ln(),
                    "tanh" => x.tanh(),
                    _ => x.ln_1p(),
                };
                (x as f64, y as f64)
            } else {
                (x, f64f(x))
            };
            let e = if name == "ln_1p" && !wide {
                (Interval::point(1.0) + Interval::point(x)).ln()
            } else {
                spec(Interval::point(x))
            };
            let d = e.max_dist(y);
            let u = if wide { ulp32(e.mid()) } else { ulp64(e.mid()) };
            m = m.max(d / u);
        }
        eprintln!(
            "{} {name}: max error {m:.3} ulps over {n} arguments",
            if wide { "f32" } else { "f64" }
        );
        worst = worst.max(m);
    }
    worst
}

/// What the op bounds rely on: the `f64` references are within `(4·assumed_ulps + 8)·2⁻⁵³`
/// relative, i.e. `2·assumed_ulps + 4` f64-ulps (the measured figure includes the enclosure's own
/// width, up to ~3 ulps for `tanh`). The `f32` figures are reported and checked against twice the
/// assumption: glibc's `tanhf` was measured at 2.04 ulps (why the default is 4, not 2) — and it is why the
/// ops measure narrow-type results against `f64` references instead of trusting an `f32` ulp bound.
#[test]
#[ignore = "about three minutes in release mode; see the module docs"]
fn libm_within_assumed_ulps() {
    let a = scale_core::assumed_ulps();
    let w32 = run(1_000_000, true);
    let w64 = run(200_000, false);
    assert!(
        w64 <= 2.0 * a + 4.0,
        "f64 libm error {w64} ulps exceeds the margin"
    );
    assert!(
        w32 <= 2.0 * a,
        "f32 libm error {w32} ulps exceeds twice the assumed {a}"
    );
}
