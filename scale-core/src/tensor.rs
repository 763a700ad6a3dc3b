//! Norms and finiteness of runtime tensors: what the graph engine, the certified pass and the
//! reports measure on values, kept apart from the ops so that neither depends on the other.

use crate::bound::Bound;
use crate::scalar::Runtime;
use ndarray::{Array, ArrayD, ArrayRef, ArrayView, Dimension, Zip};

/// `max |a_i|` as a bound (`+∞` if any element is not finite).
///
/// ```
/// use ndarray::arr1;
/// let b = scale_core::tensor::linf(&arr1(&[1.0f32, -3.0]).into_dyn());
/// assert_eq!(b.get(), 3.0);
/// ```
pub fn linf<R: Runtime>(a: &ArrayD<R>) -> Bound {
    let m = match a.as_slice_memory_order() {
        Some(s) => max_abs(s),
        None => a.iter().fold(0.0f64, |m, x| {
            let v = x.to_spec().abs();
            if v > m || v.is_nan() { v } else { m }
        }),
    };
    // NaN and ∞ both come out as a non-finite maximum.
    if m.is_finite() {
        Bound::new(m)
    } else {
        Bound::INF
    }
}

/// `max |xᵢ|` over a slice, or NaN if an element is not finite (NaN or ±∞: [`linf`], the only
/// caller, gives `+∞` for both), in an [`AbsMax`] of 16 lanes: the runtime type's width, where
/// comparing in `f64` halved the lanes (this pass measures every value and cotangent of a
/// certified step).
pub(crate) fn max_abs<R: Runtime>(xs: &[R]) -> f64 {
    let mut mx = AbsMax::<R, 16>::new();
    let chunks = xs.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        mx.push_all(c);
    }
    mx.push_all(rest);
    mx.get()
}

/// `max|xᵢ|` in `L` independent lanes of the runtime type itself (the largest `|xᵢ|` is one of
/// the values, so converting it alone to `f64` is exact), or NaN if some `xᵢ` is not finite.
///
/// Finiteness is one more accumulator per lane, `bad += x − x`: `+0` while every `x` is
/// finite, NaN from the first that is not. (A `bool` flag `|=`'d with `is_nan` made the
/// compiler shuffle every vector into one byte, and cost as much as the maximum itself.)
pub(crate) struct AbsMax<R, const L: usize> {
    mx: [R; L],
    bad: [R; L],
}

impl<R: Runtime, const L: usize> AbsMax<R, L> {
    pub(crate) fn new() -> Self {
        AbsMax {
            mx: [R::zero(); L],
            bad: [R::zero(); L],
        }
    }

    /// Up to `L` values, one per lane (a whole chunk: the loop over it vectorises; written with
    /// the lane index, as a `zip` over the lanes it did not, `linf` 4.6 % → 16.7 %).
    #[inline(always)]
    pub(crate) fn push_all(&mut self, xs: &[R]) {
        for (l, &x) in xs.iter().enumerate().take(L) {
            let v = x.abs();
            self.mx[l] = if v > self.mx[l] { v } else { self.mx[l] };
            self.bad[l] = self.bad[l] + finite_marker(x);
        }
    }

    /// The maximum (0 with no values), NaN if a value was not finite.
    pub(crate) fn get(&self) -> f64 {
        if self.bad.iter().any(|&b| b != R::zero()) {
            return f64::NAN;
        }
        self.mx
            .iter()
            .fold(R::zero(), |a, &b| if b > a { b } else { a })
            .to_spec()
    }
}

/// `x − x`: `+0` for a finite `x`, NaN for NaN and ±∞. A finiteness test that is plain
/// arithmetic, so lanes accumulating it vectorise.
#[inline(always)]
#[allow(clippy::eq_op)] // `x − x` is the point: it is not 0 for a non-finite `x`
fn finite_marker<R: Runtime>(x: R) -> R {
    x - x
}

