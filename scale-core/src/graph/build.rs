//! Building graphs: `nil`, `snoc`, the chunked `open` / `push` / `seal`, and [`Part`]s for
//! graphs whose `ss` is a balanced tree.

use super::{Graph, IntoNode, Kind};
use crate::context::{Append, Concat, HandleTuple, Nil, Seg, ShapeList, ShapeTuple, Snoc};
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
/// use scale_core::{ctx, ops, Rank0, Rank1, RevGraphScale};
/// type Gamma = ctx![Rank1<4>];
/// let (g, (x,)) = RevGraphScale::<f32, Gamma, ctx![], _>::nil(scale_core::brand!());
/// let mut b = g.open();
/// let h = b.push(ops::relu(x));
/// let s = b.push(ops::sum(h));
/// let g: RevGraphScale<f32, Gamma, ctx![Rank1<4>, Rank0], _> = b.seal((h, s));
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
/// use scale_core::{ctx, ops, Rank0, Rank1, RevGraphScale};
/// type Gamma = ctx![Rank1<4>];
/// let (g, (x,)) = RevGraphScale::<f32, Gamma, ctx![], _>::nil(scale_core::brand!());
/// let mut b = g.open();
/// let p = b.pusher();
/// let h = p.push(ops::relu(x));
/// let s = p.push(ops::sum(h));
/// let g: RevGraphScale<f32, Gamma, ctx![Rank1<4>, Rank0], _> = b.seal((h, s));
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

    /// A [`Part`] of 1 to 64 consecutive pushed nodes: `handles` are their handles, in order.
    /// Its type lists their shapes as one segment, `Seg<Nil, (τ₁, …, τₖ)>`.
    ///
    /// # Panics
    /// If `handles` are not consecutive nodes pushed through this pusher, in order (a
    /// programming error: the part's type would not describe them).
    pub fn part<H: HandleTuple<B>>(&mut self, handles: H) -> Part<Seg<Nil, H::Shapes>, B> {
        let args = handles.args();
        let dims = &self.graph.dims;
        let start = args.first().map_or(0, |a| a.pos);
        let consecutive = args
            .iter()
            .enumerate()
            .all(|(i, a)| a.pos == start + i && dims.get(a.pos) == Some(&a.dims));
        assert!(
            consecutive && start >= self.graph.n_inputs && !args.is_empty(),
            "a part expects the handles of consecutive pushed nodes, in order"
        );
        Part::new(start, args.len())
    }
}

/// A run of consecutive pushed nodes with the list `L` of their output shapes in its type.
///
/// Parts let generated code give a long graph a `ss` of logarithmic depth while type checking
/// stays linear: [`Pusher::part`] makes a part of up to 64 nodes, [`Part::join`] concatenates two
/// adjacent parts into `Seg<L, M>` (a segment may be a context), and [`Builder::seal_part`] seals
/// a part covering every pushed node. Each `let` binding then holds the type of one subtree, not
/// of the growing list, so a tree of N/64 leaves costs O(N log N) type mentions in all, while a
/// `seal` per 64 nodes would mention the whole prefix each time. `scale_graph!` builds every graph
/// this way, joining the leaves as a balanced binary tree:
///
/// ```
/// use scale_core::context::{Seg, ShapeList};
/// use scale_core::{ctx, ops, Rank0, Rank1, RevGraphScale};
/// type Gamma = ctx![Rank1<4>];
/// let (g, (x,)) = RevGraphScale::<f32, Gamma, ctx![], _>::nil(scale_core::brand!());
/// let mut b = g.open();
/// let p = b.pusher();
/// let h1 = p.push(ops::relu(x));
/// let h2 = p.push(ops::relu(h1));
/// let left = p.part((h1, h2));
/// let s = p.push(ops::sum(h2));
/// let right = p.part((s,));
/// type Ss = Seg<ctx![Rank1<4>, Rank1<4>], ctx![Rank0]>;
/// let g: RevGraphScale<f32, Gamma, Ss, _> = b.seal_part(left.join(right));
/// assert_eq!(g.len(), 4);
/// assert_eq!(<Ss as ShapeList>::LEN, 3);
/// ```
///
/// Shapes are still checked by rustc: a part's type comes from its handles' types, so writing
/// another `ss` is a type error.
///
/// ```compile_fail,E0308
/// use scale_core::{ctx, ops, Rank0, Rank1, RevGraphScale};
/// let (g, (x,)) = RevGraphScale::<f32, ctx![Rank1<4>], ctx![], _>::nil(scale_core::brand!());
/// let mut b = g.open();
/// let p = b.pusher();
/// let h = p.push(ops::relu(x));
/// let part = p.part((h,));
/// let g: RevGraphScale<f32, ctx![Rank1<4>], ctx![Rank0], _> = b.seal_part(part);
/// ```
pub struct Part<L, B> {
    start: usize,
    len: usize,
    _p: PhantomData<fn() -> (L, B)>,
}

impl<L, B> std::fmt::Debug for Part<L, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Part(#{}..#{})", self.start, self.start + self.len)
    }
}

impl<L, B> Part<L, B> {
    fn new(start: usize, len: usize) -> Self {
        Part {
            start,
            len,
            _p: PhantomData,
        }
    }

