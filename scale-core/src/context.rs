//! Type-level contexts (SPEC §2): lists of shapes, `++`, and the handle tuples that fill them.
//!
//! A context is a **segmented list**: [`Nil`] is empty, and [`Seg<Init, T>`](Seg) is `Init ++ T`,
//! where the segment `T` is a tuple of 1 to 64 shapes **or a non-empty context itself**.
//! [`Snoc<Init, S>`](Snoc) is the one-entry segment, and [`ctx!`](crate::ctx) writes a list
//! without spelling the nesting: `ctx![A, B]` is `Seg<Nil, (A, B)>`.
//!
//! Because a segment may be a context, a long list can be a balanced tree of 64-shape segments
//! (`Seg<left half, right half>`), whose nesting depth grows with the *logarithm* of its length.
//! Hand-built graphs grow their `ss` one [`Snoc`] per node; `scale_graph!` builds the `ss` of an
//! N-node graph as such a tree (see [`Part`](crate::Part)), about log₂(N/64) + 2 levels deep, so
//! a 16 384-node graph needs no `recursion_limit` (the notes in
//! `shared/notes/typelevel-encodings.md` measured why per-node growth of a long list, or any trait
//! that walks a list once per entry, does not scale).
//!
//! No trait walks a context per node: shapes are checked through handles ([`Var`]); the list
//! traits here ([`ShapeList`], [`Append`]) recurse once per *segment* (once per level of a
//! tree: [`Append`] follows only the leftmost path) and are only used on finished graph types.
//!
//! ```
//! use scale_core::context::{Concat, ShapeList, Snoc};
//! use scale_core::{ctx, Rank0, Rank1, Rank2};
//! type Gamma = ctx![Rank1<3>, Rank2<2, 3>]; // Seg<Nil, (Rank1<3>, Rank2<2, 3>)>
//! type Ss = Snoc<Snoc<ctx![], Rank1<2>>, Rank0>;
//! type Ctx = Concat<Gamma, Ss>; // Γ ++ ss, computed by rustc
//! assert_eq!(<Ctx as ShapeList>::LEN, 4);
//! assert_eq!(<Ctx as ShapeList>::dims(), vec![&[3][..], &[2, 3], &[2], &[]]);
//! ```
//!
//! The same list as a tree of two segments, the second of which is a context:
//!
//! ```
//! use scale_core::context::{Concat, Nil, Seg, ShapeList};
//! use scale_core::{ctx, Rank0, Rank1};
//! type Tree = Seg<ctx![Rank1<3>, Rank1<3>], ctx![Rank1<2>, Rank0]>;
//! assert_eq!(<Tree as ShapeList>::dims(), vec![&[3][..], &[3], &[2], &[]]);
//! // `++` grafts onto the leftmost segment: Γ ++ Tree = Seg<Γ ++ ctx![…], ctx![…]>.
//! type Gamma = ctx![Rank0];
//! let _: fn(Concat<Gamma, Tree>) -> Seg<Seg<Gamma, (Rank1<3>, Rank1<3>)>, ctx![Rank1<2>, Rank0]> =
//!     |x| x;
//! ```

use crate::handle::{Arg, Var};
use crate::shape::Shape;
use std::marker::PhantomData;

/// The empty context.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nil;

/// `Init ++ T`, where the segment `T` is a tuple of 1 to 64 shapes or a non-empty context.
pub struct Seg<Init, T>(PhantomData<fn() -> (Init, T)>);

/// `Init ++ [S]`.
pub type Snoc<Init, S> = Seg<Init, (S,)>;

/// One segment of a context: a tuple of 1 to 64 shapes, or a non-empty context.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a segment of a context (a tuple of 1 to 64 shapes, or a `Seg` list)"
)]
pub trait ShapeTuple: 'static {
    /// Number of shapes in the segment.
    const LEN: usize;
    /// Handles to the segment's entries in graph `B`.
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

/// A non-empty context used as one segment of another (the inner nodes of a balanced tree).
impl<I: 'static, T: 'static> ShapeTuple for Seg<I, T>
where
    Seg<I, T>: ShapeList,
{
    const LEN: usize = <Self as ShapeList>::LEN;
    type Vars<B> = <Self as ShapeList>::Vars<B>;
    fn push_dims(out: &mut Vec<&'static [usize]>) {
        <Self as ShapeList>::push_dims(out)
    }
    fn vars<B>(start: usize) -> Self::Vars<B> {
        <Self as ShapeList>::vars(start)
    }
}

