#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests, then the cross-language node:test suites
# that drive the engine with the official socket.io-client. Expects `npm ci` to have run (the CI
# script does it; so does this script when node_modules is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules/socket.io-client ]; then
  npm ci --no-audit --no-fund
fi

cargo build --workspace --all-targets
cargo test --workspace
# The Node addon (debug profile: it reuses the workspace build above).
npm run build:debug --workspace roomcast
node --test --test-concurrency=1 tests/node/
