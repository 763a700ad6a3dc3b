//! Settings of the bound computations, passed per graph and per call — never process-wide.
//!
//! A [`Config`] says how the rounding error of sums and dot products is bounded ([`DotBound`]) and
//! how accurate the platform's elementary functions are assumed to be ([`Config::assumed_ulps`]).
//! Every graph carries one ([`Graph::config`](crate::Graph::config), default
//! [`Config::default`]); every bound computation of that graph (`certify`, `eval_bounds`, …)
//! runs under it, and the [`Certificate`](crate::Certificate) records the one it used.
//!
//! There is no global switch: two threads (or two tests) certifying with different settings
//! cannot see each other's choice. While a call runs, its settings are visible to the op code
//! of that call through [`dot_bound_mode`] and [`assumed_ulps`](crate::assumed_ulps) (scoped to
//! the calling thread and restored when the call returns, even by unwinding).
//!
//! ```
//! use scale_core::config::{Config, DotBound};
//! let cfg = Config::default().with_dot_bound(DotBound::OrderFree).with_assumed_ulps(8.0)?;
//! assert_eq!(cfg.dot_bound, DotBound::OrderFree);
//! assert_eq!(cfg.assumed_ulps(), 8.0);
//! assert!(Config::default().with_assumed_ulps(f64::NAN).is_err());
//! # Ok::<(), scale_core::Error>(())
//! ```

use crate::error::Error;
use std::cell::Cell;

/// How the local rounding error of a sum or dot product is bounded (`sum`, `mean`, `sum_rows`,
/// `dot`, `matvec`, `matmul`, and the sums inside `softmax`, `mse`, `cross_entropy`, `add_bias`'s
/// VJP).
///
/// Both modes are rigorous for the run this library performs, with or without FMA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DotBound {
    /// A posteriori (default): when the runtime type is narrower than `f64` (`f32`, `bf16`,
    /// `f16`), the same sum is recomputed in `f64` from the runtime operands (products of two such
    /// values are exact in `f64`), and the local error is bounded by
    /// `|ŷ − y₆₄| + γₖ^{f64}·Σ|aᵢbᵢ|`: nearly the actual error of *this* run. For an `f64` runtime
    /// a recomputation proves nothing, and the order-free bound is used.
    APosteriori,
    /// Order-free a-priori bound `γₖ·Σ|aᵢbᵢ| + 2kη` in the runtime type's unit roundoff: holds
    /// for any summation order of the same operands.
    OrderFree,
}

/// Which question a certificate answers (SPEC §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// This run (default): `eps` bounds `|exact − r̂|` for the result `r̂` *this library*
    /// computed. Nearly the true error of this run with [`Config::enclose`]; not a tolerance for
    /// anyone else's result.
    ThisRun,
    /// Any implementation: `eps` bounds `|exact − r|` for the result `r` of *every*
    /// implementation that follows SPEC §5's model — any summation order or tree, blocking,
    /// FMA or not, elementary functions within [`Config::assumed_ulps`] ulps of the runtime
    /// type, PyTorch's formulas and derivative conventions. Computed a priori, from the inputs
    /// alone, by [`AnyRun`](crate::AnyRun) balls. The tolerance to test a foreign result with
    /// (PyTorch, a GPU kernel, your own code).
    AnyImplementation,
    /// Estimate — **not a bound**: the probabilistic model of Higham & Mary (2019) ([`Est`](crate::Est)),
    /// `γₙ` replaced by `λ·√n·u` with `λ =` [`LAMBDA`](crate::LAMBDA), first order, masks on the
    /// midpoint's branch. The typical error of a conforming run, with a per-entry failure
    /// probability of at most `2·exp(−λ²/2)` *under the model*; real runs can exceed it. Never
    /// mixed into rigorous figures: every table, JSON report and DOT label says so.
    Estimate,
}

