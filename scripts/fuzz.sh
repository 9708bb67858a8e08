#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time, one after the
# other, starting from the committed seeds (fuzz/seeds/<target>/, copied into
# the gitignored fuzz/corpus/<target>/, with fuzz/regressions/<target>/), and
# prints executions per target.
#
#   bash scripts/fuzz.sh                 # 10 s per target (CI)
#   bash scripts/fuzz.sh 600             # long run: 10 min per target
#   bash scripts/fuzz.sh 60 frame_codec gateway_body   # some targets only
#
# Installs what it needs: the nightly toolchain (cargo-fuzz builds with
# -Zsanitizer=address) and cargo-fuzz (`cargo install cargo-fuzz --locked`)
# when missing. Builds with debug assertions (integer overflow checks) on.
# Exit status 1 if any target found a crash, leak, timeout (> 10 s on one
# input) or out-of-memory; the reproducer is in fuzz/artifacts/<target>/.
# To replay one: cd fuzz && cargo +nightly fuzz run -O -a <target> <file>
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-10}"
shift || true
case "$secs" in ''|*[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;; esac

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

cd fuzz
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

if [ "$#" -eq 0 ]; then
  echo "== building all targets" >&2
  cargo +nightly fuzz build -O -a
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=()
rows=()
total=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  # Seeds, and inputs that once crashed the target (replayed every run).
  for d in "seeds/$t" "regressions/$t"; do
    if [ -d "$d" ]; then cp -n "$d"/* "corpus/$t/" 2>/dev/null || true; fi
  done
  echo "== $t (${secs} s)" >&2
  status=ok
  if ! cargo +nightly fuzz run -O -a "$t" "corpus/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$logs/$t.log" 2>&1; then
    status=FAILED
    failed+=("$t")
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written|artifact' "$logs/$t.log" | head -20 >&2 || true
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1)
  units=$(find "corpus/$t" -type f | wc -l)
  rows+=("$(printf '%-20s %14s %10s %8s  %s' "$t" "${execs:-?}" "${rate:-?}" "$units" "$status")")
  total=$((total + ${execs:-0}))
done

printf '\n%-20s %14s %10s %8s  %s\n' target executions exec/s corpus status
printf '%s\n' "${rows[@]}"
printf '%-20s %14s\n' total "$total"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (reproducers in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
echo "fuzz: ok (${#targets[@]} targets, ${secs} s each)"
