//! Elementwise ops: `add`, `sub`, `mul`, `neg`, `scale`, `relu`, `leaky_relu`.
//!
//! Local rounding is measured per entry against an `f64` re-evaluation on the runtime operands
//! (see the [module docs](super)); propagation is exact linear algebra on the input eps.

use super::kit::Op;
use super::node_type;
use super::util::{at, nan_max, prod_err, spec_b, sum2_err};
use crate::bound::{Bound, inflate};
use crate::error::{Error, finite_constant};
use crate::handle::{Arg, Var};
use crate::scalar::{Runtime, SpecScalar};
use crate::shape::{SameShape, Shape};
use crate::tensor::linf;
use ndarray::{ArrayD, Zip};
use std::marker::PhantomData;

fn zip2<A: Copy, C, F: Fn(A, A) -> C>(a: &ArrayD<A>, b: &ArrayD<A>, f: F) -> ArrayD<C> {
    Zip::from(a).and(b).map_collect(|&x, &y| f(x, y))
}

/// Max over entries of `|ŷ − (â ± b̂)|` bounds (local rounding of an elementwise sum/difference).
fn addsub_local<R: Runtime>(a: &ArrayD<R>, b: &ArrayD<R>, out: &ArrayD<R>, sign: f64) -> Bound {
    let mut m = 0.0f64;
    Zip::from(a).and(b).and(out).for_each(|&x, &y, &o| {
        m = nan_max(m, sum2_err(o.to_spec(), x.to_spec(), sign * y.to_spec()));
    });
    inflate(m, 3)
}

// ------------------------------------------------------------------------------------------ add

/// `a + b`, elementwise.
pub struct Add<S, B> {
    args: [Arg; 2],
    _p: PhantomData<fn() -> (S, B)>,
}
node_type!(Add<S> => S);

/// `a + b` elementwise; shapes must be equal.
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, RevGraphScale};
/// let (g, (a, b)) =
///     RevGraphScale::<f32, Seg<Nil, (Rank1<3>, Rank1<3>)>, Nil, _>::nil(scale_core::brand!());
/// let (_g, _c) = g.snoc(ops::add(a, b));
/// ```
pub fn add<S, S2, B>(a: Var<S, B>, b: Var<S2, B>) -> Add<S, B>
where
    S: Shape + SameShape<S2>,
    S2: Shape,
{
    Add {
        args: [a.arg(), b.arg()],
        _p: PhantomData,
    }
}

impl<S: Shape, B> Op for Add<S, B> {
    const NAME: &'static str = "add";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        zip2(at(ctx, &self.args[0]), at(ctx, &self.args[1]), |x, y| x + y)
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![delta.clone(), delta.clone()]
    }
    fn forward_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        zip2(at(ctx, &self.args[0]), at(ctx, &self.args[1]), |x, y| x + y)
    }
    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let (a, b) = (&self.args[0], &self.args[1]);
        eps[a.pos] + eps[b.pos] + addsub_local(at(ctx, a), at(ctx, b), out, 1.0)
    }
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        (b[self.args[0].pos] + b[self.args[1].pos]).max(linf(out))
    }
    fn vjp_runtime<R: Runtime>(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![delta.clone(), delta.clone()]
    }
    fn vjp_eps<R: Runtime>(
        &self,
        _e: &[Bound],
        _c: &[ArrayD<R>],
        ed: Bound,
        _d: &ArrayD<R>,
    ) -> Vec<Bound> {
        vec![ed, ed]
    }
    fn vjp_scale<R: Runtime>(
        &self,
        _b: &[Bound],
        _c: &[ArrayD<R>],
        bd: Bound,
        _d: &ArrayD<R>,
    ) -> Vec<Bound> {
        vec![bd, bd]
    }
}

// ------------------------------------------------------------------------------------------ sub

/// `a − b`, elementwise.
pub struct Sub<S, B> {
    args: [Arg; 2],
    _p: PhantomData<fn() -> (S, B)>,
}
node_type!(Sub<S> => S);

/// `a − b` elementwise; shapes must be equal.
pub fn sub<S, S2, B>(a: Var<S, B>, b: Var<S2, B>) -> Sub<S, B>
where
    S: Shape + SameShape<S2>,
    S2: Shape,
{
    Sub {
        args: [a.arg(), b.arg()],
        _p: PhantomData,
    }
}

