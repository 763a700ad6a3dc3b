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

/// What [`Report::to_dot_with`] draws besides the values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DotOptions {
    /// Also draw one node per gradient (`d/dx`, dashed edge from its input), coloured like the
    /// values.
    pub gradients: bool,
}

/// The legend: what the fill colours mean, with and without an observed error.
const LEGEND: &str = "  subgraph cluster_legend {\n    label=\"legend: fill = how loose the bound is\";\n    fontname=\"Helvetica\"; fontsize=10; style=dashed;\n    node [shape=box, style=\"rounded,filled\", fontsize=9];\n    legend_0 [label=\"bound ≤ 10× observed error\\n(no observation: exact or rtol ≤ 1e-6)\", fillcolor=\"#b7e4b0\"];\n    legend_1 [label=\"≤ 300× observed\\n(rtol ≤ 1e-4.5)\", fillcolor=\"#e3f1a5\"];\n    legend_2 [label=\"≤ 10⁴·⁵× observed\\n(rtol ≤ 1e-3)\", fillcolor=\"#fde3a0\"];\n    legend_3 [label=\"looser\\n(rtol > 1e-3)\", fillcolor=\"#f9c29b\"];\n    legend_4 [label=\"eps = +∞ (no finite bound)\", fillcolor=\"#f4a6a6\"];\n    legend_0 -> legend_1 -> legend_2 -> legend_3 -> legend_4 [style=invis];\n  }\n";

impl Report {
    /// A Graphviz `digraph`: one box per value (inputs and node outputs) labelled with its name,
    /// op, shape, eps and B, coloured by how loose its bound is; edges follow the data flow; a
    /// legend explains the colours. Exact inputs (eps 0) show only B.
    pub fn to_dot(&self) -> String {
        self.to_dot_with(DotOptions::default())
    }

    /// [`Report::to_dot`] with [`DotOptions`] (e.g. the gradients drawn too).
    ///
    /// ```
    /// use scale_core::report::{DotOptions, Report};
    /// # use scale_core::context::{Nil, Seg};
    /// # use scale_core::{ops, Rank1, RevGraphScale, TList};
    /// # let (g, (x,)) = RevGraphScale::<f32, Seg<Nil, (Rank1<2>,)>, Nil, _>::nil(scale_core::brand!());
    /// # let (g, s) = g.snoc(ops::sum(x));
    /// # let xr = TList::from_arrays(vec![ndarray::arr1(&[1.5f32, 2.0]).into_dyn()]).unwrap();
    /// # let (e, b) = g.exact_inputs(&xr);
    /// # let (seed, es, bs) = g.loss_seed(s);
    /// # let cert = g.certify(xr, &e, &b, &seed, &es, &bs);
    /// let report = Report::new(&g, &cert, &["x", "s"]).unwrap();
    /// let dot = report.to_dot_with(DotOptions { gradients: true });
    /// assert!(dot.contains("d/dx") && dot.contains("cluster_legend"));
    /// ```
    pub fn to_dot_with(&self, opts: DotOptions) -> String {
        let mut out = String::from(
            "digraph scale_graph {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n",
        );
        out.push_str(LEGEND);
        // Which question the numbers answer, on the drawing itself (an estimate says so).
        let _ = writeln!(
            out,
            "  labelloc=t; label=\"mode {}: {}\";",
            if self.mode.is_empty() {
                "?"
            } else {
                &self.mode
            },
            super::mode_promise(&self.mode)
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
            let bounds = if r.eps == Some(0.0) {
                format!("exact · B {}", label_num(r.scale))
            } else {
                format!("eps {} · B {}", label_num(r.eps), label_num(r.scale))
            };
            let mut label = format!(
                "{}\\n{} {}\\n{bounds}",
                r.name.replace('"', "'"),
                op,
                describe_dims(&r.shape),
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
        if opts.gradients {
            for r in self.rows.iter().filter(|r| r.kind == RowKind::Gradient) {
                let mut label = format!(
                    "{}\\n{}\\neps {} · B {}",
                    r.name.replace('"', "'"),
                    describe_dims(&r.shape),
                    label_num(r.eps),
                    label_num(r.scale)
                );
                if let Some(x) = r.looseness() {
                    let _ = write!(label, "\\nbound/obs {x:.1}");
                }
                let _ = writeln!(
                    out,
                    "  g{} [label=\"{}\", fillcolor=\"{}\", shape=note];\n  n{} -> g{} [style=dashed];",
                    r.entry,
                    label,
                    colour(r),
                    r.entry,
                    r.entry
                );
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
