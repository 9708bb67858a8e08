#!/usr/bin/env python3
"""Regenerates the committed seed corpora (fuzz/seeds/<target>/) from the
shared conformance suites and vectors (../shared, or $ARMORIQ_SHARED) and the
project's own test data. Deterministic: rerunning it gives the same files.

    python3 fuzz/seeds/make_seeds.py
"""

import hashlib
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SHARED = Path(os.environ.get("ARMORIQ_SHARED", ROOT.parent / "shared"))
CONF = SHARED / "conformance"
VEC = SHARED / "vectors" / "armoriq"
MAX_PER_TARGET = 40


def load(p: Path):
    return json.loads(p.read_text(encoding="utf-8"))


def write(target: str, seeds: list) -> None:
    d = HERE / target
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    seen = set()
    for s in seeds:
        if isinstance(s, str):
            s = s.encode("utf-8")
        h = hashlib.sha1(s).hexdigest()[:16]
        if h in seen:
            continue
        seen.add(h)
        (d / h).write_bytes(s)
        if len(seen) >= MAX_PER_TARGET:
            break


# ---------------------------------------------------------------- JSON / plans
def json_seeds() -> list:
    out = []
    for sub in ("cyberphone/input", "erdtman_variant/input"):
        for p in sorted((CONF / "jcs" / sub).glob("*.json")):
            out.append(p.read_bytes())
    for p in sorted((CONF / "jcs" / "gowebpki_extra").glob("*.input.json")):
        out.append(p.read_bytes())
    for c in load(VEC / "canonical_json_edge_cases.json")["cases"][:14]:
        out.append(c["input_json_text"])
    for c in load(VEC / "plans_and_tool_call_hashes.json")["cases"][:6]:
        out.append(json.dumps(c["build_plan_from_tool_calls_by_sdk"]["plan"], ensure_ascii=False))
    out.append((ROOT / "examples" / "weather-plan.json").read_bytes())
    return out


# ---------------------------------------------------------------- tokens
def jws_seeds() -> list:
    out = []
    for v in load(CONF / "jws" / "rfc7515_rfc8037_examples.json")["vectors"]:
        if v.get("compact"):
            out.append(v["compact"])
        if v.get("jwk"):
            out.append(json.dumps(v["jwk"]))
    for v in load(VEC / "eddsa_jwt.json")["vectors"]:
        out.append(v["jwt"])
    return out


def csrg_seeds() -> list:
    return [json.dumps(v["token"]) for v in load(VEC / "intent_token_signatures.json")["vectors"]]


def invocation_seeds() -> list:
    out = []
    jwts = [v["jwt"].encode() for v in load(VEC / "eddsa_jwt.json")["vectors"]]
    step = b'{"action":"get_weather","mcp":"weather-mcp","params":{"city":"Boston"}}'
    params = b'{"city":"Boston"}'
    sib = bytes(range(32)) * 2
    for j in jwts:
        out.append(b"\xff".join([j, step, params, sib]))
        out.append(b"\xff".join([j, step, params]))
    return out


def merkle_seeds() -> list:
    d = load(CONF / "merkle" / "rfc6962_reference_tree.json")
    out = []
    derived = d.get("derived_all_inclusion_proofs", {}).get("cases", [])
    for p in d["inclusion_proofs"] + d.get("inclusion_proofs_ct_merkle_extra", []) + derived:
        if not isinstance(p, dict) or "leaf_hash_hex" not in p:
            continue
        leaf = bytes.fromhex(p["leaf_hash_hex"])
        root = bytes.fromhex(p["root_hex"])
        head = struct.pack("<QQBB", p["leaf_index_0based"], p["tree_size"], len(leaf), len(root))
        out.append(head + leaf + root + b"".join(bytes.fromhex(h) for h in p["audit_path_hex"]))
    return out


# ---------------------------------------------------------------- frames
def frame(ty: int, payload: bytes) -> bytes:
    body = bytes([1, ty]) + struct.pack("<I", len(payload)) + payload
    return b"AQ" + body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def field(b: bytes) -> bytes:
    return struct.pack("<H", len(b)) + b


def verify_payload(token: bytes, params, nsib: int) -> bytes:
    p = struct.pack("<qQQ", 1_800_000_000, 0, 4) + field(token) + field(b"weather-mcp") + field(b"get_weather")
    p += b"\x00" if params is None else b"\x01" + field(params)
    p += field(b'{"action":"get_weather","mcp":"weather-mcp"}')
    p += bytes([nsib]) + b"".join(bytes([i]) * 32 for i in range(nsib))
    return p


