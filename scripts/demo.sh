#!/usr/bin/env bash
# Runs the demo: the Express trading dashboard on the roomcast addon, with a simulated trade
# feed, at http://127.0.0.1:${PORT:-3000}. Installs the npm packages and builds the addon first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules/express ] || [ ! -d node_modules/lightweight-charts ] || [ ! -d node_modules/uplot ]; then
  npm ci --no-audit --no-fund
fi
npm run build --workspace roomcast
ALLOW_RESTART="${ALLOW_RESTART:-1}" exec node examples/express-dashboard/server.js
