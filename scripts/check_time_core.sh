#!/usr/bin/env bash
# cargo-check wall time of a generated N-node typed graph (scripts/gen_core_graph.py).
#
# Builds a throwaway crate under /tmp that depends on this workspace's facade crate by path,
# prebuilds its dependencies, then for each N: writes main.rs, runs `cargo check` once (warm-up),
# touches main.rs and measures the second `cargo check` (CARGO_INCREMENTAL=0). No recursion_limit.
#
# Usage: scripts/check_time_core.sh [N ...]   (default: 64 128 … 16384)
#        LAYOUT=list scripts/check_time_core.sh …   (seal every 64 nodes: the old left-nested ss)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${CORE_CTIME_DIR:-/tmp/scale-core-ctime}"
NS=("$@")
[ ${#NS[@]} -eq 0 ] && NS=(64 128 256 512 1024 2048 4096 8192 16384)

mkdir -p "$WORK/src"
cat > "$WORK/Cargo.toml" <<TOML
[package]
name = "core-ctime"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
scale-graph = { path = "$ROOT" }

[workspace]
TOML
export CARGO_INCREMENTAL=0
export CARGO_TARGET_DIR="$WORK/target"
cd "$WORK"
python3 "$ROOT/scripts/gen_core_graph.py" 8 > src/main.rs
cargo check -q 2>/dev/null || cargo check   # prebuild deps

# check_s is wall time, cpu_s user CPU time (a busy machine inflates it much less).
printf "%6s %10s %8s %10s %8s\n" N "check_s" "cpu_s" "maxrss_MB" "main_KB"
for n in "${NS[@]}"; do
  python3 "$ROOT/scripts/gen_core_graph.py" "$n" > src/main.rs
  cargo check -q                          # warm-up (first run)
  touch src/main.rs
  if /usr/bin/time -f "%e %U %M" -o "$WORK/time.txt" cargo check -q; then
    read -r secs cpu rss < "$WORK/time.txt"
    printf "%6d %10.2f %8.2f %10.0f %8d\n" "$n" "$secs" "$cpu" "$((rss / 1024))" "$(( $(wc -c < src/main.rs) / 1024 ))"
  else
    printf "%6d %10s\n" "$n" "FAILED"
  fi
done
