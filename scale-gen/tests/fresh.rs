//! The checked-in `examples/generated/*.rs` are exactly what the generator writes, and the
//! checked-in `nn.Sequential` description round-trips.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn generated_examples_are_fresh() {
    let files = scale_gen::examples::files(&root()).expect("generator runs");
    let dir = root().join("examples/generated");
    let mut stale = Vec::new();
    for (name, text) in &files {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        if &on_disk != text {
            stale.push(name.clone());
        }
    }
    let mut extra: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    extra.retain(|f| !files.iter().any(|(n, _)| n == f));
    assert!(
        stale.is_empty() && extra.is_empty(),
        "examples/generated is stale (differs: {stale:?}; not generated: {extra:?}); run `cargo run -p scale-gen -- write-examples`"
    );
}

#[test]
fn sequential_description_round_trips() {
    let path = root().join("examples/models/sequential.json");
    let text = std::fs::read_to_string(path).expect("checked-in description");
    let m = scale_gen::Model::from_json(&text).expect("parses");
    let again = scale_gen::Model::from_json(&serde_json::to_string(&m).expect("serialises"))
        .expect("parses");
    assert_eq!(m, again);
    let c = scale_gen::check(&m).expect("checks");
    assert_eq!(c.shapes.last(), Some(&vec![]));
    let program = scale_gen::emit::program(&c, 0);
    assert!(program.contains("let z1 = matmul(x, w1);") && program.contains("softmax("));
}
