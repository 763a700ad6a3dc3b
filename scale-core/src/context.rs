//! Type-level contexts (SPEC §2): lists of shapes, `++`, and the handle tuples that fill them.
//!
//! A context is a **segmented snoc list**: [`Nil`] is empty, and [`Seg<Init, (S1, …, Sk)>`](Seg)
//! is `Init ++ [S1, …, Sk]` for a tuple of 1 to 64 shapes. [`Snoc<Init, S>`](Snoc) is the
//! one-entry segment. Hand-built graphs grow their `ss` one [`Snoc`] per node; `scale_graph!`
//! seals nodes in segments of up to 64, so the nesting depth of a graph's type is about N/64
//! (the notes in `shared/notes/typelevel-encodings.md` measured why per-node growth of a long
//! list, or any trait that walks it once per node, does not scale).
//!
//! No trait walks a context per node: shapes are checked through handles ([`Var`]); the list
//! traits here ([`ShapeList`], [`Append`]) recurse once per *segment* and are only used on the
//! finished graph type.
//!
//! ```
//! use scale_core::context::{Concat, Nil, Seg, ShapeList, Snoc};
//! use scale_core::{Rank0, Rank1, Rank2};
//! type Gamma = Seg<Nil, (Rank1<3>, Rank2<2, 3>)>;
//! type Ss = Snoc<Snoc<Nil, Rank1<2>>, Rank0>;
//! type Ctx = Concat<Gamma, Ss>; // Γ ++ ss, computed by rustc
//! assert_eq!(<Ctx as ShapeList>::LEN, 4);
//! assert_eq!(<Ctx as ShapeList>::dims(), vec![&[3][..], &[2, 3], &[2], &[]]);
//! ```

use crate::handle::{Arg, Var};
use crate::shape::Shape;
use std::marker::PhantomData;

/// The empty context.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nil;

/// `Init ++ T`, where `T` is a tuple of 1 to 64 shapes (a segment).
pub struct Seg<Init, T>(PhantomData<fn() -> (Init, T)>);

/// `Init ++ [S]`.
pub type Snoc<Init, S> = Seg<Init, (S,)>;

/// A tuple of shapes, one segment of a context.
pub trait ShapeTuple: 'static {
    /// Number of shapes in the tuple.
    const LEN: usize;
    /// Handles to the tuple's entries in graph `B`.
    type Vars<B>;
    /// Append the dimensions of each entry.
    fn push_dims(out: &mut Vec<&'static [usize]>);
    /// Mint handles for entries at positions `start, start + 1, …`.
    #[doc(hidden)]
    fn vars<B>(start: usize) -> Self::Vars<B>;
}

/// A type-level list of shapes.
pub trait ShapeList: 'static {
    /// Number of entries.
    const LEN: usize;
    /// Handles to every entry, in graph `B` (nested per segment).
    type Vars<B>;
    /// Append the dimensions of each entry, first to last.
    fn push_dims(out: &mut Vec<&'static [usize]>);
    /// The dimensions of each entry, first to last.
    fn dims() -> Vec<&'static [usize]> {
        let mut v = Vec::with_capacity(Self::LEN);
        Self::push_dims(&mut v);
        v
    }
    #[doc(hidden)]
    fn vars<B>(start: usize) -> Self::Vars<B>;
}

