//! `assert_close` for users' own tests, with tolerances derived from bounds.

use crate::round::abs_diff_up;
use crate::scalar::Runtime;
use crate::tolerance::ApproxTol;
use ndarray::{ArrayBase, Data, Dimension};
use std::fmt;

/// A failed comparison: the first element outside the tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseError {
    /// Name of the graph value (or gradient) the tolerance came from.
    pub name: String,
    /// Multi-index of the element.
    pub index: Vec<usize>,
    /// The tested value there.
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
        if let Some((a, e)) = &self.shapes {
            return write!(
                f,
                "`{}`: actual has shape {a:?}, expected has shape {e:?}",
                self.name
            );
        }
        write!(
            f,
            "`{}`{:?}: actual {:e} vs expected {:e}, |diff| = {:e} > allowed {:e} \
             (atol {:e}, rtol {:e}, derived from the bounds of `{}`)",
            self.name,
            self.index,
            self.actual,
            self.expected,
            self.diff,
            self.allowed,
            self.tol.abs,
            self.tol.rel,
            self.name
        )
    }
}

impl std::error::Error for CloseError {}

/// Compare `actual` with `expected` elementwise: `|a − e| ≤ slack·(atol + rtol·max(|a|, |e|))`.
/// A non-finite element passes only against an infinite tolerance.
///
/// ```
/// use ndarray::arr1;
/// use scale_core::report::check_close;
/// use scale_core::ApproxTol;
/// let tol = ApproxTol { abs: 1e-6, rel: 0.0, slack: 1.0 };
/// assert!(check_close("h", &arr1(&[1.0f32]), &arr1(&[1.0000005f64]), tol).is_ok());
/// let err = check_close("h", &arr1(&[1.0f32, 2.0]), &arr1(&[1.0f64, 2.1]), tol).unwrap_err();
/// assert_eq!(err.index, vec![1]);
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
    let shape = actual.shape().to_vec();
    if shape != expected.shape() {
        return Err(Box::new(CloseError {
            name: name.to_string(),
            index: Vec::new(),
            actual: f64::NAN,
            expected: f64::NAN,
            diff: f64::INFINITY,
            allowed: 0.0,
            tol,
            shapes: Some((shape, expected.shape().to_vec())),
        }));
    }
    for (flat, (&a, &e)) in actual.iter().zip(expected.iter()).enumerate() {
        let (a, e) = (a.to_spec(), e.to_spec());
        let allowed = tol.approx_bound(a, e);
        let ok = if a.is_finite() && e.is_finite() {
            a == e || abs_diff_up(a, e) <= allowed
        } else {
            allowed.is_infinite() || a == e
        };
        if !ok {
            return Err(Box::new(CloseError {
                name: name.to_string(),
                index: crate::check::multi_index(&shape, flat),
                actual: a,
                expected: e,
                diff: abs_diff_up(a, e),
                allowed,
                tol,
                shapes: None,
            }));
        }
    }
    Ok(())
}

/// [`check_close`] that panics with the full message (for tests).
///
/// # Panics
/// When an element is outside the tolerance; the message names the element, both values, the
/// tolerance and the graph value it came from.
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
