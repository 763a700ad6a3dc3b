//! Elementwise ops: `add`, `sub`, `mul` (the [`Binary`] family), `neg` (the [`Exact`] family),
//! `relu`, `leaky_relu` (the [`Kink`] family), and `scale`.
//!
//! Local rounding is measured per entry against an `f64` re-evaluation on the runtime operands
//! (see the [module docs](super)); propagation is exact linear algebra on the input eps.

use super::kit::{
    Binary, BinaryFn, Exact, Kink, Op, OpRuntime, Pair, Structural, cotangents, kink_runtime, map1,
};
use super::op_node;
use super::util::{at, nan_max, prod_err, spec_b, sum2_err};
use crate::bound::{Bound, inflate};
use crate::error::{Error, finite_constant};
use crate::handle::{Arg, Var};
use crate::scalar::{Arith, Runtime, SpecScalar};
use crate::shape::{SameShape, Shape};
use crate::tensor::linf;
use ndarray::{ArrayD, Zip};

// ------------------------------------------------------------------------------------ add, sub

/// Marker of `add` (`SUB = false`) and `sub` (`SUB = true`), the [`Binary`] family: one marker,
/// as the two differ only in the sign of `b`.
pub struct AddSubFn<const SUB: bool>;
/// Marker of `add`.
pub type AddFn = AddSubFn<false>;
/// Marker of `sub`.
pub type SubFn = AddSubFn<true>;

impl<const SUB: bool> BinaryFn for AddSubFn<SUB> {
    const NAME: &'static str = if SUB { "sub" } else { "add" };
    fn f<T: Arith>(a: T, b: T) -> T {
        if SUB { a - b } else { a + b }
    }
    fn df<T: Arith>(_a: T, _b: T, d: T) -> [T; 2] {
        [d, if SUB { -d } else { d }]
    }
    fn fwd_eps<R: Runtime>(x: Pair<R>, e: [Bound; 2], out: &ArrayD<R>) -> Bound {
        // Local rounding: max over entries of |ŷ − (â ± b̂)|.
        let sign = if SUB { -1.0 } else { 1.0 };
        let mut m = 0.0f64;
        Zip::from(x[0]).and(x[1]).and(out).for_each(|&a, &b, &o| {
            m = nan_max(m, sum2_err(o.to_spec(), a.to_spec(), sign * b.to_spec()));
        });
        e[0] + e[1] + inflate(m, 3)
    }
    fn fwd_scale(b: [Bound; 2]) -> Bound {
        b[0] + b[1]
    }
    fn vjp_eps<R: Runtime>(_: Pair<R>, _: [Bound; 2], ed: Bound, _: &ArrayD<R>) -> [Bound; 2] {
        [ed, ed]
    }
    fn vjp_scale<R: Runtime>(_: Pair<R>, _: [Bound; 2], bd: Bound, _: &ArrayD<R>) -> [Bound; 2] {
        [bd, bd]
    }
}

/// `a + b`, elementwise.
pub type Add<S, B> = Binary<S, B, AddFn>;
/// `a − b`, elementwise.
pub type Sub<S, B> = Binary<S, B, SubFn>;
/// `a · b`, elementwise.
pub type Mul<S, B> = Binary<S, B, MulFn>;

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
    Binary::new([a.arg(), b.arg()])
}

/// `a − b` elementwise; shapes must be equal.
pub fn sub<S, S2, B>(a: Var<S, B>, b: Var<S2, B>) -> Sub<S, B>
where
    S: Shape + SameShape<S2>,
    S2: Shape,
{
    Binary::new([a.arg(), b.arg()])
}

// ------------------------------------------------------------------------------------------ mul

/// Marker of `mul` (the [`Binary`] family).
pub struct MulFn;
impl BinaryFn for MulFn {
    const NAME: &'static str = "mul";
    fn f<T: Arith>(a: T, b: T) -> T {
        a * b
    }
    fn df<T: Arith>(a: T, b: T, d: T) -> [T; 2] {
        [d * b, d * a]
    }
    fn fwd_eps<R: Runtime>(x: Pair<R>, e: [Bound; 2], out: &ArrayD<R>) -> Bound {
        product_eps(x[0], e[0], x[1], e[1], out)
    }
    fn fwd_scale(b: [Bound; 2]) -> Bound {
        b[0] * b[1]
    }
    fn vjp_eps<R: Runtime>(x: Pair<R>, e: [Bound; 2], ed: Bound, d: &ArrayD<R>) -> [Bound; 2] {
        let [va, vb] = cotangents::<Self, R>(x, d);
        [
            product_eps(d, ed, x[1], e[1], &va),
            product_eps(d, ed, x[0], e[0], &vb),
        ]
    }
    fn vjp_scale<R: Runtime>(x: Pair<R>, b: [Bound; 2], bd: Bound, d: &ArrayD<R>) -> [Bound; 2] {
        let [va, vb] = cotangents::<Self, R>(x, d);
        [(bd * b[1]).max(linf(&va)), (bd * b[0]).max(linf(&vb))]
    }
}

