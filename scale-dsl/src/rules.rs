//! The shape rules: one `check_*` function per rule, each a pure function from the operands'
//! shapes (and the call's literals) to the output shape or the one mismatch to report.
//!
//! Rules only reject what is *definitely* wrong: a const dimension compared with anything but
//! itself is left to rustc, which type-checks the expansion.

use crate::shape::{PDim, Shape, dim_eq, numel, shapes_differ, show};
use proc_macro2::Span;

/// A tensor operand as the rules see it.
#[derive(Debug)]
pub struct Operand<'a> {
    /// Its shape.
    pub shape: &'a [PDim],
    /// How messages name it: `` `x` ``, `` `relu(…)` ``.
    pub desc: String,
}

/// A checked literal parameter.
#[derive(Debug, Clone)]
pub enum LitValue {
    /// A finite float (`scale`'s `c`).
    Float(f64),
    /// A non-negative integer (a stride, a padding, a bound).
    Int(usize),
    /// An axis index (the rule checks it against the rank).
    Axis(usize),
    /// A non-negative integer passed at type level (a slice bound).
    Index(usize),
    /// A list of non-negative integers (a permutation).
    Ints(Vec<usize>),
    /// A shape (`reshape`'s target): it picks the output type rather than being passed.
    Shape(Shape),
}

/// A literal parameter and the span of its tokens.
#[derive(Debug, Clone)]
pub struct LitArg {
    /// The value.
    pub value: LitValue,
    /// Where it was written.
    pub span: Span,
}

/// Everything a rule may look at.
#[derive(Debug)]
pub struct Args<'a> {
    /// The tensor operands, in order.
    pub operands: &'a [Operand<'a>],
    /// The literal parameters, in the order of the op's [`params`](crate::OpDef::params).
    pub lits: &'a [LitArg],
}

/// Why a rule rejects its operands: the checker reports `msg` at argument `operand`, prefixed
/// with the op's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Index of the argument the message points at, counted as the call is written: the tensor
    /// operands, then the literals (so a rule can underline the literal that is wrong).
    pub operand: usize,
    /// What was expected and found.
    pub msg: String,
}

/// A shape rule (one per row of the registry).
pub type ShapeRule = fn(&Args) -> Result<Shape, Mismatch>;

fn operand<'a>(a: &'a Args, i: usize) -> Result<&'a Operand<'a>, Mismatch> {
    // The checker calls a rule only with the op's arity; this keeps a rule total regardless.
    a.operands.get(i).ok_or_else(|| Mismatch {
        operand: 0,
        msg: format!("missing operand {i}"),
    })
}

fn want_rank(a: &Args, i: usize, rank: usize, form: &str) -> Result<(), Mismatch> {
    let o = operand(a, i)?;
    if o.shape.len() == rank {
        return Ok(());
    }
    Err(Mismatch {
        operand: i,
        msg: format!(
            "{} must have shape {form}, found {} (rank {})",
            o.desc,
            show(o.shape),
            o.shape.len()
        ),
    })
}

/// `b` must be `expected` (shown as `shown`), given `a`.
fn second_must_be(a: &Args, expected: &[PDim], shown: String) -> Result<(), Mismatch> {
    let (x, y) = (operand(a, 0)?, operand(a, 1)?);
    if !shapes_differ(expected, y.shape) {
        return Ok(());
    }
    Err(Mismatch {
        operand: 1,
        msg: format!(
            "{} has shape {} but {} has {}; expected {shown}",
            x.desc,
            show(x.shape),
            y.desc,
            show(y.shape)
        ),
    })
}

/// `s → s`.
pub fn check_unary(a: &Args) -> Result<Shape, Mismatch> {
    Ok(operand(a, 0)?.shape.to_vec())
}

/// `s → []`.
pub fn check_reduce(a: &Args) -> Result<Shape, Mismatch> {
    operand(a, 0)?;
    Ok(Vec::new())
}

/// `s, s → s` (elementwise).
pub fn check_same(a: &Args) -> Result<Shape, Mismatch> {
    let x = operand(a, 0)?;
    second_must_be(a, x.shape, "the same shape".into())?;
    Ok(x.shape.to_vec())
}

