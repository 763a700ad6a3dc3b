//! The terminal rendering of a [`Report`].

use super::{Report, Row, RowKind};
use crate::shape::describe_dims;
use std::fmt::Write;

fn num(x: Option<f64>) -> String {
    match x {
        None => "inf".to_string(),
        Some(0.0) => "0".to_string(),
        Some(v) => format!("{v:.3e}"),
    }
}

fn looseness(r: &Row) -> String {
    match (r.eps, r.observed) {
        (_, None) => String::new(),
        (None, Some(_)) => "inf".into(),
        (Some(_), Some(0.0)) => "exact".into(),
        (Some(e), Some(o)) => format!("{:.1}", e / o),
    }
}

impl Report {
    /// A fixed-width table: for every value and every gradient — shape, eps, B, atol, rtol and,
    /// when [`Report::observe`] was called, the observed error and bound ÷ observed.
    pub fn to_table(&self) -> String {
        let observed = self.rows.iter().any(|r| r.observed.is_some());
        let w = self
            .rows
            .iter()
            .map(|r| r.name.chars().count())
            .max()
            .unwrap_or(4)
            .max(5);
        let sw = self
            .rows
            .iter()
            .map(|r| describe_dims(&r.shape).len())
            .max()
            .unwrap_or(5)
            .max(5);
        let radius = self.rows.iter().any(|r| r.radius.is_some());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "mode {} ({}) · runtime {} · elementary functions assumed accurate to {} ulps",
            if self.mode.is_empty() {
                "?"
            } else {
                &self.mode
            },
            super::mode_promise(&self.mode),
            self.runtime,
            self.assumed_ulps
        );
        let mut header = format!(
            "{:<w$}  {:<sw$}  {:>10}  {:>10}  {:>10}  {:>10}",
            "name", "shape", "eps", "B", "atol", "rtol"
        );
        if radius {
            let _ = write!(header, "  {:>10}", "radius");
        }
        if observed {
            let _ = write!(
                header,
                "  {:>10}  {:>9}  {:>4}",
                "observed", "bound/obs", "ok"
            );
        }
        let _ = writeln!(out, "{header}");
        let _ = writeln!(out, "{}", "─".repeat(header.chars().count()));
        let mut last = RowKind::Value;
        for r in &self.rows {
            if r.kind != last {
                let _ = writeln!(out);
                last = r.kind;
            }
            let _ = write!(
                out,
                "{:<w$}  {:<sw$}  {:>10}  {:>10}  {:>10}  {:>10}",
                r.name,
                describe_dims(&r.shape),
                num(r.eps),
                num(r.scale),
                num(r.atol),
                num(r.rtol),
            );
            if radius {
                let _ = write!(out, "  {:>10}", num(r.radius));
            }
            if observed {
                let ok = match r.holds {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "",
                };
                let _ = write!(
                    out,
                    "  {:>10}  {:>9}  {:>4}",
                    r.observed.map_or(String::new(), |o| num(Some(o))),
                    looseness(r),
                    ok
                );
            }
            if let Some(n) = &r.note {
                let _ = write!(out, "  ({n})");
            }
            let _ = writeln!(out);
            if !r.stages.is_empty() {
                let parts: Vec<String> = r
                    .stages
                    .iter()
                    .map(|s| format!("{} {}", s.name, num(s.eps)))
                    .collect();
                let _ = writeln!(
                    out,
                    "{:<w$}  stages (propagated eps): {}",
                    "",
                    parts.join(" → ")
                );
            }
        }
        out
    }
}