/// The settings one bound computation runs under.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Which question the bounds answer (default [`Mode::ThisRun`]).
    pub mode: Mode,
    /// How sums and dot products are bounded (default [`DotBound::APosteriori`]).
    pub dot_bound: DotBound,
    /// This-run mode (default on): `certify` also evaluates a rigorous midpoint-radius enclosure
    /// of the exact values and gradients ([`Ball`](crate::Ball) arithmetic: `f64` kernels,
    /// outward-bounded radii) and reports, per tensor, `min(propagated bound, max |r̂ − m| + r)`;
    /// the propagated bounds are skipped when every enclosure is tight (its radii at most a tenth
    /// of the distance it bounds: the bound is then within 1.12× of the true error).
    /// Both are sound for the run this library performed, so the minimum is; it is close to the
    /// true error of this run, because the enclosure's radius is near `f64` precision. It is
    /// **not** a tolerance for another implementation's result. Off: the propagated bounds
    /// alone (cheaper).
    pub enclose: bool,
    /// This-run mode with the enclosure (default off): compute the propagated bounds too even
    /// when every enclosure is negligible, and report the smaller bound per tensor. That can
    /// be up to 1.12× tighter than the enclosure alone, at the cost of the propagation (on the
    /// transformer block about 10 runtime steps). Where some enclosure is not negligible the
    /// propagation runs anyway.
    pub always_propagate: bool,
    /// Threads a certified pass may use (default 1). With 2 or more, the spec passes of the
    /// this-run, any-implementation and estimate modes run beside the runtime sweeps (they
    /// start from the inputs alone), and independent halves of the spec passes split off: a
    /// large product's midpoint and radius GEMMs (or the two halves of its midpoint GEMM),
    /// the statistics of its operands and the collection of its result, layer norm's box and
    /// point VJP bounds, the scan of a large enclosure. All of it runs on rayon's global pool
    /// (sized by rayon: the machine's cores, or `RAYON_NUM_THREADS`). The results are
    /// identical.
    pub threads: usize,
    /// Accuracy assumed of the `f64` elementary functions, in ulps (private so it is
    /// always validated: see [`Config::with_assumed_ulps`]).
    assumed_ulps: f64,
}

/// The default elementary-function assumption, in ulps of `f64` (see [`Config::assumed_ulps`]).
pub const DEFAULT_ASSUMED_ULPS: f64 = 4.0;

impl Default for Config {
    /// A-posteriori dot bounds, the this-run enclosure on, elementary functions assumed accurate
    /// to 4 ulps.
    fn default() -> Self {
        Config {
            mode: Mode::ThisRun,
            dot_bound: DotBound::APosteriori,
            enclose: true,
            always_propagate: false,
            threads: 1,
            assumed_ulps: DEFAULT_ASSUMED_ULPS,
        }
    }
}

impl Config {
    /// The any-implementation mode ([`Mode::AnyImplementation`]) with the default assumptions:
    /// the tolerance for testing another implementation's result.
    ///
    /// ```
    /// use scale_core::config::{Config, Mode};
    /// let cfg = Config::any_implementation();
    /// assert_eq!(cfg.mode, Mode::AnyImplementation);
    /// assert_eq!(cfg.mode_name(), "any-implementation");
    /// ```
    pub fn any_implementation() -> Self {
        Config::default().with_mode(Mode::AnyImplementation)
    }

    /// The estimate mode ([`Mode::Estimate`]): not a bound.
    pub fn estimate() -> Self {
        Config::default().with_mode(Mode::Estimate)
    }

    /// Whether the bounds of this configuration are rigorous (every mode but
    /// [`Mode::Estimate`]).
    pub fn is_rigorous(&self) -> bool {
        self.mode != Mode::Estimate
    }

    /// The same settings answering another question (see [`Mode`]).
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The same settings with another dot-product bound mode.
    pub fn with_dot_bound(mut self, mode: DotBound) -> Self {
        self.dot_bound = mode;
        self
    }

    /// The same settings with the this-run enclosure on or off (see [`Config::enclose`]).
    pub fn with_enclose(mut self, on: bool) -> Self {
        self.enclose = on;
        self
    }

    /// The same settings with the propagated bounds always computed beside the enclosure, or
    /// only where it is needed (see [`Config::always_propagate`]).
    ///
    /// ```
    /// use scale_core::Config;
    /// assert!(Config::default().with_always_propagate(true).always_propagate);
    /// ```
    pub fn with_always_propagate(mut self, on: bool) -> Self {
        self.always_propagate = on;
        self
    }