/// `Σ xᵢ` in `R`, as 8 interleaved partial sums added pairwise at the end: the loop
/// vectorises, where a left-to-right fold waits on each addition's latency (a layer norm's
/// row sums were 8 % of the transformer block's runtime step). For runtime sums whose bounds
/// measure the result rather than assume an order (layer norm's, whose distances to the
/// enclosure cover whatever order the runtime summed in).
pub(crate) fn sum_lanes<R: Runtime>(xs: &[R]) -> R {
    let mut acc = [R::zero(); 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = *a + x;
        }
    }
    for (a, &x) in acc.iter_mut().zip(rest) {
        *a = *a + x;
    }
    let [a, b, c, d, e, f, g, h] = acc;
    ((a + b) + (c + d)) + ((e + f) + (g + h))
}

/// An owned standard-layout copy of `v`. Where its last axis is contiguous (a permutation
/// that keeps it: the transformer's head split and merge), row by row as slice copies;
/// otherwise written by [`Zip`](ndarray::Zip), whose inner loop runs along one axis with a
/// fixed stride. Not the element iterator behind `as_standard_layout().into_owned()`, which
/// steps a dynamic-rank index per element (6 % of the transformer's runtime step), nor `Zip`
/// on those views (its collect writes one element at a time behind a drop guard: 6 % again).
pub(crate) fn to_standard<T: Clone, D: Dimension>(v: ArrayView<'_, T, D>) -> Array<T, D> {
    if v.is_standard_layout() {
        return v.to_owned();
    }
    if let Some(a) = permuted_rows(&v) {
        return a;
    }
    // Rows of a sliced view, when they are slices (rows of one entry would be the lane
    // iterator's per-element walk: `Zip` below does better).
    if v.ndim() > 0 && v.strides()[v.ndim() - 1] == 1 && v.shape()[v.ndim() - 1] > 1 {
        let mut out = Vec::with_capacity(v.len());
        for row in v.rows() {
            match row.to_slice() {
                Some(s) => out.extend_from_slice(s),
                None => out.extend(row.iter().cloned()),
            }
        }
        if let Ok(a) = Array::from_shape_vec(v.raw_dim(), out) {
            return a;
        }
    }
    let out = Zip::from(&v).map_collect(T::clone);
    if out.is_standard_layout() {
        out
    } else {
        // `map_collect` follows a column-major input's layout.
        out.as_standard_layout().into_owned()
    }
}

/// [`to_standard`] of a view that covers its memory without gaps, with nonnegative strides and
/// a contiguous last axis (a permutation of a standard array that keeps the last axis): the
/// rows copied as slices of that memory, at offsets stepped like an odometer (ndarray's lane
/// iterator computes each row's offset from a dynamic index: as slow as the copy itself).
fn permuted_rows<T: Clone, D: Dimension>(v: &ArrayView<'_, T, D>) -> Option<Array<T, D>> {
    let mem = v.as_slice_memory_order()?;
    let (shape, strides) = (v.shape(), v.strides());
    let (&row, outer) = shape.split_last()?;
    if row == 0 || strides[outer.len()] != 1 {
        return None;
    }
    let steps: Vec<usize> = strides[..outer.len()]
        .iter()
        .map(|&s| usize::try_from(s).ok())
        .collect::<Option<_>>()?;
    let mut out = Vec::with_capacity(mem.len());
    let (mut idx, mut off) = (vec![0usize; outer.len()], 0usize);
    for _ in 0..mem.len() / row {
        out.extend_from_slice(mem.get(off..off + row)?);
        for a in (0..outer.len()).rev() {
            idx[a] += 1;
            off += steps[a];
            if idx[a] < outer[a] {
                break;
            }
            off -= steps[a] * outer[a];
            idx[a] = 0;
        }
    }
    Array::from_shape_vec(v.raw_dim(), out).ok()
}

/// Whether every element is finite.
pub(crate) fn all_finite<R: Runtime>(a: &ArrayD<R>) -> bool {
    fold_elems(a, true, |ok, x| ok & x.is_finite())
}

/// Whether every element is exactly zero (a NaN is not).
pub(crate) fn is_zero<R: Runtime>(a: &ArrayD<R>) -> bool {
    fold_elems(a, true, |ok, x| ok & (x.to_spec() == 0.0))
}

