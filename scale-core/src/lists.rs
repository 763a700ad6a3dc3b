//! Aligned lists over a context (SPEC §2): [`TList`] of tensors, [`EList`] of error bounds,
//! [`BList`] of scale bounds.

use crate::bound::Bound;
use crate::context::{ShapeList, Snoc};
use crate::error::Error;
use crate::handle::Var;
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::Shape;
use ndarray::{Array, ArrayD, ArrayView, IxDyn, Zip};
use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

/// One tensor per entry of the context `Ctx`.
///
/// Built from plain ndarray arrays (checked against the context's shapes: a wrong shape is an
/// [`Error`], not a panic) and read back by typed handle, which returns a view of the handle's
/// fixed rank.
///
/// ```
/// use ndarray::{arr1, arr2};
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{Rank1, Rank2, TList};
/// type Gamma = Seg<Nil, (Rank1<2>, Rank2<1, 2>)>;
/// let x = TList::<f32, Gamma>::from_arrays(vec![
///     arr1(&[1.0, 2.0]).into_dyn(),
///     arr2(&[[3.0, 4.0]]).into_dyn(),
/// ])?;
/// assert_eq!(x.len(), 2);
/// assert!(TList::<f32, Gamma>::from_arrays(vec![arr1(&[1.0]).into_dyn()]).is_err());
/// # Ok::<(), scale_core::Error>(())
/// ```
pub struct TList<T, Ctx> {
    items: Vec<ArrayD<T>>,
    /// Which entries hold `+0` only, found once per list (a list never changes after it is
    /// built): backprop moves the first contribution into such a seed entry instead of adding
    /// it, and a seed is usually reused for every step.
    positive_zeros: OnceLock<Vec<bool>>,
    _ctx: PhantomData<fn() -> Ctx>,
}

impl<T: Clone, Ctx> Clone for TList<T, Ctx> {
    fn clone(&self) -> Self {
        TList {
            items: self.items.clone(),
            positive_zeros: self.positive_zeros.clone(),
            _ctx: PhantomData,
        }
    }
}

impl<T: fmt::Debug, Ctx> fmt::Debug for TList<T, Ctx> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items.iter()).finish()
    }
}

/// Check a list of dimension lists against the tensors given for them.
pub(crate) fn check_dims<'a>(
    expected: &[&'static [usize]],
    found: impl ExactSizeIterator<Item = &'a [usize]>,
) -> Result<(), Error> {
    if expected.len() != found.len() {
        return Err(Error::LengthMismatch {
            expected: expected.len(),
            found: found.len(),
        });
    }
    for (entry, (e, f)) in expected.iter().zip(found).enumerate() {
        if *e != f {
            return Err(Error::ShapeMismatch {
                entry,
                expected: e.to_vec(),
                found: f.to_vec(),
            });
        }
    }
    Ok(())
}

impl<T, Ctx> TList<T, Ctx> {
    pub(crate) fn from_vec_unchecked(items: Vec<ArrayD<T>>) -> Self {
        TList {
            items,
            positive_zeros: OnceLock::new(),
            _ctx: PhantomData,
        }
    }

    /// Build from one array per context entry, checking every shape.
    pub fn from_arrays(items: Vec<ArrayD<T>>) -> Result<Self, Error>
    where
        Ctx: ShapeList,
    {
        check_dims(&Ctx::dims(), items.iter().map(|a| a.shape()))?;
        Ok(Self::from_vec_unchecked(items))
    }

    /// The tensor of entry `v`, at the handle's fixed rank.
    ///
    /// # Panics
    /// If `v` does not index an entry of this list with `S`'s shape, which can only happen when a
    /// handle is used with a list of another graph that shares its brand type (see [`Var`]).
    pub fn get<S: Shape, B>(&self, v: Var<S, B>) -> ArrayView<'_, T, S::Dim> {
        self.try_get(v)
            .expect("handle does not belong to this list (another graph with the same brand?)")
    }

    /// Like [`TList::get`], returning `None` instead of panicking.
    pub fn try_get<S: Shape, B>(&self, v: Var<S, B>) -> Option<ArrayView<'_, T, S::Dim>> {
        self.items
            .get(v.pos())
            .and_then(|a| a.view().into_dimensionality::<S::Dim>().ok())
    }

    /// The tensors, first to last.
    pub fn as_slice(&self) -> &[ArrayD<T>] {
        &self.items
    }

    /// The tensors as a vector of dynamic-rank arrays.
    pub fn into_vec(self) -> Vec<ArrayD<T>> {
        self.items
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the context is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Append one tensor: `TList<Ctx>` → `TList<Ctx ++ [S]>`. The array's full shape is checked
    /// against `S` (its rank is fixed by the type; its dimensions are not), so a tensor of the
    /// wrong size is a typed error, never a wrong bound later.
    ///
    /// ```
    /// use ndarray::arr1;
    /// use scale_core::context::{Nil, Seg};
    /// use scale_core::{Error, Rank0, Rank1, TList};
    /// let x = TList::<f32, Seg<Nil, (Rank0,)>>::from_arrays(vec![ndarray::arr0(1.0).into_dyn()])?;
    /// let err = x.clone().push::<Rank1<3>>(arr1(&[1.0, 2.0, 3.0, 4.0, 5.0])).unwrap_err();
    /// assert!(matches!(err, Error::ShapeMismatch { entry: 1, .. }));
    /// assert_eq!(x.push::<Rank1<3>>(arr1(&[1.0, 2.0, 3.0]))?.len(), 2);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn push<S: Shape>(mut self, x: Array<T, S::Dim>) -> Result<TList<T, Snoc<Ctx, S>>, Error> {
        if x.shape() != S::DIMS {
            return Err(Error::ShapeMismatch {
                entry: self.items.len(),
                expected: S::DIMS.to_vec(),
                found: x.shape().to_vec(),
            });
        }
        self.items.push(x.into_dyn());
        Ok(TList::from_vec_unchecked(self.items))
    }

    /// Map every element (e.g. runtime → spec with [`SpecScalar::from_runtime`]).
    pub fn map<U>(&self, f: impl Fn(&T) -> U) -> TList<U, Ctx> {
        TList::from_vec_unchecked(self.items.iter().map(|a| a.map(&f)).collect())
    }
}

