//! Graphs (SPEC §4): snoc-lists of nodes over inputs `Γ`, typed by `Γ` and `ss`.
//!
//! One generic [`Graph`] serves the four kinds of the Lean module; the kind parameter picks which
//! node trait the graph stores, and which operations exist:
//!
//! | alias | nodes | eval | backprop | scales |
//! |---|---|---|---|---|
//! | [`FwdGraph`] | [`FwdNode`] | yes | – | – |
//! | [`FwdGraphScale`] | [`FwdNodeScale`] | yes | – | forward |
//! | [`RevGraph`] | [`RevNode`] | yes | yes | – |
//! | [`RevGraphScale`] | [`RevNodeScale`] | yes | yes | forward and backward |

mod accumulate;
mod build;
pub(crate) mod certify;
mod engine;
mod eval;

pub use accumulate::{eps_add, scale_add};
pub use build::{Builder, Part, Pusher};
pub use certify::{Certificate, Enclosure, Seeds, Unbounded};

use crate::config::Config;
use crate::node::{FwdNode, FwdNodeScale, RevNode, RevNodeScale};
use crate::scalar::Runtime;
use std::marker::PhantomData;

/// Which node trait a graph stores (see the table in [the module docs](self)).
pub trait Kind: 'static {
    /// The node trait object.
    type Node<R: Runtime>: ?Sized + FwdNode<R>;
}

/// Kind of [`FwdGraph`].
#[derive(Debug)]
pub enum Fwd {}
/// Kind of [`FwdGraphScale`].
#[derive(Debug)]
pub enum FwdScale {}
/// Kind of [`RevGraph`].
#[derive(Debug)]
pub enum Rev {}
/// Kind of [`RevGraphScale`].
#[derive(Debug)]
pub enum RevScale {}

impl Kind for Fwd {
    type Node<R: Runtime> = dyn FwdNode<R>;
}
impl Kind for FwdScale {
    type Node<R: Runtime> = dyn FwdNodeScale<R>;
}
impl Kind for Rev {
    type Node<R: Runtime> = dyn RevNode<R>;
}
impl Kind for RevScale {
    type Node<R: Runtime> = dyn RevNodeScale<R>;
}

/// A node that can be stored in a graph of kind `K`.
pub trait IntoNode<K: Kind, R: Runtime> {
    /// Box the node as the kind's trait object.
    fn boxed(self) -> Box<K::Node<R>>;
}

impl<R: Runtime, N: FwdNode<R> + 'static> IntoNode<Fwd, R> for N {
    fn boxed(self) -> Box<dyn FwdNode<R>> {
        Box::new(self)
    }
}
impl<R: Runtime, N: FwdNodeScale<R> + 'static> IntoNode<FwdScale, R> for N {
    fn boxed(self) -> Box<dyn FwdNodeScale<R>> {
        Box::new(self)
    }
}
impl<R: Runtime, N: RevNode<R> + 'static> IntoNode<Rev, R> for N {
    fn boxed(self) -> Box<dyn RevNode<R>> {
        Box::new(self)
    }
}
impl<R: Runtime, N: RevNodeScale<R> + 'static> IntoNode<RevScale, R> for N {
    fn boxed(self) -> Box<dyn RevNodeScale<R>> {
        Box::new(self)
    }
}

