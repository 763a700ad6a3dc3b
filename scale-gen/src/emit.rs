//! Writing a checked model as a `scale_graph!` program.

use crate::validate::Checked;
use std::fmt::Write;

fn dims(d: &[usize]) -> String {
    let v: Vec<String> = d.iter().map(|x| x.to_string()).collect();
    format!("[{}]", v.join(", "))
}

/// A float as a Rust literal that round-trips exactly (`{:?}` prints the shortest such form).
fn float(x: f64) -> String {
    let s = format!("{x:?}");
    if s.contains(['.', 'e']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// The `scale_graph! { … }` invocation for a checked model, indented by `indent` spaces.
///
/// ```
/// let m = scale_gen::families::classifier("c", 2, 3, 4);
/// let text = scale_gen::emit::program(&scale_gen::check(&m)?, 0);
/// assert!(text.contains("let logits = add_bias(z, b);"));
/// # Ok::<(), scale_gen::GenError>(())
/// ```
pub fn program(c: &Checked, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let m = &c.model;
    let mut out = format!("{pad}scale_graph! {{\n");
    let _ = writeln!(out, "{pad}    runtime = {};", m.runtime);
    for inp in &m.inputs {
        let _ = writeln!(out, "{pad}    input {}: {};", inp.name, dims(&inp.shape));
    }
    for op in &m.ops {
        let mut args: Vec<String> = op.args.clone();
        args.extend(op.params.iter().map(|&p| float(p)));
        if let Some(t) = &op.shape {
            args.push(dims(t));
        }
        let _ = writeln!(
            out,
            "{pad}    let {} = {}({});",
            op.name,
            op.op,
            args.join(", ")
        );
    }
    let _ = write!(out, "{pad}}}");
    out
}
