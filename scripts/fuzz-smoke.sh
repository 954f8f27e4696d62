#!/usr/bin/env bash
# A short, bounded run of every cargo-fuzz target (CI runs it): builds the targets with
# libFuzzer's coverage instrumentation on the stable toolchain (the flags cargo-fuzz passes,
# minus a sanitizer) and runs each for FUZZ_SECONDS (default 10). A crash fails the run.
# For long runs use cargo-fuzz itself (see README: Fuzzing).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-10}"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
# With an explicit --target, RUSTFLAGS reach only the targets, not build scripts (as cargo-fuzz).
host="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --bins --target "$host"
for target in engineio_packet polling_payload socketio_packet websocket_frames; do
  corpus="$(mktemp -d)"
  echo "== fuzz $target for ${seconds}s"
  "$CARGO_TARGET_DIR/$host/release/$target" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 | tail -n 3
  rm -rf "$corpus"
done