/// Fold over the elements in memory order: a tight loop over a slice when the array is contiguous
/// (iterating a dynamic-rank array element by element is several times slower).
#[inline]
pub(crate) fn fold_elems<R: Copy, T, D: Dimension>(
    a: &ArrayRef<R, D>,
    init: T,
    f: impl Fn(T, R) -> T,
) -> T {
    match a.as_slice_memory_order() {
        Some(s) => s.iter().fold(init, |acc, &x| f(acc, x)),
        None => a.iter().fold(init, |acc, &x| f(acc, x)),
    }
}

/// `f` of every entry, in a loop compiled for the CPU's widest vectors (`pulp`'s run-time
/// dispatch: AVX2 or AVX-512 on x86-64) where the array is contiguous, so a branch-free `f`
/// vectorises (GELU's `erf32`/`exp32`). Pass `f` as a closure marked `#[inline(always)]`: a
/// function item is called through a shim that stays outside the loop. The same IEEE
/// operations either way (Rust never fuses a product and a sum on its own), so the results are
/// bit for bit those of `mapv`.
pub(crate) fn map_vectorised<R: Runtime>(x: &ArrayD<R>, f: impl Fn(R) -> R) -> ArrayD<R> {
    let Some(xs) = x.as_slice() else {
        return x.mapv(f);
    };
    let mut out = vec![R::zero(); xs.len()];
    pulp::Arch::new().dispatch(Map1 {
        xs,
        out: &mut out,
        f: &f,
    });
    ArrayD::from_shape_vec(x.raw_dim(), out).unwrap_or_else(|_| x.mapv(f))
}

/// `f` of every pair of entries of two arrays of one shape, as [`map_vectorised`].
pub(crate) fn zip_map_vectorised<R: Runtime>(
    x: &ArrayD<R>,
    y: &ArrayD<R>,
    f: impl Fn(R, R) -> R,
) -> ArrayD<R> {
    let fallback =
        |f: &dyn Fn(R, R) -> R| ndarray::Zip::from(x).and(y).map_collect(|&a, &b| f(a, b));
    let (Some(xs), Some(ys)) = (x.as_slice(), y.as_slice()) else {
        return fallback(&f);
    };
    if x.shape() != y.shape() {
        return fallback(&f);
    }
    let mut out = vec![R::zero(); xs.len()];
    pulp::Arch::new().dispatch(Map2 {
        xs,
        ys,
        out: &mut out,
        f: &f,
    });
    ArrayD::from_shape_vec(x.raw_dim(), out).unwrap_or_else(|_| fallback(&f))
}

/// `x ← f(x)` over a slice, as [`map_vectorised`].
pub(crate) fn map_in_place_vectorised<R: Runtime>(xs: &mut [R], f: impl Fn(R) -> R) {
    pulp::Arch::new().dispatch(MapInPlace { xs, f: &f });
}

/// `f` of every entry as two arrays, as [`map_vectorised`]: a value and what a later pass
/// reuses of its computation (the smooth family keeps GELU's `erf` for its VJP), in one loop.
pub(crate) fn map_pair_vectorised<R: Runtime>(
    x: &ArrayD<R>,
    f: impl Fn(R) -> (R, R),
) -> (ArrayD<R>, ArrayD<R>) {
    let fallback = |f: &dyn Fn(R) -> (R, R)| {
        let pairs = x.mapv(f);
        (pairs.mapv(|p| p.0), pairs.mapv(|p| p.1))
    };
    let Some(xs) = x.as_slice() else {
        return fallback(&f);
    };
    let (mut out, mut aux) = (vec![R::zero(); xs.len()], vec![R::zero(); xs.len()]);
    pulp::Arch::new().dispatch(MapPair {
        xs,
        out: &mut out,
        aux: &mut aux,
        f: &f,
    });
    match (
        ArrayD::from_shape_vec(x.raw_dim(), out),
        ArrayD::from_shape_vec(x.raw_dim(), aux),
    ) {
        (Ok(o), Ok(a)) => (o, a),
        _ => fallback(&f),
    }
}