/// `s, s → []` (a loss of two same-shaped tensors).
pub fn check_same_to_scalar(a: &Args) -> Result<Shape, Mismatch> {
    check_same(a).map(|_| Vec::new())
}

/// `[m, k], [k, n] → [m, n]`, and a weight shared over leading axes:
/// `[…, m, k], [k, n] → […, m, n]` (rank 3 or 4).
pub fn check_matmul(a: &Args) -> Result<Shape, Mismatch> {
    let x = operand(a, 0)?;
    if !(2..=4).contains(&x.shape.len()) {
        want_rank(a, 0, 2, "[m, k] (or […, m, k] of rank 3 or 4)")?;
    }
    want_rank(a, 1, 2, "[k, n]")?;
    let (x, y) = (x.shape, operand(a, 1)?.shape);
    let r = x.len();
    let k = show(&x[r - 1..]);
    let shown = format!("[{}, …]", k.trim_matches(['[', ']']));
    second_must_be(a, &[x[r - 1].clone(), y[1].clone()], shown)?;
    let mut out = x[..r - 1].to_vec();
    out.push(y[1].clone());
    Ok(out)
}

/// Two operands of ranks `ra` and `rb` (written `fa`, `fb` in messages) where the second must
/// be `second(first)`; the first operand's shape, for the output.
fn pair<'a>(
    a: &'a Args,
    (ra, fa): (usize, &str),
    (rb, fb): (usize, &str),
    second: fn(&[PDim]) -> Shape,
) -> Result<&'a [PDim], Mismatch> {
    want_rank(a, 0, ra, fa)?;
    want_rank(a, 1, rb, fb)?;
    let x = operand(a, 0)?.shape;
    let expected = second(x);
    second_must_be(a, &expected, show(&expected))?;
    Ok(x)
}

/// The last dimension of a shape of rank ≥ 1, alone (a bias, a vector).
fn last(x: &[PDim]) -> Shape {
    x.last().cloned().into_iter().collect()
}

/// `[m, k], [k] → [m]`.
pub fn check_matvec(a: &Args) -> Result<Shape, Mismatch> {
    let x = pair(a, (2, "[m, k]"), (1, "[k]"), last)?;
    Ok(vec![x[0].clone()])
}

/// `[k], [k] → []`.
pub fn check_dot(a: &Args) -> Result<Shape, Mismatch> {
    pair(a, (1, "[k]"), (1, "[k]"), <[PDim]>::to_vec)?;
    Ok(Vec::new())
}

/// `[b, n], [n] → [b, n]`.
pub fn check_add_bias(a: &Args) -> Result<Shape, Mismatch> {
    pair(a, (2, "[b, n]"), (1, "[n]"), last).map(<[PDim]>::to_vec)
}

/// `[b, n], [b, n] → []`.
pub fn check_cross_entropy(a: &Args) -> Result<Shape, Mismatch> {
    pair(a, (2, "[b, n]"), (2, "[b, n]"), <[PDim]>::to_vec)?;
    Ok(Vec::new())
}

/// `[m, n] → [n, m]`.
pub fn check_transpose(a: &Args) -> Result<Shape, Mismatch> {
    want_rank(a, 0, 2, "[m, n]")?;
    let x = operand(a, 0)?.shape;
    Ok(vec![x[1].clone(), x[0].clone()])
}

/// `[b, n] → [n]`.
pub fn check_sum_rows(a: &Args) -> Result<Shape, Mismatch> {
    want_rank(a, 0, 2, "[b, n]")?;
    Ok(vec![operand(a, 0)?.shape[1].clone()])
}

/// `[…, n] → […, n]`, rank 1 to 4 (an op over the last axis; the leading axes are rows).
pub fn check_last_axis(a: &Args) -> Result<Shape, Mismatch> {
    let x = operand(a, 0)?;
    if x.shape.is_empty() {
        return Err(Mismatch {
            operand: 0,
            msg: format!(
                "{} must have shape […, n] (rank 1 to 4), found {}",
                x.desc,
                show(x.shape)
            ),
        });
    }
    Ok(x.shape.to_vec())
}

