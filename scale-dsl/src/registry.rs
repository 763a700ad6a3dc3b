//! The op registry: one row per op of the language, read by the checker, the expander, the
//! generator (`scale-gen`) and the coverage tests.
//!
//! A row holds everything the language needs to know about an op: its name, its tensor
//! operands, its literal parameters, its shape rule (a `check_*` function of [`crate::rules`])
//! and what the expansion calls. Adding an op to the language is adding a row here (and its
//! constructor in `scale_core::ops`); `tests/registry_coverage.rs` then names every test table
//! that still lacks it.

use crate::rules::{self, ShapeRule};

/// The kind of a literal parameter: how it is written, checked and passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A finite number literal (`0.5`, `-0.01`, `2`), passed to the constructor as `f64`.
    Float,
    /// A non-negative integer literal (a stride, a padding, a bound), passed as `usize`.
    Int,
    /// An axis: a non-negative integer literal the shape rule checks against the rank, passed
    /// at type level (`ops::Idx::<1>`) because the output shape depends on it.
    Axis,
    /// A non-negative integer literal passed at type level (`ops::Idx::<3>`), like an axis: a
    /// bound the output shape depends on (`slice`'s `start` and `end`).
    Index,
    /// A list of non-negative integer literals `[1, 0, 2]` (a permutation), passed at type
    /// level (`ops::Perm3::<1, 0, 2>`) because the output shape depends on it.
    Ints,
    /// A shape literal `[DIM, …]` (`reshape`'s target): it picks the output's type and is not
    /// passed as a value.
    Shape,
    /// A positive finite number literal (the `eps` of the normalisations, which keeps
    /// `var + eps` away from 0), passed as `f64`.
    PositiveFloat,
}

impl ParamKind {
    /// Whether the constructor receives the literal as an argument (a value or a type-level
    /// marker value).
    pub fn is_value(self) -> bool {
        self != ParamKind::Shape
    }

    /// Whether the literal is passed at type level (the output shape depends on it): the
    /// constructor cannot reject it at run time, so it returns the node itself, not a `Result`,
    /// and the expansion writes the output type at the push.
    pub fn is_type_level(self) -> bool {
        matches!(self, ParamKind::Axis | ParamKind::Index | ParamKind::Ints)
    }
}

/// A literal parameter of an op.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Its name in messages and signatures (`c`, `a`, `axis`).
    pub name: &'static str,
    /// How it is written and passed.
    pub kind: ParamKind,
}

/// One op of the language.
#[derive(Debug, Clone, Copy)]
pub struct OpDef {
    /// Name in the macro language.
    pub name: &'static str,
    /// Names of the tensor operands, in order (their number is the op's tensor arity).
    pub tensors: &'static [&'static str],
    /// The literal parameters that follow the tensors, in order.
    pub params: &'static [Param],
    /// The shape rule.
    pub rule: ShapeRule,
    /// The constructor's name in `scale_core::ops`: called with the tensors, then the value
    /// literals; it returns a `Result` iff the op has value literals (it validates them).
    pub ctor: &'static str,
    /// The op moves or selects values without rounding (its error bound is the inputs' own),
    /// so a tightness measurement has nothing to measure.
    pub exact: bool,
    /// Operand shapes the rule accepts, for tests and generators that need one valid call.
    pub example: &'static [&'static [usize]],
}

impl OpDef {
    /// Total number of arguments written in a call: tensors, then literals.
    pub fn arity(&self) -> usize {
        self.tensors.len() + self.params.len()
    }

    /// The call's signature as the user writes it, e.g. `scale(x, c)`, `reshape(x, [DIM, …])`.
    pub fn signature(&self) -> String {
        let mut parts: Vec<&str> = self.tensors.to_vec();
        parts.extend(self.params.iter().map(|p| match p.kind {
            ParamKind::Shape => "[DIM, …]",
            _ => p.name,
        }));
        format!("{}({})", self.name, parts.join(", "))
    }

    /// The same op with literal parameters.
    pub const fn with_params(mut self, params: &'static [Param]) -> Self {
        self.params = params;
        self
    }

