//! `scale-gen`: write `scale_graph!` example models.
//!
//! ```text
//! cargo run -p scale-gen -- write-examples [DIR]      # regenerate examples/generated/*.rs
//! cargo run -p scale-gen -- check FILE.json           # validate a description
//! cargo run -p scale-gen -- program FILE.json         # print its scale_graph! program
//! cargo run -p scale-gen -- module FILE.json          # print its example module
//! ```
#![forbid(unsafe_code)]

use scale_gen::{check, emit, examples};
use std::path::PathBuf;
use std::process::ExitCode;

fn load(path: &str) -> Result<scale_gen::Checked, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let model = scale_gen::Model::from_json(&text).map_err(|e| format!("{path}: {e}"))?;
    check(&model).map_err(|e| format!("{path}: {e}"))
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("write-examples") => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let dir = args.get(1).map(PathBuf::from).unwrap_or(root.join("examples/generated"));
            let files = examples::files(&root)?;
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let mut progress = scale_core::report::Progress::new("write-examples", files.len() as u64);
            for (name, text) in &files {
                std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))?;
                progress.inc(1);
            }
            progress.finish();
            println!("wrote {} files to {}", files.len(), dir.display());
            Ok(())
        }
        Some(cmd @ ("check" | "program" | "module")) => {
            let path = args.get(1).ok_or("missing FILE.json")?;
            let c = load(path)?;
            match cmd {
                "check" => println!("{path}: ok ({} inputs, {} ops)", c.model.inputs.len(), c.model.ops.len()),
                "program" => println!("{}", emit::program(&c, 0)),
                _ => print!("{}", emit::module(&c, path)),
            }
            Ok(())
        }
        _ => Err("usage: scale-gen write-examples [DIR] | check FILE.json | program FILE.json | module FILE.json".into()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale-gen: {e}");
            ExitCode::FAILURE
        }
    }
}
