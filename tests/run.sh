#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests, then the cross-language node:test
# suites (official socket.io-client against the engine, the addon and the Express demo), then
# the browser test (Debian chromium + playwright-core). Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
if [ ! -d node_modules/socket.io-client ] || [ ! -d node_modules/express ]; then
  npm ci --no-audit --no-fund
fi

cargo build --workspace --all-targets
cargo test --workspace
# The Node addon (debug profile: it reuses the workspace build above).
npm run build:debug --workspace roomcast
node --test --test-concurrency=1 tests/node/ tests/browser/
