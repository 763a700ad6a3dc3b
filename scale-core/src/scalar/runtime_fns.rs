//! The `f32` runtime's elementary functions `eˣ` and `erf` ([`Runtime::libm_exp`],
//! [`Runtime::erf`] of `f32` and, through `f32`, the half types).
//!
//! Both evaluate in `f64` (polynomials with relative error below `10⁻¹²`) and round once to
//! `f32`, so each is within half an `f32` ulp plus `10⁻⁴` of the exact value: `libm_ulps`
//! measures that on every `f32` argument (`exp32_exhaustive`, `erf32_exhaustive`, ignored) and on
//! samples against 192-bit references in CI. Straight-line code with short dependency chains
//! (Estrin's scheme), no calls: GELU's forward and VJP and softmax spent half of a transformer
//! block's runtime step in `libm::erff`/`expf` (`docs/benchmarks.md`). No bound trusts them:
//! narrow runtime results are measured against `f64` references.
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
#[inline]
pub fn exp32(x: f32) -> f32 {
    // e^x overflows f32 above 88.73 and rounds to 0 below −103.98: the clamp keeps 2ⁿ a normal
    // f64 (NaN passes through it).
    let x = f64::from(x).clamp(-110.0, 100.0);
    // Round to nearest by adding and subtracting 1.5·2⁵²: `f64::round` is a call on baseline
    // x86-64.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    let n = (x * std::f64::consts::LOG2_E + SHIFT) - SHIFT;
    // |n| ≤ 159, so n·ln 2 is off by at most 159·2⁻⁵⁴·ln 2 ≈ 6·10⁻¹⁵ (relative to eˣ).
    let r = x - n * std::f64::consts::LN_2;
    let p = estrin12(&INV_FACT, r);
    // `as i64` of a NaN is 0: the NaN stays in `p`.
    let scale = f64::from_bits(((n as i64 + 1023) as u64) << 52);
    (p * scale) as f32
}

/// `erf(x)` for an `f32` argument, within half an `f32` ulp plus `10⁻⁴` (measured on every
/// argument): `x·P(x²)` for `|x| < 0.75` (relatively accurate down to the subnormals), seven
/// polynomials in `|x| − c` on `[c − ¼, c + ¼)` for `c = 1, 1.5, …, 4`, and `±1` beyond 4.25
/// (where `erf` rounds to 1 in `f32` from 3.85 on), all in `f64`.
///
/// ```
/// use scale_core::scalar::erf32;
/// assert_eq!(erf32(0.0), 0.0);
/// assert_eq!(erf32(0.5), 0.520_499_9);
/// assert_eq!(erf32(-2.0), -0.995_322_3);
/// assert_eq!(erf32(5.0), 1.0);
/// assert!(erf32(f32::NAN).is_nan());
/// ```
#[inline]
pub fn erf32(x: f32) -> f32 {
    let x = f64::from(x);
    let a = x.abs();
    // Branches, not selects: evaluating both forms and selecting one made GELU's loops 20 %
    // slower than the mispredictions cost.
    let y = if a < 0.75 {
        x * estrin12(&ERF_NEAR_0, x * x)
    } else if a < 4.25 {
        // Piece i covers [0.75 + i/2, 1.25 + i/2), and a − c is exact there.
        let i = (((a - 0.75) * 2.0) as usize).min(6);
        estrin12(&ERF_PIECES[i], a - (1.0 + 0.5 * i as f64)).copysign(x)
    } else if a.is_nan() {
        x
    } else {
        1f64.copysign(x)
    };
    y as f32
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

/// `erf(c + u)` for `|u| ≤ 1/4` around `c = 1, 1.5, …, 4`, lowest degree first: degree-11
/// Chebyshev fits (error < 6·10⁻¹⁵).
const ERF_PIECES: [[f64; 12]; 7] = [
    [
        0.8427007929497206,
        0.41510749742059416,
        -0.41510749742715525,
        0.13836916580745875,
        0.06918458412872214,
        -0.06918458301443571,
        0.004612221787816792,
        0.015154725758771085,
        -0.004774441305066252,
        -0.0018854241028457618,
        0.0011892938510360228,
        8.891473484253325e-05,
    ],
    [
        0.9661051464753085,
        0.11893028922362885,
        -0.17839543383292636,
        0.13875200409483976,
        -0.04459885892921846,
        -0.014866286265961839,
        0.019326204163432795,
        -0.004743045488617696,
        -0.0023636733687592564,
        0.0017095816905537558,
        -7.865389482975923e-05,
        -0.00025106938354996824,
    ],
    [
        0.9953222650189526,
        0.02066698535409252,
        -0.041333970707984544,
        0.04822296582567624,
        -0.03444497562729807,
        0.013089090824815072,
        0.00045926886175300704,
        -0.003378894950217471,
        0.0015909529461145217,
        -4.9906181564553424e-05,
        -0.00026173641063107574,
        0.00010074131775510613,
    ],
    [
        0.9995930479825554,
        0.002178284230352577,
        -0.005445710576352579,
        0.008350089549838664,
        -0.008622374990589867,
        0.006117348184944221,
        -0.002798496157826777,
        0.0005424120183101865,
        0.00026085539000620625,
        -0.00025034592260930874,
        7.616567930111621e-05,
        6.0025043840142915e-06,
    ],
    [
        0.9999779095030014,
        0.00013925305194674336,
        -0.00041775915574146906,
        0.0007891006277034008,
        -0.0010443979080512727,
        0.0010165472782520876,
        -0.0007380399139498567,
        0.00039057172005430246,
        -0.00013481608948848377,
        1.3904923164040637e-05,
        1.6174532043599608e-05,
        -1.0766873114876402e-05,
    ],
    [
        0.9999992569016276,
        5.399426777393591e-06,
        -1.88979937053965e-05,
        4.2295509746033606e-05,
        -6.771781371452888e-05,
        8.211628413339568e-05,
        -7.774405004095797e-05,
        5.819262134187405e-05,
        -3.426521291674219e-05,
        1.5334756206265435e-05,
        -4.555798942270418e-06,
        3.880230630630799e-07,
    ],
    [
        0.9999999845827421,
        1.2698234671818735e-07,
        -5.079293908655026e-07,
        1.3121509166439531e-06,
        -2.4549912914284026e-06,
        3.534341880651546e-06,
        -4.057842327610416e-06,
        3.795972983725561e-06,
        -2.924867343915333e-06,
        1.8629558787712513e-06,
        -9.92682952671003e-07,
        4.039294111613773e-07,
    ],
];