/// `s → t`, `t` the shape literal, with the same element count.
pub fn check_reshape(a: &Args) -> Result<Shape, Mismatch> {
    let x = operand(a, 0)?;
    let Some(t) = a.lits.iter().find_map(|l| match &l.value {
        LitValue::Shape(t) => Some(t),
        _ => None,
    }) else {
        return Err(Mismatch {
            operand: 0,
            msg: "missing the target shape".into(),
        });
    };
    if let (Some(n), Some(m)) = (numel(x.shape), numel(t))
        && n != m
    {
        return Err(Mismatch {
            operand: 0,
            msg: format!(
                "cannot reshape {} of shape {} ({n} elements) to {} ({m} elements)",
                x.desc,
                show(x.shape),
                show(t)
            ),
        });
    }
    Ok(t.clone())
}

// ------------------------------------------------------------------------- axes (SPEC §9b)

/// The literal at position `i` of the call's literals, as an integer (axes, bounds).
fn int_lit(a: &Args, i: usize) -> Result<usize, Mismatch> {
    match a.lits.get(i).map(|l| &l.value) {
        Some(LitValue::Axis(k) | LitValue::Int(k) | LitValue::Index(k)) => Ok(*k),
        _ => Err(Mismatch {
            operand: 0,
            msg: format!("missing literal {i}"),
        }),
    }
}

/// Axis literal number `lit` (argument `at` of the call) checked against operand `i`'s rank.
fn axis_of(a: &Args, i: usize, lit: usize, at: usize) -> Result<usize, Mismatch> {
    let x = operand(a, i)?;
    let k = int_lit(a, lit)?;
    if k < x.shape.len() {
        return Ok(k);
    }
    Err(Mismatch {
        operand: at,
        msg: if x.shape.is_empty() {
            format!("{} is a scalar (shape []): it has no axis {k}", x.desc)
        } else {
            format!(
                "axis {k} is out of range for {} of shape {} (rank {}: axes 0 to {})",
                x.desc,
                show(x.shape),
                x.shape.len(),
                x.shape.len() - 1
            )
        },
    })
}

/// `s, axis → s` without axis `axis` (`sum(x, axis)`, `mean(x, axis)`).
pub fn check_drop_axis(a: &Args) -> Result<Shape, Mismatch> {
    let k = axis_of(a, 0, 0, 1)?;
    let mut out = operand(a, 0)?.shape.to_vec();
    out.remove(k);
    Ok(out)
}

/// `s, [axes] → s` permuted: output axis `i` is input axis `axes[i]`, rank 1 to 4.
pub fn check_permute(a: &Args) -> Result<Shape, Mismatch> {
    let x = operand(a, 0)?;
    let Some(LitValue::Ints(p)) = a.lits.first().map(|l| &l.value) else {
        return Err(Mismatch {
            operand: 0,
            msg: "missing the permutation".into(),
        });
    };
    let r = x.shape.len();
    let bad = |msg: String| Mismatch { operand: 1, msg };
    if r == 0 {
        return Err(Mismatch {
            operand: 0,
            msg: format!(
                "{} is a scalar (shape []): there is nothing to permute",
                x.desc
            ),
        });
    }
    if p.len() != r {
        return Err(bad(format!(
            "{p:?} has {} axes but {} has shape {} (rank {r}); expected a permutation of 0..{r}",
            p.len(),
            x.desc,
            show(x.shape)
        )));
    }
    let mut seen = vec![false; r];
    for &k in p {
        match seen.get_mut(k) {
            Some(s) if !*s => *s = true,
            _ => {
                return Err(bad(format!(
                    "{p:?} is not a permutation of 0..{r} (axis {k} is {}) for {} of shape {}",
                    if k >= r { "out of range" } else { "repeated" },
                    x.desc,
                    show(x.shape)
                )));
            }
        }
    }
    Ok(p.iter().map(|&k| x.shape[k].clone()).collect())
}