def frame_payloads() -> list:
    jwt = load(VEC / "eddsa_jwt.json")["vectors"][0]["jwt"].encode()
    reqs = [
        (0x01, verify_payload(jwt, b'{"city":"Boston"}', 2)),
        (0x01, verify_payload(jwt, None, 0)),
        (0x01, verify_payload(b"a.b.c", b"{}", 5)),
        (0x02, b""),
        (0x03, b"\x01" + field(jwt)),
        (0x03, b"\x02" + field(jwt)),
        (0x04, b""),
        (0x05, verify_payload(jwt, b'{"city":"Boston"}', 2)),
    ]
    h = bytes(range(32))
    resps = [
        struct.pack("<BQQq", 0, 0, 4, 1_800_000_300) + h + h + h + struct.pack("<I", 1234),
        bytes([1, 2]) + field(b"InvalidSignature") + struct.pack("<I", 99),
        bytes([2, 6, 0]),
        bytes([2, 7, 4]),
        bytes([2, 3, 9]),
        bytes([3]) + struct.pack("<IIIII", 10, 1, 4096, 16384, 2),
        bytes([4, 1]) + struct.pack("<I", 777),
        bytes([4, 0]) + struct.pack("<I", 0),
        bytes([5, 2]) + h + h[:16] + struct.pack("<Q", 41),
        struct.pack("<BQQq", 6, 0, 4, 1_800_000_300) + h + h + h + struct.pack("<I", 1234)
        + receipt_bytes(7) + struct.pack("<I", 55),
    ]
    return [(ty, p) for ty, p in reqs] + [(0x81, p) for p in resps]


def receipt_bytes(counter: int) -> bytes:
    """A receipt (SPEC §7) with a made-up signature: body then 64 bytes."""
    h = bytes(range(32))
    body = b"AQR1" + h[:16] + struct.pack("<Q", counter) + h + h + h + b"\x01"
    return body + bytes(range(64))


def receipt_seeds() -> list:
    out = [receipt_bytes(c) for c in (1, 2, 2**64 - 1)]
    out.append(receipt_bytes(3)[:124])
    out.append(struct.pack("<QQQQ", 1, 2, 4, 4))
    jwt = load(VEC / "eddsa_jwt.json")["vectors"][0]["jwt"].encode()
    out.append(jwt)
    return out


def frame_codec_seeds() -> list:
    out = []
    for ty, p in frame_payloads():
        out.append(frame(ty, p))
        out.append(p)
    return out


def frame_receiver_seeds() -> list:
    frames = [frame(ty, p) for ty, p in frame_payloads()]
    out = list(frames)
    out.append(b"".join(frames[:4]))
    out.append(b"garbage" + frames[0] + b"AAQ" + frames[3])
    out.append(frames[1][:20] + frames[2])
    bad = bytearray(frames[0])
    bad[-1] ^= 0xFF
    out.append(bytes(bad) + frames[0])
    out.append(b"AQ\x01\x01\xff\xff\x00\x00" + frames[3])
    return out


# ---------------------------------------------------------------- gateway, policy
def gateway_seeds() -> list:
    out = []
    for step in load(VEC / "http_transcript.json")["transcript"]:
        for r in step["requests"]:
            if r.get("body") and r["path"] in ("/iap/sdk/token", "/proxy/invoke", "/iap/sdk/enforce"):
                out.append(r["body"])
    out.append(json.dumps({
        "mcp": "weather-mcp", "action": "get_weather",
        "params": {"city": "Boston", "_delegation_id": "del-1", "_policy_context": {"a": 1},
                   "_approvals": [], "n": 1e400, "s": "\u00e9\ud83d\ude00"},
        "intent_token": {"jwt_token": "a.b.c", "plan_id": "p"},
    }))
    out.append('{"city":"Boston","_delegation_id":"del-2","nested":{"_approvals":[1]}}')
    return out


def policy_seeds() -> list:
    out = []
    for c in load(VEC / "policy_ir_evaluate.json")["cases"]:
        out.append(json.dumps({"bound": c["bound"], "call": c["call"]}))
    pol = load(ROOT / "host-harness" / "cli" / "tests" / "data" / "policy.json")
    out.append(json.dumps(pol))
    for layer in ("agent", "floor", "group"):
        if isinstance(pol, dict) and layer in pol:
            out.append(json.dumps(pol[layer]))
    return out


def main() -> None:
    js = json_seeds()
    write("canon_armoriq", js)
    write("canon_jcs", js)
    write("plan_digest", js)
    write("jws_verify", jws_seeds())
    write("csrg_verify", csrg_seeds())
    write("verify_invocation", invocation_seeds())
    write("merkle_verify", merkle_seeds())
    write("frame_codec", frame_codec_seeds())
    write("frame_receiver", frame_receiver_seeds())
    write("receipt_verify", receipt_seeds())
    write("gateway_body", gateway_seeds())
    write("policy_eval", policy_seeds())
    for d in sorted(p for p in HERE.iterdir() if p.is_dir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")


if __name__ == "__main__":
    main()
