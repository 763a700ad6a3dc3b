//! Building graphs: `nil`, `snoc`, and the chunked `open` / `push` / `seal`.

use super::{Graph, IntoNode, Kind};
use crate::context::{HandleTuple, Nil, Seg, ShapeList, ShapeTuple, Snoc};
use crate::handle::{Arg, Var};
use crate::node::{FwdNode, NodeType};
use crate::scalar::Runtime;
use crate::shape::describe_dims;
use std::marker::PhantomData;

impl<K: Kind, R: Runtime, G: ShapeList, B> Graph<K, R, G, Nil, B> {
    /// The empty graph over inputs `G` (Lean: `nil`), with a handle for every input.
    ///
    /// `brand` is a value of a type unique to this graph (use [`brand!`](crate::brand)); handles
    /// of other graphs are then type errors.
    pub fn nil(brand: B) -> (Self, G::Vars<B>) {
        let _ = brand;
        let dims = G::dims();
        let g = Graph {
            n_inputs: dims.len(),
            dims,
            nodes: Vec::new(),
            config: crate::config::Config::default(),
            _p: PhantomData,
        };
        (g, G::vars(0))
    }
}

impl<K: Kind, R: Runtime, G: ShapeList, Ss, B> Graph<K, R, G, Ss, B> {
    /// Handles for the inputs `Γ`.
    pub fn inputs(&self) -> G::Vars<B> {
        G::vars(0)
    }
}

impl<K: Kind, R: Runtime, G, Ss, B> Graph<K, R, G, Ss, B> {
    fn check_args(&self, args: &[Arg]) {
        for a in args {
            let have = self.dims.get(a.pos);
            assert!(
                have == Some(&a.dims),
                "node reads entry {} as {}, but this graph has {} there: the handle comes from \
                 another graph with the same brand type",
                a.pos,
                describe_dims(a.dims),
                have.map_or("no entry".to_string(), |d| describe_dims(d)),
            );
        }
    }

    fn append<N: NodeType<Brand = B> + IntoNode<K, R>>(&mut self, node: N) -> Var<N::Out, B> {
        let boxed = node.boxed();
        self.check_args(boxed.args());
        let pos = self.dims.len();
        self.dims.push(boxed.out_dims());
        self.nodes.push(boxed);
        Var::new(pos)
    }

    /// Append one node (Lean: `snoc`): `Graph<Γ, ss>` → `Graph<Γ, ss ++ [τ]>`, plus the handle of
    /// the new entry.
    ///
    /// The node must have been built from handles of this graph (its `Brand` is `B`); a node of
    /// another graph is a type error. Each call makes the graph's type one entry longer, which is
    /// what hand-built graphs want; for thousands of nodes use [`Graph::open`].
    ///
    /// # Panics
    /// If a handle the node reads does not exist in this graph, which requires two graphs sharing
    /// one brand type (see [`Var`]).
    #[allow(clippy::type_complexity)]
    pub fn snoc<N>(mut self, node: N) -> (Graph<K, R, G, Snoc<Ss, N::Out>, B>, Var<N::Out, B>)
    where
        N: NodeType<Brand = B> + IntoNode<K, R>,
    {
        let v = self.append(node);
        (self.retype(), v)
    }

    /// Start appending a batch of nodes whose type is sealed later in one step (see [`Builder`]).
    pub fn open(self) -> Builder<K, R, G, Ss, B> {
        Builder {
            sealed: self.dims.len(),
            pusher: Pusher {
                graph: self.retype(),
            },
            _p: PhantomData,
        }
    }
}

/// A graph with nodes appended but not yet reflected in its type.
///
/// [`Builder::push`] appends a node and returns its handle without changing any type;
/// [`Builder::seal`] takes the handles of all pushed nodes, in order, and returns the graph with
/// `ss ++ [τ₁, …, τₖ]` in its type. `scale_graph!` seals every 64 nodes, so a graph's type grows
/// per segment rather than per node (linear compile time, shallow types).
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank0, Rank1, RevGraphScale};
/// type Gamma = Seg<Nil, (Rank1<4>,)>;
/// let (g, (x,)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let mut b = g.open();
/// let h = b.push(ops::relu(x));
/// let s = b.push(ops::sum(h));
/// let g: RevGraphScale<f32, Gamma, Seg<Nil, (Rank1<4>, Rank0)>, _> = b.seal((h, s));
/// assert_eq!(g.len(), 3);
/// ```
pub struct Builder<K: Kind, R: Runtime, G, Ss, B> {
    pusher: Pusher<K, R, B>,
    sealed: usize,
    _p: PhantomData<fn() -> (G, Ss)>,
}

