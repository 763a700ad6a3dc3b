//! Arity, parameters and shape rule of every op of SPEC §9 (for literal dimensions).

/// How an op's output shape follows from its operands' shapes.
pub type ShapeRule = fn(&[&[usize]], Option<&[usize]>) -> Result<Vec<usize>, String>;

/// The signature of one op.
pub struct Signature {
    /// Op name.
    pub name: &'static str,
    /// Number of tensor operands.
    pub arity: usize,
    /// Number of float parameters.
    pub floats: usize,
    /// Output shape from operand shapes (and the target shape, for `reshape`).
    pub shape: ShapeRule,
}

fn fmt(s: &[usize]) -> String {
    format!("{s:?}")
}

fn same(a: &[&[usize]], _: Option<&[usize]>) -> Result<Vec<usize>, String> {
    if a[0] != a[1] {
        return Err(format!(
            "operands must have the same shape, found {} and {}",
            fmt(a[0]),
            fmt(a[1])
        ));
    }
    Ok(a[0].to_vec())
}

fn unary(a: &[&[usize]], _: Option<&[usize]>) -> Result<Vec<usize>, String> {
    Ok(a[0].to_vec())
}

fn to_scalar(_: &[&[usize]], _: Option<&[usize]>) -> Result<Vec<usize>, String> {
    Ok(vec![])
}

fn same_to_scalar(a: &[&[usize]], t: Option<&[usize]>) -> Result<Vec<usize>, String> {
    same(a, t).map(|_| vec![])
}

fn matmul(a: &[&[usize]], _: Option<&[usize]>) -> Result<Vec<usize>, String> {
    match (a[0], a[1]) {
        ([m, k], [k2, n]) if k == k2 => Ok(vec![*m, *n]),
        (x, y) => Err(format!(
            "matmul needs [m, k] and [k, n], found {} and {}",
            fmt(x),
            fmt(y)
        )),
    }
}

fn matvec(a: &[&[usize]], _: Option<&[usize]>) -> Result<Vec<usize>, String> {
    match (a[0], a[1]) {
        ([m, k], [k2]) if k == k2 => Ok(vec![*m]),
        (x, y) => Err(format!(
            "matvec needs [m, k] and [k], found {} and {}",
            fmt(x),
            fmt(y)
        )),
    }
}

fn dot(a: &[&[usize]], _: Option<&[usize]>) -> Result<Vec<usize>, String> {
    match (a[0], a[1]) {
        ([k], [k2]) if k == k2 => Ok(vec![]),
        (x, y) => Err(format!(
            "dot needs [k] and [k], found {} and {}",
            fmt(x),
            fmt(y)
        )),
    }
}

fn transpose(a: &[&[usize]], _: Option<&[usize]>) -> Result<Vec<usize>, String> {
    match a[0] {
        [m, n] => Ok(vec![*n, *m]),
        x => Err(format!("transpose needs [m, n], found {}", fmt(x))),
    }
}

fn add_bias(a: &[&[usize]], _: Option<&[usize]>) -> Result<Vec<usize>, String> {
    match (a[0], a[1]) {
        ([b, n], [n2]) if n == n2 => Ok(vec![*b, *n]),
        (x, y) => Err(format!(
            "add_bias needs [b, n] and [n], found {} and {}",
            fmt(x),
            fmt(y)
        )),
    }
}

fn sum_rows(a: &[&[usize]], _: Option<&[usize]>) -> Result<Vec<usize>, String> {
    match a[0] {
        [_, n] => Ok(vec![*n]),
        x => Err(format!("sum_rows needs [b, n], found {}", fmt(x))),
    }
}

fn last_axis(a: &[&[usize]], _: Option<&[usize]>) -> Result<Vec<usize>, String> {
    match a[0].len() {
        1 | 2 => Ok(a[0].to_vec()),
        _ => Err(format!("needs [n] or [b, n], found {}", fmt(a[0]))),
    }
}

fn cross_entropy(a: &[&[usize]], t: Option<&[usize]>) -> Result<Vec<usize>, String> {
    if a[0].len() != 2 {
        return Err(format!(
            "cross_entropy needs [b, n] logits, found {}",
            fmt(a[0])
        ));
    }
    same_to_scalar(a, t)
}

fn reshape(a: &[&[usize]], t: Option<&[usize]>) -> Result<Vec<usize>, String> {
    let t = t.ok_or("reshape needs a target `shape`")?;
    let (n, m) = (a[0].iter().product::<usize>(), t.iter().product::<usize>());
    if n != m {
        return Err(format!(
            "reshape from {} ({n} elements) to {} ({m} elements)",
            fmt(a[0]),
            fmt(t)
        ));
    }
    Ok(t.to_vec())
}

macro_rules! sig {
    ($name:literal, $arity:literal, $floats:literal, $rule:expr) => {
        Signature {
            name: $name,
            arity: $arity,
            floats: $floats,
            shape: $rule,
        }
    };
}

/// Every op of SPEC §9.
pub const OPS: &[Signature] = &[
    sig!("add", 2, 0, same),
    sig!("sub", 2, 0, same),
    sig!("mul", 2, 0, same),
    sig!("neg", 1, 0, unary),
    sig!("scale", 1, 1, unary),
    sig!("relu", 1, 0, unary),
    sig!("leaky_relu", 1, 1, unary),
    sig!("tanh", 1, 0, unary),
    sig!("sigmoid", 1, 0, unary),
    sig!("exp", 1, 0, unary),
    sig!("log", 1, 0, unary),
    sig!("softplus", 1, 0, unary),
    sig!("square", 1, 0, unary),
    sig!("matmul", 2, 0, matmul),
    sig!("matvec", 2, 0, matvec),
    sig!("dot", 2, 0, dot),
    sig!("transpose", 1, 0, transpose),
    sig!("add_bias", 2, 0, add_bias),
    sig!("sum", 1, 0, to_scalar),
    sig!("mean", 1, 0, to_scalar),
    sig!("sum_rows", 1, 0, sum_rows),
    sig!("reshape", 1, 0, reshape),
    sig!("softmax", 1, 0, last_axis),
    sig!("log_softmax", 1, 0, last_axis),
    sig!("mse", 2, 0, same_to_scalar),
    sig!("cross_entropy", 2, 0, cross_entropy),
];

/// The signature of `name`, if it is an op.
pub fn lookup(name: &str) -> Option<&'static Signature> {
    OPS.iter().find(|s| s.name == name)
}
