//! Checked shapes over literal-or-const dimensions, and what the checker can decide about them.

use syn::Ident;

/// Largest rank of a shape.
pub const MAX_RANK: usize = 4;

/// A checked dimension.
#[derive(Debug, Clone)]
pub enum PDim {
    /// A positive literal.
    Lit(usize),
    /// A const identifier (e.g. a const generic parameter); only rustc knows its value.
    Const(Ident),
}

/// A checked shape.
pub type Shape = Vec<PDim>;

/// A shape of literal dimensions (what the generator and tests write).
pub fn lit_shape(dims: &[usize]) -> Shape {
    dims.iter().map(|&n| PDim::Lit(n)).collect()
}

/// The dimensions if every one is a literal.
pub fn literal_dims(s: &[PDim]) -> Option<Vec<usize>> {
    s.iter()
        .map(|d| match d {
            PDim::Lit(n) => Some(*n),
            PDim::Const(_) => None,
        })
        .collect()
}

/// Write a shape as in the macro language, e.g. `[128, H]`.
pub fn show(s: &[PDim]) -> String {
    let parts: Vec<String> = s
        .iter()
        .map(|d| match d {
            PDim::Lit(n) => n.to_string(),
            PDim::Const(i) => i.to_string(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Whether two dimensions are equal: `Some` when the macro can tell, `None` when rustc must.
pub fn dim_eq(a: &PDim, b: &PDim) -> Option<bool> {
    match (a, b) {
        (PDim::Lit(x), PDim::Lit(y)) => Some(x == y),
        (PDim::Const(x), PDim::Const(y)) if x == y => Some(true),
        _ => None,
    }
}

/// Definitely different (literal dims that differ, or different ranks).
pub fn shapes_differ(a: &[PDim], b: &[PDim]) -> bool {
    a.len() != b.len() || a.iter().zip(b).any(|(x, y)| dim_eq(x, y) == Some(false))
}

/// Element count when every dimension is a literal.
pub fn numel(s: &[PDim]) -> Option<u128> {
    s.iter().try_fold(1u128, |acc, d| match d {
        PDim::Lit(n) => acc.checked_mul(*n as u128),
        PDim::Const(_) => None,
    })
}
