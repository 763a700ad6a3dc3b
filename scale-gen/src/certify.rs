//! `scale-gen certify`: build an imported ONNX model and run its certified pass.
//!
//! A `scale_graph!` program is Rust, so certifying it means compiling it. This writes a tiny
//! crate under `target/scale-gen-cache/<hash>/` (the hash covers the generated module and the
//! weights, so an unchanged model reuses it) that depends on `scale-graph` and the examples'
//! shared runner by path, and runs it with `cargo run`. The cached crates build in the
//! workspace's own `target/` with the workspace's own (optimised) `dev` profile, copied into their
//! manifest, so most of what `cargo test` or `cargo run --example …` compiled is reused (after
//! the README's two commands, the first model still compiles `scale-core`, `scale-dsl`,
//! `scale-macros`, `scale-graph` and `serde` again, whose unit hashes differ for a reason not yet
//! found, and every later model only its own crate); a spinner shows while cargo works. Shape
//! errors never get this far: the import checks the model first.

use indicatif::{ProgressBar, ProgressStyle};
use scale_gen::onnx::Imported;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// FNV-1a, 64 bits: a stable hash (unlike `DefaultHasher`, the same across Rust releases), so
/// cache directories survive toolchain updates.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The dependency lines the examples' runner needs, with the workspace's versions.
const DEPS: &str = r#"ndarray = { version = "0.17", default-features = false, features = ["std"] }
ndarray-npy = { version = "0.10", default-features = false }
serde_json = { version = "1", features = ["float_roundtrip"] }
clap = { version = "4", features = ["derive"] }
"#;

/// The workspace's `[profile.*]` sections, for the cached crate's manifest: the same settings
/// per package are what lets cargo reuse the workspace's compiled `scale-graph` and
/// dependencies. In the cached crate's own workspace `scale-graph` and `scale-core` are not
/// members, so `[profile.dev.package."*"]` would reach them: each gets the settings it has as a
/// member here (`[profile.dev]`'s own) unless it has a section of its own.
fn workspace_profiles(root: &Path) -> String {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    profiles_for_cache(&manifest, |key| std::env::var(key).ok())
}

/// [`workspace_profiles`] of a manifest's text, with `env` the environment. A
/// `CARGO_PROFILE_DEV_<KEY>` variable (CI sets `…_DEBUG=false`) overrides `[profile.dev]` for
/// the workspace's members, so their copied sections take its value too: a copy keeping the
/// manifest's value would differ from the build it should reuse, and cargo would compile
/// `scale-core` again. `lto`, `panic` and `rpath` stay out of the copies (cargo refuses them in
/// a package's section; the child cargo reads them from `[profile.dev]`).
fn profiles_for_cache(manifest: &str, env: impl Fn(&str) -> Option<String>) -> String {
    let Ok(mut top) = manifest.parse::<toml::Table>() else {
        return String::new();
    };
    let Some(toml::Value::Table(mut profiles)) = top.remove("profile") else {
        return String::new();
    };
    // Sections of workspace members the cached crate does not build would only draw cargo's
    // "did not match any packages" warning.
    let used = [
        "*",
        "scale-graph",
        "scale-core",
        "scale-dsl",
        "scale-macros",
    ];
    for (_, profile) in profiles.iter_mut() {
        if let Some(toml::Value::Table(packages)) = profile.get_mut("package") {
            packages.retain(|name, _| used.contains(&name));
        }
    }
    if let Some(toml::Value::Table(dev)) = profiles.get_mut("dev") {
        let mut base = dev.clone();
        for key in ["package", "build-override", "lto", "panic", "rpath"] {
            base.remove(key);
        }
        for (key, value) in base.iter_mut() {
            let var = format!("CARGO_PROFILE_DEV_{}", key.to_uppercase().replace('-', "_"));
            if let Some(v) = env(&var) {
                *value = env_value(&v);
            }
        }
        let packages = dev
            .entry("package")
            .or_insert_with(|| toml::Table::new().into());
        if let toml::Value::Table(packages) = packages {
            for member in ["scale-graph", "scale-core"] {
                packages
                    .entry(member)
                    .or_insert_with(|| base.clone().into());
            }
        }
    }
    let mut out = toml::Table::new();
    out.insert("profile".into(), profiles.into());
    out.to_string()
}

