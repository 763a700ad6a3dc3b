//! The `scale-gen` binary: its documented exit codes (0 ok, 1 model error, 2 usage) and the
//! `import` command's output files.

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scale-gen"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("scale-gen runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_and_version_exit_0() {
    let h = run(&["--help"]);
    assert_eq!(h.status.code(), Some(0));
    let out = text(&h.stdout);
    for cmd in [
        "write-examples",
        "check",
        "program",
        "module",
        "import",
        "certify",
        "Exit codes",
    ] {
        assert!(out.contains(cmd), "--help mentions {cmd}:\n{out}");
    }
    let v = run(&["--version"]);
    assert_eq!(v.status.code(), Some(0));
    assert_eq!(
        text(&v.stdout).trim(),
        format!("scale-gen {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["bogus"]).status.code(), Some(2));
    assert_eq!(
        run(&["import", "tests/fixtures/onnx/mlp.onnx"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn model_errors_exit_1_naming_the_node() {
    let o = run(&["check", "tests/fixtures/onnx/unsupported.onnx"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr).trim(),
        "scale-gen: tests/fixtures/onnx/unsupported.onnx: node 1 (`cosine`, Cos): op type `Cos` is not supported"
    );
}

#[test]
fn check_and_import_an_onnx_file() {
    let o = run(&["check", "tests/fixtures/onnx/transformer_block.onnx"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout).trim(),
        "tests/fixtures/onnx/transformer_block.onnx: ok (13 inputs, 31 ops)"
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-import");
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_string_lossy().into_owned();
    let o = run(&[
        "import",
        "tests/fixtures/onnx/mlp.onnx",
        "--out",
        &d,
        "--name",
        "net",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(dir.join("net.rs").is_file());
    for w in ["w1", "b1", "w2", "b2"] {
        assert!(
            dir.join("net").join(format!("{w}.npy")).is_file(),
            "{w}.npy"
        );
    }
}
