//! The GEMM kernel behind `matmul`/`matvec` for `f32` and `f64`.
//!
//! Measured on this project's machine (AVX-512, one thread, 512³ and MLP-sized products):
//! `faer` 110 GFLOP/s, `gemm` 97–108 (but only through an `unsafe` API, which our crates forbid),
//! ndarray's default `matrixmultiply` 76–95. `faer` is pure Rust and its safe API takes strided
//! views, so transposed operands cost nothing. See `docs/benchmarks.md`.

use faer::traits::ComplexField;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array2, ArrayView2};

/// A faer view of an ndarray view when its memory is row- or column-contiguous.
fn as_faer<'a, T>(a: &ArrayView2<'a, T>) -> Option<MatRef<'a, T>> {
    let (m, n) = a.dim();
    if let Some(s) = a.to_slice() {
        return Some(MatRef::from_row_major_slice(s, m, n));
    }
    // Column-major (e.g. the transpose of a row-major array).
    (*a).reversed_axes()
        .to_slice()
        .map(|s| MatRef::from_column_major_slice(s, m, n))
}

/// `a · b` with faer, copying an operand to standard layout only when it is neither row- nor
/// column-contiguous.
pub fn matmul<T>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T>
where
    T: ComplexField + Copy + num_traits::Zero,
{
    let (m, k) = a.dim();
    let n = b.ncols();
    debug_assert_eq!(k, b.nrows());
    let a_owned;
    let fa = match as_faer(&a) {
        Some(f) => f,
        None => {
            a_owned = a.as_standard_layout().into_owned();
            MatRef::from_row_major_slice(a_owned.as_slice().unwrap_or(&[]), m, k)
        }
    };
    let b_owned;
    let fb = match as_faer(&b) {
        Some(f) => f,
        None => {
            b_owned = b.as_standard_layout().into_owned();
            MatRef::from_row_major_slice(b_owned.as_slice().unwrap_or(&[]), k, n)
        }
    };
    let mut c = Array2::<T>::zeros((m, n));
    if m == 0 || n == 0 {
        return c;
    }
    if let Some(cs) = c.as_slice_mut() {
        let dst = MatMut::from_row_major_slice_mut(cs, m, n);
        faer::linalg::matmul::matmul(dst, Accum::Replace, fa, fb, T::one_impl(), Par::Seq);
    }
    c
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    #[test]
    fn matches_ndarray_on_all_layouts() {
        let a = Array2::from_shape_fn((5, 7), |(i, j)| (i * 7 + j) as f64 * 0.5 - 3.0);
        let b = Array2::from_shape_fn((7, 3), |(i, j)| (i * 3 + j) as f64 * 0.25 - 1.0);
        let want = a.dot(&b);
        assert_eq!(super::matmul(a.view(), b.view()), want);
        let at = a.t().to_owned();
        assert_eq!(super::matmul(at.t(), b.view()), want);
        let wide = Array2::from_shape_fn(
            (5, 14),
            |(i, j)| if j % 2 == 0 { a[[i, j / 2]] } else { 9.0 },
        );
        let strided = wide.slice_axis(ndarray::Axis(1), ndarray::Slice::new(0, None, 2));
        assert_eq!(super::matmul(strided, b.view()), want);
        assert_eq!(
            super::matmul(a.view(), Array2::<f64>::zeros((7, 0)).view()).dim(),
            (5, 0)
        );
    }
}