/// `a · b` elementwise; shapes must be equal.
pub fn mul<S, S2, B>(a: Var<S, B>, b: Var<S2, B>) -> Mul<S, B>
where
    S: Shape + SameShape<S2>,
    S2: Shape,
{
    Binary::new([a.arg(), b.arg()])
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

// ------------------------------------------------------------------------------------------ neg

/// Marker of `neg` (the [`Exact`] family: negation never rounds).
pub struct NegFn;
impl Structural for NegFn {
    const NAME: &'static str = "neg";
    fn forward<T: Arith>(x: &ArrayD<T>, _out: &[usize]) -> ArrayD<T> {
        x.mapv(|x| -x)
    }
    fn backward<T: Arith>(d: &ArrayD<T>, _input: &[usize]) -> ArrayD<T> {
        d.mapv(|d| -d)
    }
}

/// `−x`, elementwise (exact).
pub type Neg<S, B> = Exact<S, B, NegFn>;

/// `neg(x) = −x` (exact in floating point).
pub fn neg<S: Shape, B>(x: Var<S, B>) -> Neg<S, B> {
    Exact::new([x.arg()])
}

// ---------------------------------------------------------------------------------------- scale

op_node! {
    /// `c · x` for a constant `c`.
    Scale<S>[1, c: f64] => S
}

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
    Ok(Scale::new([x.arg()], finite_constant("scale", "c", c)?))
}

/// Error of `fl(c_R · x̂)` against `c·x`: `|c|·ε + max_i |c·x̂_i − v̂_i|` (the latter measured).
fn const_mul_eps<R: Runtime>(c: f64, x: &ArrayD<R>, ex: Bound, v: &ArrayD<R>) -> Bound {
    let mut m = 0.0f64;
    Zip::from(x).and(v).for_each(|&xi, &vi| {
        m = nan_max(m, prod_err(vi.to_spec(), c, xi.to_spec()));
    });
    ex.scale(c.abs()) + inflate(m, 3)
}

impl<S: Shape, B> Scale<S, B> {
    /// `c·v` entrywise, in spec and runtime arithmetic alike (forward and VJP).
    fn times<T: Arith>(&self, v: &ArrayD<T>) -> ArrayD<T> {
        let c = T::lit(self.c);
        map1(v, |v| c * v)
    }
}

impl<S: Shape, B> Op for Scale<S, B> {
    const NAME: &'static str = "scale";
    fn args(&self) -> &[Arg] {
        &self.args
    }
    fn forward_spec<T: SpecScalar>(&self, ctx: &[ArrayD<T>]) -> ArrayD<T> {
        self.times(at(ctx, &self.args[0]))
    }
    fn vjp_spec<T: SpecScalar>(&self, _ctx: &[ArrayD<T>], delta: &ArrayD<T>) -> Vec<ArrayD<T>> {
        vec![self.times(delta)]
    }
}

impl<S: Shape, B, R: Runtime> OpRuntime<R> for Scale<S, B> {
    fn forward_runtime(&self, ctx: &[ArrayD<R>]) -> ArrayD<R> {
        self.times(at(ctx, &self.args[0]))
    }
    fn fwd_eps(&self, eps: &[Bound], ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        let a = &self.args[0];
        const_mul_eps(self.c, at(ctx, a), eps[a.pos], out)
    }
    fn fwd_scale(&self, b: &[Bound], _ctx: &[ArrayD<R>], out: &ArrayD<R>) -> Bound {
        spec_b(b[self.args[0].pos].scale(self.c.abs())).max(linf(out))
    }
    fn vjp_runtime(&self, _ctx: &[ArrayD<R>], delta: &ArrayD<R>) -> Vec<ArrayD<R>> {
        vec![self.times(delta)]
    }
    fn vjp_eps(&self, _e: &[Bound], _c: &[ArrayD<R>], ed: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        vec![const_mul_eps(self.c, d, ed, &self.times(d))]
    }
    fn vjp_scale(&self, _b: &[Bound], _c: &[ArrayD<R>], bd: Bound, d: &ArrayD<R>) -> Vec<Bound> {
        vec![spec_b(bd.scale(self.c.abs())).max(linf(&self.times(d)))]
    }
}