    /// The same op built by another constructor of `scale_core::ops` (a second row of one name,
    /// told apart by its arity: `sum(x, axis)` calls `sum_axis`).
    pub const fn with_ctor(mut self, ctor: &'static str) -> Self {
        self.ctor = ctor;
        self
    }

    /// The same op marked exact (no rounding of its own).
    pub const fn exact(mut self) -> Self {
        self.exact = true;
        self
    }
}

/// A row: name, tensor operands, shape rule and example operand shapes; the constructor is
/// `ops::<name>` and there are no literals until [`OpDef::with_params`].
pub const fn op(
    name: &'static str,
    tensors: &'static [&'static str],
    rule: ShapeRule,
    example: &'static [&'static [usize]],
) -> OpDef {
    OpDef {
        name,
        tensors,
        params: &[],
        rule,
        ctor: name,
        exact: false,
        example,
    }
}

/// A parameter of kind `kind` named `name` (how rows spell their literals).
pub const fn param(name: &'static str, kind: ParamKind) -> Param {
    Param { name, kind }
}

const fn float(name: &'static str) -> Param {
    param(name, ParamKind::Float)
}

/// A positive finite float literal named `name`.
const fn positive(name: &'static str) -> Param {
    param(name, ParamKind::PositiveFloat)
}

const M: &[usize] = &[2, 3];
const ONE: &[&[usize]] = &[M];
const TWO: &[&[usize]] = &[M, M];

/// Every op of SPEC §9.
// One op per line, so the table reads (and diffs) row by row.
#[rustfmt::skip]
pub const OPS: &[OpDef] = &[
    op("add", &["a", "b"], rules::check_same, TWO),
    op("sub", &["a", "b"], rules::check_same, TWO),
    op("mul", &["a", "b"], rules::check_same, TWO),
    op("neg", &["x"], rules::check_unary, ONE).exact(),
    op("scale", &["x"], rules::check_unary, ONE).with_params(&[float("c")]),
    op("relu", &["x"], rules::check_unary, ONE).exact(),
    op("abs", &["x"], rules::check_unary, ONE).exact(),
    op("leaky_relu", &["x"], rules::check_unary, ONE).with_params(&[float("a")]),
    op("tanh", &["x"], rules::check_unary, ONE),
    op("sigmoid", &["x"], rules::check_unary, ONE),
    op("exp", &["x"], rules::check_unary, ONE),
    op("log", &["x"], rules::check_unary, ONE),
    op("softplus", &["x"], rules::check_unary, ONE),
    op("square", &["x"], rules::check_unary, ONE),
    op("matmul", &["a", "b"], rules::check_matmul, &[&[2, 3], &[3, 4]]),
    op("matvec", &["w", "x"], rules::check_matvec, &[&[2, 3], &[3]]),
    op("dot", &["a", "b"], rules::check_dot, &[&[3], &[3]]),
    op("transpose", &["x"], rules::check_transpose, ONE).exact(),
    op("add_bias", &["h", "b"], rules::check_add_bias, &[&[2, 3], &[3]]),
    op("sum", &["x"], rules::check_reduce, ONE),
    op("mean", &["x"], rules::check_reduce, ONE),
    op("sum_rows", &["x"], rules::check_sum_rows, ONE),
    op("reshape", &["x"], rules::check_reshape, ONE).with_params(&[param("shape", ParamKind::Shape)]).exact(),
    op("softmax", &["x"], rules::check_last_axis, ONE),
    op("log_softmax", &["x"], rules::check_last_axis, ONE),
    op("mse", &["pred", "target"], rules::check_same_to_scalar, TWO),
    op("cross_entropy", &["logits", "target"], rules::check_cross_entropy, TWO),
    // Elementwise ops of SPEC §9b (issue #12).
    op("div", &["a", "b"], rules::check_same, TWO),
    op("sqrt", &["x"], rules::check_unary, ONE),
    op("rsqrt", &["x"], rules::check_unary, ONE),
    op("maximum", &["a", "b"], rules::check_same, TWO).exact(),
    op("minimum", &["a", "b"], rules::check_same, TWO).exact(),
    op("gelu", &["x"], rules::check_unary, ONE),
    op("gelu_tanh", &["x"], rules::check_unary, ONE),
    op("sum", &["x"], rules::check_drop_axis, ONE).with_params(AXIS).with_ctor("sum_axis"),
    op("mean", &["x"], rules::check_drop_axis, ONE).with_params(AXIS).with_ctor("mean_axis"),
    op("permute", &["x"], rules::check_permute, &[&[2, 3, 4]]).with_params(&[param("axes", ParamKind::Ints)]).exact(),
    op("slice", &["x"], rules::check_slice, ONE).with_params(SLICE).exact(),
    op("concat", &["a", "b"], rules::check_concat, TWO).with_params(AXIS).exact(),
    op("softmax_causal", &["x"], rules::check_causal, &[&[2, 3, 3]]),
    op("layer_norm", &["x", "gamma", "beta"], rules::check_norm, &[M, &[3], &[3]]).with_params(&[positive("eps")]),
    op("rms_norm", &["x", "gamma"], rules::check_norm, &[M, &[3]]).with_params(&[positive("eps")]),
    // Convolution and pooling of SPEC §9b (issue #12).
    op("conv2d", &["x", "w"], rules::check_conv2d, &[&[1, 2, 5, 5], &[3, 2, 3, 3]]).with_params(CONV),
    op("conv1d", &["x", "w"], rules::check_conv1d, &[&[1, 2, 5], &[3, 2, 3]]).with_params(CONV),
    op("max_pool2d", &["x"], rules::check_pool2d, &[&[1, 2, 5, 4]]).with_params(POOL),
    op("avg_pool2d", &["x"], rules::check_pool2d, &[&[1, 2, 5, 4]]).with_params(POOL),
    // Batched products and attention of SPEC §9b (issue #12).
    op("bmm", &["a", "b"], rules::check_bmm, &[&[2, 2, 3], &[2, 3, 4]]),
    op("attention", &["q", "k", "v"], rules::check_attention, &[&[2, 3, 4], &[2, 5, 4], &[2, 5, 2]]),
    op("attention_causal", &["q", "k", "v"], rules::check_attention_causal, &[&[2, 3, 4], &[2, 3, 4], &[2, 3, 2]]),
    // The broadcast of a reduction back over its axis (issue #12).
    op("expand", &["x"], rules::check_expand, ONE).with_params(EXPAND).exact(),
];