/// `s, axis, start, end → s` with `end − start` along `axis`; `start < end ≤ dim` (a literal
/// dimension is checked here, a const one by the constructor's `const` assertion).
pub fn check_slice(a: &Args) -> Result<Shape, Mismatch> {
    let k = axis_of(a, 0, 0, 1)?;
    let x = operand(a, 0)?;
    let (start, end) = (int_lit(a, 1)?, int_lit(a, 2)?);
    if start >= end {
        return Err(Mismatch {
            operand: 2,
            msg: format!(
                "the range {start}..{end} along axis {k} is empty; expected start < end \
                 (dimensions are positive)"
            ),
        });
    }
    if let PDim::Lit(n) = x.shape[k]
        && end > n
    {
        return Err(Mismatch {
            operand: 3,
            msg: format!(
                "end {end} is out of range for axis {k} of {} of shape {} (dimension {n}); \
                 expected end ≤ {n}",
                x.desc,
                show(x.shape)
            ),
        });
    }
    let mut out = x.shape.to_vec();
    out[k] = PDim::Lit(end - start);
    Ok(out)
}

/// `s, t, axis → u`: `s` and `t` agree except along `axis`, where `u` has the sum of their
/// (literal) lengths.
pub fn check_concat(a: &Args) -> Result<Shape, Mismatch> {
    let k = axis_of(a, 0, 0, 2)?;
    let (x, y) = (operand(a, 0)?, operand(a, 1)?);
    let mut expected = x.shape.to_vec();
    if let Some(d) = y.shape.get(k) {
        expected[k] = d.clone();
    }
    if shapes_differ(&expected, y.shape) {
        return Err(Mismatch {
            operand: 1,
            msg: format!(
                "{} has shape {} but {} has {}; expected the same shape except along axis {k}",
                x.desc,
                show(x.shape),
                y.desc,
                show(y.shape)
            ),
        });
    }
    match (&x.shape[k], &y.shape[k]) {
        (PDim::Lit(m), PDim::Lit(n)) => {
            expected[k] = PDim::Lit(m + n);
            Ok(expected)
        }
        (p, q) => Err(Mismatch {
            operand: if matches!(p, PDim::Const(_)) { 0 } else { 1 },
            msg: format!(
                "cannot concatenate {} of shape {} and {} of shape {} along axis {k}: the \
                 output length {} + {} of a const dimension is not a type stable Rust can \
                 write; use literal dimensions along the axis",
                x.desc,
                show(x.shape),
                y.desc,
                show(y.shape),
                show(std::slice::from_ref(p)).trim_matches(['[', ']']),
                show(std::slice::from_ref(q)).trim_matches(['[', ']'])
            ),
        }),
    }
}

/// `[…, n, n] → […, n, n]`, rank 2 to 4 (`softmax_causal`: square in the last two axes).
pub fn check_causal(a: &Args) -> Result<Shape, Mismatch> {
    let x = operand(a, 0)?;
    let r = x.shape.len();
    if r < 2 {
        return Err(Mismatch {
            operand: 0,
            msg: format!(
                "{} must have shape […, n, n] (rank 2 to 4), found {} (rank {r})",
                x.desc,
                show(x.shape)
            ),
        });
    }
    if dim_eq(&x.shape[r - 2], &x.shape[r - 1]) == Some(false) {
        return Err(Mismatch {
            operand: 0,
            msg: format!(
                "{} has shape {}, whose last two dimensions differ; expected […, n, n] (row i \
                 attends to the entries j ≤ i of a square matrix)",
                x.desc,
                show(x.shape)
            ),
        });
    }
    Ok(x.shape.to_vec())
}

/// `[…, n], [n] (, [n]) → […, n]` (`layer_norm`, `rms_norm`): `x` of rank 1 to 4, every
/// parameter the length of its last axis.
pub fn check_norm(a: &Args) -> Result<Shape, Mismatch> {
    let x = operand(a, 0)?;
    if !(1..=4).contains(&x.shape.len()) {
        return Err(Mismatch {
            operand: 0,
            msg: format!(
                "{} must have shape [.., n] of rank 1 to 4, found {} (rank {})",
                x.desc,
                show(x.shape),
                x.shape.len()
            ),
        });
    }
    let expected = last(x.shape);
    for (i, p) in a.operands.iter().enumerate().skip(1) {
        if shapes_differ(&expected, p.shape) {
            return Err(Mismatch {
                operand: i,
                msg: format!(
                    "{} has shape {} but {} has {}; expected {} (the last dimension of {})",
                    x.desc,
                    show(x.shape),
                    p.desc,
                    show(p.shape),
                    show(&expected),
                    x.desc
                ),
            });
        }
    }
    Ok(x.shape.to_vec())
}

