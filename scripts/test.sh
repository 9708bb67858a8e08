#!/usr/bin/env bash
# The project's test command (README "Run the tests"): prepares the Python
# reference environment the differential, interop and end-to-end tests need,
# then runs every test of the workspace under a throwaway PostgreSQL
# (scripts/pg.sh: the store's PostgreSQL suites need ARMORIQ_TEST_PG_URL),
# and closes with one summary line (`tests: N passed, N failed`) added up
# over every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
bash scripts/setup-browser.sh
bash scripts/setup-ts.sh
export ARMORIQ_PYTHON="${ARMORIQ_PYTHON:-$PWD/.venv/bin/python}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
bash scripts/pg.sh cargo test --workspace --all-targets "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
