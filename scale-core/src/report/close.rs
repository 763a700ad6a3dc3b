//! `assert_close` for users' own tests, with tolerances derived from bounds.

use crate::round::abs_diff_up;
use crate::scalar::Runtime;
use crate::tolerance::ApproxTol;
use ndarray::{ArrayBase, Data, Dimension};
use std::fmt;

/// Why a comparison failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseFailure {
    /// `|actual − expected|` exceeds what the tolerance allows.
    Exceeds,
    /// The tolerance allows an infinite (or undefined) difference there, so the comparison
    /// would pass anything: a blind check fails unless [`CloseOptions::accept_unbounded`] says
    /// otherwise.
    Unbounded,
    /// A value is NaN or ±∞ under a finite tolerance (a non-finite value has no finite
    /// tolerance, SPEC §5: even `∞ == ∞` is not "close").
    NonFinite,
    /// The two arrays have different shapes (nothing was compared).
    Shape,
}

/// A failed comparison: the first element outside the tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseError {
    /// Why it failed.
    pub failure: CloseFailure,
    /// Name of the graph value (or gradient) the tolerance came from.
    pub name: String,
    /// Multi-index of the element.
    pub index: Vec<usize>,
    /// The tested value there (full precision; the message rounds it).
    pub actual: f64,
    /// The reference value there.
    pub expected: f64,
    /// `|actual − expected|` (rounded up).
    pub diff: f64,
    /// What the tolerance allows there.
    pub allowed: f64,
    /// The tolerance used.
    pub tol: ApproxTol,
    /// `(actual, expected)` shapes when they differ (then no element was compared).
    pub shapes: Option<(Vec<usize>, Vec<usize>)>,
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        match self.failure {
            CloseFailure::Shape => {
                let (a, e) = self.shapes.clone().unwrap_or_default();
                write!(
                    f,
                    "`{name}`: actual has shape {a:?}, expected has shape {e:?}"
                )
            }
            CloseFailure::Unbounded => write!(
                f,
                "cannot check `{name}`{:?}: its tolerance is unbounded there (atol {:.3e}, rtol \
                 {:.3e}), so any value would pass. The bound of `{name}` is +∞ because something \
                 it is computed from is not finite (a NaN or ±∞ input or overflow) or a \
                 precondition is not certain (e.g. `log` of a value within eps of 0). Pass \
                 `CloseOptions {{ accept_unbounded: true }}` to `check_close_with` to accept \
                 that.",
                self.index, self.tol.abs, self.tol.rel
            ),
            CloseFailure::NonFinite | CloseFailure::Exceeds => write!(
                f,
                "`{name}`{:?}: actual {:.6e} vs expected {:.6e}, |diff| = {:.3e} > allowed \
                 {:.3e} (atol {:.3e}, rtol {:.3e}, derived from the bounds of `{name}`){}",
                self.index,
                self.actual,
                self.expected,
                self.diff,
                self.allowed,
                self.tol.abs,
                self.tol.rel,
                if self.failure == CloseFailure::NonFinite {
                    "; a value that is not finite matches nothing under a finite tolerance"
                } else {
                    ""
                }
            ),
        }
    }
}

impl std::error::Error for CloseError {}

/// Options of [`check_close_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CloseOptions {
    /// Let an element whose tolerance is unbounded (`+∞`) pass, whatever the values. Off by
    /// default: a check under an infinite tolerance proves nothing, so it fails and says why.
    pub accept_unbounded: bool,
}