/// `[…, m, k], […, k, n] → […, m, n]` (`bmm`): both of rank 3 or 4, the same leading (batch)
/// axes, the first operand's last dimension equal to the second's next-to-last.
pub fn check_bmm(a: &Args) -> Result<Shape, Mismatch> {
    let x = operand(a, 0)?;
    let r = x.shape.len();
    if !(3..=4).contains(&r) {
        want_rank(a, 0, 3, "[…, m, k] of rank 3 or 4")?;
    }
    let y = operand(a, 1)?;
    let both = format!(
        "{} has shape {} but {} has {}",
        x.desc,
        show(x.shape),
        y.desc,
        show(y.shape)
    );
    let mismatch = |msg: String| {
        Err(Mismatch {
            operand: 1,
            msg: format!("{both}; {msg}"),
        })
    };
    if y.shape.len() != r {
        return mismatch(format!(
            "expected a shape of rank {r} (`[…, k, n]`, the same batch axes)"
        ));
    }
    let (xb, yb) = (&x.shape[..r - 2], &y.shape[..r - 2]);
    if shapes_differ(xb, yb) {
        return mismatch(format!(
            "the batch axes {} and {} must be equal",
            show(xb),
            show(yb)
        ));
    }
    if dim_eq(&x.shape[r - 1], &y.shape[r - 2]) == Some(false) {
        let mut want = xb.to_vec();
        want.push(x.shape[r - 1].clone());
        let shown = show(&want);
        return mismatch(format!(
            "expected [{}, …] (the inner dimensions must agree)",
            shown.trim_matches(['[', ']'])
        ));
    }
    let mut out = x.shape[..r - 1].to_vec();
    out.push(y.shape[r - 1].clone());
    Ok(out)
}

/// `[…, n, d], […, m, d], […, m, e] → […, n, e]` (`attention`): rank 2 to 4, equal leading
/// axes, `q` and `k` of one head dimension `d`, `k` and `v` of one length `m`.
pub fn check_attention(a: &Args) -> Result<Shape, Mismatch> {
    attention_rule(a, false)
}

/// [`check_attention`] with as many keys as queries (`n = m`, `attention_causal`).
pub fn check_attention_causal(a: &Args) -> Result<Shape, Mismatch> {
    attention_rule(a, true)
}

fn attention_rule(a: &Args, causal: bool) -> Result<Shape, Mismatch> {
    let q = operand(a, 0)?;
    let r = q.shape.len();
    if !(2..=4).contains(&r) {
        want_rank(a, 0, 2, "[…, n, d] of rank 2 to 4")?;
    }
    let (k, v) = (operand(a, 1)?, operand(a, 2)?);
    // Operand `i` against operand `j`: both shapes named, `i` underlined.
    let bad = |i: usize, j: &Operand, msg: String| {
        let o = &a.operands[i];
        Err(Mismatch {
            operand: i,
            msg: format!(
                "{} has shape {} but {} has {}; {msg}",
                j.desc,
                show(j.shape),
                o.desc,
                show(o.shape)
            ),
        })
    };
    for (i, o) in [(1, k), (2, v)] {
        if o.shape.len() != r {
            return bad(
                i,
                q,
                format!("expected a shape of rank {r} (the same batch axes)"),
            );
        }
        if shapes_differ(&q.shape[..r - 2], &o.shape[..r - 2]) {
            return bad(
                i,
                q,
                format!(
                    "the batch axes {} and {} must be equal",
                    show(&q.shape[..r - 2]),
                    show(&o.shape[..r - 2])
                ),
            );
        }
    }
    if dim_eq(&q.shape[r - 1], &k.shape[r - 1]) == Some(false) {
        return bad(
            1,
            q,
            format!(
                "the head dimensions differ ({} and {}): queries and keys must have the same d",
                show(&q.shape[r - 1..]),
                show(&k.shape[r - 1..])
            ),
        );
    }
    if dim_eq(&k.shape[r - 2], &v.shape[r - 2]) == Some(false) {
        return bad(
            2,
            k,
            format!(
                "keys and values must have the same length m ({} and {})",
                show(&k.shape[r - 2..r - 1]),
                show(&v.shape[r - 2..r - 1])
            ),
        );
    }
    if causal && dim_eq(&q.shape[r - 2], &k.shape[r - 2]) == Some(false) {
        return bad(
            1,
            q,
            format!(
                "causal attention needs as many keys as queries (n = m, found {} and {})",
                show(&q.shape[r - 2..r - 1]),
                show(&k.shape[r - 2..r - 1])
            ),
        );
    }
    let mut out = q.shape[..r - 1].to_vec();
    out.push(v.shape[r - 1].clone());
    Ok(out)
}