impl<T, I, S: Shape> TList<T, Snoc<I, S>> {
    /// Split off the last entry: `TList<I ++ [S]>` → `(TList<I>, tensor of shape S)`.
    pub fn split_last(mut self) -> (TList<T, I>, Array<T, S::Dim>) {
        let last = self
            .items
            .pop()
            .and_then(|a| a.into_dimensionality::<S::Dim>().ok())
            .expect("invariant: a Snoc list ends with an entry of its last shape");
        (TList::from_vec_unchecked(self.items), last)
    }
}

impl<R: Runtime, Ctx> TList<R, Ctx> {
    /// Exact image in a spec scalar type (SPEC's `to_spec`, entrywise).
    pub fn to_spec<S: SpecScalar>(&self) -> TList<S, Ctx> {
        self.map(|&x| S::from_runtime(x))
    }

    /// Entrywise sum of two lists, in runtime arithmetic.
    pub fn add(&self, other: &TList<R, Ctx>) -> TList<R, Ctx> {
        let items = self
            .items
            .iter()
            .zip(&other.items)
            .map(|(a, b)| {
                let mut c = a.clone();
                Zip::from(&mut c).and(b).for_each(|c, &b| *c = *c + b);
                c
            })
            .collect();
        TList::from_vec_unchecked(items)
    }

    /// All-zero tensors for every entry of `Ctx`.
    pub fn zeros() -> Self
    where
        Ctx: ShapeList,
    {
        let items: Vec<_> = Ctx::dims()
            .into_iter()
            .map(|d| ArrayD::from_elem(IxDyn(d), R::zero()))
            .collect();
        let zeros = vec![true; items.len()];
        TList::with_positive_zeros(items, zeros)
    }

    /// Like [`TList::from_vec_unchecked`], for a builder that knows which entries are all `+0`
    /// (so [`TList::positive_zeros`] need not look; debug builds check the claim).
    pub(crate) fn with_positive_zeros(items: Vec<ArrayD<R>>, zeros: Vec<bool>) -> Self {
        debug_assert_eq!(scan_positive_zeros(&items), zeros);
        TList {
            items,
            positive_zeros: OnceLock::from(zeros),
            _ctx: PhantomData,
        }
    }

    /// For each entry, whether every element is `+0` (an empty tensor counts), looked up once
    /// and then kept: this list never changes.
    pub(crate) fn positive_zeros(&self) -> &[bool] {
        self.positive_zeros
            .get_or_init(|| scan_positive_zeros(&self.items))
    }
}

/// Whether each tensor holds `+0` only, stopping at the first other element.
fn scan_positive_zeros<R: Runtime>(items: &[ArrayD<R>]) -> Vec<bool> {
    let pz = |x: R| x == R::zero() && x.is_sign_positive();
    items
        .iter()
        .map(|a| match a.as_slice_memory_order() {
            Some(s) => s.iter().all(|&x| pz(x)),
            None => a.iter().all(|&x| pz(x)),
        })
        .collect()
}

/// Marker for lists of error bounds.
#[derive(Debug, Clone, Copy)]
pub enum EpsKind {}
/// Marker for lists of scale bounds.
#[derive(Debug, Clone, Copy)]
pub enum ScaleKind {}

/// One [`Bound`] per context entry; [`EList`] and [`BList`] are its two meanings.
pub struct BoundList<K, Ctx> {
    items: Vec<Bound>,
    _p: PhantomData<fn() -> (K, Ctx)>,
}

/// Error bounds (eps, L∞) over a context.
pub type EList<Ctx> = BoundList<EpsKind, Ctx>;
/// Scale bounds (B, L∞) over a context.
pub type BList<Ctx> = BoundList<ScaleKind, Ctx>;