/// The appending half of a [`Builder`], typed without `Γ` and `ss`.
///
/// [`Builder::push`] mentions the builder's whole type, `ss` included, at every call, and rustc
/// re-checks that type at each mention: for a long graph whose `ss` is already deep, pushing
/// through the builder costs type-checking time proportional to `ss` per node (quadratic
/// overall). Pushing through the `&mut Pusher` returned by [`Builder::pusher`] mentions only the
/// runtime type and the brand, so generated code that appends thousands of nodes stays linear:
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank0, Rank1, RevGraphScale};
/// type Gamma = Seg<Nil, (Rank1<4>,)>;
/// let (g, (x,)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let mut b = g.open();
/// let p = b.pusher();
/// let h = p.push(ops::relu(x));
/// let s = p.push(ops::sum(h));
/// let g: RevGraphScale<f32, Gamma, Seg<Nil, (Rank1<4>, Rank0)>, _> = b.seal((h, s));
/// assert_eq!(g.len(), 3);
/// ```
pub struct Pusher<K: Kind, R: Runtime, B> {
    graph: Graph<K, R, (), (), B>,
}

impl<K: Kind, R: Runtime, B> Pusher<K, R, B> {
    /// Append a node; its handle is usable at once by later nodes (same as [`Builder::push`]).
    ///
    /// # Panics
    /// As [`Graph::snoc`].
    pub fn push<N>(&mut self, node: N) -> Var<N::Out, B>
    where
        N: NodeType<Brand = B> + IntoNode<K, R>,
    {
        self.graph.append(node)
    }
}

impl<K: Kind, R: Runtime, G, Ss, B> Builder<K, R, G, Ss, B> {
    /// Append a node; its handle is usable at once by later nodes.
    ///
    /// # Panics
    /// As [`Graph::snoc`].
    pub fn push<N>(&mut self, node: N) -> Var<N::Out, B>
    where
        N: NodeType<Brand = B> + IntoNode<K, R>,
    {
        self.pusher.push(node)
    }

    /// The appending half of the builder, whose type does not mention `Γ` or `ss` (see
    /// [`Pusher`]): use it to push many nodes into a graph whose type is already large.
    pub fn pusher(&mut self) -> &mut Pusher<K, R, B> {
        &mut self.pusher
    }

    /// Seal the pushed nodes into the type: `handles` must be the handles `push` returned, all of
    /// them, in order (a tuple of 1 to 64).
    ///
    /// # Panics
    /// If `handles` are not exactly the pushed nodes in order (a programming error: the type would
    /// otherwise not describe the graph).
    pub fn seal<H: HandleTuple<B>>(self, handles: H) -> Graph<K, R, G, Seg<Ss, H::Shapes>, B> {
        let args = handles.args();
        let dims = &self.pusher.graph.dims;
        let pending = dims.len() - self.sealed;
        let in_order = args.len() == pending
            && args
                .iter()
                .enumerate()
                .all(|(i, a)| a.pos == self.sealed + i && dims[a.pos] == a.dims);
        assert!(
            in_order && <H::Shapes as ShapeTuple>::LEN == pending,
            "seal expects the handles of the {pending} pushed nodes, in order"
        );
        self.pusher.graph.retype()
    }

    /// Seal every node pushed so far (any number, any shapes) into a graph whose `ss` is
    /// [`Dyn`](crate::context::Dyn): the run-time counterpart of [`Builder::seal`], for node
    /// sequences chosen at run time. Each node was shape-checked when it was built from handles;
    /// lists over the full context are then checked at run time
    /// ([`Graph::context_list`], [`Graph::context_bounds`]).
    pub fn seal_dyn(self) -> Graph<K, R, G, crate::context::Dyn, B> {
        self.pusher.graph.retype()
    }
}
