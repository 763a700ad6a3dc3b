//! `abs(x) = |x|`, elementwise (SPEC §9b): exact in floating point, 1-Lipschitz, kinked at 0.
//!
//! Its derivative follows PyTorch (`grad · sgn(x)`, so `0` at `x = 0`). Near the kink the exact
//! and the runtime derivative may differ — `sgn` of the spec value can be `−1`, `0` or `1` wherever
//! the runtime value is within eps of 0 — and the VJP bound pays for that: SPEC §5's mask-flip
//! rule with three branches.

use super::op_node;
use super::util::at;
use crate::bound::{Bound, inflate};
use crate::handle::Var;
use crate::ops::kit::{Op, OpRuntime};
use crate::scalar::{Arith, Runtime, SpecScalar};
use crate::shape::Shape;
use crate::tensor::linf;
use ndarray::{ArrayD, Zip};

op_node! {
    /// `|x|`, elementwise, with derivative `sgn(x)` (`0` at `0`, PyTorch's convention).
    Abs<S>[1] => S
}

/// `abs(x) = |x|`, elementwise.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, RevGraphScale, TList};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank1<3>,)>, Nil, _>::nil(scale_core::brand!());
/// let (g, y) = g.snoc(ops::abs(x));
/// let (g, s) = g.snoc(ops::sum(y));
/// let xr = TList::from_arrays(vec![ndarray::arr1(&[-1.5f32, 0.0, 2.0]).into_dyn()])?;
/// let (e, b) = g.exact_inputs(&xr);
/// let (seed, es, bs) = g.loss_seed(s);
/// let cert = g.certify(xr, &e, &b, &seed, &es, &bs);
/// assert_eq!(cert.value(s), 3.5);
/// assert_eq!(cert.grads.get(x).as_slice().unwrap(), &[-1.0, 0.0, 1.0]); // sgn, 0 at the kink
/// # Ok::<(), scale_core::Error>(())
/// ```
pub fn abs<S: Shape, B>(x: Var<S, B>) -> Abs<S, B> {
    Abs::new([x.arg()])
}

/// `sgn(x)·δ` in runtime arithmetic (`0` at `x = 0`; a NaN `x` passes NaN on).
fn sgn_times<R: Runtime>(x: &ArrayD<R>, d: &ArrayD<R>) -> ArrayD<R> {
    Zip::from(x).and(d).map_collect(|&x, &d| {
        if x > R::zero() {
            d
        } else if x < R::zero() {
            -d
        } else if x == R::zero() {
            R::zero()
        } else {
            x
        }
    })
}

impl<S: Shape, B> Op for Abs<S, B> {
    const NAME: &'static str = "abs";
    fn args(&self) -> &[crate::handle::Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        at(ctx, &self.args[0]).mapv(|x| x.abs())
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let x = at(ctx, &self.args[0]);
        vec![Zip::from(x).and(delta).map_collect(|&x, &d| {
            if x.is_exact_zero() {
                T::lit(0.0)
            } else if x.lo() > 0.0 {
                d
            } else if x.hi() < 0.0 {
                -d
            } else {
                // The sign is uncertain: −δ, 0 or δ (the hull of ±δ holds 0).
                d.hull(-d)
            }
        })]
    }
}

impl<S: Shape, B, R: Runtime> OpRuntime<R> for Abs<S, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        at(ctx, &self.args[0]).mapv(|x| if x < R::zero() { -x } else { x })
    }
    /// `||a| − |b|| ≤ |a − b|`, and `|x̂|` is exact.
    fn fwd_eps(&self, eps: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        eps[self.args[0].pos]
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        b[self.args[0].pos].max(linf(out))
    }
    fn vjp_runtime(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![sgn_times(at(ctx, &self.args[0]), delta)]
    }
    /// Away from the kink (`|x̂| > ε`) both sides multiply by the same sign: `ε_δ`. Near it the
    /// spec sign `s` and the runtime sign `r` may differ: `|s·δ − r·δ̂| ≤ ε_δ + |s − r|·|δ̂| ≤
    /// ε_δ + 2|δ̂|`.
    fn vjp_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        let (x, e) = (at(ctx, &self.args[0]), eps[self.args[0].pos].get());
        let (mut far, mut near, mut near_any) = (false, 0.0f64, false);
        Zip::from(x).and(d).for_each(|&xi, &di| {
            let xv = xi.to_spec();
            // With ε = +∞ every entry is near the kink (even x̂ = ±∞).
            if !e.is_infinite() && xv.abs() > e {
                far = true;
            } else {
                near_any = true;
                let dv = 2.0 * di.to_spec().abs();
                if !(dv <= near) {
                    near = dv;
                }
            }
        });
        let mut out = if far { ed } else { Bound::ZERO };
        if near_any {
            out = out.max(inflate(near, 0) + ed);
        }
        vec![out]
    }
    fn vjp_scale(&self, _b: &[Bound], ctx: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        vec![bd.max(linf(&sgn_times(at(ctx, &self.args[0]), d)))]
    }
}