/// The axis of `sum(x, axis)`, `mean(x, axis)`, `concat(a, b, axis)`.
const AXIS: &[Param] = &[param("axis", ParamKind::Axis)];
/// `slice(x, axis, start, end)`.
const SLICE: &[Param] = &[
    param("axis", ParamKind::Axis),
    param("start", ParamKind::Index),
    param("end", ParamKind::Index),
];

/// `expand(x, axis, n)`: both at type level, because the output shape depends on them.
const EXPAND: &[Param] = &[param("axis", ParamKind::Axis), param("n", ParamKind::Index)];

/// `conv2d(x, w, stride, padding)`, `conv1d(…)`: type-level literals, because the output
/// sizes depend on them.
const CONV: &[Param] = &[
    param("stride", ParamKind::Index),
    param("padding", ParamKind::Index),
];

/// `max_pool2d(x, k)`, `avg_pool2d(x, k)`: the window (and stride) `k` at type level, because
/// the output sizes depend on it.
const POOL: &[Param] = &[param("k", ParamKind::Index)];

/// Look an op up by name (its first row, when rows of several arities share the name).
pub fn lookup(name: &str) -> Option<&'static OpDef> {
    OPS.iter().find(|o| o.name == name)
}

/// Look an op up by name and number of arguments (`sum(x)` and `sum(x, axis)` are two rows);
/// the first row of the name when no arity matches, so the caller reports the count.
pub fn lookup_arity(name: &str, arity: usize) -> Option<&'static OpDef> {
    OPS.iter()
        .find(|o| o.name == name && o.arity() == arity)
        .or_else(|| lookup(name))
}