/// Compare `actual` with `expected` elementwise: `|a − e| ≤ slack·(atol + rtol·max(|a|, |e|))`.
///
/// Fails (with a [`CloseFailure`] saying why) on the first element outside the tolerance, on an
/// element whose tolerance is unbounded (a blind check), on a non-finite value under a finite
/// tolerance, and on arrays of different shapes.
///
/// ```
/// use ndarray::arr1;
/// use scale_core::report::{check_close, CloseFailure};
/// use scale_core::ApproxTol;
/// let tol = ApproxTol { abs: 1e-6, rel: 0.0, slack: 1.0 };
/// assert!(check_close("h", &arr1(&[1.0f32]), &arr1(&[1.0000005f64]), tol).is_ok());
/// let err = check_close("h", &arr1(&[1.0f32, 2.0]), &arr1(&[1.0f64, 2.1]), tol).unwrap_err();
/// assert_eq!(err.index, vec![1]);
/// // An unbounded tolerance does not pass blind.
/// let blind = ApproxTol { abs: f64::INFINITY, rel: 0.0, slack: 1.0 };
/// let err = check_close("o", &arr1(&[123.0f32]), &arr1(&[0.358f64]), blind).unwrap_err();
/// assert_eq!(err.failure, CloseFailure::Unbounded);
/// ```
pub fn check_close<R, E, A, B, D>(
    name: &str,
    actual: &ArrayBase<A, D>,
    expected: &ArrayBase<B, D>,
    tol: ApproxTol,
) -> Result<(), Box<CloseError>>
where
    R: Runtime,
    E: Runtime,
    A: Data<Elem = R>,
    B: Data<Elem = E>,
    D: Dimension,
{
    check_close_with(name, actual, expected, tol, CloseOptions::default())
}

/// [`check_close`] with [`CloseOptions`] (e.g. accepting unbounded tolerances explicitly).
///
/// ```
/// use ndarray::arr1;
/// use scale_core::report::{check_close_with, CloseOptions};
/// use scale_core::ApproxTol;
/// let blind = ApproxTol { abs: f64::INFINITY, rel: 0.0, slack: 1.0 };
/// let opts = CloseOptions { accept_unbounded: true };
/// assert!(check_close_with("o", &arr1(&[f32::NAN]), &arr1(&[0.5f64]), blind, opts).is_ok());
/// ```
pub fn check_close_with<R, E, A, B, D>(
    name: &str,
    actual: &ArrayBase<A, D>,
    expected: &ArrayBase<B, D>,
    tol: ApproxTol,
    opts: CloseOptions,
) -> Result<(), Box<CloseError>>
where
    R: Runtime,
    E: Runtime,
    A: Data<Elem = R>,
    B: Data<Elem = E>,
    D: Dimension,
{
    let shape = actual.shape().to_vec();
    let fail = |failure, index, a: f64, e: f64, allowed| {
        Box::new(CloseError {
            failure,
            name: name.to_string(),
            index,
            actual: a,
            expected: e,
            diff: abs_diff_up(a, e),
            allowed,
            tol,
            shapes: None,
        })
    };
    if shape != expected.shape() {
        let mut err = fail(CloseFailure::Shape, Vec::new(), f64::NAN, f64::NAN, 0.0);
        err.shapes = Some((shape, expected.shape().to_vec()));
        return Err(err);
    }
    for (flat, (&a, &e)) in actual.iter().zip(expected.iter()).enumerate() {
        let (a, e) = (a.to_spec(), e.to_spec());
        let allowed = tol.approx_bound(a, e);
        let failure = if !allowed.is_finite() {
            // NaN counts as unbounded too: it is no limit at all.
            (!opts.accept_unbounded).then_some(CloseFailure::Unbounded)
        } else if !(a.is_finite() && e.is_finite()) {
            Some(CloseFailure::NonFinite)
        } else if a == e || abs_diff_up(a, e) <= allowed {
            None
        } else {
            Some(CloseFailure::Exceeds)
        };
        if let Some(failure) = failure {
            let index = crate::check::multi_index(&shape, flat);
            return Err(fail(failure, index, a, e, allowed));
        }
    }
    Ok(())
}

/// [`check_close`] that panics with the full message (for tests); the panic points at the
/// caller.
///
/// # Panics
/// When [`check_close`] fails; the message names the element, both values, the tolerance and the
/// graph value it came from.
#[track_caller]
pub fn assert_close<R, E, A, B, D>(
    name: &str,
    actual: &ArrayBase<A, D>,
    expected: &ArrayBase<B, D>,
    tol: ApproxTol,
) where
    R: Runtime,
    E: Runtime,
    A: Data<Elem = R>,
    B: Data<Elem = E>,
    D: Dimension,
{
    if let Err(e) = check_close(name, actual, expected, tol) {
        panic!("assert_close failed: {e}");
    }
}