/// A profile setting as cargo reads it from the environment: a boolean, an integer, or else a
/// string (`opt-level = "s"`, `debug = "line-tables-only"`).
fn env_value(v: &str) -> toml::Value {
    if let Ok(b) = v.parse::<bool>() {
        b.into()
    } else if let Ok(i) = v.parse::<i64>() {
        i.into()
    } else {
        v.into()
    }
}

/// Generate (or reuse) the crate, fill its input directory and run it.
pub fn certify(
    model: &Path,
    imported: &Imported,
    npy: Option<&Path>,
    seed: u64,
    report: &Path,
) -> Result<(), String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .map_err(|e| format!("workspace root: {e}"))?;
    let m = imported.model();
    let module = scale_gen::emit::module(&imported.checked, &format!("`{}`", model.display()));
    let weights: Vec<u8> = imported
        .weights
        .iter()
        .flat_map(|w| w.values.iter().flat_map(|v| v.to_le_bytes()))
        .collect();
    let hash = fnv(&[
        env!("CARGO_PKG_VERSION").as_bytes(),
        // Bump when the generated crate's layout changes.
        b"certify crate layout 5",
        module.as_bytes(),
        &weights,
    ]);
    let cache = root.join("target/scale-gen-cache");
    let dir = cache.join(format!("{hash:016x}"));
    let src = dir.join("src");
    // The module and weights live apart from `src/main.rs`, so no model name can clash with it.
    let generated = dir.join("gen");
    let fresh = !dir.join("Cargo.toml").exists();
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    if fresh {
        // Writes `gen/<name>.rs` and the initializers as `gen/<name>/<input>.npy`.
        imported
            .write(&generated, &format!("`{}`", model.display()))
            .map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&src).map_err(|e| io(&src, e))?;
        // `scale-dsl` is not used by the crate. In the workspace's builds it is also a
        // target-side dependency (of `scale-gen`), which makes `syn`, `quote`, `proc-macro2`
        // and `unicode-ident` target-side too; without it they are host-only here and cargo
        // hashes them differently, so every proc macro and `zerocopy`, `half`, `faer` built
        // on them compiled again for the first model (measured: that model's `certify` takes
        // 18 s with it).
        let toml = format!(
            "[package]\nname = \"certify-{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nscale-graph = {{ path = {root:?} }}\nscale-dsl = {{ path = {dsl:?} }}\n{DEPS}\n\
             [workspace]\n\n{profiles}",
            name = m.name.replace('_', "-"),
            root = root.display().to_string(),
            dsl = root.join("scale-dsl").display().to_string(),
            profiles = workspace_profiles(&root),
        );
        std::fs::write(dir.join("Cargo.toml"), toml).map_err(|e| io(&dir, e))?;
        // The workspace's lock file pins the same dependency versions the tests use.
        let _ = std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"));
        let main = main_rs(imported, &root);
        std::fs::write(src.join("main.rs"), main).map_err(|e| io(&src, e))?;
    }
    // The inputs of this run: the weights plus the user's graph inputs (random when absent).
    let inputs = dir.join("inputs");
    let _ = std::fs::remove_dir_all(&inputs);
    std::fs::create_dir_all(&inputs).map_err(|e| io(&inputs, e))?;
    for w in &imported.weights {
        let name = format!("{}.npy", w.name);
        let from = generated.join(&m.name).join(&name);
        std::fs::copy(&from, inputs.join(&name)).map_err(|e| io(&from, e))?;
    }
    if let Some(npy) = npy {
        for inp in &m.inputs {
            if imported.weights.iter().any(|w| w.name == inp.name) {
                continue;
            }
            let from = npy.join(format!("{}.npy", inp.name));
            if from.exists() {
                std::fs::copy(&from, inputs.join(format!("{}.npy", inp.name)))
                    .map_err(|e| io(&from, e))?;
            }
        }
    }
    // The cargo that runs us (`cargo run -p scale-gen`), else the one on PATH.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let spinner = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}").map_err(|e| e.to_string())?,
    );
    spinner.set_message(format!(
        "building {} ({})",
        m.name,
        if fresh { "new" } else { "cached" }
    ));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let build = Command::new(&cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", root.join("target"))
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("cargo: {e}"))?;
    spinner.finish_and_clear();
    if !build.status.success() {
        return Err(format!(
            "building {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&build.stderr)
        ));
    }
    let status = Command::new(&cargo)
        .args(["run", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", root.join("target"))
        .arg("--")
        .arg("--npy")
        .arg(&inputs)
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--out")
        .arg(report)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{}: the certified run failed ({status})", m.name))
    }
}