impl<S: Shape, B> Op for Sub<S, B> {
    const NAME: &'static str = "sub";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        zip2(at(ctx, &self.args[0]), at(ctx, &self.args[1]), |x, y| x - y)
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![delta.clone(), delta.mapv(|d| -d)]
    }
    fn forward_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        zip2(at(ctx, &self.args[0]), at(ctx, &self.args[1]), |x, y| x - y)
    }
    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let (a, b) = (&self.args[0], &self.args[1]);
        eps[a.pos] + eps[b.pos] + addsub_local(at(ctx, a), at(ctx, b), out, -1.0)
    }
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        (b[self.args[0].pos] + b[self.args[1].pos]).max(linf(out))
    }
    fn vjp_runtime<R: Runtime>(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![delta.clone(), delta.mapv(|d| -d)]
    }
    fn vjp_eps<R: Runtime>(
        &self,
        _e: &[Bound],
        _c: &[ArrayD<R>],
        ed: Bound,
        _d: &ArrayD<R>,
    ) -> Vec<Bound> {
        vec![ed, ed]
    }
    fn vjp_scale<R: Runtime>(
        &self,
        _b: &[Bound],
        _c: &[ArrayD<R>],
        bd: Bound,
        _d: &ArrayD<R>,
    ) -> Vec<Bound> {
        vec![bd, bd]
    }
}

// ------------------------------------------------------------------------------------------ mul

/// `a · b`, elementwise.
pub struct Mul<S, B> {
    args: [Arg; 2],
    _p: PhantomData<fn() -> (S, B)>,
}
node_type!(Mul<S> => S);

/// `a · b` elementwise; shapes must be equal.
pub fn mul<S, S2, B>(a: Var<S, B>, b: Var<S2, B>) -> Mul<S, B>
where
    S: Shape + SameShape<S2>,
    S2: Shape,
{
    Mul {
        args: [a.arg(), b.arg()],
        _p: PhantomData,
    }
}

/// Error of an elementwise product `fl(â·b̂)` (runtime result `out`) against `a·b`:
/// `max_i [ε_a|b̂_i| + |â_i|ε_b + local_i] + ε_aε_b`.
fn product_eps<R: Runtime>(
    a: &ArrayD<R>,
    ea: Bound,
    b: &ArrayD<R>,
    eb: Bound,
    out: &ArrayD<R>,
) -> Bound {
    let (fa, fb) = (ea.get(), eb.get());
    let mut m = 0.0f64;
    Zip::from(a).and(b).and(out).for_each(|&x, &y, &o| {
        let (x, y) = (x.to_spec(), y.to_spec());
        m = nan_max(m, fa * y.abs() + x.abs() * fb + prod_err(o.to_spec(), x, y));
    });
    inflate(m, 8) + ea * eb
}

fn mul_vjp_rt<R: Runtime>(a: &ArrayD<R>, b: &ArrayD<R>, d: &ArrayD<R>) -> [ArrayD<R>; 2] {
    [zip2(d, b, |d, y| d * y), zip2(d, a, |d, x| d * x)]
}

impl<S: Shape, B> Op for Mul<S, B> {
    const NAME: &'static str = "mul";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        zip2(at(ctx, &self.args[0]), at(ctx, &self.args[1]), |x, y| x * y)
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let (a, b) = (at(ctx, &self.args[0]), at(ctx, &self.args[1]));
        vec![zip2(delta, b, |d, y| d * y), zip2(delta, a, |d, x| d * x)]
    }
    fn forward_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        zip2(at(ctx, &self.args[0]), at(ctx, &self.args[1]), |x, y| x * y)
    }
    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let (a, b) = (&self.args[0], &self.args[1]);
        product_eps(at(ctx, a), eps[a.pos], at(ctx, b), eps[b.pos], out)
    }
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        (b[self.args[0].pos] * b[self.args[1].pos]).max(linf(out))
    }
    fn vjp_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        mul_vjp_rt(at(ctx, &self.args[0]), at(ctx, &self.args[1]), delta).into()
    }
    fn vjp_eps<R: Runtime>(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        ed: Bound,
        d: &ArrayD<R>,
    ) -> Vec<Bound> {
        let (a, b) = (&self.args[0], &self.args[1]);
        let (xa, xb) = (at(ctx, a), at(ctx, b));
        let [va, vb] = mul_vjp_rt(xa, xb, d);
        vec![
            product_eps(d, ed, xb, eps[b.pos], &va),
            product_eps(d, ed, xa, eps[a.pos], &vb),
        ]
    }
    fn vjp_scale<R: Runtime>(
        &self,
        b: &[Bound],
        ctx: &[ArrayD<R>],
        bd: Bound,
        d: &ArrayD<R>,
    ) -> Vec<Bound> {
        let [va, vb] = mul_vjp_rt(at(ctx, &self.args[0]), at(ctx, &self.args[1]), d);
        vec![
            (bd * b[self.args[1].pos]).max(linf(&va)),
            (bd * b[self.args[0].pos]).max(linf(&vb)),
        ]
    }
}