/// Levenshtein distance (for "did you mean").
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(usize::MAX - 1) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(usize::MAX - 1) + 1;
            let ins = cur.last().copied().unwrap_or(usize::MAX - 1) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// The closest candidate within a small edit distance, if any.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let n = name.chars().count();
    // Names of one or two letters are too short for a meaningful suggestion.
    let limit = if n < 3 { 0 } else { n.div_ceil(3) };
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, a) in OPS.iter().enumerate() {
            assert!(lookup(a.name).is_some());
            // One name may have several rows, of different arities.
            assert!(
                OPS.iter()
                    .skip(i + 1)
                    .all(|b| b.name != a.name || b.arity() != a.arity()),
                "{}",
                a.name
            );
            assert_eq!(
                lookup_arity(a.name, a.arity()).map(|o| o.ctor),
                Some(a.ctor)
            );
        }
        assert_eq!(lookup("scale").map(OpDef::arity), Some(2));
        assert_eq!(lookup("reshape").map(OpDef::arity), Some(2));
        assert_eq!(
            lookup("matvec").map(|o| o.signature()),
            Some("matvec(w, x)".into())
        );
        assert!(lookup("conv").is_none());
        assert_eq!(
            lookup("conv2d").map(|o| o.signature()),
            Some("conv2d(x, w, stride, padding)".into())
        );
        assert_eq!(lookup_arity("sum", 2).map(|o| o.ctor), Some("sum_axis"));
        assert_eq!(lookup_arity("sum", 1).map(|o| o.ctor), Some("sum"));
        assert_eq!(lookup_arity("sum", 3).map(|o| o.ctor), Some("sum"));
    }

    #[test]
    fn every_rule_accepts_its_example() {
        use crate::rules::{Args, LitArg, LitValue, Operand};
        use crate::shape::lit_shape;
        for op in OPS {
            assert_eq!(op.example.len(), op.tensors.len(), "{}", op.name);
            let shapes: Vec<_> = op.example.iter().map(|s| lit_shape(s)).collect();
            let operands: Vec<Operand> = shapes
                .iter()
                .map(|s| Operand {
                    shape: s,
                    desc: "`x`".into(),
                })
                .collect();
            let numel = op
                .example
                .first()
                .map_or(1, |s| s.iter().product::<usize>());
            let rank = op.example.first().map_or(0, |s| s.len());
            let lits: Vec<LitArg> = op
                .params
                .iter()
                .enumerate()
                .map(|(i, p)| LitArg {
                    value: match p.kind {
                        ParamKind::Float => LitValue::Float(0.5),
                        ParamKind::Int => LitValue::Int(1),
                        ParamKind::Axis => LitValue::Axis(0),
                        // Bounds by position: `slice(x, 0, 1, 2)`.
                        // A stride is positive: `conv2d(x, w, 1, 1)`.
                        // So is a pooling window: `max_pool2d(x, 1)`.
                        ParamKind::Index if p.name == "stride" || p.name == "k" => {
                            LitValue::Index(1)
                        }
                        ParamKind::Index => LitValue::Index(i),
                        ParamKind::Ints => LitValue::Ints((0..rank).rev().collect()),
                        ParamKind::Shape => LitValue::Shape(lit_shape(&[numel])),
                        ParamKind::PositiveFloat => LitValue::Float(0.5),
                    },
                    span: proc_macro2::Span::call_site(),
                })
                .collect();
            let out = (op.rule)(&Args {
                operands: &operands,
                lits: &lits,
            });
            assert!(out.is_ok(), "{}: {out:?}", op.name);
        }
    }

    #[test]
    fn distance_and_suggestions() {
        assert_eq!(edit_distance("relu", "rleu"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("matvec", "matvec"), 0);
        assert_eq!(
            suggest("matvek", OPS.iter().map(|o| o.name)),
            Some("matvec")
        );
        assert_eq!(suggest("relu6", OPS.iter().map(|o| o.name)), Some("relu"));
        assert_eq!(suggest("zzzzzz", OPS.iter().map(|o| o.name)), None);
        assert_eq!(suggest("z", ["x", "y"]), None);
        assert_eq!(suggest("f65", ["f32", "f64"]), Some("f64"));
    }
}
