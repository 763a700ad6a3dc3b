//! The SPEC §3 predicates as checkers, reporting the first violating entry.

use crate::bound::Bound;
use crate::lists::{BList, EList, TList};
use crate::scalar::{Runtime, SpecScalar};
use ndarray::ArrayD;
use std::fmt;

/// Which predicate failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predicate {
    /// `approx(spec, runtime, eps)`.
    Approx,
    /// `scale(spec, runtime, B)`, spec side.
    ScaleSpec,
    /// `scale(spec, runtime, B)`, runtime side.
    ScaleRuntime,
    /// The spec and runtime tensors do not have the same shape (nothing was compared): a
    /// predicate over mismatched tensors is never taken to hold.
    Shape,
}

/// The first entry at which a predicate fails.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Which predicate.
    pub predicate: Predicate,
    /// Context position (0 for a single tensor).
    pub entry: usize,
    /// Multi-index of the element inside the tensor.
    pub index: Vec<usize>,
    /// The offending quantity: the distance `|spec − runtime|` (upper bound over the enclosure) or
    /// the magnitude.
    pub value: f64,
    /// The bound it exceeds.
    pub bound: f64,
    /// The runtime value there.
    pub runtime: f64,
    /// The spec enclosure there, `[lo, hi]`.
    pub spec: (f64, f64),
    /// With [`Predicate::Shape`]: the runtime tensor's shape (`index` then holds the spec's).
    pub runtime_shape: Vec<usize>,
}

/// The violation for tensors of different shapes, if they are.
fn shape_violation<S, R>(entry: usize, spec: &ArrayD<S>, rt: &ArrayD<R>) -> Result<(), Violation> {
    if spec.shape() == rt.shape() {
        return Ok(());
    }
    Err(Violation {
        predicate: Predicate::Shape,
        entry,
        index: spec.shape().to_vec(),
        value: f64::INFINITY,
        bound: 0.0,
        runtime: f64::NAN,
        spec: (f64::NAN, f64::NAN),
        runtime_shape: rt.shape().to_vec(),
    })
}

/// The violation for lists of different lengths, if they are.
fn length_violation(spec: usize, rt: usize, bounds: usize) -> Result<(), Violation> {
    if spec == rt && rt == bounds {
        return Ok(());
    }
    Err(Violation {
        predicate: Predicate::Shape,
        entry: spec.min(rt).min(bounds),
        index: vec![spec],
        value: f64::INFINITY,
        bound: 0.0,
        runtime: f64::NAN,
        spec: (f64::NAN, f64::NAN),
        runtime_shape: vec![rt],
    })
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.predicate == Predicate::Shape {
            return write!(
                f,
                "entry {}: spec has shape {:?} but runtime has shape {:?}",
                self.entry, self.index, self.runtime_shape
            );
        }
        write!(
            f,
            "{:?} violated at entry {} index {:?}: {:e} > bound {:e} (runtime {:e}, spec [{:e}, {:e}])",
            self.predicate,
            self.entry,
            self.index,
            self.value,
            self.bound,
            self.runtime,
            self.spec.0,
            self.spec.1
        )
    }
}

impl std::error::Error for Violation {}

pub(crate) fn multi_index(shape: &[usize], mut flat: usize) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[i] = flat % d;
            flat /= d;
        }
    }
    idx
}

/// `approx(spec, runtime, eps)` for one tensor: every element of the spec enclosure lies within
/// `eps` of the runtime element. A non-finite runtime value passes only against `eps = +∞`;
/// tensors of different shapes never pass.
///
/// ```
/// use ndarray::arr1;
/// use scale_core::{check, Bound, Interval};
/// let spec = arr1(&[Interval::new(0.75, 1.25)]).into_dyn();
/// let rt = arr1(&[1.0f32]).into_dyn();
/// assert!(check::approx(&spec, &rt, Bound::new(0.25)).is_ok());
/// assert!(check::approx(&spec, &rt, Bound::new(0.125)).is_err());
/// ```
pub fn approx<S: SpecScalar, R: Runtime>(
    spec: &ArrayD<S>,
    rt: &ArrayD<R>,
    eps: Bound,
) -> Result<(), Violation> {
    approx_at(0, spec, rt, eps)
}

