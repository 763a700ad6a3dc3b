//! [`Est`]: the probabilistic rounding-error model of Higham & Mary (2019), first order — an
//! **estimate, not a bound**.
//!
//! Every rounding of a conforming run in `R` is modelled as `fl(z) = z(1 + δ)` with the `δ`
//! independent, mean zero and `|δ| ≤ u`. To first order the error of a result is then a linear
//! form `Σ cᵢδᵢ` in those `δ`, and Hoeffding's inequality gives
//! `P(|Σ cᵢδᵢ| > λ·u·√(Σcᵢ²)) ≤ 2·exp(−λ²/2)` — for sums and dot products of length `n` this is
//! Higham & Mary's `λ·√n·u` in place of the worst case `γₙ = n·u/(1 − n·u)`. An [`Est`] carries
//! the midpoint `m` and the variance proxy `v = Σ (cᵢu)²` of its error; the mode reports
//! `λ·√v` per entry with [`LAMBDA`] = 6 (per entry, the estimate fails with probability at most
//! `2e⁻¹⁸ ≈ 3·10⁻⁸` under the model).
//!
//! What makes it *not* a bound: the `δ` of real kernels are neither independent nor mean zero
//! (e.g. summing many equal terms), second-order terms are dropped, errors of one value reused
//! twice are treated as independent, kinks follow the midpoint's branch (no mask flips), and
//! elementary functions' errors are modelled like roundings. Use it to see the typical error of a
//! deep model, never as a tolerance that must not fail; the foreign-kernel suite reports how
//! often real runs exceed it.
//!
//! ```
//! use scale_core::{Est, SpecScalar};
//! // Summing 10⁴ terms: the estimate grows like √n·u, the worst case like n·u.
//! let s = <Est<f32> as SpecScalar>::sum((0..10_000).map(|i| Est::<f32>::from_f64(1.0 + i as f64)));
//! let worst = 9_999.0 * 2f64.powi(-24) * s.mid(); // γₙ·Σ|tᵢ|, about
//! assert!(s.estimate() * 10.0 < worst);
//! ```

use super::elementary::{assumed_ulps, exp64};
use super::{Runtime, SpecScalar};
use ndarray::{Array2, ArrayView2, Zip};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// The confidence parameter `λ` of the estimate mode: per entry, under the model, the estimate
/// fails with probability at most `2·exp(−λ²/2)`.
pub const LAMBDA: f64 = 6.0;

/// Midpoint and error-variance proxy of one entry under the probabilistic model (see the
/// [module documentation](self)).
pub struct Est<R> {
    m: f64,
    v: f64,
    _r: PhantomData<fn() -> R>,
}

impl<R> Clone for Est<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for Est<R> {}

impl<R> fmt::Debug for Est<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "est⟨{:e} ~ σ {:e}⟩", self.m, self.v.sqrt())
    }
}

impl<R> Default for Est<R> {
    fn default() -> Self {
        Est::of(0.0, 0.0)
    }
}

impl<R> Est<R> {
    #[inline]
    fn of(m: f64, v: f64) -> Self {
        // A non-finite midpoint or variance is "unknown": keep it NaN/∞ so it is reported +∞.
        Est {
            m,
            v: if m.is_finite() { v } else { f64::INFINITY },
            _r: PhantomData,
        }
    }

    /// A value `m` whose error has standard-deviation proxy `sigma`.
    pub fn new(m: f64, sigma: f64) -> Self {
        Est::of(m, sigma * sigma)
    }

    /// `√v`: the error's standard-deviation proxy (`u·√(Σcᵢ²)`).
    pub fn sigma(self) -> f64 {
        self.v.sqrt()
    }

    /// The estimated error `λ·√v` (not a bound).
    pub fn estimate(self) -> f64 {
        LAMBDA * self.sigma()
    }
}

impl<R: Runtime> Est<R> {
    /// A result `m` whose propagated variance is `v`, plus one rounding of `R`.
    #[inline]
    fn rounded(m: f64, v: f64) -> Self {
        let r = R::U * m;
        Est::of(m, v + r * r)
    }