// ------------------------------------------------------------------------------------------ neg

/// `−x`, elementwise (exact).
pub struct Neg<S, B> {
    args: [Arg; 1],
    _p: PhantomData<fn() -> (S, B)>,
}
node_type!(Neg<S> => S);

/// `neg(x) = −x` (exact in floating point).
pub fn neg<S: Shape, B>(x: Var<S, B>) -> Neg<S, B> {
    Neg {
        args: [x.arg()],
        _p: PhantomData,
    }
}

impl<S: Shape, B> Op for Neg<S, B> {
    const NAME: &'static str = "neg";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        at(ctx, &self.args[0]).mapv(|x| -x)
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![delta.mapv(|d| -d)]
    }
    fn forward_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        at(ctx, &self.args[0]).mapv(|x| -x)
    }
    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        eps[self.args[0].pos]
    }
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        b[self.args[0].pos]
    }
    fn vjp_runtime<R: Runtime>(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![delta.mapv(|d| -d)]
    }
    fn vjp_eps<R: Runtime>(
        &self,
        _e: &[Bound],
        _c: &[ArrayD<R>],
        ed: Bound,
        _d: &ArrayD<R>,
    ) -> Vec<Bound> {
        vec![ed]
    }
    fn vjp_scale<R: Runtime>(
        &self,
        _b: &[Bound],
        _c: &[ArrayD<R>],
        bd: Bound,
        _d: &ArrayD<R>,
    ) -> Vec<Bound> {
        vec![bd]
    }
}

// ---------------------------------------------------------------------------------------- scale

/// `c · x` for a constant `c`.
pub struct Scale<S, B> {
    args: [Arg; 1],
    c: f64,
    _p: PhantomData<fn() -> (S, B)>,
}
node_type!(Scale<S> => S);

/// `scale(x, c) = c·x`. The spec constant is the `f64` `c`; the runtime multiplies by
/// `R::from_f64(c)`, and the bound accounts for the difference. A NaN or infinite `c` is a typed
/// error ([`Error::InvalidConstant`]).
///
/// ```
/// use scale_core::context::{Nil, Seg};
/// use scale_core::{ops, Rank1, RevGraphScale};
/// let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank1<3>,)>, Nil, _>::nil(scale_core::brand!());
/// assert!(ops::scale(x, f64::NAN).is_err());
/// let (_g, _y) = g.snoc(ops::scale(x, 0.5)?);
/// # Ok::<(), scale_core::Error>(())
/// ```
pub fn scale<S: Shape, B>(x: Var<S, B>, c: f64) -> Result<Scale<S, B>, Error> {
    Ok(Scale {
        args: [x.arg()],
        c: finite_constant("scale", "c", c)?,
        _p: PhantomData,
    })
}

/// Error of `fl(c_R · x̂)` against `c·x`: `|c|·ε + max_i |c·x̂_i − v̂_i|` (the latter measured).
fn const_mul_eps<R: Runtime>(c: f64, x: &ArrayD<R>, ex: Bound, v: &ArrayD<R>) -> Bound {
    let mut m = 0.0f64;
    Zip::from(x).and(v).for_each(|&xi, &vi| {
        m = nan_max(m, prod_err(vi.to_spec(), c, xi.to_spec()));
    });
    ex.scale(c.abs()) + inflate(m, 3)
}

