//! The Graphviz rendering of a [`Report`].

use super::{Report, Row, RowKind};
use crate::shape::describe_dims;
use std::fmt::Write;
use std::path::Path;
use std::process::Command;

/// Fill colour by how loose a bound is: bound ÷ observed when the spec was run, else the
/// relative bound eps / B. Green is tight, red is loose or infinite.
fn colour(r: &Row) -> &'static str {
    let Some(eps) = r.eps else { return "#f4a6a6" };
    let level = match (r.looseness(), r.rtol) {
        (Some(x), _) => x.log10() / 1.5, // 1 → 0, 30 → 1, 1e3 → 2, 3e4 → 3
        (None, _) if eps == 0.0 => 0.0,
        (None, Some(rel)) => (rel.log10() + 7.0) / 1.5,
        (None, None) => 4.0,
    };
    match level {
        l if l < 1.0 => "#b7e4b0",
        l if l < 2.0 => "#e3f1a5",
        l if l < 3.0 => "#fde3a0",
        _ => "#f9c29b",
    }
}

fn label_num(x: Option<f64>) -> String {
    x.map_or("inf".into(), |v| format!("{v:.2e}"))
}

impl Report {
    /// A Graphviz `digraph`: one box per value (inputs and node outputs) labelled with its name,
    /// op, shape, eps and B, coloured by how loose its bound is; edges follow the data flow.
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph scale_graph {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n",
        );
        let values: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.kind == RowKind::Value)
            .collect();
        for r in &values {
            let op = if r.entry < self.n_inputs {
                "input".to_string()
            } else {
                self.nodes
                    .get(r.entry - self.n_inputs)
                    .map_or("?".into(), |n| n.op.clone())
            };
            let mut label = format!(
                "{}\\n{} {}\\neps {} · B {}",
                r.name.replace('"', "'"),
                op,
                describe_dims(&r.shape),
                label_num(r.eps),
                label_num(r.scale)
            );
            if let Some(x) = r.looseness() {
                let _ = write!(label, "\\nbound/obs {x:.1}");
            }
            let _ = writeln!(
                out,
                "  n{} [label=\"{}\", fillcolor=\"{}\"{}];",
                r.entry,
                label,
                colour(r),
                if r.entry < self.n_inputs {
                    ", shape=ellipse"
                } else {
                    ""
                }
            );
        }
        for n in &self.nodes {
            for a in &n.args {
                let _ = writeln!(out, "  n{a} -> n{};", n.out);
            }
        }
        out.push_str("}\n");
        out
    }

    /// Write the DOT file to `path` and, when Graphviz's `dot` is installed, render it to SVG next
    /// to it. Returns the SVG path, or a message with the install hint when `dot` is missing.
    pub fn write_dot(&self, path: &Path) -> std::io::Result<Result<std::path::PathBuf, String>> {
        std::fs::write(path, self.to_dot())?;
        let svg = path.with_extension("svg");
        let rendered = Command::new("dot")
            .arg("-Tsvg")
            .arg(path)
            .arg("-o")
            .arg(&svg)
            .status();
        Ok(match rendered {
            Ok(s) if s.success() => Ok(svg),
            Ok(s) => Err(format!("`dot` failed ({s}) on {}", path.display())),
            Err(_) => Err(format!(
                "wrote {}; install Graphviz to render it (Debian: `apt-get install graphviz`), \
                 then `dot -Tsvg {} -o {}`",
                path.display(),
                path.display(),
                svg.display()
            )),
        })
    }
}