fn approx_at<S: SpecScalar, R: Runtime>(
    entry: usize,
    spec: &ArrayD<S>,
    rt: &ArrayD<R>,
    eps: Bound,
) -> Result<(), Violation> {
    shape_violation(entry, spec, rt)?;
    if eps.is_infinite() {
        return Ok(());
    }
    for (i, (s, r)) in spec.iter().zip(rt.iter()).enumerate() {
        let r = r.to_spec();
        let d = if r.is_finite() {
            crate::round::sub_up(s.hi(), r).max(crate::round::sub_up(r, s.lo()))
        } else {
            f64::INFINITY
        };
        if !(d <= eps.get()) {
            return Err(Violation {
                predicate: Predicate::Approx,
                entry,
                index: multi_index(spec.shape(), i),
                value: d,
                bound: eps.get(),
                runtime: r,
                spec: (s.lo(), s.hi()),
                runtime_shape: Vec::new(),
            });
        }
    }
    Ok(())
}

/// `scale(spec, runtime, B)` for one tensor: both the spec enclosure and the runtime values are
/// bounded by `B` in magnitude.
pub fn scale<S: SpecScalar, R: Runtime>(
    spec: &ArrayD<S>,
    rt: &ArrayD<R>,
    b: Bound,
) -> Result<(), Violation> {
    scale_at(0, spec, rt, b)
}

fn scale_at<S: SpecScalar, R: Runtime>(
    entry: usize,
    spec: &ArrayD<S>,
    rt: &ArrayD<R>,
    b: Bound,
) -> Result<(), Violation> {
    shape_violation(entry, spec, rt)?;
    if b.is_infinite() {
        return Ok(());
    }
    for (i, (s, r)) in spec.iter().zip(rt.iter()).enumerate() {
        let r = r.to_spec();
        let ms = s.lo().abs().max(s.hi().abs());
        let (pred, v) = if !(ms <= b.get()) {
            (Predicate::ScaleSpec, ms)
        } else if !(r.abs() <= b.get()) {
            (Predicate::ScaleRuntime, r.abs())
        } else {
            continue;
        };
        return Err(Violation {
            predicate: pred,
            entry,
            index: multi_index(spec.shape(), i),
            value: v,
            bound: b.get(),
            runtime: r,
            spec: (s.lo(), s.hi()),
            runtime_shape: Vec::new(),
        });
    }
    Ok(())
}

/// `approx` entry by entry over a context.
pub fn approx_ctx<S: SpecScalar, R: Runtime, Ctx>(
    spec: &TList<S, Ctx>,
    rt: &TList<R, Ctx>,
    eps: &EList<Ctx>,
) -> Result<(), Violation> {
    length_violation(spec.len(), rt.len(), eps.len())?;
    for (i, ((s, r), &e)) in spec
        .as_slice()
        .iter()
        .zip(rt.as_slice())
        .zip(eps.as_slice())
        .enumerate()
    {
        approx_at(i, s, r, e)?;
    }
    Ok(())
}

/// `scale` entry by entry over a context.
pub fn scale_ctx<S: SpecScalar, R: Runtime, Ctx>(
    spec: &TList<S, Ctx>,
    rt: &TList<R, Ctx>,
    b: &BList<Ctx>,
) -> Result<(), Violation> {
    length_violation(spec.len(), rt.len(), b.len())?;
    for (i, ((s, r), &e)) in spec
        .as_slice()
        .iter()
        .zip(rt.as_slice())
        .zip(b.as_slice())
        .enumerate()
    {
        scale_at(i, s, r, e)?;
    }
    Ok(())
}