impl<S: Shape, B> Op for Scale<S, B> {
    const NAME: &'static str = "scale";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let c = T::from_f64(self.c);
        at(ctx, &self.args[0]).mapv(|x| c * x)
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let c = T::from_f64(self.c);
        vec![delta.mapv(|d| c * d)]
    }
    fn forward_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let c = R::from_f64(self.c);
        at(ctx, &self.args[0]).mapv(|x| c * x)
    }
    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let a = &self.args[0];
        const_mul_eps(self.c, at(ctx, a), eps[a.pos], out)
    }
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(b[self.args[0].pos].scale(self.c.abs())).max(linf(out))
    }
    fn vjp_runtime<R: Runtime>(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        let c = R::from_f64(self.c);
        vec![delta.mapv(|d| c * d)]
    }
    fn vjp_eps<R: Runtime>(
        &self,
        _e: &[Bound],
        ctx: &[ArrayD<R>],
        ed: Bound,
        d: &ArrayD<R>,
    ) -> Vec<Bound> {
        let v = self.vjp_runtime(ctx, d).remove(0);
        vec![const_mul_eps(self.c, d, ed, &v)]
    }
    fn vjp_scale<R: Runtime>(
        &self,
        _b: &[Bound],
        ctx: &[ArrayD<R>],
        bd: Bound,
        d: &ArrayD<R>,
    ) -> Vec<Bound> {
        let v = self.vjp_runtime(ctx, d).remove(0);
        vec![spec_b(bd.scale(self.c.abs())).max(linf(&v))]
    }
}

// ----------------------------------------------------------------------------------------- relu

/// `max(x, 0)`, elementwise, with derivative `1` where `x > 0`, else `0` (PyTorch's convention).
pub struct Relu<S, B> {
    args: [Arg; 1],
    _p: PhantomData<fn() -> (S, B)>,
}
node_type!(Relu<S> => S);

/// `relu(x) = max(x, 0)`.
pub fn relu<S: Shape, B>(x: Var<S, B>) -> Relu<S, B> {
    Relu {
        args: [x.arg()],
        _p: PhantomData,
    }
}

impl<S: Shape, B> Op for Relu<S, B> {
    const NAME: &'static str = "relu";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        at(ctx, &self.args[0]).mapv(|x| x.relu())
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![zip2(at(ctx, &self.args[0]), delta, |x, d| {
            x.select_pos(d, T::zero())
        })]
    }
    fn forward_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        at(ctx, &self.args[0]).mapv(|x| if x > R::zero() { x } else { R::zero() })
    }
    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        // relu is 1-Lipschitz and exact in floating point.
        eps[self.args[0].pos]
    }
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], _ctx: &[ArrayD<R>], _out: &ArrayD<R>) -> Bound {
        b[self.args[0].pos]
    }
    fn vjp_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![zip2(at(ctx, &self.args[0]), delta, |x, d| {
            if x > R::zero() { d } else { R::zero() }
        })]
    }
    fn vjp_eps<R: Runtime>(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        ed: Bound,
        d: &ArrayD<R>,
    ) -> Vec<Bound> {
        vec![mask_vjp_eps(
            at(ctx, &self.args[0]),
            eps[self.args[0].pos],
            ed,
            d,
        )]
    }
    fn vjp_scale<R: Runtime>(
        &self,
        _b: &[Bound],
        _c: &[ArrayD<R>],
        bd: Bound,
        _d: &ArrayD<R>,
    ) -> Vec<Bound> {
        vec![bd]
    }
}

/// VJP error of a 0/1 derivative mask with its kink at 0 (relu and friends), per SPEC §5:
/// where `x̂ > ε` both sides pass `δ` (error `ε_δ`), where `x̂ ≤ −ε` both give 0, and only the
/// entries within `ε` of the kink pay `|δ̂| + ε_δ` (spec and runtime may take different branches).
pub(crate) fn mask_vjp_eps<R: Runtime>(
    x: &ArrayD<R>,
    ex: Bound,
    ed: Bound,
    d: &ArrayD<R>,
) -> Bound {
    let e = ex.get();
    let mut any_pass = false;
    let mut kink = 0.0f64;
    let mut kink_any = false;
    for (&xi, &di) in x.iter().zip(d.iter()) {
        let xv = xi.to_spec();
        if xv > e {
            any_pass = true;
        } else if e.is_infinite() || !(xv <= -e) {
            // With ε = +∞ every entry is near the kink, even x̂ = −∞ (a forward overflow):
            // `−∞ ≤ −ε` must not classify it as "both sides give 0".
            kink_any = true;
            let dv = di.to_spec().abs();
            if !(dv <= kink) {
                kink = dv;
            }
        }
    }
    let mut out = if any_pass { ed } else { Bound::ZERO };
    if kink_any {
        out = out.max(inflate(kink, 0) + ed);
    }
    out
}

// ----------------------------------------------------------------------------------- leaky_relu