impl<K, Ctx> Clone for BoundList<K, Ctx> {
    fn clone(&self) -> Self {
        BoundList::from_vec_unchecked(self.items.clone())
    }
}

impl<K, Ctx> fmt::Debug for BoundList<K, Ctx> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items.iter()).finish()
    }
}

impl<K, Ctx> BoundList<K, Ctx> {
    pub(crate) fn from_vec_unchecked(items: Vec<Bound>) -> Self {
        BoundList {
            items,
            _p: PhantomData,
        }
    }

    /// Build from one bound per entry (checks the length).
    pub fn from_vec(items: Vec<Bound>) -> Result<Self, Error>
    where
        Ctx: ShapeList,
    {
        if items.len() != Ctx::LEN {
            return Err(Error::LengthMismatch {
                expected: Ctx::LEN,
                found: items.len(),
            });
        }
        Ok(Self::from_vec_unchecked(items))
    }

    /// The same bound for every entry.
    pub fn uniform(b: Bound) -> Self
    where
        Ctx: ShapeList,
    {
        Self::from_vec_unchecked(vec![b; Ctx::LEN])
    }

    /// The bound of entry `v`.
    ///
    /// # Panics
    /// If `v` is out of range (a handle of another graph with the same brand type).
    pub fn get<S, B>(&self, v: Var<S, B>) -> Bound {
        self.items[v.pos()]
    }

    /// Set the bound of entry `v`.
    pub fn set<S, B>(&mut self, v: Var<S, B>, b: Bound) {
        self.items[v.pos()] = b;
    }

    /// The bounds, first to last.
    pub fn as_slice(&self) -> &[Bound] {
        &self.items
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the context is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Append one bound.
    pub fn push<S>(mut self, b: Bound) -> BoundList<K, Snoc<Ctx, S>> {
        self.items.push(b);
        BoundList::from_vec_unchecked(self.items)
    }

    /// Entrywise sum, rounded up.
    pub fn add(&self, other: &Self) -> Self {
        Self::from_vec_unchecked(
            self.items
                .iter()
                .zip(&other.items)
                .map(|(&a, &b)| a + b)
                .collect(),
        )
    }
}

impl<K, I, S> BoundList<K, Snoc<I, S>> {
    /// Split off the last entry.
    pub fn split_last(mut self) -> (BoundList<K, I>, Bound) {
        let last = self
            .items
            .pop()
            .expect("invariant: a Snoc list is non-empty");
        (BoundList::from_vec_unchecked(self.items), last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Nil, Seg};
    use crate::{Rank0, Rank1, Rank2};
    use ndarray::{Array2, arr0, arr1};

    type Ctx = Seg<Nil, (Rank1<3>, Rank2<2, 0>, Rank0, Rank2<2, 3>)>;

    /// The `+0` flags backprop reads for a seed: `−0`, NaN and any nonzero entry are not `+0`;
    /// an empty tensor is; a transposed (non-standard) layout is read correctly; a clone
    /// and a list that knows its flags agree with a scan.
    #[test]
    fn positive_zeros_scan_and_known_flags_agree() {
        let t = Array2::<f32>::zeros((3, 2)).reversed_axes().into_dyn();
        let mut t_nz = Array2::<f32>::zeros((3, 2));
        t_nz[(2, 1)] = 1e-45;
        let cases: Vec<(Vec<ArrayD<f32>>, [bool; 4])> = vec![
            (
                vec![
                    arr1(&[0.0, 0.0, 0.0]).into_dyn(),
                    ArrayD::zeros(IxDyn(&[2, 0])),
                    arr0(0.0).into_dyn(),
                    t.clone(),
                ],
                [true; 4],
            ),
            (
                vec![
                    arr1(&[0.0, -0.0, 0.0]).into_dyn(),
                    ArrayD::zeros(IxDyn(&[2, 0])),
                    arr0(f32::NAN).into_dyn(),
                    t_nz.reversed_axes().into_dyn(),
                ],
                [false, true, false, false],
            ),
            (
                vec![
                    arr1(&[0.0, 0.0, 1.0]).into_dyn(),
                    ArrayD::zeros(IxDyn(&[2, 0])),
                    arr0(-0.0).into_dyn(),
                    t,
                ],
                [false, true, false, true],
            ),
        ];
        for (items, want) in cases {
            let x = TList::<f32, Ctx>::from_arrays(items).unwrap();
            assert_eq!(x.positive_zeros(), want);
            assert_eq!(x.clone().positive_zeros(), want);
        }
        assert_eq!(TList::<f32, Ctx>::zeros().positive_zeros(), [true; 4]);
        let z = TList::<f32, Ctx>::zeros();
        let scanned = TList::<f32, Ctx>::from_vec_unchecked(z.into_vec());
        assert_eq!(scanned.positive_zeros(), [true; 4]);
    }
}
