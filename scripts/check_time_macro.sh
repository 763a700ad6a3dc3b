#!/usr/bin/env bash
# `cargo check` time of generated `scale_graph!` programs of N nodes (see docs/compile-time.md).
#
# Creates a throwaway crate under /tmp that depends on this workspace by path, builds its
# dependencies once, then for each N writes the program, touches it and measures the second
# `cargo check` (CARGO_INCREMENTAL=0; dependencies already built). Also prints the time the
# macro's own parse/check/expand take on the same program (a `--ignored` test of scale-dsl).
#
# Usage: scripts/check_time_macro.sh [N ...]     (default: 64 128 … 16384)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(64 128 256 512 1024 2048 4096 8192 16384)
WORK="${SCALE_TMP:-/tmp/scale-macro-check-time}"
mkdir -p "$WORK/src"
cat > "$WORK/Cargo.toml" <<TOML
[package]
name = "scale-macro-check-time"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
scale-graph = { path = "$ROOT" }

[workspace]
TOML
export CARGO_INCREMENTAL=0
export CARGO_TARGET_DIR="$WORK/target"
python3 "$ROOT/scripts/gen_macro_graph.py" 8 > "$WORK/src/main.rs"
(cd "$WORK" && cargo check -q 2>/dev/null) || (cd "$WORK" && cargo check)

# Macro-only timing: parse + check + expand in-process, release build of the test binary.
(cd "$ROOT" && cargo test -q -p scale-dsl --release --no-run 2>/dev/null) || true

# "check" is wall time; "cpu" is user CPU time, which a busy machine inflates much less.
printf "%8s %10s %8s   %s\n" "nodes" "check (s)" "cpu (s)" "macro stages (ms, in-process)"
for n in "${SIZES[@]}"; do
    python3 "$ROOT/scripts/gen_macro_graph.py" "$n" > "$WORK/src/main.rs"
    (cd "$WORK" && cargo check -q)            # first run (warm-up)
    touch "$WORK/src/main.rs"
    (cd "$WORK" && /usr/bin/time -f "%e %U" -o "$WORK/time.txt" cargo check -q)
    read -r wall cpu < "$WORK/time.txt"
    macro=$(cd "$ROOT" && SCALE_MACRO_BENCH="$WORK/src/main.rs" cargo test -q -p scale-dsl --release \
        bench_stages -- --ignored --nocapture 2>/dev/null | sed -n 's/^BENCH //p')
    printf "%8s %10.2f %8.2f   %s\n" "$n" "$wall" "$cpu" "${macro:--}"
done