/// `x` where `x > 0`, else `a·x`; derivative `1` / `a` likewise.
pub struct LeakyRelu<S, B> {
    args: [Arg; 1],
    a: f64,
    _p: PhantomData<fn() -> (S, B)>,
}
node_type!(LeakyRelu<S> => S);

/// `leaky_relu(x, a)`: `x` where `x > 0`, else `a·x` (spec constant: the `f64` `a`; runtime:
/// `R::from_f64(a)`, the difference is in the bound). Any finite slope is allowed (negative,
/// above 1, huge); a NaN or infinite `a` is a typed error ([`Error::InvalidConstant`]).
pub fn leaky_relu<S: Shape, B>(x: Var<S, B>, a: f64) -> Result<LeakyRelu<S, B>, Error> {
    Ok(LeakyRelu {
        args: [x.arg()],
        a: finite_constant("leaky_relu", "a", a)?,
        _p: PhantomData,
    })
}

impl<S: Shape, B> LeakyRelu<S, B> {
    fn lip(&self) -> f64 {
        // `a` is finite (checked at construction); written NaN-propagating all the same.
        let a = self.a.abs();
        if a > 1.0 || a.is_nan() { a } else { 1.0 }
    }
    fn rt<R: Runtime>(&self, x: &ArrayD<R>, d: &ArrayD<R>) -> ArrayD<R> {
        let a = R::from_f64(self.a);
        zip2(x, d, |x, d| if x > R::zero() { d } else { a * d })
    }
}

impl<S: Shape, B> Op for LeakyRelu<S, B> {
    const NAME: &'static str = "leaky_relu";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        let a = T::from_f64(self.a);
        at(ctx, &self.args[0]).mapv(|x| x.select_pos(x, a * x))
    }
    fn vjp_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        let a = T::from_f64(self.a);
        vec![zip2(at(ctx, &self.args[0]), delta, |x, d| {
            x.select_pos(d, a * d)
        })]
    }
    fn forward_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        let x = at(ctx, &self.args[0]);
        self.rt(x, x)
    }
    fn fwd_eps<R: Runtime>(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        // max(1,|a|)-Lipschitz, plus the measured local error |f(x̂) − ŷ| on the a-branch.
        let x = at(ctx, &self.args[0]);
        let mut m = 0.0f64;
        Zip::from(x).and(out).for_each(|&xi, &yi| {
            if !(xi > R::zero()) {
                m = nan_max(m, prod_err(yi.to_spec(), self.a, xi.to_spec()));
            }
        });
        eps[self.args[0].pos].scale(self.lip()) + inflate(m, 3)
    }
    fn fwd_scale<R: Runtime>(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(b[self.args[0].pos].scale(self.lip())).max(linf(out))
    }
    fn vjp_runtime<R: Runtime>(&self, ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![self.rt(at(ctx, &self.args[0]), delta)]
    }
    fn vjp_eps<R: Runtime>(
        &self,
        eps: &[Bound],
        ctx: &[ArrayD<R>],
        ed: Bound,
        d: &ArrayD<R>,
    ) -> Vec<Bound> {
        // Per entry: x̂ > ε → both pass δ; x̂ ≤ −ε → both scale by a; otherwise either branch on
        // the spec side, against the runtime value actually computed.
        let x = at(ctx, &self.args[0]);
        let v = self.rt(x, d);
        let (e, fed, aa) = (eps[self.args[0].pos].get(), ed.get(), self.a.abs());
        let mut m = 0.0f64;
        Zip::from(x).and(d).and(&v).for_each(|&xi, &di, &vi| {
            let (xv, dv, vv) = (xi.to_spec(), di.to_spec(), vi.to_spec());
            let pass = fed + (dv - vv).abs();
            let slope = aa * fed + prod_err(vv, self.a, dv);
            let t = if xv > e {
                pass
            } else if xv <= -e {
                slope
            } else {
                pass.max(slope)
            };
            m = nan_max(m, t);
        });
        vec![inflate(m, 6)]
    }
    fn vjp_scale<R: Runtime>(
        &self,
        _b: &[Bound],
        ctx: &[ArrayD<R>],
        bd: Bound,
        d: &ArrayD<R>,
    ) -> Vec<Bound> {
        let v = self.rt(at(ctx, &self.args[0]), d);
        vec![spec_b(bd.scale(self.lip())).max(linf(&v))]
    }
}
