#!/usr/bin/env bash
# Runs every criterion benchmark of armoriq-benches (canon, merkle, tokens,
# gateway: each with its peers in the same run), measures the Python SDK's
# canonical JSON + SHA-256 on the same plans, and writes BENCHMARKS.md
# (scripts/bench_report.py) from criterion's estimates of this run.
#
#   bash scripts/benchmarks.sh          # ~6-8 min on 2 cores: warm-up 1 s, 3 s per bench
#   bash scripts/benchmarks.sh --long   # criterion's defaults (3 s + 5 s, 100 samples): ~20 min
#   BENCH_ARGS='--warm-up-time 2 --measurement-time 5' bash scripts/benchmarks.sh
#
# The gateway invoke benches need the project's .venv (the official Python
# `mcp` server); the script creates it with scripts/setup-python.sh when missing.
# Run on a quiet machine: other load shows up in the figures.
set -euo pipefail
cd "$(dirname "$0")/.."

args="${BENCH_ARGS:---warm-up-time 1 --measurement-time 3}"
if [ "${1:-}" = "--long" ]; then args=""; fi

if [ ! -x .venv/bin/python ]; then
  bash scripts/setup-python.sh
fi

start=$(date +%s)
out=target/bench-run
rm -rf "$out"
mkdir -p "$out"
date -u +%s >"$out/start"
cut -d' ' -f1-3 /proc/loadavg >"$out/load-start" 2>/dev/null || true

echo "== building (release)" >&2
cargo bench -p armoriq-benches --no-run --quiet
cargo build --release -p armoriq-benches --example plan_json --quiet
for s in 2KiB:2048 64KiB:65536; do
  target/release/examples/plan_json "${s#*:}" >"$out/plan-${s%%:*}.json"
done

for b in canon merkle tokens gateway; do
  echo "== cargo bench --bench $b -- $args" >&2
  # shellcheck disable=SC2086
  cargo bench -p armoriq-benches --bench "$b" --quiet -- $args 2>&1 | tee "$out/$b.log" |
    grep -E '^[a-z_]+/|time:|thrpt:|skipped' >&2 || true
done

echo "== Python SDK: armoriq_sdk.crypto_verify.canonical_json + hashlib.sha256" >&2
.venv/bin/python - "$out" >"$out/python.json" <<'PY'
import hashlib, json, platform, sys, timeit
from importlib.metadata import version
from armoriq_sdk.crypto_verify import canonical_json

out = sys.argv[1]
res = {"python": platform.python_version(), "armoriq_sdk": version("armoriq-sdk"), "plans": {}}
for name in ("2KiB", "64KiB"):
    text = open(f"{out}/plan-{name}.json", "rb").read()
    parsed = json.loads(text)
    cases = {
        # Bytes in, digest out: the same work as the Rust canonical hash.
        "loads+canonical_json+sha256": lambda: hashlib.sha256(canonical_json(json.loads(text))).digest(),
        # From an already parsed dict (what the SDK does with a plan it holds).
        "canonical_json+sha256": lambda: hashlib.sha256(canonical_json(parsed)).digest(),
        "raw_sha256": lambda: hashlib.sha256(text).digest(),
    }
    r = {"bytes": len(text)}
    for case, fn in cases.items():
        t = timeit.Timer(fn)
        n, _ = t.autorange()
        n = max(1, n // 2)
        runs = sorted(t.repeat(repeat=15, number=n))
        r[case] = {"median_ns": runs[len(runs) // 2] / n * 1e9, "iters_per_sample": n}
    res["plans"][name] = r
print(json.dumps(res, indent=2))
PY

cut -d' ' -f1-3 /proc/loadavg >"$out/load-end" 2>/dev/null || true
python3 scripts/bench_report.py --run-dir "$out" --args "${args:-criterion defaults}" \
  --elapsed "$(($(date +%s) - start))" >"$out/BENCHMARKS.md"
# Written beside, then moved: the report carries over BENCHMARKS.md's
# "Several gateways" section (scripts/bench-nodes.sh), so it must read it first.
mv "$out/BENCHMARKS.md" BENCHMARKS.md
echo "== wrote BENCHMARKS.md ($(($(date +%s) - start)) s)" >&2