// ----------------------------------------------------------------------------------------- relu

op_node! {
    /// `max(x, 0)`, elementwise, with derivative `1` where `x > 0`, else `0` (PyTorch's convention).
    Relu<S>[1] => S
}

/// `relu(x) = max(x, 0)`.
pub fn relu<S: Shape, B>(x: Var<S, B>) -> Relu<S, B> {
    Relu::new([x.arg()])
}

// The kit's defaults are relu's bounds: 1-Lipschitz, exact in floating point, 0/1 mask.
impl<S: Shape, B> Kink for Relu<S, B> {
    const NAME: &'static str = "relu";
    fn args(&self) -> &[Arg; 1] {
        &self.args
    }
    fn below<T: Arith>(&self, _v: T) -> T {
        T::lit(0.0)
    }
    // `max(x, 0)` rather than the hull of both branches: tighter for an enclosure straddling 0.
    fn spec_value<T: SpecScalar>(&self, x: T) -> T {
        x.relu()
    }
}

// ----------------------------------------------------------------------------------- leaky_relu

op_node! {
    /// `x` where `x > 0`, else `a·x`; derivative `1` / `a` likewise.
    LeakyRelu<S>[1, a: f64] => S
}

/// `leaky_relu(x, a)`: `x` where `x > 0`, else `a·x` (spec constant: the `f64` `a`; runtime:
/// `R::from_f64(a)`, the difference is in the bound). Any finite slope is allowed (negative,
/// above 1, huge); a NaN or infinite `a` is a typed error ([`Error::InvalidConstant`]).
pub fn leaky_relu<S: Shape, B>(x: Var<S, B>, a: f64) -> Result<LeakyRelu<S, B>, Error> {
    Ok(LeakyRelu::new(
        [x.arg()],
        finite_constant("leaky_relu", "a", a)?,
    ))
}

impl<S: Shape, B> LeakyRelu<S, B> {
    fn lip(&self) -> f64 {
        // `a` is finite (checked at construction); written NaN-propagating all the same.
        let a = self.a.abs();
        if a > 1.0 || a.is_nan() { a } else { 1.0 }
    }
}

impl<S: Shape, B> Kink for LeakyRelu<S, B> {
    const NAME: &'static str = "leaky_relu";
    fn args(&self) -> &[Arg; 1] {
        &self.args
    }
    fn below<T: Arith>(&self, v: T) -> T {
        T::lit(self.a) * v
    }
    fn forward_eps<R: Runtime>(&self, e: Bound, x: &ArrayD<R>, out: &ArrayD<R>) -> Bound {
        // max(1,|a|)-Lipschitz, plus the measured local error |f(x̂) − ŷ| on the a-branch.
        let mut m = 0.0f64;
        Zip::from(x).and(out).for_each(|&xi, &yi| {
            if !(xi > R::zero()) {
                m = nan_max(m, prod_err(yi.to_spec(), self.a, xi.to_spec()));
            }
        });
        e.scale(self.lip()) + inflate(m, 3)
    }
    fn forward_scale<R: Runtime>(&self, b: Bound, out: &ArrayD<R>) -> Bound {
        spec_b(b.scale(self.lip())).max(linf(out))
    }
    fn backward_eps<R: Runtime>(&self, e: Bound, x: &ArrayD<R>, ed: Bound, d: &ArrayD<R>) -> Bound {
        // Per entry: x̂ > ε → both pass δ; x̂ ≤ −ε → both scale by a; otherwise either branch on
        // the spec side, against the runtime value actually computed.
        let v = kink_runtime(self, x, d);
        let (e, fed, aa) = (e.get(), ed.get(), self.a.abs());
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
        inflate(m, 6)
    }
    fn backward_scale<R: Runtime>(
        &self,
        _b: Bound,
        x: &ArrayD<R>,
        bd: Bound,
        d: &ArrayD<R>,
    ) -> Bound {
        spec_b(bd.scale(self.lip())).max(linf(&kink_runtime(self, x, d)))
    }
}