/// A computation graph of kind `K` in runtime type `R`, over inputs `G` (Γ) with node outputs `Ss`
/// (ss), whose handles carry brand `B`.
///
/// Build one with [`Graph::nil`] and [`Graph::snoc`] (or [`Graph::open`] / [`Builder::seal`] to
/// append many nodes at once), or with `scale_graph!`. Every forward quantity is computed once
/// per node and reused by backprop, so every operation is linear in the number of nodes.
///
/// ```
/// use ndarray::arr1;
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Bound, Interval, Rank1, RevGraphScale, TList};
///
/// type Gamma = Seg<Nil, (Rank1<3>, Rank1<3>)>;
/// let (g, (x, y)) = RevGraphScale::<f32, Gamma, Nil, _>::nil(scale_core::brand!());
/// let (g, p) = g.snoc(ops::mul(x, y));
/// let (g, s) = g.snoc(ops::sum(p));
///
/// let xr = TList::<f32, Gamma>::from_arrays(vec![
///     arr1(&[0.1f32, 0.2, 0.3]).into_dyn(),
///     arr1(&[1.0f32, -2.0, 3.0]).into_dyn(),
/// ])?;
/// let eps = g.eval_bounds(&scale_core::EList::uniform(Bound::ZERO), &xr);
/// let vals = g.eval_runtime(&xr);
/// let spec = g.eval_spec(&xr.to_spec::<Interval>());
/// // The rigorous spec lies within eps of the runtime value.
/// let (v, e, iv) = (vals.get(s)[()], eps.get(s), spec.get(s)[()]);
/// assert!(iv.max_dist(v as f64) <= e.get());
/// # Ok::<(), scale_core::Error>(())
/// ```
pub struct Graph<K: Kind, R: Runtime, G, Ss, B> {
    pub(crate) dims: Vec<&'static [usize]>,
    pub(crate) n_inputs: usize,
    pub(crate) nodes: Vec<Box<K::Node<R>>>,
    pub(crate) config: Config,
    _p: PhantomData<Phantom<G, Ss, B>>,
}

/// Variance-neutral marker for the type parameters (a `fn` pointer avoids drop-check on deep types).
type Phantom<G, Ss, B> = fn() -> (G, Ss, B);

/// Forward graph with error bounds (Lean: `FwdGraph`).
pub type FwdGraph<R, G, Ss, B> = Graph<Fwd, R, G, Ss, B>;
/// Forward graph with error and scale bounds (Lean: `FwdGraphScale`).
pub type FwdGraphScale<R, G, Ss, B> = Graph<FwdScale, R, G, Ss, B>;
/// Reverse-mode graph with error bounds (Lean: `RevGraph`).
pub type RevGraph<R, G, Ss, B> = Graph<Rev, R, G, Ss, B>;
/// Reverse-mode graph with error and scale bounds (Lean: `RevGraphScale`).
pub type RevGraphScale<R, G, Ss, B> = Graph<RevScale, R, G, Ss, B>;

impl<K: Kind, R: Runtime, G, Ss, B> Graph<K, R, G, Ss, B> {
    pub(crate) fn retype<G2, Ss2>(self) -> Graph<K, R, G2, Ss2, B> {
        Graph {
            dims: self.dims,
            n_inputs: self.n_inputs,
            nodes: self.nodes,
            config: self.config,
            _p: PhantomData,
        }
    }

    fn convert<K2: Kind>(
        self,
        f: impl Fn(Box<K::Node<R>>) -> Box<K2::Node<R>>,
    ) -> Graph<K2, R, G, Ss, B> {
        Graph {
            dims: self.dims,
            n_inputs: self.n_inputs,
            nodes: self.nodes.into_iter().map(f).collect(),
            config: self.config,
            _p: PhantomData,
        }
    }

    /// The settings every bound computation of this graph runs under (default
    /// [`Config::default`]).
    pub fn config(&self) -> Config {
        self.config
    }

    /// Change the settings of this graph's bound computations (e.g. the dot-product bound mode).
    /// They belong to this graph only: other graphs and other threads are not affected.
    ///
    /// ```
    /// use scale_core::config::{Config, DotBound};
    /// use scale_core::context::{Nil, Seg};
    /// use scale_core::{ops, Rank1, RevGraphScale};
    /// let (g, (x,)) =
    ///     RevGraphScale::<f32, Seg<Nil, (Rank1<2>,)>, Nil, _>::nil(scale_core::brand!());
    /// let (mut g, _s) = g.snoc(ops::sum(x));
    /// g.set_config(Config::default().with_dot_bound(DotBound::OrderFree));
    /// assert_eq!(g.config().dot_bound, DotBound::OrderFree);
    /// ```
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// [`set_config`](Self::set_config) by value, for chaining.
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Number of entries of `Γ ++ ss`.
    pub fn len(&self) -> usize {
        self.dims.len()
    }

