#!/usr/bin/env python3
"""Turns criterion's estimates of one run (target/criterion/**/new/) and the
Python SDK measurement of scripts/benchmarks.sh into BENCHMARKS.md (stdout):
medians, ratios against the peers measured in the same run, the targets with
met / not met, and the machine. Only estimates written since the run started
are used, so stale results of earlier runs never show up.

    python3 scripts/bench_report.py --run-dir target/bench-run > BENCHMARKS.md
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_criterion(crit: Path, since: float) -> dict:
    """{(group, function, value): estimates} for estimates newer than `since`."""
    res = {}
    for est in crit.glob("**/new/estimates.json"):
        if est.stat().st_mtime < since:
            continue
        bj = est.parent / "benchmark.json"
        if not bj.exists():
            continue
        b = json.loads(bj.read_text())
        e = json.loads(est.read_text())
        key = (b["group_id"], b.get("function_id") or "", b.get("value_str") or "")
        res[key] = {
            "median": e["median"]["point_estimate"],
            "lo": e["median"]["confidence_interval"]["lower_bound"],
            "hi": e["median"]["confidence_interval"]["upper_bound"],
            "throughput": b.get("throughput"),
        }
    return res


def fmt_time(ns: float) -> str:
    if ns >= 1e9:
        return f"{ns / 1e9:.3f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.3f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.3f} µs"
    return f"{ns:.1f} ns"


def fmt_thrpt(ns: float, tp) -> str:
    if not tp:
        return ""
    if "Bytes" in tp:
        mib_s = tp["Bytes"] / (ns / 1e9) / (1024 * 1024)
        return f"{mib_s:,.0f} MiB/s"
    if "Elements" in tp:
        return f"{tp['Elements'] / (ns / 1e9) / 1e6:,.2f} M elem/s"
    return ""


def cmd(args) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class Report:
    def __init__(self, r):
        self.r = r
        self.lines = []
        self.targets = []

    def get(self, group, function, value=""):
        return self.r.get((group, function, value))

    def out(self, s=""):
        self.lines.append(s)

    def table(self, title, group, rows, base_label, base_key, faster_is="peer / ours"):
        """rows: [(label, function, value)]; ratio column = peer median / this median
        for peers, relative to `base_key`."""
        base = self.get(group, *base_key)
        self.out(f"### {title}")
        self.out()
        self.out(f"| implementation | median | 95% CI of median | throughput | vs {base_label} |")
        self.out("|---|---:|---:|---:|---:|")
        for label, function, value in rows:
            e = self.get(group, function, value)
            if e is None:
                self.out(f"| {label} | not measured | | | |")
                continue
            ratio = f"{e['median'] / base['median']:.2f}x time" if base else ""
            if base and (function, value) == tuple(base_key):
                ratio = "1.00x (reference)"
            self.out(
                f"| {label} | {fmt_time(e['median'])} | {fmt_time(e['lo'])} – {fmt_time(e['hi'])} "
                f"| {fmt_thrpt(e['median'], e['throughput'])} | {ratio} |"
            )
        self.out()

    def target(self, name, value, goal, met, detail):
        self.targets.append((name, value, goal, met, detail))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", default=str(ROOT / "target/bench-run"))
    ap.add_argument("--criterion-dir", default=str(ROOT / "target/criterion"))
    ap.add_argument("--args", default="")
    ap.add_argument("--elapsed", default="")
    a = ap.parse_args()
    run = Path(a.run_dir)
    since = float((run / "start").read_text().strip()) if (run / "start").exists() else 0.0
    r = load_criterion(Path(a.criterion_dir), since)
    if not r:
        print("bench_report: no criterion estimates from this run", file=sys.stderr)
        return 1
    py = json.loads((run / "python.json").read_text()) if (run / "python.json").exists() else None
    rep = Report(r)
    when = datetime.datetime.fromtimestamp(since or datetime.datetime.now().timestamp(), datetime.timezone.utc)

    # ---- canonical hash
    canon_rows = [
        ("armoriq-core, armoriq profile", "armoriq-core/armoriq", ""),
        ("armoriq-core, jcs profile (RFC 8785)", "armoriq-core/jcs", ""),
        ("serde_json + serde_jcs + sha2 (peer)", "serde_json+serde_jcs+sha2", ""),
        ("raw SHA-256 of the same bytes (sha2, the limit)", "raw_sha256", ""),
    ]
    canon_sections = []
    for size in ("2KiB", "64KiB"):
        g = f"canonical_hash/{size}"
        peer = rep.get(g, "serde_json+serde_jcs+sha2")
        raw = rep.get(g, "raw_sha256")
        for prof in ("armoriq", "jcs"):
            ours = rep.get(g, f"armoriq-core/{prof}")
            if ours and peer:
                x = peer["median"] / ours["median"]
                rep.target(
                    f"canonical hash {size}, {prof} profile, vs serde_json+serde_jcs+sha2",
                    f"{x:.2f}x faster", ">= 3x", x >= 3.0,
                    f"{fmt_time(ours['median'])} vs {fmt_time(peer['median'])}",
                )
            if ours and raw:
                x = raw["median"] / ours["median"]
                rep.target(
                    f"canonical hash {size}, {prof} profile, share of raw SHA-256 throughput",
                    f"{x * 100:.0f}%", ">= 40%", x >= 0.40,
                    f"{fmt_thrpt(ours['median'], ours['throughput'])} vs "
                    f"{fmt_thrpt(raw['median'], raw['throughput'])}",
                )
        canon_sections.append((size, g))

    # ---- tokens
    for alg in ("ES256", "EdDSA"):
        g = f"token/{alg}"
        for backend, bare_fn in (("pure-rust", "bare verify/p256|ed25519-dalek"), ("aws-lc-rs", "bare verify/aws-lc-rs")):
            full = rep.get(g, f"verify_invocation/{backend}")
            bare = rep.get(g, bare_fn)
            if full and bare:
                x = full["median"] / bare["median"]
                rep.target(
                    f"full invocation check, {alg}, {backend}, vs bare signature verify",
                    f"{x:.3f}x", "<= 1.10x", x <= 1.10,
                    f"{fmt_time(full['median'])} vs {fmt_time(bare['median'])}",
                )
        host = rep.get(g, "verify_invocation/host")
        jwt = rep.get(g, "jsonwebtoken (aws-lc-rs) decode+verify")
        if host and jwt:
            x = host["median"] / jwt["median"]
            rep.target(
                f"full invocation check, {alg}, host backend, vs jsonwebtoken (aws-lc-rs) decode+verify",
                f"{x:.3f}x", "<= 1.00x", x <= 1.00,
                f"{fmt_time(host['median'])} vs {fmt_time(jwt['median'])}",
            )

    # ---- gateway
    hit = rep.get("gateway_token_check", "cache_hit")
    if hit:
        rep.target(
            "gateway cached-token check", fmt_time(hit["median"]), "<= 5 µs",
            hit["median"] <= 5000, "median of `TokenCache::verify` on a hit",
        )
    direct = rep.get("gateway_invoke_loopback", "direct_mcp_rmcp")
    for name in ("gateway_cached", "gateway_uncached"):
        gw = rep.get("gateway_invoke_loopback", name)
        if gw and direct:
            x = gw["median"] / direct["median"]
            cached = name == "gateway_cached"
            label = "token cache on, the default" if cached else "token cache off, for scale"
            rep.target(
                f"gateway invoke ({label}) vs direct MCP call",
                f"{x:.2f}x", "<= 1.2x" if cached else "(informative)",
                (x <= 1.2) if cached else "info",
                f"{fmt_time(gw['median'])} vs {fmt_time(direct['median'])}",
            )
    if direct is None:
        rep.target("gateway invoke vs direct MCP call", "not measured", "<= 1.2x", None,
                   "no .venv: run `bash scripts/setup-python.sh`")

    # ---- write
    o = rep.out
    o("# Benchmarks")
    o()
    o("Generated by `bash scripts/benchmarks.sh` (criterion, then `scripts/bench_report.py`); "
      "every figure below comes from that one run. Do not edit by hand: rerun the script.")
    o()
    o("## Machine and run")
    o()
    o(f"- date: {when:%Y-%m-%d %H:%M} UTC")
    o(f"- CPU: {cpu_model()} ({os.cpu_count()} logical cores, `nproc` = {cmd(['nproc'])})")
    o(f"- kernel: {platform.system()} {platform.release()}")
    o(f"- rustc: {cmd(['rustc', '--version'])}")
    if py:
        o(f"- Python: {py['python']}, armoriq-sdk {py['armoriq_sdk']}")
    o(f"- criterion options: `{a.args or 'defaults'}`" + (f"; whole run {a.elapsed} s" if a.elapsed else ""))
    loads = [(run / f).read_text().strip() for f in ("load-start", "load-end") if (run / f).exists()]
    if len(loads) == 2:
        o(f"- load average (1, 5, 15 min) at start: {loads[0]}; at end: {loads[1]} "
          "(other jobs on the machine during the run show up here)")
    o("- figures are medians of criterion's samples; ratios compare medians of the same run. "
      "The machine is shared (2 cores), so expect a few percent of noise.")
    o()
    o("## Targets")
    o()
    o("| target | measured | goal | status | detail |")
    o("|---|---:|---:|---|---|")
    for name, value, goal, met, detail in rep.targets:
        if met == "info":
            status = "-"
        elif met is None:
            status = "not measured"
        else:
            status = "**met**" if met else "**not met**"

        o(f"| {name} | {value} | {goal} | {status} | {detail} |")
    o()
    o("## Canonical hash of a plan (parse, canonicalize, SHA-256)")
    o()
    o("Plans from `armoriq_benches::plan_of_size` (keys out of order, non-ASCII text, nested "
      "objects). Ratio column: time relative to armoriq-core's armoriq profile (lower is faster).")
    o()
    for size, g in canon_sections:
        rep.table(f"{size} plan", g, canon_rows, "armoriq profile", ("armoriq-core/armoriq", ""))
        if py and size in py["plans"]:
            p = py["plans"][size]
            ours = rep.get(g, "armoriq-core/armoriq")
            o(f"Python SDK baseline on the same {p['bytes']}-byte plan (`armoriq_sdk.crypto_verify.canonical_json`, "
              "`hashlib.sha256`, timeit medians):")
            o()
            o("| Python | median | armoriq-core armoriq profile is |")
            o("|---|---:|---:|")
            for case in ("loads+canonical_json+sha256", "canonical_json+sha256", "raw_sha256"):
                ns = p[case]["median_ns"]
                faster = f"{ns / ours['median']:.1f}x faster" if ours else ""
                if case == "raw_sha256":
                    faster = "(hashlib's SHA-256 alone, for scale)"
                o(f"| `{case}` | {fmt_time(ns)} | {faster} |")
            o()
    o("## Merkle tree (RFC 9162, SHA-256, 32-byte leaf values)")
    o()
    roots = [("armoriq-core (streaming, no heap)", "armoriq-core"), ("ct-merkle (in memory)", "ct-merkle"),
             ("rs_merkle (its own tree shape)", "rs_merkle")]
    for n in ("8", "1024", "1048576"):
        rep.table(f"Root of {n} leaves", "merkle_root", [(l, f, n) for l, f in roots],
                  "armoriq-core", ("armoriq-core", n))
    rep.table("One inclusion-proof verification, 1,024-leaf tree", "merkle_verify_1024",
              [(l, f, "") for l, f in roots], "armoriq-core", ("armoriq-core", ""))
    o("## Token verification")
    o()
    o("`verify_invocation`: parse, signature, claims, Merkle proof of the step, call = step. "
      "Bare verify: the signature alone on the same token. jsonwebtoken: decode + verify + exp/aud/iss "
      "of the same token into typed claims (no plan or proof checks).")
    o()
    for alg in ("ES256", "EdDSA"):
        rows = [
            ("bare verify, p256 / ed25519-dalek (pure Rust)", "bare verify/p256|ed25519-dalek", ""),
            ("bare verify, ring", "bare verify/ring", ""),
            ("bare verify, aws-lc-rs", "bare verify/aws-lc-rs", ""),
            ("verify_invocation, pure-Rust backend", "verify_invocation/pure-rust", ""),
            ("verify_invocation, aws-lc-rs backend", "verify_invocation/aws-lc-rs", ""),
            ("verify_invocation, host backend (default)", "verify_invocation/host", ""),
            ("jsonwebtoken 11 (aws-lc-rs) decode+verify", "jsonwebtoken (aws-lc-rs) decode+verify", ""),
        ]
        rep.table(f"{alg}", f"token/{alg}", rows, "pure-Rust bare verify",
                  ("bare verify/p256|ed25519-dalek", ""))
        ours = rep.get(f"token/{alg}", "verify_invocation/host")
        jwt = rep.get(f"token/{alg}", "jsonwebtoken (aws-lc-rs) decode+verify")
        if ours and jwt:
            o(f"{alg}: verify_invocation on the host backend takes {ours['median'] / jwt['median']:.3f}x the "
              "time of jsonwebtoken (aws-lc-rs) decoding the same token into typed claims, and also checks "
              "the step's Merkle proof and the call.")
            o()
    o("## Gateway")
    o()
    rep.table("Token check in the proxy", "gateway_token_check", [
        ("cache hit (hash token, look up, re-check time window)", "cache_hit", ""),
        ("full `verify_token` (Ed25519 on aws-lc-rs, claims)", "full_verify_token_aws_lc", ""),
        ("bare Ed25519 verify (aws-lc-rs)", "bare_ed25519_verify_aws_lc", ""),
    ], "full verify", ("full_verify_token_aws_lc", ""))
    rep.table("One `tools/call` on loopback (official Python `mcp` server)", "gateway_invoke_loopback", [
        ("direct MCP call (rmcp client)", "direct_mcp_rmcp", ""),
        ("through `armoriq serve`, token cache on", "gateway_cached", ""),
        ("through `armoriq serve`, token cache off", "gateway_uncached", ""),
    ], "direct call", ("direct_mcp_rmcp", ""))
    # The "Several gateways" section is measured by scripts/bench-nodes.sh,
    # not by this run: carry it over from the current BENCHMARKS.md.
    try:
        current = open("BENCHMARKS.md").read()
    except OSError:
        current = ""
    start, end = "<!-- bench-nodes:start -->", "<!-- bench-nodes:end -->"
    if start in current and end in current:
        o(current[current.index(start):current.index(end) + len(end)])
        o()
    o("## Reproduce")
    o()
    o("```sh")
    o("bash scripts/setup-python.sh      # .venv: the Python SDK and the MCP test server")
    o("bash scripts/benchmarks.sh        # about 8 minutes on 2 cores; --long: criterion defaults")
    o("bash scripts/bench-nodes.sh       # several gateways: 1 on SQLite, 1 and 3 on PostgreSQL")
    o("```")
    print("\n".join(rep.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
