//! The set of generated example files: the built-in families plus every description in
//! `examples/models/*.json`.

use crate::{Model, check, emit, families};
use std::path::Path;

/// The built-in models written to `examples/generated/`.
pub fn builtin() -> Vec<Model> {
    vec![
        families::mlp("mlp_deep", 8, &[64, 48, 32, 32, 10]),
        families::attention("attention", 8, 16, 8),
        families::residual("residual", 8, 16, 32),
        families::classifier("classifier", 8, 20, 5),
        families::chain("chain", 512, 16),
        families::transformer_block("transformer_block", 2, 16, 32, 4),
        families::cnn("cnn", 4, 28, 10),
        families::norm_zoo("norm_zoo", 4, 32),
    ]
}

/// Every generated file as `(file name, contents)`, `mod.rs` last. `root` is the workspace root.
pub fn files(root: &Path) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut names = Vec::new();
    for m in builtin() {
        let c = check(&m).map_err(|e| e.to_string())?;
        out.push((
            format!("{}.rs", m.name),
            emit::module(&c, "scale-gen's built-in families"),
        ));
        names.push(m.name.clone());
    }
    let dir = root.join("examples/models");
    let mut jsons: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    jsons.sort();
    for p in jsons {
        let rel = format!(
            "examples/models/{}",
            p.file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default()
        );
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{rel}: {e}"))?;
        let m = Model::from_json(&text).map_err(|e| format!("{rel}: {e}"))?;
        let c = check(&m).map_err(|e| format!("{rel}: {e}"))?;
        out.push((
            format!("{}.rs", m.name),
            emit::module(&c, &format!("`{rel}`")),
        ));
        names.push(m.name.clone());
    }
    out.push(("mod.rs".into(), emit::index(&names)));
    Ok(out)
}