/// `Self ++ Rhs` as a type-level function: `L ++ Seg<I, T> = Seg<L ++ I, T>`. It recurses once
/// per segment on the *leftmost path* of `Rhs` (the spine of a snoc list; the height of a
/// balanced tree).
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

/// A context type from its shapes, first to last (like frunk's `Hlist!`): `ctx![]` is [`Nil`],
/// `ctx![A, B, C]` is `Seg<Nil, (A, B, C)>`.
///
/// Lists longer than 64 become one segment per 64 shapes, nested to the right
/// (`Seg<ctx![first 64], ctx![rest]>`); that form is fine for a few thousand entries, and it is
/// the layout `scale_graph!` writes for up to 128 nodes (beyond that, `scale_graph!` balances
/// the tree).
///
/// ```
/// use scale_core::context::{Nil, Seg, ShapeList};
/// use scale_core::{ctx, ops, Rank0, Rank1, Rank2, RevGraphScale};
///
/// type Gamma = ctx![Rank2<2, 3>, Rank1<3>];
/// let _: fn(Gamma) -> Seg<Nil, (Rank2<2, 3>, Rank1<3>)> = |x| x; // the same type
///
/// let (g, (w, x)) = RevGraphScale::<f32, Gamma, ctx![], _>::nil(scale_core::brand!());
/// let mut b = g.open();
/// let h = b.push(ops::matvec(w, x));
/// let s = b.push(ops::sum(h));
/// let g: RevGraphScale<f32, Gamma, ctx![Rank1<2>, Rank0], _> = b.seal((h, s));
/// assert_eq!(g.len(), 4);
///
/// type Long = ctx![
///     Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0,
///     Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0,
///     Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0,
///     Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0,
///     Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank0, Rank1<7>,
/// ];
/// assert_eq!(<Long as ShapeList>::LEN, 65);
/// assert_eq!(<Long as ShapeList>::dims()[64], &[7]);
/// ```
#[macro_export]
macro_rules! ctx {
    () => { $crate::context::Nil };
    (
        $a00:ty, $a01:ty, $a02:ty, $a03:ty, $a04:ty, $a05:ty, $a06:ty, $a07:ty,
        $a08:ty, $a09:ty, $a10:ty, $a11:ty, $a12:ty, $a13:ty, $a14:ty, $a15:ty,
        $a16:ty, $a17:ty, $a18:ty, $a19:ty, $a20:ty, $a21:ty, $a22:ty, $a23:ty,
        $a24:ty, $a25:ty, $a26:ty, $a27:ty, $a28:ty, $a29:ty, $a30:ty, $a31:ty,
        $a32:ty, $a33:ty, $a34:ty, $a35:ty, $a36:ty, $a37:ty, $a38:ty, $a39:ty,
        $a40:ty, $a41:ty, $a42:ty, $a43:ty, $a44:ty, $a45:ty, $a46:ty, $a47:ty,
        $a48:ty, $a49:ty, $a50:ty, $a51:ty, $a52:ty, $a53:ty, $a54:ty, $a55:ty,
        $a56:ty, $a57:ty, $a58:ty, $a59:ty, $a60:ty, $a61:ty, $a62:ty, $a63:ty,
        $($rest:ty),+ $(,)?
    ) => {
        $crate::context::Seg<
            $crate::context::Seg<
                $crate::context::Nil,
                (
                    $a00, $a01, $a02, $a03, $a04, $a05, $a06, $a07,
                    $a08, $a09, $a10, $a11, $a12, $a13, $a14, $a15,
                    $a16, $a17, $a18, $a19, $a20, $a21, $a22, $a23,
                    $a24, $a25, $a26, $a27, $a28, $a29, $a30, $a31,
                    $a32, $a33, $a34, $a35, $a36, $a37, $a38, $a39,
                    $a40, $a41, $a42, $a43, $a44, $a45, $a46, $a47,
                    $a48, $a49, $a50, $a51, $a52, $a53, $a54, $a55,
                    $a56, $a57, $a58, $a59, $a60, $a61, $a62, $a63,
                ),
            >,
            $crate::ctx![$($rest),+],
        >
    };
    ($($s:ty),+ $(,)?) => { $crate::context::Seg<$crate::context::Nil, ($($s,)+)> };
}

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
/// use scale_core::context::Dyn;
/// use scale_core::{ctx, ops, Rank1, RevGraphScale};
/// type Gamma = ctx![Rank1<4>];
/// let (g, (x,)) = RevGraphScale::<f32, Gamma, ctx![], _>::nil(scale_core::brand!());
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
