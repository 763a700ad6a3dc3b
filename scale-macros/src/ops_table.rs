//! Every op of SPEC §9: its name, its tensor arguments, its number parameters and its shape rule.
//!
//! The checker uses the table to report unknown ops, wrong arities and shape mismatches with
//! literal dimensions; the expander emits `ops::<name>(tensors…, numbers…)` for every entry.

/// How an op's output shape follows from its argument shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `s → s`.
    Unary,
    /// `s, s → s` (elementwise).
    Same2,
    /// `[m, k], [k, n] → [m, n]`.
    MatMul,
    /// `[m, k], [k] → [m]`.
    MatVec,
    /// `[k], [k] → []`.
    Dot,
    /// `[m, n] → [n, m]`.
    Transpose,
    /// `[b, n], [n] → [b, n]`.
    AddBias,
    /// `s → []`.
    Reduce,
    /// `[b, n] → [n]`.
    SumRows,
    /// `[n] → [n]` or `[b, n] → [b, n]`.
    LastAxis,
    /// `s, s → []`.
    Loss2,
    /// `[b, n], [b, n] → []`.
    CrossEntropy,
    /// `s → t` with `t` written as a shape literal, same element count.
    Reshape,
}

/// One op of the language.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// Name in the macro language and in `scale_core::ops`.
    pub name: &'static str,
    /// Names of the tensor arguments, in order.
    pub tensors: &'static [&'static str],
    /// Names of the number parameters that follow the tensors (`f64` literals).
    pub params: &'static [&'static str],
    /// The shape rule.
    pub rule: Rule,
}

impl Op {
    /// Total number of arguments written in a call (a reshape's shape counts as one).
    pub fn arity(&self) -> usize {
        self.tensors.len() + self.params.len() + usize::from(self.rule == Rule::Reshape)
    }

    /// The call's signature as the user writes it, e.g. `scale(x, c)`.
    pub fn signature(&self) -> String {
        let mut parts: Vec<&str> = self.tensors.to_vec();
        parts.extend(self.params);
        if self.rule == Rule::Reshape {
            parts.push("[DIM, …]");
        }
        format!("{}({})", self.name, parts.join(", "))
    }
}

const fn op(
    name: &'static str,
    tensors: &'static [&'static str],
    params: &'static [&'static str],
    rule: Rule,
) -> Op {
    Op {
        name,
        tensors,
        params,
        rule,
    }
}

/// Every op of SPEC §9.
pub const OPS: &[Op] = &[
    op("add", &["a", "b"], &[], Rule::Same2),
    op("sub", &["a", "b"], &[], Rule::Same2),
    op("mul", &["a", "b"], &[], Rule::Same2),
    op("neg", &["x"], &[], Rule::Unary),
    op("scale", &["x"], &["c"], Rule::Unary),
    op("relu", &["x"], &[], Rule::Unary),
    op("leaky_relu", &["x"], &["a"], Rule::Unary),
    op("tanh", &["x"], &[], Rule::Unary),
    op("sigmoid", &["x"], &[], Rule::Unary),
    op("exp", &["x"], &[], Rule::Unary),
    op("log", &["x"], &[], Rule::Unary),
    op("softplus", &["x"], &[], Rule::Unary),
    op("square", &["x"], &[], Rule::Unary),
    op("matmul", &["a", "b"], &[], Rule::MatMul),
    op("matvec", &["w", "x"], &[], Rule::MatVec),
    op("dot", &["a", "b"], &[], Rule::Dot),
    op("transpose", &["x"], &[], Rule::Transpose),
    op("add_bias", &["h", "b"], &[], Rule::AddBias),
    op("sum", &["x"], &[], Rule::Reduce),
    op("mean", &["x"], &[], Rule::Reduce),
    op("sum_rows", &["x"], &[], Rule::SumRows),
    op("reshape", &["x"], &[], Rule::Reshape),
    op("softmax", &["x"], &[], Rule::LastAxis),
    op("log_softmax", &["x"], &[], Rule::LastAxis),
    op("mse", &["pred", "target"], &[], Rule::Loss2),
    op(
        "cross_entropy",
        &["logits", "target"],
        &[],
        Rule::CrossEntropy,
    ),
];

/// Look an op up by name.
pub fn lookup(name: &str) -> Option<&'static Op> {
    OPS.iter().find(|o| o.name == name)
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
            assert!(
                OPS.iter().skip(i + 1).all(|b| b.name != a.name),
                "{}",
                a.name
            );
        }
        assert_eq!(lookup("scale").map(Op::arity), Some(2));
        assert_eq!(lookup("reshape").map(Op::arity), Some(2));
        assert_eq!(
            lookup("matvec").map(|o| o.signature()),
            Some("matvec(w, x)".into())
        );
        assert!(lookup("conv").is_none());
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