    /// A stored result: one more rounding of `R` (an implementation computing in a wider type
    /// rounds once when it stores).
    #[inline]
    pub(crate) fn stored(self) -> Self {
        Self::rounded(self.m, self.v)
    }

    /// An elementary function of `R` (modelled as a rounding of [`assumed_ulps`] ulps).
    #[inline]
    fn elementary(y: f64, v: f64) -> Self {
        let r = 2.0 * assumed_ulps() * R::U * y;
        Est::of(y, v + r * r)
    }
}

impl<R: Runtime> Add for Est<R> {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        if o.m == 0.0 && o.v == 0.0 {
            return self;
        }
        if self.m == 0.0 && self.v == 0.0 {
            return o;
        }
        Self::rounded(self.m + o.m, self.v + o.v)
    }
}

impl<R: Runtime> Sub for Est<R> {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        self + (-o)
    }
}

impl<R: Runtime> Neg for Est<R> {
    type Output = Self;
    fn neg(self) -> Self {
        Est::of(-self.m, self.v)
    }
}

impl<R: Runtime> Mul for Est<R> {
    type Output = Self;
    fn mul(self, o: Self) -> Self {
        let v = o.m * o.m * self.v + self.m * self.m * o.v;
        let exact = |x: Self| x.v == 0.0 && (x.m == 0.0 || x.m.abs() == 1.0);
        if exact(self) || exact(o) {
            return Est::of(self.m * o.m, v);
        }
        Self::rounded(self.m * o.m, v)
    }
}

impl<R: Runtime> Div for Est<R> {
    type Output = Self;
    fn div(self, o: Self) -> Self {
        let q = self.m / o.m;
        let v = (self.v + q * q * o.v) / (o.m * o.m);
        if o.v == 0.0 && o.m == 1.0 {
            return self;
        }
        Self::rounded(q, v)
    }
}

impl<R: Runtime> SpecScalar for Est<R> {
    // Adding a first contribution to zero rounds nothing.
    const MOVES_INTO_ZERO: bool = true;
    const NAME: &'static str = "estimate";
    const RIGOROUS: bool = false;
    const MODELS_RUNTIME: bool = true;

    /// A spec constant, used rounded to `R` by a runtime: that rounding is one more `δ`.
    fn from_f64(x: f64) -> Self {
        let r = R::from_f64(x).to_spec();
        let d = r - x;
        Est::of(x, d * d)
    }
    fn from_runtime<Q: Runtime>(x: Q) -> Self {
        Est::of(x.to_spec(), 0.0)
    }
    fn lo(self) -> f64 {
        self.m - self.estimate()
    }
    fn hi(self) -> f64 {
        self.m + self.estimate()
    }
    fn mid(self) -> f64 {
        self.m
    }
    /// Either value: the estimate keeps the one with the larger error.
    fn hull(self, o: Self) -> Self {
        if o.v > self.v { o } else { self }
    }
    /// The midpoint's branch (an estimate does not flip masks).
    fn select_pos(self, a: Self, b: Self) -> Self {
        if self.m > 0.0 { a } else { b }
    }
    fn abs(self) -> Self {
        Est::of(self.m.abs(), self.v)
    }
    fn max(self, o: Self) -> Self {
        if o.m > self.m { o } else { self }
    }
    fn exp(self) -> Self {
        let y = exp64(self.m);
        Self::elementary(y, y * y * self.v)
    }
    fn ln(self) -> Self {
        if !(self.m > 0.0) {
            return Est::of(f64::NAN, f64::INFINITY);
        }
        Self::elementary(self.m.ln(), self.v / (self.m * self.m))
    }
    fn tanh(self) -> Self {
        let y = self.m.tanh();
        let d = 1.0 - y * y;
        Self::elementary(y, d * d * self.v)
    }
    fn sigmoid(self) -> Self {
        Self::one() / (Self::one() + (-self).exp())
    }
    fn softplus(self) -> Self {
        let y = <f64 as SpecScalar>::softplus(self.m);
        let s = <f64 as SpecScalar>::sigmoid(self.m);
        let e = 2.0 * assumed_ulps() * R::U;
        Self::elementary(y, s * s * self.v + e * e)
    }
    fn square(self) -> Self {
        Self::rounded(self.m * self.m, 4.0 * self.m * self.m * self.v)
    }
    /// First order: `√x` carries `v/(4x)` of the argument's variance, plus one rounding; at 0
    /// the derivative is unbounded, so any argument error makes the estimate infinite.
    fn sqrt(self) -> Self {
        if !(self.m >= 0.0) {
            return Est::of(f64::NAN, f64::INFINITY);
        }
        if self.m == 0.0 {
            return Est::of(0.0, if self.v == 0.0 { 0.0 } else { f64::INFINITY });
        }
        let y = self.m.sqrt();
        Self::rounded(y, self.v / (4.0 * self.m))
    }
    fn erf(self) -> Self {
        let d = std::f64::consts::FRAC_2_SQRT_PI * exp64(-(self.m * self.m));
        Self::elementary(libm::erf(self.m), d * d * self.v)
    }
    fn erfc(self) -> Self {
        let d = std::f64::consts::FRAC_2_SQRT_PI * exp64(-(self.m * self.m));
        Self::elementary(libm::erfc(self.m), d * d * self.v)
    }

