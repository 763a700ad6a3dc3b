//! The GEMM kernel behind `matmul`/`matvec` for `f32` and `f64`: faer's safe API (strided
//! views, so transposed operands cost nothing), which dispatches to the `gemm` crate's kernels.
//!
//! Which kernels faer reaches is a build setting, and it decides the speed of everything else
//! in the process. With its `std` feature faer calls `private-gemm-x86`, whose AVX-512 kernels
//! return with the upper halves of the vector registers dirty; from then on every SSE
//! instruction of this crate (all of its elementwise, `Ball` and interval code, compiled for
//! baseline x86-64) pays the SSE/AVX transition, measured 2.7× slower (an `erf32` call 6.5 →
//! 17.4 ns after one GEMM). Without `std` faer takes the `gemm` crate's kernels, which end with
//! `vzeroupper`; the workspace turns on `gemm/std` (runtime CPU detection) and `gemm/x86-v4`
//! (its AVX-512 kernels) by naming the crate. The products themselves got a little slower
//! (`bench_mlp`'s hand-written step +15 %, its runtime step +5 %), everything after them a lot
//! faster (its certified this-run step 36–38 → 11–14 ms, the transformer block's runtime step
//! 27 → 14 ms; `docs/benchmarks.md`). The `the_lock_file_keeps_private_gemm_out` test below
//! fails if `private-gemm-x86` comes back into `Cargo.lock`.

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
    T: ComplexField + Copy + num_traits::Zero + Send + Sync,
{
    product(a, b, false)
}

/// `a · b` like [`matmul`], as two halves of the output split along its longer side when the
/// product is large (`m·k·n ≥ 2¹⁸`): the halves run side by side when the calling pass may use
/// two threads ([`beside`](crate::config::beside)), one after the other otherwise. The split
/// depends on the shape alone, so the result (every entry's own sequence of operations) is the
/// same for every thread count. For the `f64` midpoints of the enclosure passes.
pub(crate) fn matmul_halves<T>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T>
where
    T: ComplexField + Copy + num_traits::Zero + Send + Sync,
{
    product(a, b, true)
}

fn product<T>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, halves: bool) -> Array2<T>
where
    T: ComplexField + Copy + num_traits::Zero + Send + Sync,
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
    let one = || T::one_impl();
    let mm = |dst: MatMut<'_, T>, fa: MatRef<'_, T>, fb: MatRef<'_, T>| {
        faer::linalg::matmul::matmul(dst, Accum::Replace, fa, fb, one(), Par::Seq);
    };
    if let Some(cs) = c.as_slice_mut() {
        let dst = MatMut::from_row_major_slice_mut(cs, m, n);
        let work = m.saturating_mul(k).saturating_mul(n);
        if !halves || work < 1 << 18 || m.max(n) < 2 {
            mm(dst, fa, fb);
        } else if m >= n {
            let (d0, d1) = dst.split_at_row_mut(m / 2);
            let (a0, a1) = fa.split_at_row(m / 2);
            crate::config::beside(work / 2, || mm(d1, a1, fb), || mm(d0, a0, fb));
        } else {
            let (d0, d1) = dst.split_at_col_mut(n / 2);
            let (b0, b1) = fb.split_at_col(n / 2);
            crate::config::beside(work / 2, || mm(d1, fa, b1), || mm(d0, fa, b0));
        }
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

    /// The workspace's lock file resolves faer to the `gemm` crate's kernels, not
    /// `private-gemm-x86` (see the module docs: with it every later SSE instruction is 2.7×
    /// slower). Turning faer's `std` feature back on, directly or through another crate, fails
    /// here.
    #[test]
    fn the_lock_file_keeps_private_gemm_out() {
        let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
        let Ok(text) = std::fs::read_to_string(&lock) else {
            // Built outside the workspace (a published crate has no lock file beside it).
            return;
        };
        assert!(
            text.contains("name = \"gemm\""),
            "faer's GEMM crate is not in {lock:?}"
        );
        assert!(
            !text.contains("name = \"private-gemm-x86\""),
            "faer's std feature is on: its AVX-512 kernels slow everything after them"
        );
    }
}