/// `f` of every triple of entries of three arrays of one shape, as [`map_vectorised`].
pub(crate) fn zip3_map_vectorised<R: Runtime>(
    x: &ArrayD<R>,
    y: &ArrayD<R>,
    z: &ArrayD<R>,
    f: impl Fn(R, R, R) -> R,
) -> ArrayD<R> {
    let fallback = |f: &dyn Fn(R, R, R) -> R| {
        ndarray::Zip::from(x)
            .and(y)
            .and(z)
            .map_collect(|&a, &b, &c| f(a, b, c))
    };
    let (Some(xs), Some(ys), Some(zs)) = (x.as_slice(), y.as_slice(), z.as_slice()) else {
        return fallback(&f);
    };
    if x.shape() != y.shape() || x.shape() != z.shape() {
        return fallback(&f);
    }
    let mut out = vec![R::zero(); xs.len()];
    pulp::Arch::new().dispatch(Map3 {
        xs,
        ys,
        zs,
        out: &mut out,
        f: &f,
    });
    ArrayD::from_shape_vec(x.raw_dim(), out).unwrap_or_else(|_| fallback(&f))
}

/// The loop of [`map_vectorised`], a `pulp` operation: its `with_simd` is always inlined into
/// the function pulp compiles for the detected instruction set (a closure passed to
/// `dispatch` was not, and its loop stayed SSE2).
struct Map1<'a, R, F> {
    xs: &'a [R],
    out: &'a mut [R],
    f: &'a F,
}

impl<R: Runtime, F: Fn(R) -> R> pulp::WithSimd for Map1<'_, R, F> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        for (o, &v) in self.out.iter_mut().zip(self.xs) {
            *o = (self.f)(v);
        }
    }
}

/// The loop of [`zip_map_vectorised`], as [`Map1`].
struct Map2<'a, R, F> {
    xs: &'a [R],
    ys: &'a [R],
    out: &'a mut [R],
    f: &'a F,
}

impl<R: Runtime, F: Fn(R, R) -> R> pulp::WithSimd for Map2<'_, R, F> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        for ((o, &a), &b) in self.out.iter_mut().zip(self.xs).zip(self.ys) {
            *o = (self.f)(a, b);
        }
    }
}

/// The loop of [`map_in_place_vectorised`], as [`Map1`].
struct MapInPlace<'a, R, F> {
    xs: &'a mut [R],
    f: &'a F,
}

impl<R: Runtime, F: Fn(R) -> R> pulp::WithSimd for MapInPlace<'_, R, F> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        for x in self.xs.iter_mut() {
            *x = (self.f)(*x);
        }
    }
}

/// The loop of [`map_pair_vectorised`], as [`Map1`].
struct MapPair<'a, R, F> {
    xs: &'a [R],
    out: &'a mut [R],
    aux: &'a mut [R],
    f: &'a F,
}

impl<R: Runtime, F: Fn(R) -> (R, R)> pulp::WithSimd for MapPair<'_, R, F> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        for ((o, a), &v) in self.out.iter_mut().zip(self.aux.iter_mut()).zip(self.xs) {
            (*o, *a) = (self.f)(v);
        }
    }
}

/// The loop of [`zip3_map_vectorised`], as [`Map1`].
struct Map3<'a, R, F> {
    xs: &'a [R],
    ys: &'a [R],
    zs: &'a [R],
    out: &'a mut [R],
    f: &'a F,
}