// ------------------------------------------------------------------ convolution (SPEC §9b)

/// `x, w, stride, padding → [b, o, out…]` for a convolution over `sp` spatial axes
/// (`conv1d`: 1, `conv2d`: 2): `x: [b, c, in…]`, `w: [o, c, k…]`, each output size
/// `⌊(in + 2p − k)/s⌋ + 1` as PyTorch computes it. The spatial sizes must be literals: the output
/// size is computed here and written into the expansion (stable Rust cannot compute it from const
/// generics).
fn check_conv(a: &Args, sp: usize) -> Result<Shape, Mismatch> {
    let (x, w) = (operand(a, 0)?, operand(a, 1)?);
    let names = if sp == 1 { "l" } else { "h, w" };
    let knames = if sp == 1 { "k" } else { "kh, kw" };
    want_rank(a, 0, 2 + sp, &format!("[b, c, {names}]"))?;
    want_rank(a, 1, 2 + sp, &format!("[o, c, {knames}]"))?;
    if dim_eq(&x.shape[1], &w.shape[1]) == Some(false) {
        return Err(Mismatch {
            operand: 1,
            msg: format!(
                "{} has shape {} ({} input channels) but {} has {}; expected the weight's second \
                 dimension to be the input's channels, {}",
                x.desc,
                show(x.shape),
                show(&x.shape[1..2]),
                w.desc,
                show(w.shape),
                show(&x.shape[1..2]),
            ),
        });
    }
    let (s, p) = (int_lit(a, 0)?, int_lit(a, 1)?);
    if s == 0 {
        return Err(Mismatch {
            operand: 2,
            msg: format!(
                "stride 0 for {} of shape {} and {} of shape {}; expected a positive stride",
                x.desc,
                show(x.shape),
                w.desc,
                show(w.shape)
            ),
        });
    }
    let mut out = vec![x.shape[0].clone(), w.shape[0].clone()];
    for ax in 2..2 + sp {
        let (n, k) = match (&x.shape[ax], &w.shape[ax]) {
            (PDim::Lit(n), PDim::Lit(k)) => (*n, *k),
            (d, _) => {
                let (i, o) = if matches!(d, PDim::Const(_)) {
                    (0, x)
                } else {
                    (1, w)
                };
                return Err(Mismatch {
                    operand: i,
                    msg: format!(
                        "{} has shape {} with a const dimension on spatial axis {ax}; expected \
                         literal spatial sizes (with {} of shape {}), from which the output size \
                         ⌊(n + 2p − k)/s⌋ + 1 is computed",
                        o.desc,
                        show(o.shape),
                        if i == 0 { &w.desc } else { &x.desc },
                        show(if i == 0 { w.shape } else { x.shape }),
                    ),
                });
            }
        };
        let padded = n.saturating_add(p.saturating_mul(2));
        if k > padded {
            return Err(Mismatch {
                operand: 1,
                msg: format!(
                    "the kernel of {} (shape {}) is {k} wide on axis {ax}, larger than the padded \
                     input of {} (shape {}): {n} + 2·{p} = {padded}; expected a kernel of at most \
                     {padded}",
                    w.desc,
                    show(w.shape),
                    x.desc,
                    show(x.shape)
                ),
            });
        }
        out.push(PDim::Lit((padded - k) / s + 1));
    }
    Ok(out)
}