/// The crate's `main.rs`: random data for missing graph inputs, then the module's `run`.
fn main_rs(imported: &Imported, root: &Path) -> String {
    let m = imported.model();
    let mut data = String::new();
    for inp in &m.inputs {
        if !imported.weights.iter().any(|w| w.name == inp.name) {
            let _ = writeln!(data, "    ({:?}, &{:?}),", inp.name, inp.shape);
        }
    }
    format!(
        r#"//! Generated by `scale-gen certify`; do not edit.
#![forbid(unsafe_code)]

#[path = {support:?}]
mod support;
#[rustfmt::skip]
#[path = "../gen/{name}.rs"]
mod model;

/// Graph inputs (not initializers): random from `--seed` unless `<npy>/<name>.npy` exists.
const DATA: &[(&str, &[usize])] = &[
{data}];

fn main() -> std::process::ExitCode {{
    // clap exits 2 on a usage error; `--help` lists the exit codes.
    let opts = <support::Runner as clap::Parser>::parse().options;
    if let Some(dir) = &opts.npy_dir {{
        let mut rng = scale_graph::random::rng(opts.seed);
        for (name, shape) in DATA {{
            let path = dir.join(format!("{{name}}.npy"));
            if !path.exists() {{
                let a: ndarray::ArrayD<f64> =
                    scale_graph::random::gaussian(&mut rng, ndarray::IxDyn(shape), 1.0);
                if let Err(e) = ndarray_npy::write_npy(&path, &a) {{
                    eprintln!("{{}}: {{e}}", path.display());
                    return std::process::ExitCode::FAILURE;
                }}
            }}
        }}
    }}
    match model::run::<model::Declared>(&opts) {{
        Ok(report) if report.violations() == 0 => std::process::ExitCode::SUCCESS,
        Ok(report) => {{
            eprintln!("{{}} bound(s) violated", report.violations());
            std::process::ExitCode::FAILURE
        }}
        Err(e) => {{
            eprintln!("{{e}}");
            std::process::ExitCode::FAILURE
        }}
    }}
}}
"#,
        support = root.join("examples/support/mod.rs").display().to_string(),
        name = m.name,
    )
}

#[cfg(test)]
mod tests {
    use super::profiles_for_cache;

    /// The workspace's own manifest, as `certify` copies it.
    fn copied(env: &[(&str, &str)]) -> toml::Table {
        let manifest = include_str!("../../Cargo.toml");
        let text = profiles_for_cache(manifest, |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        });
        text.parse().expect("the copied profiles are TOML")
    }

    fn member<'t>(t: &'t toml::Table, name: &str) -> &'t toml::Table {
        t["profile"]["dev"]["package"][name]
            .as_table()
            .expect("a section per member")
    }

    #[test]
    fn members_get_the_dev_profile_without_whole_build_settings() {
        let t = copied(&[]);
        let dev = t["profile"]["dev"].as_table().expect("[profile.dev]");
        for name in ["scale-graph", "scale-core"] {
            let m = member(&t, name);
            assert_eq!(m.get("opt-level"), dev.get("opt-level"), "{name}");
            assert_eq!(m.get("debug"), dev.get("debug"), "{name}");
            for key in ["lto", "panic", "rpath", "package", "build-override"] {
                assert!(!m.contains_key(key), "{name} must not carry `{key}`");
            }
        }
    }

    #[test]
    fn environment_overrides_reach_the_member_sections() {
        let t = copied(&[
            ("CARGO_PROFILE_DEV_DEBUG", "false"),
            ("CARGO_PROFILE_DEV_OPT_LEVEL", "2"),
        ]);
        for name in ["scale-graph", "scale-core"] {
            let m = member(&t, name);
            assert_eq!(m.get("debug"), Some(&toml::Value::Boolean(false)), "{name}");
            assert_eq!(m.get("opt-level"), Some(&toml::Value::Integer(2)), "{name}");
        }
    }
}
