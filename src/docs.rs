//! The reference manual: what every op computes, and what every bound promises.
//!
//! This module holds no code. Its pages stand on their own; where other docs in these crates say
//! "SPEC §n", the section is summarised here:
//!
//! | SPEC | page |
//! |---|---|
//! | §3 predicates, §7 tolerances | [`promises`] |
//! | §5 rounding model, non-finite values, libm | [`promises`] |
//! | §8 the `scale_graph!` language | [`scale_graph!`](crate::scale_graph) |
//! | §9 ops | [`ops`] |
//! | §11 certification modes | [`modes`] |

/// # What a bound promises
///
/// For every value `v` of a graph (inputs and node outputs) and every gradient, a certificate
/// holds an error bound **eps** and a scale bound **B** (both `f64`, computed with upward
/// rounding, possibly `+∞`, never NaN). With `exact` the real-number result of the same graph on
/// the same inputs (exact real arithmetic, every op as defined on the [`ops`](super::ops) page)
/// and `r` the runtime result:
///
/// * `approx`: `max_i |exact_i − r_i| ≤ eps`;
/// * `scale`: `max_i |exact_i| ≤ B` and `max_i |r_i| ≤ B`.
///
/// provided the inputs satisfy them (exact inputs: eps 0, B their largest magnitude). These are
/// the four theorems of TorchLean's `RevGraphScale` (forward values, forward scales, gradients,
/// gradient scales), checked by the test suite against a rigorous interval evaluation of
/// `exact` on adversarial data.
///
/// ## Tolerances
///
/// `ApproxTol::from_eps_scale(eps, B) = { abs: eps, rel: eps / B, slack: 1 }` (rel 0 when B is 0
/// or at the underflow floor): any comparison `|a − b| ≤ abs + rel · max(|a|, |b|)` of the
/// runtime result against the exact one passes. `cert.value_tol(v)` and `cert.grad_tol(x)` give
/// it for a value and an input's gradient.
///
/// ## The rounding model
///
/// A runtime type `R` (`f32`, `f64`, `bf16`, `f16`) has a unit roundoff `u` (2⁻²⁴, 2⁻⁵³, 2⁻⁸,
/// 2⁻¹¹) and an underflow term `η`; a basic operation satisfies `|fl(z) − z| ≤ u·|z| + η`. A sum
/// or dot product of length `n` in any order, with or without FMA, errs by at most
/// `γₙ·Σ|terms|` plus underflow terms, `γₙ = n·u / (1 − n·u)`.
///
/// Elementary functions: the bounds measure runtime results against `f64` references computed
/// with `f64` functions — the platform's `ln`, `ln_1p`, `tanh`, and the `libm` crate's `exp`
/// ([`exp64`](crate::scalar::exp64)), `erf`, `erfc` — assumed accurate to
/// [`Config::assumed_ulps`](crate::config::Config::assumed_ulps) ulps of `f64` (default 4; the
/// test suite measures them).
///
/// ## Non-finite values
///
/// A NaN or ±∞ runtime value has no finite tolerance. This holds for inputs too, and it
/// propagates: an op whose runtime operand is not finite, or whose operand's eps is `+∞`, gets
/// eps `+∞` even where its runtime output is finite (`relu(NaN)` is 0 at run time; its eps is
/// `+∞`). No finite bound is ever derived from a non-finite number. Checkers accept a non-finite
/// value only against a `+∞` bound, and [`check_close`](crate::report::check_close) refuses to
/// pass under an unbounded tolerance unless told to.
///
/// A node whose cotangent is exactly zero is not visited by backprop (as in PyTorch), so an
/// overflow or `log(0)` off the loss path does not make gradients NaN.
///
/// ## Preconditions
///
/// `log` needs a positive argument: where `x̂ − eps ≤ 0` its bound is `+∞`, never a wrong number.
/// Likewise `div` needs every `|b̂| > eps_b` (a divisor that is certainly nonzero, of certain
/// sign), `sqrt` needs `x̂ − eps ≥ 0` (`> 0` for its gradient) and `rsqrt` `x̂ − eps > 0`; their
/// scale bounds are `+∞` (reports tighten them to `|ŷ| + eps`).
/// Empty means (a zero-size dimension) are NaN, so their bound is `+∞`; empty sums are 0.
pub mod promises {}

