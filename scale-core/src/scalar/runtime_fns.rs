//! The `f32` runtime's elementary functions `eˣ` and `erf` ([`Runtime::libm_exp`],
//! [`Runtime::erf`] of `f32` and, through `f32`, the half types).
//!
//! Both evaluate in `f64` (polynomials with relative error below `10⁻¹²`) and round once to
//! `f32`, so each is within half an `f32` ulp plus `10⁻⁴` of the exact value: `libm_ulps`
//! measures that on every `f32` argument (`exp32_exhaustive`, `erf32_exhaustive`, ignored) and on
//! samples against 192-bit references in CI. Straight-line code with short dependency chains
//! (Estrin's scheme), no calls, no branches and no tables: GELU's forward and VJP spent a third
//! of a transformer block's runtime step in them, and their loops
//! ([`tensor::map_vectorised`](crate::tensor)) now vectorise (`docs/benchmarks.md`). No bound
//! trusts them: narrow runtime results are measured against `f64` references.
//!
//! [`Runtime::libm_exp`]: crate::Runtime::libm_exp
//! [`Runtime::erf`]: crate::Runtime::erf

/// `Σ c[k]·rᵏ` for 12 coefficients (degree 11), by Estrin's scheme: a chain of 5 dependent
/// products instead of Horner's 11.
#[inline(always)]
fn estrin12(c: &[f64; 12], r: f64) -> f64 {
    let r2 = r * r;
    let r4 = r2 * r2;
    let s0 = (c[0] + c[1] * r) + (c[2] + c[3] * r) * r2;
    let s1 = (c[4] + c[5] * r) + (c[6] + c[7] * r) * r2;
    let s2 = (c[8] + c[9] * r) + (c[10] + c[11] * r) * r2;
    (s0 + s1 * r4) + s2 * (r4 * r4)
}

/// `eˣ` for an `f32` argument, within half an `f32` ulp plus `10⁻⁴` (0.500000 measured on every
/// argument): range reduction `x = n·ln 2 + r`, `|r| ≤ ln 2 / 2`, and the degree-11 Taylor
/// polynomial of `eʳ` (remainder below `r¹²/12!·e^|r| ≤ 10⁻¹⁴`), in `f64`.
///
/// ```
/// use scale_core::scalar::exp32;
/// assert_eq!(exp32(0.0), 1.0);
/// assert_eq!(exp32(1.0), std::f32::consts::E);
/// assert_eq!(exp32(-120.0), 0.0);
/// assert_eq!(exp32(100.0), f32::INFINITY);
/// assert!(exp32(f32::NAN).is_nan());
/// ```
#[inline(always)]
pub fn exp32(x: f32) -> f32 {
    // e^x overflows f32 above 88.73 and rounds to 0 below −103.98: the clamp keeps 2ⁿ a normal
    // f64 (NaN passes through it).
    let x = f64::from(x).clamp(-110.0, 100.0);
    let k = x * std::f64::consts::LOG2_E + SHIFT;
    let n = k - SHIFT;
    // |n| ≤ 159, so n·ln 2 is off by at most 159·2⁻⁵⁴·ln 2 ≈ 6·10⁻¹⁵ (relative to eˣ).
    let r = x - n * std::f64::consts::LN_2;
    let p = estrin12(&INV_FACT, r);
    (p * pow2(k)) as f32
}

/// Round to nearest by adding and subtracting 1.5·2⁵²: `f64::round` is a call on baseline
/// x86-64.
const SHIFT: f64 = 6_755_399_441_055_744.0;

/// `2ⁿ` for the integer `n` held in `k = n + SHIFT` (`|n| ≤ 1022`): `k`'s bits are SHIFT's plus
/// `n`, so integer arithmetic on the bits gives the exponent field without `n as i64`, which
/// does not vectorise on AVX2. A NaN `k` gives some number; callers keep the NaN elsewhere.
#[inline(always)]
fn pow2(k: f64) -> f64 {
    let n = k.to_bits().wrapping_sub(SHIFT.to_bits());
    f64::from_bits(n.wrapping_add(1023) << 52)
}