    /// The same settings with up to `n` threads per certified pass (see [`Config::threads`];
    /// 0 means 1).
    ///
    /// ```
    /// use scale_core::Config;
    /// let cfg = Config::default().with_threads(2);
    /// assert_eq!(cfg.threads, 2);
    /// ```
    pub fn with_threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// The same settings with another elementary-function assumption. Values below 0.5 ulps (no
    /// library does better than correct rounding), NaN and infinite values are a typed error.
    pub fn with_assumed_ulps(mut self, ulps: f64) -> Result<Self, Error> {
        if !(ulps >= 0.5) || !ulps.is_finite() {
            return Err(Error::InvalidConfig(format!(
                "elementary-function accuracy must be a finite number of ulps ≥ 0.5, got {ulps}"
            )));
        }
        self.assumed_ulps = ulps;
        Ok(self)
    }

    /// Which question the bounds of this configuration answer, as reports and tables name it:
    /// `any-implementation` ([`Mode::AnyImplementation`]), `this-run` (the enclosure on), or `this-run/propagated (a-posteriori)` /
    /// `this-run/propagated (order-free)` (the propagated bounds alone). All three bound the
    /// error of the result this library computed; none is a tolerance for another
    /// implementation's result (SPEC §11's any-implementation mode).
    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::AnyImplementation => return "any-implementation",
            Mode::Estimate => return "estimate — not a bound",
            Mode::ThisRun => {}
        }
        match (self.enclose, self.dot_bound) {
            (true, _) => "this-run",
            (false, DotBound::APosteriori) => "this-run/propagated (a-posteriori)",
            (false, DotBound::OrderFree) => "this-run/propagated (order-free)",
        }
    }

    /// The accuracy, in ulps of `f64`, assumed for the `f64` elementary functions (the
    /// platform's `ln`, `ln_1p`, `tanh`; the `libm` crate's `exp` —
    /// [`exp64`](crate::scalar::exp64) — `erf`, `erfc`). Runtime results of every precision are measured against
    /// `f64` references computed with those functions, so this is an assumption about the `f64`
    /// libm (checked by the test suite), not about the runtime type's.
    pub fn assumed_ulps(&self) -> f64 {
        self.assumed_ulps
    }
}

thread_local! {
    static CURRENT: Cell<Config> = Cell::new(Config::default());
}

/// Restores the previous settings when a scoped call ends (also when it unwinds).
struct Restore(Config);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Run `f` with `cfg` as the settings visible to op code on this thread, restoring the previous
/// ones afterwards. Graphs do this around every bound computation with their own
/// [`Graph::config`](crate::Graph::config); call it yourself only when you use a node's bound
/// parts directly, outside a graph.
///
/// ```
/// use scale_core::config::{self, Config, DotBound};
/// let cfg = Config::default().with_dot_bound(DotBound::OrderFree);
/// let inside = config::scoped(cfg, config::dot_bound_mode);
/// assert_eq!(inside, DotBound::OrderFree);
/// assert_eq!(config::dot_bound_mode(), DotBound::APosteriori); // restored
/// ```
pub fn scoped<T>(cfg: Config, f: impl FnOnce() -> T) -> T {
    let _restore = Restore(CURRENT.with(|c| c.replace(cfg)));
    f()
}

/// The settings of the bound computation running on this thread ([`Config::default`] outside
/// one).
pub fn current() -> Config {
    CURRENT.with(|c| c.get())
}

/// `(side(), main())` of two independent parts of a certified pass (a product's midpoint and
/// radius GEMMs, layer norm's box and point VJPs): on rayon's pool when the pass may use two
/// threads ([`Config::threads`]) and the parts are large enough (`work`, about the operations
/// of each) to repay the hand-off; the results are the same either way. A pool, not a thread
/// per call: starting one per product (and a fresh `malloc` arena for each) made the two-thread
/// this-run step of `bench_mlp` slower than the one-thread step (median 19–23 ms against 12;
/// with the pool 10–11 ms).
pub(crate) fn beside<A: Send, B: Send>(
    work: usize,
    side: impl FnOnce() -> A + Send,
    main: impl FnOnce() -> B + Send,
) -> (A, B) {
    let config = current();
    if work < 1 << 18 || config.threads < 2 {
        return (side(), main());
    }
    // Either half may run on a pool thread, which has no configuration of its own.
    rayon::join(move || scoped(config, side), move || scoped(config, main))
}

/// The dot-product bound mode of the bound computation running on this thread (the default,
/// [`DotBound::APosteriori`], outside one).
///
/// ```
/// use scale_core::config::{dot_bound_mode, DotBound};
/// assert_eq!(dot_bound_mode(), DotBound::APosteriori);
/// ```
pub fn dot_bound_mode() -> DotBound {
    current().dot_bound
}