/// `[b, c, h, w], [o, c, kh, kw], stride, padding → [b, o, h', w']` (`conv2d`).
pub fn check_conv2d(a: &Args) -> Result<Shape, Mismatch> {
    check_conv(a, 2)
}

/// `[b, c, l], [o, c, k], stride, padding → [b, o, l']` (`conv1d`).
pub fn check_conv1d(a: &Args) -> Result<Shape, Mismatch> {
    check_conv(a, 1)
}

// ---------------------------------------------------------------------- pooling (SPEC §9b)

/// `x: [b, c, h, w], k → [b, c, ⌊h/k⌋, ⌊w/k⌋]` (`max_pool2d`, `avg_pool2d`: `k × k` windows,
/// stride `k`, no padding, floor as PyTorch). As for the convolutions, the spatial sizes must be
/// literals: the output sizes are computed here and written into the expansion, because stable
/// Rust cannot compute `⌊h/k⌋` from const generics.
pub fn check_pool2d(a: &Args) -> Result<Shape, Mismatch> {
    let x = operand(a, 0)?;
    want_rank(a, 0, 4, "[b, c, h, w]")?;
    let k = int_lit(a, 0)?;
    if k == 0 {
        return Err(Mismatch {
            operand: 1,
            msg: format!(
                "window 0 × 0 for {} of shape {}; expected a positive window size",
                x.desc,
                show(x.shape)
            ),
        });
    }
    let mut out = x.shape[..2].to_vec();
    for ax in 2..4 {
        let n = match &x.shape[ax] {
            PDim::Lit(n) => *n,
            _ => {
                return Err(Mismatch {
                    operand: 0,
                    msg: format!(
                        "{} has shape {} with a const dimension on spatial axis {ax}; expected \
                         literal spatial sizes, from which the output size ⌊n/k⌋ is computed",
                        x.desc,
                        show(x.shape)
                    ),
                });
            }
        };
        if k > n {
            return Err(Mismatch {
                operand: 1,
                msg: format!(
                    "window {k} × {k} is larger than {} of shape {}, which is {n} wide on axis \
                     {ax}; expected a window of at most {n}",
                    x.desc,
                    show(x.shape)
                ),
            });
        }
        out.push(PDim::Lit(n / k));
    }
    Ok(out)
}

// ------------------------------------------------------------------- expand (SPEC §9b)

/// `s, axis, n → s` with a new axis of length `n` at `axis` (`expand`): `axis ≤ rank`, input
/// rank at most 3 (the output has at most 4 axes), `n ≥ 1` (dimensions are positive).
pub fn check_expand(a: &Args) -> Result<Shape, Mismatch> {
    let x = operand(a, 0)?;
    let r = x.shape.len();
    if r > 3 {
        return Err(Mismatch {
            operand: 0,
            msg: format!(
                "{} has shape {} (rank {r}); expected rank 0 to 3, since the output gains an \
                 axis and shapes have at most 4",
                x.desc,
                show(x.shape)
            ),
        });
    }
    let k = int_lit(a, 0)?;
    let n = int_lit(a, 1)?;
    if k > r {
        return Err(Mismatch {
            operand: 1,
            msg: format!(
                "axis {k} is out of range for {} of shape {} (rank {r}: the new axis goes at 0 \
                 to {r})",
                x.desc,
                show(x.shape)
            ),
        });
    }
    let mut out = x.shape.to_vec();
    out.insert(k, PDim::Lit(n));
    if n == 0 {
        return Err(Mismatch {
            operand: 2,
            msg: format!(
                "a new axis of length 0 would give {} of shape {} the shape {}; expected a \
                 positive length (dimensions are positive)",
                x.desc,
                show(x.shape),
                show(&out)
            ),
        });
    }
    Ok(out)
}