    /// Higham–Mary: a sum of `n` terms in any order carries `≤ (n − 1)` roundings of partial
    /// sums bounded by `Σ|tᵢ|`, so its variance proxy is `(n − 1)·(u·Σ|tᵢ|)²`.
    fn sum<I: IntoIterator<Item = Self>>(it: I) -> Self {
        let (mut m, mut v, mut mags, mut n) = (0.0f64, 0.0f64, 0.0f64, 0usize);
        for x in it {
            if x.m == 0.0 && x.v == 0.0 {
                continue;
            }
            m += x.m;
            v += x.v;
            mags += x.m.abs();
            n += 1;
        }
        let r = R::U * mags;
        Est::of(m, v + n.saturating_sub(1) as f64 * r * r)
    }

    /// `A·B`: midpoints by an `f64` GEMM; variance `(A∘A)·v_B + v_A·(B∘B)` propagated and
    /// `k·(u·|A||B|)²` for the products and sums of any order (Higham–Mary's `√k·u`).
    fn matmul(a: ArrayView2<'_, Self>, b: ArrayView2<'_, Self>) -> Array2<Self> {
        let k = a.ncols() as f64;
        let am = a.mapv(|x| x.m);
        let bm = b.mapv(|x| x.m);
        let (a2, b2) = (am.mapv(|x| x * x), bm.mapv(|x| x * x));
        let (av, bv) = (a.mapv(|x| x.v), b.mapv(|x| x.v));
        let mm = crate::kernel::matmul(am.view(), bm.view());
        let mag = crate::kernel::matmul(am.mapv(f64::abs).view(), bm.mapv(f64::abs).view());
        let v1 = crate::kernel::matmul(a2.view(), bv.view());
        let v2 = crate::kernel::matmul(av.view(), b2.view());
        let mut out = Array2::<Self>::default(mm.raw_dim());
        Zip::from(&mut out)
            .and(&mm)
            .and(&mag)
            .and(&v1)
            .and(&v2)
            .for_each(|o, &m, &g, &p, &q| {
                let r = R::U * g;
                *o = Est::of(m, p + q + k * r * r);
            });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The estimate of a long f32 sum is far below the worst case and, on random data, above
    /// the actual error of the sequential order.
    #[test]
    fn sum_estimate_between_typical_and_worst() {
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let t: Vec<f64> = (0..4096).map(|_| (next() as f32) as f64).collect();
        let s = Est::<f32>::sum(t.iter().map(|&x| Est::from_f64(x)));
        let exact: f64 = t.iter().sum();
        let seq = t.iter().fold(0.0f32, |a, &x| a + x as f32) as f64;
        let worst = 4095.0 * <f32 as Runtime>::U * t.iter().map(|x| x.abs()).sum::<f64>();
        assert!(
            (seq - exact).abs() <= s.estimate(),
            "{} > {}",
            seq - exact,
            s.estimate()
        );
        assert!(s.estimate() * 10.0 < worst);
    }
}
