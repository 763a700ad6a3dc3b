//! Seeded random data: reproducible inputs for examples, tests and benchmarks.
//!
//! Every generated model has `m.random_inputs(seed)` and its inputs `fill_random(seed)`, built on
//! [`gaussian`]: each input gets its own stream (the seed mixed with the input's position), so
//! adding an input does not change the others' data.
//!
//! ```
//! use scale_core::random::{gaussian, rng};
//! let a = gaussian::<f32, _>(&mut rng(7), (2, 3), 1.0);
//! let b = gaussian::<f32, _>(&mut rng(7), (2, 3), 1.0);
//! assert_eq!(a, b); // same seed, same data
//! assert!(a.iter().all(|v| v.is_finite()));
//! ```

use crate::scalar::Runtime;
use ndarray::{Array, ShapeBuilder};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

/// The generator this module uses (`rand`'s standard generator).
pub type Rng = StdRng;

/// The generator every helper of this module uses, seeded with `seed` (the same seed gives the
/// same stream for one version of `rand`, which `Cargo.lock` pins).
pub fn rng(seed: u64) -> Rng {
    StdRng::seed_from_u64(seed)
}

/// How many random cases a property test or a benchmark runs: the environment variable `name`
/// when it holds a number of type `T`, `default` otherwise. Long runs need no code change
/// (`PROPTEST_CASES=10000 cargo test --release`).
///
/// ```
/// use scale_core::random::cases_from_env;
/// let n: usize = cases_from_env("SCALE_DOC_EXAMPLE_CASES_UNSET", 16);
/// assert_eq!(n, 16);
/// ```
pub fn cases_from_env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The stream for input number `pos` of a model seeded with `seed` (a SplitMix-style mix, so
/// neighbouring seeds and positions give unrelated streams).
pub fn input_rng(seed: u64, pos: usize) -> Rng {
    let mut z = seed
        ^ (pos as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    rng(z ^ (z >> 31))
}

/// An array of the given shape with independent normal entries `N(0, std²)`, each rounded to
/// the runtime `R`.
///
/// ```
/// use scale_core::random::{gaussian, rng};
/// let w = gaussian::<f64, _>(&mut rng(1), [128, 784], (1.0f64 / 784.0).sqrt());
/// assert_eq!(w.shape(), &[128, 784]);
/// ```
pub fn gaussian<R: Runtime, Sh: ShapeBuilder>(
    rng: &mut impl rand::Rng,
    shape: Sh,
    std: f64,
) -> Array<R, Sh::Dim> {
    Array::from_shape_simple_fn(shape, || {
        let z: f64 = StandardNormal.sample(rng);
        R::from_f64(z * std)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a = gaussian::<f32, _>(&mut input_rng(3, 0), 64, 1.0);
        assert_eq!(a, gaussian::<f32, _>(&mut input_rng(3, 0), 64, 1.0));
        assert_ne!(a, gaussian::<f32, _>(&mut input_rng(3, 1), 64, 1.0));
        assert_ne!(a, gaussian::<f32, _>(&mut input_rng(4, 0), 64, 1.0));
        // Roughly standard normal: the mean of 4096 draws is within 5 standard errors of 0.
        let big = gaussian::<f64, _>(&mut rng(9), 4096, 1.0);
        let mean = big.sum() / 4096.0;
        let var = big.mapv(|v| (v - mean) * (v - mean)).sum() / 4095.0;
        assert!(mean.abs() < 5.0 / 64.0, "mean {mean}");
        assert!((var - 1.0).abs() < 0.15, "variance {var}");
    }
}