    /// Whether the graph has no inputs and no nodes.
    pub fn is_empty(&self) -> bool {
        self.dims.is_empty()
    }

    /// Number of inputs (`|Γ|`).
    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Dimensions of every entry of `Γ ++ ss`.
    pub fn dims(&self) -> &[&'static [usize]] {
        &self.dims
    }

    /// The nodes, first to last (node `k` produces entry `n_inputs() + k`).
    pub fn nodes(&self) -> &[Box<K::Node<R>>] {
        &self.nodes
    }

    /// A list over the full context `Γ ++ ss` (e.g. a backprop seed), checked against this
    /// graph's dimensions: one array per entry, each of the entry's shape. Works for every `ss`,
    /// including [`Dyn`](crate::context::Dyn).
    ///
    /// ```
    /// use ndarray::{arr0, arr1};
    /// use scale_core::context::{Nil, Seg};
    /// use scale_core::{ops, Rank1, RevGraphScale};
    /// let (g, (x,)) =
    ///     RevGraphScale::<f32, Seg<Nil, (Rank1<2>,)>, Nil, _>::nil(scale_core::brand!());
    /// let (g, _s) = g.snoc(ops::sum(x));
    /// let seed = g.context_list(vec![arr1(&[0.0f32, 0.0]).into_dyn(), arr0(1.0f32).into_dyn()]);
    /// assert!(seed.is_ok());
    /// assert!(g.context_list(vec![arr0(1.0f32).into_dyn()]).is_err());
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn context_list<T>(
        &self,
        items: Vec<ndarray::ArrayD<T>>,
    ) -> Result<crate::TList<T, crate::context::Concat<G, Ss>>, crate::Error>
    where
        G: crate::Append<Ss>,
    {
        crate::lists::check_dims(&self.dims, items.iter().map(|a| a.shape()))?;
        Ok(crate::TList::from_vec_unchecked(items))
    }

    /// A list of bounds (an [`EList`](crate::EList) or a [`BList`](crate::BList)) over the full
    /// context `Γ ++ ss`, one per entry (the length is checked).
    pub fn context_bounds<Kb>(
        &self,
        items: Vec<crate::Bound>,
    ) -> Result<crate::lists::BoundList<Kb, crate::context::Concat<G, Ss>>, crate::Error>
    where
        G: crate::Append<Ss>,
    {
        if items.len() != self.dims.len() {
            return Err(crate::Error::LengthMismatch {
                expected: self.dims.len(),
                found: items.len(),
            });
        }
        Ok(crate::lists::BoundList::from_vec_unchecked(items))
    }
}

impl<R: Runtime, G, Ss, B> RevGraphScale<R, G, Ss, B> {
    /// Forget the scale parts (Lean: `toRevGraph`).
    pub fn to_rev_graph(self) -> RevGraph<R, G, Ss, B> {
        self.convert::<Rev>(|n| n)
    }

    /// Forget the VJP parts (Lean: `toFwdGraphScale`).
    pub fn to_fwd_graph_scale(self) -> FwdGraphScale<R, G, Ss, B> {
        self.convert::<FwdScale>(|n| n)
    }
}

impl<R: Runtime, G, Ss, B> RevGraph<R, G, Ss, B> {
    /// Forget the VJP parts.
    pub fn to_fwd_graph(self) -> FwdGraph<R, G, Ss, B> {
        self.convert::<Fwd>(|n| n)
    }
}

impl<R: Runtime, G, Ss, B> FwdGraphScale<R, G, Ss, B> {
    /// Forget the scale parts.
    pub fn to_fwd_graph(self) -> FwdGraph<R, G, Ss, B> {
        self.convert::<Fwd>(|n| n)
    }
}
