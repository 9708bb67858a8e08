#!/usr/bin/env bash
# What metrics and traces cost `armoriq serve`, measured on and off in one
# run: one gateway on SQLite behind the same MCP server (the official Python
# `mcp` test server), `POST /invoke` of a one-step plan with the load
# generator (benches/examples/gateway_load.rs), in three set-ups:
#   off       --metrics off (nothing recorded) and no traces
#   metrics   the default (--metrics open), no traces
#   traces    metrics, and every span exported over OTLP/HTTP to a local sink
# For each: requests/s, p50/p99, and the gateway's own CPU time per request
# (user + system, from /proc: the upstream bounds requests/s, not the
# gateway, so CPU per request is the figure that shows the gateway's cost).
# Writes the section "Metrics and traces" of BENCHMARKS.md and prints it.
#
#   bash scripts/bench-observability.sh             # 15 s per set-up, 32 in flight
#   BENCH_SECONDS=60 bash scripts/bench-observability.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${BENCH_SECONDS:-15}"
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

# An OTLP/HTTP sink: answers every export 200 and counts the bytes.
sink_port="$(free_port)"
python3 - "$sink_port" "$work/sink.count" <<'PY' &
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
total = [0, 0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        self.rfile.read(n)
        total[0] += 1; total[1] += n
        open(out, "w").write(f"{total[0]} {total[1]}")
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
pids+=($!)
wait_port "$sink_port"

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
export ARMORIQ_LOG=warn
ticks="$(getconf CLK_TCK)"

# run_setup LABEL 'VAR=VALUE …' ARGS…: one gateway with that environment and
# those flags, loaded; its CPU time read from /proc.
run_setup() {
  local label="$1" envs="$2"; shift 2
  local key b p gw
  key="$("$bin" keys create --state-dir "$work/$label")"
  b="$(free_port)"; p="$(free_port)"
  # shellcheck disable=SC2086
  env $envs "$bin" serve "$@" --state-dir "$work/$label" --config "$work/armoriq.yaml" \
    --backend "127.0.0.1:$b" --proxy "127.0.0.1:$p" >/dev/null 2>"$work/$label.log" &
  gw=$!
  pids+=($gw)
  wait_port "$b"; wait_port "$p"
  cpu0="$(awk '{print $14 + $15}' "/proc/$gw/stat")"
  echo "== $label: ${seconds} s, $conc in flight" >&2
  "$load" --key "$key" --node "http://127.0.0.1:$b,http://127.0.0.1:$p" \
    --seconds "$seconds" --concurrency "$conc" >"$work/$label.json"
  cpu1="$(awk '{print $14 + $15}' "/proc/$gw/stat")"
  python3 - "$work/$label.json" "$cpu0" "$cpu1" "$ticks" <<'PY'
import json, sys
path, c0, c1, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = json.load(open(path))
# CPU over the whole run (warm-up and mint included), per request answered.
r["cpu_us_per_req"] = (c1 - c0) / hz * 1e6 / max(r["ok"], 1)
json.dump(r, open(path, "w"))
print(json.dumps(r), file=sys.stderr)
PY
  kill "$gw"; wait "$gw" 2>/dev/null || true
}

otlp="OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port OTEL_BSP_SCHEDULE_DELAY=200"
run_setup off "ARMORIQ_LOG=warn" --metrics off
run_setup metrics "ARMORIQ_LOG=warn"
run_setup traces "ARMORIQ_LOG=warn $otlp"

report="$work/report.md"
python3 - "$work" "$seconds" "$conc" >"$report" <<'PY'
import json, os, sys, time
work, seconds, conc = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [("metrics off, no traces (`--metrics off`)", "off"),
        ("metrics on (the default), no traces", "metrics"),
        ("metrics on, traces to an OTLP/HTTP collector", "traces")]
res = {k: json.load(open(os.path.join(work, k + ".json"))) for _, k in rows}
base = res["off"]
sink = open(os.path.join(work, "sink.count")).read().split() if os.path.exists(os.path.join(work, "sink.count")) else ["0", "0"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("## Metrics and traces")
print()
print(f"Measured by `bash scripts/bench-observability.sh` on {time.strftime('%Y-%m-%d', time.gmtime())}: "
      f"{os.cpu_count()} cores ({cpu}), one gateway on SQLite, one official Python `mcp` test server, "
      f"`POST /invoke` of a one-step plan with {conc} requests in flight for {seconds} s after a "
      "warm-up; the three set-ups ran one after another in this one run. The Python upstream bounds "
      "requests/s, so the gateway's own CPU time per request (user + system, warm-up and mint "
      "included) is the figure that shows what metrics and traces cost it.")
print()
print("| set-up | requests/s | vs off | p50 | p99 | gateway CPU per request | vs off |")
print("|---|---:|---:|---:|---:|---:|---:|")
for label, k in rows:
    r = res[k]
    print(f"| {label} | {r['rps']:.0f} | {r['rps'] / (base['rps'] or 1):.2f}x | {r['p50_ms']:.2f} ms "
          f"| {r['p99_ms']:.2f} ms | {r['cpu_us_per_req']:.0f} µs "
          f"| {r['cpu_us_per_req'] / (base['cpu_us_per_req'] or 1):.2f}x |")
print()
print(f"The collector received {sink[0]} OTLP exports ({int(sink[1]) / 1e6:.1f} MB) in the traces set-up.")
PY
cat "$report"
python3 - "$report" <<'PY'
import re, sys
section = open(sys.argv[1]).read().strip()
start, end = "<!-- bench-observability:start -->", "<!-- bench-observability:end -->"
text = open("BENCHMARKS.md").read()
block = f"{start}\n{section}\n{end}"
if start in text:
    text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda m: block, text, flags=re.S)
else:
    text = text.replace("## Reproduce", block + "\n\n## Reproduce", 1)
open("BENCHMARKS.md", "w").write(text)
PY
echo "bench-observability: BENCHMARKS.md updated" >&2
