#!/usr/bin/env bash
# A bounded smoke run of every fuzz target (fuzz/, README "Fuzzing"): builds
# them and runs each for FUZZ_SECONDS (30 by default) from the checked-in
# seeds. Finds what a short run finds (a panic on a seed or a near mutation)
# and keeps the targets building; the long runs are done by hand.
#
# Stable Rust only: cargo-fuzz asks rustc for `-Z` flags (the address
# sanitizer), which stable accepts with RUSTC_BOOTSTRAP=1. That variable is
# set for these commands alone, never for the workspace's own builds.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.1
seconds="${FUZZ_SECONDS:-30}"

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

cd fuzz
export RUSTC_BOOTSTRAP=1
echo "== building the fuzz targets"
cargo fuzz build
log="$(mktemp)"
for target in $(cargo fuzz list); do
  echo "== fuzz target $target for ${seconds} s"
  # New inputs go to grown/ (ignored by git); corpus/ holds the seeds.
  mkdir -p "grown/$target"
  if ! cargo fuzz run "$target" "grown/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $target failed: the input is under fuzz/artifacts/$target"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log"
done
rm -f "$log"