/// # The ops
///
/// Every op has all six parts of a reverse-mode node (spec and runtime forward, forward eps,
/// forward scale, spec and runtime VJP, VJP eps, VJP scale). Shapes are checked at compile
/// time. Definitions and derivative conventions match PyTorch's.
///
/// | op | shapes | definition |
/// |---|---|---|
/// | `add(a, b)`, `a + b` | `s, s → s` | elementwise |
/// | `sub(a, b)`, `a - b` | `s, s → s` | elementwise |
/// | `mul(a, b)`, `a * b` | `s, s → s` | elementwise |
/// | `neg(x)`, `-x` | `s → s` | |
/// | `scale(x, c)` | `s → s` | `c·x`, `c` a finite literal |
/// | `relu(x)` | `s → s` | `max(x, 0)`; derivative 1 where `x > 0`, else 0 |
/// | `abs(x)` | `s → s` | `|x|`, exact; derivative `sgn(x)` (0 at 0, as PyTorch) |
/// | `leaky_relu(x, a)` | `s → s` | `x` where `x > 0`, else `a·x`; derivative 1 / `a` |
/// | `tanh`, `sigmoid`, `exp`, `softplus`, `square` | `s → s` | `σ(x) = 1/(1 + e⁻ˣ)`, `softplus(x) = ln(1 + eˣ)` |
/// | `log(x)` | `s → s` | natural log; `+∞` bound unless positivity is certain |
/// | `matmul(a, b)` | `[m, k], [k, n] → [m, n]`; `[…, m, k], [k, n] → […, m, n]` | the weight shared over leading axes (rank 3 or 4) |
/// | `matvec(a, x)` | `[m, k], [k] → [m]` | |
/// | `dot(a, b)` | `[k], [k] → []` | |
/// | `transpose(a)` | `[m, n] → [n, m]` | exact |
/// | `add_bias(h, b)` | `[b, n], [n] → [b, n]` | `h[i, j] + b[j]` |
/// | `sum(x)`, `mean(x)` | `s → []` | `mean = sum / numel` |
/// | `sum_rows(x)` | `[b, n] → [n]` | `Σᵢ x[i, j]` |
/// | `reshape(x, [d, …])` | `s → t`, same element count | row-major order, exact |
/// | `softmax(x)`, `log_softmax(x)` | `[…, n] → […, n]` (rank 1 to 4) | over the last axis, row by row |
/// | `mse(p, t)` | `s, s → []` | `mean((p − t)²)`; gradients to both |
/// | `cross_entropy(z, t)` | `[b, n], [b, n] → []` | `−(1/b) Σᵢ Σⱼ t[i, j]·log_softmax(z)[i, j]`; gradients to both |
/// | `div(a, b)` | `s, s → s` | `a / b`; `+∞` bound unless every `|b̂| > eps_b` (divisor nonzero, sign certain) |
/// | `sqrt(x)`, `rsqrt(x)` | `s → s` | `√x`, `1/√x`; `+∞` bound unless `x̂ − eps ≥ 0` (`> 0` for `rsqrt` and for gradients) |
/// | `maximum(a, b)`, `minimum(a, b)` | `s, s → s` | exact; cotangent to the larger (smaller) operand, halves at a tie (PyTorch); kink rule where `|â − b̂| ≤ eps_a + eps_b` |
/// | `gelu(x)`, `gelu_tanh(x)` | `s → s` | `x·Φ(x)`, `Φ` the standard normal CDF (PyTorch `approximate='none'`); `½x(1 + tanh(√(2/π)(x + 0.044715x³)))` (`approximate='tanh'`) |
/// | `sum(x, axis)`, `mean(x, axis)` | `s → s` without `axis` | over one axis (literal), which is dropped; `mean = sum / n` (`n` the axis length) |
/// | `permute(x, [axes])` | rank 1–4 | output axis `i` is input axis `axes[i]` (PyTorch's `x.permute`), exact |
/// | `slice(x, axis, start, end)` | `s → s` with `end − start` along `axis` | entries `start..end` (literals, `start < end ≤` dim), exact; zero cotangent outside |
/// | `concat(a, b, axis)` | `s, t → u`, equal except along `axis` | `a` then `b` along `axis` (`torch.cat`), exact |
/// | `softmax_causal(x)` | `[…, n, n] → […, n, n]` | row `i` a softmax over `j ≤ i`; the masked entries `j > i` are exactly 0 (eps 0), their cotangents too |
/// | `layer_norm(x, gamma, beta, eps)` | `[…, n], [n], [n] → […, n]` | `(x − mean)/√(var + eps)·γ + β` over the last axis (biased variance); `eps` a positive literal; reports show the error of each stage (centring, variance, sqrt, division, affine) |
/// | `rms_norm(x, gamma, eps)` | `[…, n], [n] → […, n]` | `x/√(mean(x²) + eps)·γ` over the last axis; `eps` a positive literal; stages in reports |
/// | `conv2d(x, w, stride, padding)` | `[b, c, h, w], [o, c, kh, kw] → [b, o, h′, w′]` | cross-correlation with zero padding (PyTorch's `F.conv2d`, no bias), `h′ = ⌊(h + 2p − kh)/s⌋ + 1`; literal stride (positive) and padding; GEMM bounds through im2col (dots of length `c·kh·kw`; cotangents of length `o·kh·kw` and `b·h′·w′`) |
/// | `conv1d(x, w, stride, padding)` | `[b, c, l], [o, c, k] → [b, o, l′]` | `F.conv1d`, as `conv2d` with height 1 |
/// | `max_pool2d(x, k)` | `[b, c, h, w] → [b, c, ⌊h/k⌋, ⌊w/k⌋]` | PyTorch's `F.max_pool2d(x, k)`: `k × k` windows, stride `k`, no padding, floor (trailing rows/columns dropped); literal `k` (positive, at most `h` and `w`); the cotangent goes to the first maximum (ties as PyTorch); where a window's runtime maximum is not certainly ahead of another entry the routing may flip (SPEC §5 kink rule) and the bound covers both |
/// | `avg_pool2d(x, k)` | `[b, c, h, w] → [b, c, ⌊h/k⌋, ⌊w/k⌋]` | `F.avg_pool2d(x, k)`, windows as `max_pool2d`; each output a mean of `k²` entries (bounded as `mean`) |
/// | `bmm(a, b)` | `[…, m, k], […, k, n] → […, m, n]` (rank 3 or 4) | a matrix product per batch index (equal leading axes, `torch.matmul`); `matmul(x, w)` also takes `[…, m, k], [k, n] → […, m, n]`, one weight shared over the leading axes (`x @ W`) |
/// | `attention(q, k, v)`, `attention_causal(q, k, v)` | `[…, n, d], […, m, d], […, m, e] → […, n, e]` (rank 2 to 4) | `softmax(q kᵀ/√d) v` per batch index, one fused node bounded stage by stage as the composition (reports list the stages); the runtime's rounded `1/√d` counts as an input error; causal: `n = m`, query `i` sees keys `j ≤ i`, masked probabilities exactly 0 (eps 0) |
/// | `expand(x, axis, n)` | `s → s` with a new axis of length `n` at `axis` (input rank 0 to 3, `axis ≤` rank) | `x.unsqueeze(axis).expand(…, n, …)`: `x` repeated along the new axis (literal `axis` and `n ≥ 1`), exact; the broadcast that takes `mean(x, axis)` back to `x`'s shape (`x − expand(mean(x, 1), 1, n)`); its VJP sums the cotangent over the new axis (bounded as an `n`-term `sum`) |
///
/// Kinks (`relu`, `leaky_relu`): where the runtime input is within eps of the kink, the exact
/// and runtime derivatives may take different branches; the VJP bounds cover both.
pub mod ops {}

