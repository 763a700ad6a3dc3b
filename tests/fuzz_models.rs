//! Arbitrary `f32` bit patterns as the inputs of every generated example model (#9): `certify`
//! must not panic, and every finite claim it makes must hold against the interval spec.
//!
//! Each input element is, with fixed seeds, an ordinary value from the model's own random data
//! or (with probability 1/4) an arbitrary `f32` bit pattern: NaN payloads, ±∞, subnormals, tiny
//! and large magnitudes (finite ones above 1e15 are turned into NaN/±∞: the f64 interval spec
//! cannot decide every claim there; `graph_theorems` covers them with its 2400-bit re-decision).
//! The inputs go through the same `.npy` path a user's data takes.
//! `SCALE_FUZZ_MODEL_CASES` sets the rounds per model (default 12).

#![forbid(unsafe_code)]

#[rustfmt::skip]
#[path = "../examples/generated/mod.rs"]
#[allow(dead_code)]
mod generated;
#[path = "../examples/support/mod.rs"]
mod support;

use ndarray::ArrayD;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scale_graph::report::RowKind;

#[test]
fn arbitrary_bits_into_every_model() {
    let rounds: usize = std::env::var("SCALE_FUZZ_MODEL_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let dir = std::env::temp_dir().join(format!("scale-fuzz-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = StdRng::seed_from_u64(0xF022);
    let (mut claims, mut unbounded, mut non_finite_inputs) = (0usize, 0usize, 0usize);
    for (name, run) in generated::MODELS {
        // The model's own inputs (names, shapes, ordinary values) from a quiet random run.
        let mut opts = support::Options {
            seed: 7,
            json: None,
            npy_dir: None,
            out_dir: dir.clone(),
            no_spec: false,
            mode: None,
            quiet: true,
            trace_dir: None,
        };
        let base = run(&opts).unwrap();
        let n_in = base.n_inputs;
        for round in 0..rounds {
            opts.seed = round as u64 + 100;
            for row in base.rows.iter().filter(|r| r.kind == RowKind::Value) {
                if row.entry >= n_in {
                    continue;
                }
                let a = ArrayD::from_shape_fn(row.shape.clone(), |_| {
                    if rng.random_range(0..4) == 0 {
                        let mut x = f32::from_bits(rng.random::<u32>());
                        // Finite magnitudes above 1e15 make the f64 interval spec itself too
                        // wide to decide some checks of softmax-like ops (dependency); those are
                        // covered by `graph_theorems`, which re-decides them at 2400 bits.
                        // Here they become the non-finite values a user's data may hold.
                        if x.is_finite() && x.abs() > 1e15 {
                            x = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY]
                                [x.to_bits() as usize % 3];
                        }
                        non_finite_inputs += usize::from(!x.is_finite());
                        f64::from(x)
                    } else {
                        rng.random_range(-2.0..2.0)
                    }
                });
                ndarray_npy::write_npy(dir.join(format!("{}.npy", row.name)), &a).unwrap();
            }
            opts.npy_dir = Some(dir.clone());
            let report = run(&opts).unwrap_or_else(|e| panic!("{name}, round {round}: {e}"));
            opts.npy_dir = None;
            assert_eq!(
                report.violations(),
                0,
                "{name}, round {round}: a finite claim fails against the interval spec\n{}",
                report.to_table()
            );
            claims += report.rows.iter().filter(|r| r.eps.is_some()).count();
            unbounded += report.rows.iter().filter(|r| r.eps.is_none()).count();
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "fuzz_models: {} models × {rounds} rounds, {non_finite_inputs} non-finite input elements, \
         {claims} finite claims checked (0 violations), {unbounded} rows with eps = +inf",
        generated::MODELS.len()
    );
    assert!(claims > 0);
}
