#!/usr/bin/env bash
# Requests per second and p99 latency through `armoriq serve` in three set-ups,
# in one run, against the same MCP server (the official Python `mcp` test
# server): 1 gateway on SQLite, 1 on PostgreSQL, 3 on PostgreSQL (one
# throwaway server from scripts/pg.sh). Writes the table into BENCHMARKS.md
# (section "Several gateways") and prints it.
#
#   bash scripts/bench-nodes.sh                 # 20 s per set-up, 32 in flight
#   BENCH_SECONDS=60 BENCH_CONCURRENCY=64 bash scripts/bench-nodes.sh
#
# Run on a quiet machine: the gateways, PostgreSQL, the MCP server and the
# load generator share its cores, and other load shows up in the figures.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${ARMORIQ_TEST_PG_URL:-}" ]; then
  exec bash scripts/pg.sh bash "$0" "$@"
fi
seconds="${BENCH_SECONDS:-20}"
conc="${BENCH_CONCURRENCY:-32}"
[ -x .venv/bin/python ] || bash scripts/setup-python.sh

echo "== building armoriq and the load generator (release)" >&2
cargo build --release --quiet --bin armoriq
cargo build --release --quiet -p armoriq-benches --example gateway_load
bin="$PWD/target/release/armoriq"
load="$PWD/target/release/examples/gateway_load"

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 300); do
    if (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "port $1 did not open" >&2
  return 1
}

mcp_port="$(free_port)"
.venv/bin/python scripts/py/mcp_test_server.py weather-mcp "$mcp_port" >/dev/null 2>&1 &
pids+=($!)
wait_port "$mcp_port"
cat >"$work/armoriq.yaml" <<YAML
version: v1
identity:
  api_key: \$ARMORIQ_API_KEY
  user_id: default
  agent_id: bench-agent
environment: sandbox
mcp_servers:
- id: weather-mcp
  url: http://127.0.0.1:$mcp_port/mcp
  auth: none
YAML
export ARMORIQ_SECRET="bench: one secret for every node"
export ARMORIQ_LOG=warn

# run_setup LABEL STORE NODES: starts NODES gateways on STORE, loads them, stops them.
run_setup() {
  local label="$1" store="$2" n="$3" node_args=() started=()
  local key
  key="$("$bin" keys create --store "$store" --state-dir "$work/$label-keys")"
  for i in $(seq 1 "$n"); do
    local b p
    b="$(free_port)"; p="$(free_port)"
    "$bin" serve --store "$store" --state-dir "$work/$label-$i" --config "$work/armoriq.yaml" \
      --backend "127.0.0.1:$b" --proxy "127.0.0.1:$p" >/dev/null 2>"$work/$label-$i.log" &
    started+=($!)
    pids+=($!)
    wait_port "$b"; wait_port "$p"
    node_args+=(--node "http://127.0.0.1:$b,http://127.0.0.1:$p")
  done
  echo "== $label: $n gateway(s), ${seconds} s, $conc in flight" >&2
  "$load" --key "$key" "${node_args[@]}" --seconds "$seconds" --concurrency "$conc" \
    >"$work/$label.json"
  cat "$work/$label.json" >&2
  for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}

db() {
  local name="armoriq_bench_$1_$$"
  psql "$ARMORIQ_TEST_PG_URL" -qAtc "CREATE DATABASE $name" >/dev/null
  echo "${ARMORIQ_TEST_PG_URL%/*}/$name"
}

run_setup sqlite "$work/bench.db" 1
run_setup pg1 "$(db pg1)" 1
run_setup pg3 "$(db pg3)" 3

report="$work/report.md"
python3 - "$work" "$seconds" "$conc" >"$report" <<'PY'
import json, os, platform, subprocess, sys, time
work, seconds, conc = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [("1 gateway, SQLite (embedded default)", "sqlite"),
        ("1 gateway, PostgreSQL", "pg1"),
        ("3 gateways, one PostgreSQL", "pg3")]
res = {k: json.load(open(os.path.join(work, k + ".json"))) for _, k in rows}
base = res["sqlite"]["rps"] or 1
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
pg = subprocess.run(["psql", os.environ["ARMORIQ_TEST_PG_URL"], "-qAtc", "SHOW server_version"],
                    capture_output=True, text=True).stdout.strip()
print("## Several gateways")
print()
print(f"Measured by `bash scripts/bench-nodes.sh` on {time.strftime('%Y-%m-%d', time.gmtime())}: "
      f"{os.cpu_count()} cores ({cpu}), PostgreSQL {pg} (scripts/pg.sh, fsync on), one official "
      f"Python `mcp` test server behind every gateway, `POST /invoke` of a one-step plan with "
      f"{conc} requests in flight for {seconds} s after a warm-up, spread round-robin over the "
      "gateways' proxies. Every set-up ran in this one run, on the same machine as the load.")
print()
print("| set-up | requests/s | vs 1 gateway on SQLite | p50 | p99 | errors |")
print("|---|---:|---:|---:|---:|---|")
for label, k in rows:
    r = res[k]
    errs = ", ".join(f"{n}× {s}" for s, n in r["errors"].items()) or "none"
    print(f"| {label} | {r['rps']:.0f} | {r['rps'] / base:.2f}x | {r['p50_ms']:.1f} ms "
          f"| {r['p99_ms']:.1f} ms | {errs} |")
ratio = res["pg1"]["rps"] / base
print()
print(f"Target: 1 gateway on PostgreSQL at least 0.8x the throughput of 1 on SQLite: "
      f"{ratio:.2f}x, **{'met' if ratio >= 0.8 else 'not met'}**.")
PY
cat "$report"
python3 - "$report" <<'PY'
import re, sys
section = open(sys.argv[1]).read().strip()
start, end = "<!-- bench-nodes:start -->", "<!-- bench-nodes:end -->"
text = open("BENCHMARKS.md").read()
block = f"{start}\n{section}\n{end}"
if start in text:
    text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda m: block, text, flags=re.S)
else:
    text = text.replace("## Reproduce", block + "\n\n## Reproduce", 1)
open("BENCHMARKS.md", "w").write(text)
PY
echo "bench-nodes: BENCHMARKS.md updated" >&2
