//! Handles: typed indices into a graph's context.

use crate::shape::Shape;
use std::fmt;
use std::marker::PhantomData;

/// A typed index into the context of graph `B`: "entry `pos` has shape `S`".
///
/// Handles are minted only by a graph (for its inputs and for each node it appends), so holding a
/// `Var<S, B>` is the proof that the entry exists and has shape `S`. The brand `B` is a type unique
/// to one graph (`scale_graph!` declares one per invocation; by hand, use [`brand!`](crate::brand)),
/// so a handle from another graph is a type error. Ops take handles and check shapes through
/// their signatures — no type-level list is walked.
pub struct Var<S, B> {
    pos: usize,
    _p: PhantomData<fn() -> (S, B)>,
}

impl<S, B> Clone for Var<S, B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S, B> Copy for Var<S, B> {}

impl<S, B> fmt::Debug for Var<S, B>
where
    S: Shape,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Var(#{}: {})", self.pos, S::describe())
    }
}

impl<S, B> Var<S, B> {
    pub(crate) fn new(pos: usize) -> Self {
        Var {
            pos,
            _p: PhantomData,
        }
    }

    /// Position of the entry in the context `Γ ++ ss`.
    pub fn pos(self) -> usize {
        self.pos
    }
}

impl<S: Shape, B> Var<S, B> {
    /// The untyped argument record a node stores.
    pub fn arg(self) -> Arg {
        Arg {
            pos: self.pos,
            dims: S::DIMS,
        }
    }
}

/// An untyped argument of a node: a context position and the dimensions the node expects there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    /// Position in the context.
    pub pos: usize,
    /// Dimensions the node was typed against.
    pub dims: &'static [usize],
}

/// Declare a fresh brand type for a hand-built graph and return its value.
///
/// Every expansion site declares its own unit struct, so two graphs built at two different places
/// cannot exchange handles. (`scale_graph!` does this for you.)
///
/// ```
/// let brand = scale_core::brand!();
/// let other = scale_core::brand!();
/// // `brand` and `other` have different types.
/// # let _ = (brand, other);
/// ```
#[macro_export]
macro_rules! brand {
    () => {{
        #[derive(Debug)]
        struct Brand;
        Brand
    }};
}
