#!/usr/bin/env bash
# Deterministic instruction counts of the hot path, checked against a
# committed baseline (benches/baseline/instructions.json).
#
#   bash scripts/check-instructions.sh            # fail (exit 1) if a count grew > 5 %
#   bash scripts/check-instructions.sh --update   # rewrite the baseline on purpose
#
# Each bench of benches/examples/instr_count.rs runs once under
# `valgrind --tool=callgrind`, collecting only `instr_count::measure` (the
# measured call, after one warm-up call). Inputs are fixed (constant key
# seeds, deterministic signatures, a fixed clock) and the program runs with
# an empty environment, so counts repeat exactly on the same machine. Counts depend on the instruction-set extensions
# valgrind reports (e.g. AVX2 picks curve25519-dalek's AVX2 backend), so a
# baseline belongs to a CPU class: the baseline records the CPU it was made on
# and the script warns when it runs on another one.
# Env: INSTR_TOLERANCE (default 5, in percent).
set -euo pipefail
cd "$(dirname "$0")/.."

update=0
case "${1:-}" in
  --update) update=1 ;;
  "") ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac
tolerance="${INSTR_TOLERANCE:-5}"
baseline=benches/baseline/instructions.json

if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind not found; installing it" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq valgrind
  else sudo apt-get update -qq && sudo apt-get install -y -qq valgrind; fi
fi

cargo build --release -p armoriq-benches --example instr_count --quiet
bin=target/release/examples/instr_count
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //' || echo unknown)
valgrind=$(command -v valgrind)
vg=$(valgrind --version)

declare -A count
names=$("$bin" list)
for b in $names; do
  # An empty environment and a relative program path: the stack layout (and
  # with it the alignment-dependent paths of memcpy and friends) then does
  # not depend on the caller's environment or checkout location.
  env -i "$valgrind" --tool=callgrind --collect-atstart=no \
    --toggle-collect='instr_count::measure' \
    --callgrind-out-file="$out/$b.cg" "$bin" "$b" >/dev/null 2>"$out/$b.err" || {
      echo "error: $b failed under valgrind:" >&2; cat "$out/$b.err" >&2; exit 1; }
  c=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out/$b.cg")
  [ -n "$c" ] || { echo "error: no totals for $b" >&2; exit 1; }
  count[$b]=$c
done

if [ "$update" = 1 ]; then
  mkdir -p "$(dirname "$baseline")"
  {
    echo "{"
    echo "  \"_comment\": \"Instructions (callgrind Ir) of one measured call; written by scripts/check-instructions.sh --update\","
    echo "  \"cpu\": \"$cpu\","
    echo "  \"valgrind\": \"$vg\","
    echo "  \"rustc\": \"$(rustc --version)\","
    echo "  \"counts\": {"
    n=0; total=$(echo "$names" | wc -w)
    for b in $names; do
      n=$((n + 1)); sep=","; [ "$n" = "$total" ] && sep=""
      echo "    \"$b\": ${count[$b]}$sep"
    done
    echo "  }"
    echo "}"
  } >"$baseline"
  printf '%-40s %14s\n' bench instructions
  for b in $names; do printf '%-40s %14s\n' "$b" "${count[$b]}"; done
  echo "baseline written to $baseline"
  exit 0
fi

[ -f "$baseline" ] || { echo "error: no $baseline (run with --update)" >&2; exit 1; }
base_cpu=$(sed -n 's/^ *"cpu": "\(.*\)",$/\1/p' "$baseline")
if [ "$base_cpu" != "$cpu" ]; then
  echo "warning: baseline made on \"$base_cpu\", running on \"$cpu\": counts may differ" >&2
fi

fail=0
printf '%-40s %14s %14s %8s\n' bench instructions baseline ratio
for b in $names; do
  base=$(sed -n "s/^ *\"$b\": *\([0-9]*\).*/\1/p" "$baseline")
  if [ -z "$base" ]; then
    printf '%-40s %14s %14s %8s  NEW (not in baseline)\n' "$b" "${count[$b]}" - -
    fail=1
    continue
  fi
  ratio=$(awk -v c="${count[$b]}" -v b="$base" 'BEGIN { printf "%.4f", c / b }')
  verdict=$(awk -v c="${count[$b]}" -v b="$base" -v t="$tolerance" \
    'BEGIN { print (c > b * (1 + t / 100)) ? "REGRESSION" : "ok" }')
  printf '%-40s %14s %14s %8s  %s\n' "$b" "${count[$b]}" "$base" "$ratio" "$verdict"
  [ "$verdict" = ok ] || fail=1
done
if [ "$fail" = 1 ]; then
  echo "instruction counts: FAILED (a count grew more than ${tolerance}% over $baseline;" \
    "if intended, run: bash scripts/check-instructions.sh --update)" >&2
  exit 1
fi
echo "instruction counts: ok (tolerance ${tolerance}%)"
