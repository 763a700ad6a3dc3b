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
    /// A list has the wrong number of entries for its context.
    LengthMismatch {
        /// Entries the context has.
        expected: usize,
        /// Entries that were given.
        found: usize,
    },
    /// A configuration value is out of range.
    InvalidConfig(String),
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
            Error::LengthMismatch { expected, found } => {
                write!(f, "expected {expected} entries, found {found}")
            }
            Error::InvalidConfig(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}
