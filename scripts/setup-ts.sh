#!/usr/bin/env bash
# Installs the official TypeScript SDK (@armoriq/sdk 0.2.6, pinned by
# scripts/ts/package-lock.json) into scripts/ts/node_modules for
# host-harness/cli/tests/interop_ts.rs. Needs node >= 18 and npm.
set -euo pipefail
cd "$(dirname "$0")/ts"
if [ -f node_modules/@armoriq/sdk/package.json ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "setup-ts: npm is not installed (the TypeScript SDK tests will skip, or fail under CI=true)" >&2
  exit 0
fi
npm ci --no-audit --no-fund