    /// Number of nodes in the part.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the part has no nodes (never true for a part made by [`Pusher::part`]).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Handles of the part's nodes, nested as `L`'s segments (for a part made by
    /// [`Pusher::part`], the tuple of handles it was made from). The part is the proof that its
    /// nodes have the shapes `L`, so code that returns a part from a function (as `scale_graph!`
    /// does, one function per 64 nodes) need not also return, and type, every handle.
    ///
    /// ```
    /// use scale_core::{ctx, ops, Rank0, Rank1, RevGraphScale};
    /// let (g, (x,)) = RevGraphScale::<f32, ctx![Rank1<4>], ctx![], _>::nil(scale_core::brand!());
    /// let mut b = g.open();
    /// let p = b.pusher();
    /// let h = p.push(ops::relu(x));
    /// let s = p.push(ops::sum(h));
    /// let part = p.part((h, s));
    /// let (h2, s2) = part.vars();
    /// assert_eq!((h2.pos(), s2.pos()), (h.pos(), s.pos()));
    /// let g: RevGraphScale<f32, ctx![Rank1<4>], ctx![Rank1<4>, Rank0], _> = b.seal_part(part);
    /// # let _ = g;
    /// ```
    pub fn vars(&self) -> L::Vars<B>
    where
        L: ShapeList,
    {
        L::vars(self.start)
    }

    /// `self ++ next`: `next` must start where `self` ends. The type is `Seg<L, M>`, with the
    /// context `M` as one segment, so joining parts pairwise builds a balanced tree.
    ///
    /// # Panics
    /// If `next` does not start right after `self`.
    pub fn join<M>(self, next: Part<M, B>) -> Part<Seg<L, M>, B> {
        assert!(
            next.start == self.start + self.len,
            "joined parts must be adjacent: {self:?} is followed by {next:?}"
        );
        Part::new(self.start, self.len + next.len)
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

    /// Seal the pushed nodes as one [`Part`] covering all of them: `Graph<Γ, ss>` →
    /// `Graph<Γ, ss ++ L>` (the type is `L` itself when `ss` is `Nil`).
    ///
    /// # Panics
    /// If `part` does not cover exactly the nodes pushed since `open`, or its shapes are not
    /// theirs (a part of another graph with the same brand type).
    pub fn seal_part<L: ShapeList>(self, part: Part<L, B>) -> Graph<K, R, G, Concat<Ss, L>, B>
    where
        Ss: Append<L>,
    {
        let dims = &self.pusher.graph.dims;
        assert!(
            part.start == self.sealed
                && part.start + part.len == dims.len()
                && L::LEN == part.len
                && L::dims() == dims[self.sealed..],
            "seal_part expects a part of all the {} pushed nodes, found {part:?}",
            dims.len() - self.sealed
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

#[cfg(test)]
mod tests {
    use crate::{Rank1, RevGraphScale, ctx, ops};

    type Gamma = ctx![Rank1<2>];

    #[test]
    #[should_panic(expected = "joined parts must be adjacent")]
    fn join_rejects_parts_out_of_order() {
        let (g, (x,)) = RevGraphScale::<f32, Gamma, ctx![], _>::nil(crate::brand!());
        let mut b = g.open();
        let p = b.pusher();
        let h1 = p.push(ops::relu(x));
        let h2 = p.push(ops::relu(h1));
        let (a, c) = (p.part((h1,)), p.part((h2,)));
        let _ = c.join(a);
    }

    #[test]
    #[should_panic(expected = "seal_part expects a part of all the 2 pushed nodes")]
    fn seal_part_rejects_a_part_that_misses_nodes() {
        let (g, (x,)) = RevGraphScale::<f32, Gamma, ctx![], _>::nil(crate::brand!());
        let mut b = g.open();
        let p = b.pusher();
        let h1 = p.push(ops::relu(x));
        let _h2 = p.push(ops::relu(h1));
        let a = p.part((h1,));
        let _ = b.seal_part(a);
    }

    #[test]
    #[should_panic(expected = "consecutive pushed nodes")]
    fn part_rejects_handles_out_of_order() {
        let (g, (x,)) = RevGraphScale::<f32, Gamma, ctx![], _>::nil(crate::brand!());
        let mut b = g.open();
        let p = b.pusher();
        let h1 = p.push(ops::relu(x));
        let h2 = p.push(ops::relu(h1));
        let _ = p.part((h2, h1));
    }

    #[test]
    fn parts_join_into_a_tree_and_seal_after_a_prefix() {
        use crate::context::{Seg, ShapeList};
        let (g, (x,)) = RevGraphScale::<f32, Gamma, ctx![], _>::nil(crate::brand!());
        let (g, _) = g.snoc(ops::relu(x)); // a prefix sealed the usual way
        let mut b = g.open();
        let p = b.pusher();
        let h: Vec<_> = (0..3).map(|_| p.push(ops::relu(x))).collect();
        let tree = p.part((h[0],)).join(p.part((h[1], h[2])));
        assert_eq!(tree.len(), 3);
        // ss ++ tree grafts the prefix onto the tree's leftmost segment.
        type Ss = Seg<Seg<ctx![Rank1<2>], (Rank1<2>,)>, ctx![Rank1<2>, Rank1<2>]>;
        let g: RevGraphScale<f32, Gamma, Ss, _> = b.seal_part(tree);
        assert_eq!(g.len(), 5);
        assert_eq!(<Ss as ShapeList>::LEN, 4);
    }
}