impl ShapeList for Nil {
    const LEN: usize = 0;
    type Vars<B> = ();
    fn push_dims(_: &mut Vec<&'static [usize]>) {}
    fn vars<B>(_: usize) {}
}

impl<T: ShapeTuple> ShapeList for Seg<Nil, T> {
    const LEN: usize = T::LEN;
    type Vars<B> = T::Vars<B>;
    fn push_dims(out: &mut Vec<&'static [usize]>) {
        T::push_dims(out)
    }
    fn vars<B>(start: usize) -> Self::Vars<B> {
        T::vars(start)
    }
}

impl<I2, T2, T: ShapeTuple> ShapeList for Seg<Seg<I2, T2>, T>
where
    Seg<I2, T2>: ShapeList,
{
    const LEN: usize = <Seg<I2, T2> as ShapeList>::LEN + T::LEN;
    type Vars<B> = (<Seg<I2, T2> as ShapeList>::Vars<B>, T::Vars<B>);
    fn push_dims(out: &mut Vec<&'static [usize]>) {
        <Seg<I2, T2> as ShapeList>::push_dims(out);
        T::push_dims(out)
    }
    fn vars<B>(start: usize) -> Self::Vars<B> {
        let init = <Seg<I2, T2> as ShapeList>::vars(start);
        (init, T::vars(start + <Seg<I2, T2> as ShapeList>::LEN))
    }
}

/// `Self ++ Rhs` as a type-level function (recurses once per segment of `Rhs`).
#[diagnostic::on_unimplemented(message = "`{Rhs}` is not a context (a `Nil`/`Seg` list of shapes)")]
pub trait Append<Rhs> {
    /// The concatenated list.
    type Output;
}
impl<L> Append<Nil> for L {
    type Output = L;
}
impl<L: Append<I>, I, T> Append<Seg<I, T>> for L {
    type Output = Seg<<L as Append<I>>::Output, T>;
}

/// `A ++ B`.
pub type Concat<A, B> = <A as Append<B>>::Output;

/// A context whose entries are known only at run time.
///
/// [`Builder::seal_dyn`](crate::Builder::seal_dyn) gives a graph `ss = Dyn` when the node
/// sequence is chosen at run time (random graph generators, graphs loaded from data). Every node
/// is still built from typed handles, so each node is shape-checked by rustc as usual; only the
/// *list* of output shapes is absent from the type. `L ++ Dyn = Dyn`: lists over such a context
/// are checked against the graph's dimensions at run time (see
/// [`Graph::context_list`](crate::Graph::context_list)).
///
/// ```
/// use scale_core::context::{Dyn, Nil, Seg};
/// use scale_core::{ops, Rank1, RevGraphScale};
/// type Gamma = Seg<Nil, (Rank1<4>,)>;
/// let (g, (x,)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let mut b = g.open();
/// let mut h = x;
/// for _ in 0..3 {
///     h = b.push(ops::relu(h)); // a run-time number of nodes
/// }
/// let g: RevGraphScale<f32, Gamma, Dyn, _> = b.seal_dyn();
/// assert_eq!(g.len(), 4);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Dyn;

impl<L> Append<Dyn> for L {
    type Output = Dyn;
}

/// A tuple of handles that seals one segment of a graph (see `Graph::seal`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tuple of 1 to 64 handles of graph `{B}`",
    label = "every handle must come from this graph's `push`"
)]
pub trait HandleTuple<B> {
    /// The tuple of the handles' shapes.
    type Shapes: ShapeTuple;
    /// The handles as untyped arguments, in order.
    fn args(&self) -> Vec<Arg>;
}

macro_rules! impl_tuple {
    ($($T:ident)+) => {
        impl<$($T: Shape),+> ShapeTuple for ($($T,)+) {
            const LEN: usize = [$(stringify!($T)),+].len();
            type Vars<Br> = ($(Var<$T, Br>,)+);
            fn push_dims(out: &mut Vec<&'static [usize]>) {
                $(out.push($T::DIMS);)+
            }
            #[allow(unused_assignments)]
            fn vars<Br>(start: usize) -> Self::Vars<Br> {
                let mut i = start;
                ($({ let v = Var::<$T, Br>::new(i); i += 1; v },)+)
            }
        }
        // Not listed in diagnostics: rustc would print all 64 tuple impls under "the following
        // other types implement trait" when a seal gets a handle of another graph.
        #[diagnostic::do_not_recommend]
        impl<Br, $($T: Shape),+> HandleTuple<Br> for ($(Var<$T, Br>,)+) {
            type Shapes = ($($T,)+);
            #[allow(non_snake_case)]
            fn args(&self) -> Vec<Arg> {
                let ($($T,)+) = self;
                vec![$($T.arg()),+]
            }
        }
    };
}

macro_rules! impl_tuples {
    () => {};
    ($head:ident $($tail:ident)*) => {
        impl_tuple!($head $($tail)*);
        impl_tuples!($($tail)*);
    };
}

impl_tuples!(
    A00 A01 A02 A03 A04 A05 A06 A07 A08 A09 A10 A11 A12 A13 A14 A15
    A16 A17 A18 A19 A20 A21 A22 A23 A24 A25 A26 A27 A28 A29 A30 A31
    A32 A33 A34 A35 A36 A37 A38 A39 A40 A41 A42 A43 A44 A45 A46 A47
    A48 A49 A50 A51 A52 A53 A54 A55 A56 A57 A58 A59 A60 A61 A62 A63
);