/// # Which question a bound answers
///
/// Every certificate records its [`Config`](crate::config::Config) (`cert.config`), and every
/// table, JSON report and DOT drawing names its mode ([`Config::mode_name`](crate::config::Config::mode_name))
/// and what its eps promises. The modes (SPEC §11, [`Mode`](crate::config::Mode)):
///
/// * **This run** (`Config::default()`): eps bounds `|exact − r̂|` for the `r̂` *this library
///   computed*. `certify` encloses the exact values and gradients in midpoint-radius arithmetic
///   ([`Ball`](crate::Ball): `f64` kernels, outward-bounded radii) and reports the distance of
///   `r̂` to that enclosure; where a radius is not negligible it also propagates bounds node by
///   node and keeps the smaller. Bound ÷ true error is about 1.0. This is **not** a tolerance
///   for another implementation's result: a different summation order (PyTorch, a GPU kernel,
///   your own loop) may legally differ from ours by more than our error.
/// * **Any implementation** (`Config::any_implementation()`): eps bounds `|exact − r|` for the
///   result `r` of *every* implementation that follows SPEC §5 — any order or tree of every sum,
///   blocking, split-K, FMA or not, elementary functions within `assumed_ulps` ulps of the
///   runtime type, constants rounded to it, PyTorch's formulas and derivative conventions. It is
///   computed a priori from the inputs alone, entry by entry, in [`AnyRun`](crate::AnyRun)
///   balls that widen every operation by the worst rounding any such run could commit there.
///   The tolerance to test a foreign result with; worst case by construction.
/// * **Trace** ([`trace::certify_trace`](crate::trace::certify_trace)): values and gradients
///   *another run* wrote down, by name: each gets its distance to the exact enclosure, and any
///   that lies outside the any-implementation bound is named (that run does not follow SPEC §5).
/// * **Estimate — not a bound** (`Config::estimate()`): the probabilistic model of Higham & Mary
///   (2019), `γₙ` replaced by `λ·√n·u` with `λ =` [`LAMBDA`](crate::LAMBDA), first order
///   ([`Est`](crate::Est)): the typical error of a conforming run, labelled as an estimate
///   everywhere. Real runs exceed it now and then (at kinks, on adversarial data).
///
/// The propagated bounds alone (`Config::default().with_enclose(false)`, with
/// [`DotBound::APosteriori`](crate::config::DotBound) or `OrderFree`) also answer "this run",
/// more loosely: they are per tensor and grow with depth through `‖W‖`. The measured ratios of
/// bound to true error, per mode and model, are in `docs/tightness.md` of the repository.
pub mod modes {}
