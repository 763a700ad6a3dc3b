//! The examples' shared command line (`examples/support`): the flags README, CI and
//! `scale-gen certify`'s generated crate pass keep their meaning, usage errors are clap errors
//! (exit code 2) and `--help` documents the exit codes.
#![forbid(unsafe_code)]

#[path = "../examples/support/mod.rs"]
mod support;

use clap::{CommandFactory, Parser};
use std::path::Path;
use support::{ModeName, Runner};

fn parse(args: &[&str]) -> Result<support::Options, clap::Error> {
    Runner::try_parse_from(std::iter::once("runner").chain(args.iter().copied())).map(|r| r.options)
}

#[test]
fn the_definition_is_consistent() {
    // clap's own checks (duplicate ids, conflicts naming unknown arguments, …).
    Runner::command().debug_assert();
}

#[test]
fn defaults_are_the_documented_ones() {
    let o = parse(&[]).expect("no flags");
    assert_eq!(o.seed, 7);
    assert_eq!(o.out_dir, Path::new("target/reports"));
    assert!(o.json.is_none() && o.npy_dir.is_none() && o.trace_dir.is_none());
    assert!(!o.no_spec && !o.quiet);
    assert_eq!(o.mode, None);
}

#[test]
fn the_flags_certify_and_readme_pass() {
    // What `scale-gen certify` runs its generated crate with.
    let o = parse(&["--npy", "in", "--seed", "3", "--out", "rep"]).expect("certify's flags");
    assert_eq!(o.npy_dir.as_deref(), Some(Path::new("in")));
    assert_eq!((o.seed, o.out_dir.as_path()), (3, Path::new("rep")));
    let o = parse(&["--trace", "target/trace", "--no-spec"]).expect("trace mode");
    assert_eq!(o.trace_dir.as_deref(), Some(Path::new("target/trace")));
    assert!(o.no_spec);
    let o = parse(&["--inputs", "x.json"]).expect("JSON inputs");
    assert_eq!(o.json.as_deref(), Some(Path::new("x.json")));
}

#[test]
fn every_mode_name_parses_to_its_settings() {
    use clap::ValueEnum;
    for &m in ModeName::value_variants() {
        let o = parse(&["--mode", &m.name()]).expect("a mode name");
        assert_eq!(o.mode, Some(m));
    }
    let d = scale_graph::Config::default();
    assert_eq!(ModeName::ThisRun.config(), d);
    assert_eq!(ModeName::APosteriori.config(), d.with_enclose(false));
    assert_eq!(
        ModeName::AnyImplementation.config(),
        scale_graph::Config::any_implementation()
    );
    assert_eq!(ModeName::Estimate.config(), scale_graph::Config::estimate());
    assert_eq!(
        ModeName::OrderFree.config(),
        d.with_enclose(false)
            .with_dot_bound(scale_graph::config::DotBound::OrderFree)
    );
}

#[test]
fn usage_errors_exit_2() {
    for bad in [
        &["--mode", "fastest"][..],
        &["--seed", "-1"],
        &["--seed"],
        &["--bogus"],
        &["--inputs", "a.json", "--npy", "dir"],
    ] {
        let e = parse(bad).expect_err("a usage error");
        assert_eq!(e.exit_code(), 2, "{bad:?}: {e}");
    }
    let help = parse(&["--help"]).expect_err("--help stops parsing");
    assert_eq!(help.exit_code(), 0);
    let text = help.to_string();
    assert!(text.contains(support::EXIT_CODES), "{text}");
    assert!(text.contains("--npy <DIR>"), "{text}");
}
