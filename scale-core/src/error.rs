//! The crate's error type: bad data gives a typed error, never a panic.

use crate::shape::describe_dims;
use std::fmt;

/// What went wrong with data handed to scale-core.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A tensor does not have the dimensions its context entry requires.
    ShapeMismatch {
        /// Context position (or argument index) of the tensor.
        entry: usize,
        /// Dimensions the context requires.
        expected: Vec<usize>,
        /// Dimensions that were given.
        found: Vec<usize>,
    },
    /// A named graph input (of a `scale_graph!` model) does not have the dimensions it was
    /// declared with.
    InputShape {
        /// The input's name.
        name: String,
        /// Dimensions it was declared with.
        expected: Vec<usize>,
        /// Dimensions that were given.
        found: Vec<usize>,
    },
    /// A list has the wrong number of entries for its context.
    LengthMismatch {
        /// Entries the context has.
        expected: usize,
        /// Entries that were given.
        found: usize,
    },
    /// A configuration value is out of range.
    InvalidConfig(String),
    /// An op's constant parameter (e.g. `scale`'s `c`, `leaky_relu`'s `a`) is NaN or infinite:
    /// no sound bound could be derived from it.
    InvalidConstant {
        /// The op.
        op: &'static str,
        /// The parameter's name.
        param: &'static str,
        /// The value given.
        value: f64,
    },
    /// A trace (SPEC §11's trace mode) does not fit the model: a required name is missing, a
    /// name is unknown, a shape is wrong, an input is not a value of the runtime type, or a file
    /// could not be read.
    Trace {
        /// The name (or file) concerned.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An optimizer's hyper-parameter is out of its range (NaN, a negative learning rate, a β
    /// outside `[0, 1)`, …): the update it defines is not the one PyTorch computes, or none.
    InvalidHyperparameter {
        /// The optimizer (`sgd`, `momentum`, `adamw`).
        optimizer: &'static str,
        /// The hyper-parameter's name.
        param: &'static str,
        /// The value given.
        value: f64,
        /// The range it must lie in.
        range: &'static str,
    },
}

impl Error {
    /// The same error with context positions replaced by the names of `names` (a model's input
    /// names): `entry 1` becomes ``input `w1` ``.
    pub fn named(self, names: &[&str]) -> Error {
        match self {
            Error::ShapeMismatch {
                entry,
                expected,
                found,
            } => match names.get(entry) {
                Some(n) => Error::InputShape {
                    name: (*n).to_string(),
                    expected,
                    found,
                },
                None => Error::ShapeMismatch {
                    entry,
                    expected,
                    found,
                },
            },
            other => other,
        }
    }
}

/// A constant parameter as an op may use it: finite, or a typed error.
pub(crate) fn finite_constant(
    op: &'static str,
    param: &'static str,
    value: f64,
) -> Result<f64, Error> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::InvalidConstant { op, param, value })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ShapeMismatch {
                entry,
                expected,
                found,
            } => write!(
                f,
                "entry {entry}: expected shape {}, found {}",
                describe_dims(expected),
                describe_dims(found)
            ),
            Error::InputShape {
                name,
                expected,
                found,
            } => write!(
                f,
                "input `{name}`: expected shape {}, found {}",
                describe_dims(expected),
                describe_dims(found)
            ),
            Error::LengthMismatch { expected, found } => {
                write!(f, "expected {expected} entries, found {found}")
            }
            Error::InvalidConfig(msg) => f.write_str(msg),
            Error::InvalidConstant { op, param, value } => write!(
                f,
                "`{op}`: the constant `{param}` must be a finite number, got {value}"
            ),
            Error::Trace { name, problem } => write!(f, "trace: `{name}`: {problem}"),
            Error::InvalidHyperparameter {
                optimizer,
                param,
                value,
                range,
            } => write!(f, "`{optimizer}`: `{param}` must be {range}, got {value}"),
        }
    }
}

impl std::error::Error for Error {}