/// `erf(x)` for an `f32` argument, within half an `f32` ulp plus `10⁻⁴` (measured on every
/// argument): `x·P(x²)` for `|x| < 0.75` (relatively accurate down to the subnormals), and
/// `sign(x)·(1 − e^{−x²}·R(|x|))` above, `R` a polynomial for `erfcx = erfc(x)·e^{x²}` on
/// `[0.75, 4.25]` (`|x|` clamped there: beyond 3.92 `erf` rounds to ±1 in `f32`), all in `f64`.
/// Both forms are computed and one selected, with no branch and no table: a loop of it
/// vectorises (GELU's, under `pulp`'s dispatch), and normally distributed inputs, which make
/// every branch on `|x|` a coin flip, cost nothing extra.
///
/// ```
/// use scale_core::scalar::erf32;
/// assert_eq!(erf32(0.0), 0.0);
/// assert_eq!(erf32(0.5), 0.520_499_9);
/// assert_eq!(erf32(-2.0), -0.995_322_3);
/// assert_eq!(erf32(5.0), 1.0);
/// assert!(erf32(f32::NAN).is_nan());
/// ```
#[inline(always)]
pub fn erf32(x: f32) -> f32 {
    let x = f64::from(x);
    let a = x.abs();
    let near_0 = x * estrin12(&ERF_NEAR_0, x * x);
    // NaN stays NaN through `clamp`; ±∞ becomes 4.25 (e^{−18}·R rounds away in f32).
    let b = a.clamp(0.75, 4.25);
    // `b` is an f32 value, so `b²` is exact (48 bits).
    let e = exp_f64(-(b * b));
    let t = (b - 2.5) * (1.0 / 1.75);
    let t4 = (t * t) * (t * t);
    let r = estrin12(&ERFCX[0], t) + estrin12(&ERFCX[1], t) * (t4 * t4 * t4);
    let tail = (1.0 - e * r).copysign(x);
    (if a < 0.75 { near_0 } else { tail }) as f32
}

/// `eᶻ` in `f64` for `z ∈ [−19, 0]`, relative error below `10⁻¹⁵`, branch-free: `z = n·ln 2 + r`
/// with ln 2 in two parts (Cody–Waite: `n·LN2_HI` is exact for `|n| < 2¹¹`), and the degree-13
/// Taylor polynomial of `eʳ` (`|r| ≤ 0.35`: remainder below `10⁻¹⁷`).
#[inline(always)]
fn exp_f64(z: f64) -> f64 {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let k = z * std::f64::consts::LOG2_E + SHIFT;
    let n = k - SHIFT;
    let r = (z - n * LN2_HI) - n * LN2_LO;
    let r4 = (r * r) * (r * r);
    let p = estrin12(&INV_FACT, r)
        + (r4 * r4 * r4) * (1.0 / 479_001_600.0 + r * (1.0 / 6_227_020_800.0));
    p * pow2(k)
}

/// `1/k!` for `k ≤ 11`.
const INV_FACT: [f64; 12] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
];

/// `erf(x)/x` as a polynomial in `t = x²` on `[0, 0.5625]` (`|x| < 0.75`), lowest degree first:
/// a degree-11 Chebyshev fit (error < 10⁻²⁰).
const ERF_NEAR_0: [f64; 12] = [
    std::f64::consts::FRAC_2_SQRT_PI,
    -0.37612638903183754,
    0.11283791670955087,
    -0.026866170645118446,
    0.005223977625222192,
    -0.0008548327001135946,
    0.00012055331545294116,
    -1.4925589383821143e-05,
    1.646038320985815e-06,
    -1.63332293434337e-07,
    1.4413879289095029e-08,
    -9.502840894774706e-10,
];

/// `erfcx(2.5 + 1.75·t) = erfc(x)·e^{x²}` for `t ∈ [−1, 1]` (`x ∈ [0.75, 4.25]`), lowest degree
/// first in two halves of 12: a degree-23 Chebyshev fit (`mpmath.chebyfit` at 40 digits, error
/// below 2.1·10⁻¹⁶; evaluated in `f64`, below 10⁻¹⁵ relative).
const ERFCX: [[f64; 12]; 2] = [
    [
        0.21080636406114345,
        -0.13010785688214063,
        0.07637261607792571,
        -0.042883410907214065,
        0.02313810700791009,
        -0.01204049109360588,
        0.006061101427817014,
        -0.0029590529774793906,
        0.0014040662427545066,
        -0.0006487350987279615,
        0.00029234932953551597,
        -0.00012867907505226885,
    ],
    [
        5.5384347628949596e-05,
        -2.3342680624506755e-05,
        9.658478965568155e-06,
        -3.912744137555183e-06,
        1.5305743082313099e-06,
        -5.99508802894778e-07,
        2.577633155491115e-07,
        -9.65920685504061e-08,
        1.780413663364907e-08,
        -6.903258365198412e-09,
        9.424124994471784e-09,
        -3.2904663311189575e-09,
    ],
];
