//! Tolerances (SPEC §7): abs + rel with slack, and how they follow from `(eps, B)`.

use crate::bound::Bound;
use crate::round::{abs_diff_up, add_up, mul_up};
use crate::scalar::{Runtime, SpecScalar};
use ndarray::{ArrayBase, Data, Dimension, Zip};

/// An abs + rel tolerance with a slack factor: `|y − x| ≤ slack · (abs + rel · max(|x|, |y|))`.
///
/// ```
/// use scale_core::{ApproxTol, Bound};
/// let t = ApproxTol::from_eps_scale(Bound::new(1e-6), Bound::new(2.0));
/// assert_eq!((t.abs, t.rel, t.slack), (1e-6, 5e-7, 1.0));
/// assert!(t.approx_r(1.0, 1.0 + 1e-6));
/// assert!(!t.approx_r(1.0, 1.1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApproxTol {
    /// Absolute part (`atol`).
    pub abs: f64,
    /// Relative part (`rtol`).
    pub rel: f64,
    /// Multiplier on both (1 for derived tolerances).
    pub slack: f64,
}

impl ApproxTol {
    /// `{ abs: eps, rel: 0, slack: 1 }`.
    pub fn abs_only(eps: Bound) -> ApproxTol {
        ApproxTol {
            abs: eps.get(),
            rel: 0.0,
            slack: 1.0,
        }
    }

    /// SPEC's `tol_from_eps_scale(eps, B) = { abs: max(eps, 0), rel: eps / B (0 when B = 0),
    /// slack: 1 }`; always at least as loose as [`ApproxTol::abs_only`]. `rel` is rounded up.
    ///
    /// When `B` is at the underflow floor (≤ [`ApproxTol::FLOOR`], e.g. all-zero data, whose
    /// bounds carry only underflow slack such as `eps = 2e-300, B = 1e-300`), `eps / B` is a
    /// meaningless ratio, not a relative accuracy: `rel` is 0 there, which leaves the tolerance
    /// equal to `abs_only(eps)` and so just as sound.
    ///
    /// ```
    /// use scale_core::{ApproxTol, Bound};
    /// let t = ApproxTol::from_eps_scale(Bound::new(2e-300), Bound::new(1e-300));
    /// assert_eq!((t.abs, t.rel), (2e-300, 0.0));
    /// ```
    pub fn from_eps_scale(eps: Bound, b: Bound) -> ApproxTol {
        let rel = if b.get() <= Self::FLOOR {
            0.0
        } else {
            (eps / b).get()
        };
        ApproxTol {
            abs: eps.get(),
            rel,
            slack: 1.0,
        }
    }

    /// Scale bounds at or below this value (far below any runtime type's smallest normal, and the
    /// size of the underflow slack bound code adds) give `rel = 0` in
    /// [`ApproxTol::from_eps_scale`].
    pub const FLOOR: f64 = 1e-290;

    /// `slack · (abs + rel · max(|x|, |y|))`, rounded up.
    ///
    /// A zero factor wins over an infinite one (`rel = +∞` arises from `eps / B` with a tiny `B`):
    /// `∞ · 0` is taken as 0, never NaN, so the bound stays at least `abs` — a NaN bound would
    /// reject every difference and make [`ApproxTol::from_eps_scale`] tighter than
    /// [`ApproxTol::abs_only`].
    ///
    /// ```
    /// use scale_core::{ApproxTol, Bound};
    /// let t = ApproxTol { abs: 0.1, rel: f64::INFINITY, slack: 1.0 };
    /// assert_eq!(t.approx_bound(0.0, 0.0), 0.1);
    /// assert!(t.approx_r(0.0, 0.05));
    /// ```
    pub fn approx_bound(&self, x: f64, y: f64) -> f64 {
        let m = x.abs().max(y.abs());
        let inner = if self.rel == 0.0 || m == 0.0 {
            self.abs
        } else {
            add_up(self.abs, mul_up(self.rel, m))
        };
        if self.slack == 1.0 {
            inner
        } else if self.slack == 0.0 || inner == 0.0 {
            0.0
        } else {
            mul_up(self.slack, inner)
        }
    }

    /// Scalar check: `|y − x| ≤ approx_bound(x, y)` (the difference is rounded up, so a pass is
    /// never due to rounding in the check itself).
    pub fn approx_r(&self, x: f64, y: f64) -> bool {
        if x == y {
            return true;
        }
        abs_diff_up(x, y) <= self.approx_bound(x, y)
    }

    /// Tensor check against a spec tensor: `linf(spec − runtime) ≤ approx_bound(linf(spec),
    /// linf(runtime))`, with interval specs measured at their farthest point.
    pub fn approx_tensor<S, R, D, A, Bd>(
        &self,
        spec: &ArrayBase<A, D>,
        rt: &ArrayBase<Bd, D>,
    ) -> bool
    where
        S: SpecScalar,
        R: Runtime,
        D: Dimension,
        A: Data<Elem = S>,
        Bd: Data<Elem = R>,
    {
        let (mut diff, mut ls, mut lr) = (0.0f64, 0.0f64, 0.0f64);
        let mut finite = true;
        Zip::from(spec).and(rt).for_each(|&s, &r| {
            let r = r.to_spec();
            finite &= r.is_finite();
            diff = diff.max(abs_diff_up(s.hi(), r).max(abs_diff_up(s.lo(), r)));
            ls = ls.max(s.lo().abs().max(s.hi().abs()));
            lr = lr.max(r.abs());
        });
        if !finite || diff.is_nan() {
            return self.approx_bound(ls, lr).is_infinite();
        }
        diff <= self.approx_bound(ls, lr)
    }
}

/// SPEC's `approx_bound(t, x, y)`.
pub fn approx_bound(t: &ApproxTol, x: f64, y: f64) -> f64 {
    t.approx_bound(x, y)
}

/// SPEC's `approx_r(x, y, t)`.
pub fn approx_r(x: f64, y: f64, t: &ApproxTol) -> bool {
    t.approx_r(x, y)
}

/// SPEC's `tol_from_eps_scale(eps, B)`.
pub fn tol_from_eps_scale(eps: Bound, b: Bound) -> ApproxTol {
    ApproxTol::from_eps_scale(eps, b)
}

/// SPEC's `abs_only(eps)`.
pub fn abs_only(eps: Bound) -> ApproxTol {
    ApproxTol::abs_only(eps)
}