impl<R: Runtime, F: Fn(R, R, R) -> R> pulp::WithSimd for Map3<'_, R, F> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let abc = self.xs.iter().zip(self.ys).zip(self.zs);
        for (o, ((&a, &b), &c)) in self.out.iter_mut().zip(abc) {
            *o = (self.f)(a, b, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{ArrayD, IxDyn};
    use proptest::prelude::{Just, prop_oneof};

    /// `max |xᵢ|` in the runtime type: exact on subnormals, `−0` and `MAX`; NaN wherever a NaN
    /// or an infinity sits (lanes and remainder), for `f32` and a half type, and `linf` `+∞`.
    #[test]
    fn max_abs_is_exact_and_keeps_nan() {
        let mut v: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) * 1e-40).collect();
        v.push(-0.0);
        assert_eq!(super::max_abs(&v), 18.0 * f64::from(1e-40f32));
        v[5] = -f32::MAX;
        assert_eq!(super::max_abs(&v), f64::from(f32::MAX));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, 7, 16, 33, 37] {
                let mut w = v.clone();
                w[at] = bad;
                assert!(super::max_abs(&w).is_nan(), "{bad} at {at}");
                let a = ndarray::Array1::from(w).into_dyn();
                assert!(super::linf(&a).is_infinite(), "{bad} at {at}");
            }
        }
        let mut hb: Vec<half::bf16> = vec![half::bf16::ONE; 20];
        hb[17] = half::bf16::INFINITY;
        assert!(super::max_abs(&hb).is_nan());
        let h: Vec<half::bf16> = (0..19)
            .map(|i| half::bf16::from_f32(i as f32 - 9.5))
            .collect();
        assert_eq!(super::max_abs(&h), 9.5);
        assert_eq!(super::max_abs::<f32>(&[]), 0.0);
    }

    use crate::ops::gelu::{GeluFn, GeluTanhFn};
    use crate::ops::unary::{ExpFn, SigmoidFn, SmoothFn, TanhFn};
    use ndarray::Zip;

    /// Arguments that reach every branch and form: a dense sweep, huge and tiny magnitudes,
    /// subnormals, both zeros, both infinities and NaN.
    fn args() -> ArrayD<f32> {
        let mut v: Vec<f32> = (0..20_000)
            .map(|i| (i as f32 - 10_000.0) * 6.1e-4)
            .collect();
        for e in [-149, -140, -126, -60, -20, -3, 0, 2, 3, 5, 10, 40, 100, 127] {
            let m = 2f32.powi(e);
            v.extend([m, -m, m * 1.37, -m * 1.37]);
        }
        v.extend([
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN,
        ]);
        let n = v.len();
        ArrayD::from_shape_vec(IxDyn(&[n]), v).expect("one dimension")
    }

    fn same(a: &ArrayD<f32>, b: &ArrayD<f32>) -> bool {
        a.shape() == b.shape()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    fn check<F: SmoothFn>() {
        let x = args();
        let d = x.mapv(|v| if v.is_finite() { 1.0 - v * 0.25 } else { 0.5 });
        let vec = super::map_vectorised(&x, |v| F::rt(v));
        assert!(same(&vec, &x.mapv(F::rt::<f32>)), "{}: forward", F::NAME);
        let vjp = super::zip_map_vectorised(&x, &d, |x, d| d * F::rt_d(x));
        let scalar = Zip::from(&x).and(&d).map_collect(|&x, &d| d * F::rt_d(x));
        assert!(same(&vjp, &scalar), "{}: VJP", F::NAME);
        // The kept part's loops (`SmoothFn::KEEPS`): the same bits as the scalar kernels.
        let (y, k) = super::map_pair_vectorised(&x, |v| {
            let k = F::rt_keep(v);
            (F::rt_kept(v, k), k)
        });
        assert!(same(&y, &x.mapv(F::rt::<f32>)), "{}: kept forward", F::NAME);
        let kept = super::zip3_map_vectorised(&x, &k, &d, |x, k, d| d * F::rt_d_kept(x, k));
        assert!(same(&kept, &scalar), "{}: kept VJP", F::NAME);
        // A non-contiguous view takes the plain path, with the same values.
        let strided = x
            .slice_each_axis(|_| ndarray::Slice::new(0, None, 2))
            .to_owned();
        let t = x.t().to_owned();
        assert!(same(
            &super::map_vectorised(&strided, |v| F::rt(v)),
            &strided.mapv(F::rt::<f32>)
        ));
        assert!(same(
            &super::map_vectorised(&t, |v| F::rt(v)),
            &t.mapv(F::rt::<f32>)
        ));
        // An owned array with a stride of 2 (not a slice): the fallback loops.
        let mut nc = x.clone();
        nc.slice_each_axis_inplace(|_| ndarray::Slice::new(0, None, 2));
        assert!(nc.as_slice().is_none());
        let (ys, ks) = super::map_pair_vectorised(&nc, |v| {
            let k = F::rt_keep(v);
            (F::rt_kept(v, k), k)
        });
        assert!(same(&ys, &nc.mapv(F::rt::<f32>)) && same(&ks, &nc.mapv(F::rt_keep::<f32>)));
        let dn = nc.mapv(|v| if v.is_finite() { 0.5 - v } else { 2.0 });
        assert!(same(
            &super::zip3_map_vectorised(&nc, &ks, &dn, |x, k, d| d * F::rt_d_kept(x, k)),
            &Zip::from(&nc).and(&dn).map_collect(|&x, &d| d * F::rt_d(x))
        ));
    }

    proptest::proptest! {
        /// `to_standard` copies every view (permuted with or without its last axis in place,
        /// sliced with steps and reversed, zero-size axes) to standard layout with its values
        /// in logical order.
        #[test]
        fn standard_copies_keep_the_logical_order(
            dims in proptest::collection::vec(0usize..5, 1..5),
            perm_seed in proptest::prelude::any::<u64>(),
            steps in proptest::collection::vec(prop_oneof![Just(1isize), Just(2), Just(-1)], 4),
        ) {
            let n: usize = dims.iter().product();
            let a = ArrayD::from_shape_vec(IxDyn(&dims), (0..n as u32).collect()).unwrap();
            let shuffle = |k: usize| {
                let (mut axes, mut s): (Vec<usize>, u64) = ((0..dims.len()).collect(), perm_seed);
                for i in (1..k).rev() {
                    axes.swap(i, (s % (i as u64 + 1)) as usize);
                    s /= i as u64 + 1;
                }
                axes
            };
            let (all, keep_last) = (shuffle(dims.len()), shuffle(dims.len() - 1));
            let sliced = a.view().permuted_axes(IxDyn(&all));
            let sliced =
                sliced.slice_each_axis(|ax| ndarray::Slice::new(0, None, steps[ax.axis.index()]));
            for w in [
                a.view().permuted_axes(IxDyn(&all)),
                a.view().permuted_axes(IxDyn(&keep_last)),
                sliced,
            ] {
                let got = super::to_standard(w.view());
                proptest::prop_assert!(got.is_standard_layout());
                proptest::prop_assert_eq!(got.shape(), w.shape());
                let want: Vec<u32> = w.iter().copied().collect();
                proptest::prop_assert_eq!(got.as_slice().unwrap(), &want[..]);
                // A whole permutation keeping the last axis takes the odometer path.
                let whole = w.len() == n && w.strides().iter().all(|&s| s >= 0);
                if whole && n > 0 && w.strides()[dims.len() - 1] == 1 {
                    let rows = super::permuted_rows(&w);
                    proptest::prop_assert_eq!(rows.map(|r| r.into_raw_vec_and_offset().0), Some(want));
                }
            }
        }
    }

    /// The vectorised loops give bit for bit the scalar loops' results (they run the same IEEE
    /// operations), for the runtime kernels that use them.
    #[test]
    fn vectorised_maps_match_the_scalar_loops() {
        check::<GeluFn>();
        check::<GeluTanhFn>();
        check::<TanhFn>();
        check::<SigmoidFn>();
        check::<ExpFn>();
    }

    /// Every entry is added once, whatever the length's remainder modulo the 8 lanes (exact
    /// sums of small integers show a dropped or doubled entry), and a NaN or infinity anywhere
    /// reaches the result.
    #[test]
    fn lane_sums_add_every_entry_once() {
        for n in [0usize, 1, 7, 8, 9, 16, 23, 128, 131] {
            let v: Vec<f32> = (1..=n).map(|i| i as f32).collect();
            assert_eq!(super::sum_lanes(&v), (n * (n + 1) / 2) as f32, "n = {n}");
            for bad in [f32::NAN, f32::INFINITY] {
                for at in [0, n / 2, n.saturating_sub(1)]
                    .into_iter()
                    .filter(|&a| a < n)
                {
                    let mut w = v.clone();
                    w[at] = bad;
                    assert!(!super::sum_lanes(&w).is_finite(), "n = {n}, at {at}");
                }
            }
        }
        // Near-MAX terms that overflow in every order overflow here too (the lanes cannot
        // hide an overflow as a finite sum), and cancelling ones stay exact.
        let big = [f32::MAX; 9];
        assert_eq!(super::sum_lanes(&big), f32::INFINITY);
        let mut pairs = vec![f32::MAX; 8];
        pairs.extend([-f32::MAX; 8]);
        assert_eq!(super::sum_lanes(&pairs), 0.0);
    }
}
