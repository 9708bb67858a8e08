#!/usr/bin/env bash
# The project's test command (README "Run the tests"): prepares the Python
# reference environment the differential and interop tests need, then runs
# every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
export ARMORIQ_PYTHON="${ARMORIQ_PYTHON:-$PWD/.venv/bin/python}"
cargo test --workspace --all-targets "$@"
