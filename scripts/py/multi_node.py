"""Scenarios across several `armoriq serve` nodes sharing one PostgreSQL,
run with the unmodified official SDK (armoriq-sdk 0.8.17). Used by
host-harness/cli/tests/pg_nodes.rs.

Usage: python multi_node.py SCENARIO
Env: ARMORIQ_API_KEY; ARMORIQ_NODES, a JSON list of {"backend": URL,
     "proxy": URL}, one per node; ARMORIQ_TOKEN_FILE where a scenario
     keeps a token for the next one.
Prints one JSON object: what happened, for the Rust test to assert on.
"""

import json
import os
import sys
import threading
import time
import urllib.request

import jwt  # PyJWT
from armoriq_sdk import ArmorIQClient
from armoriq_sdk.crypto_verify import verify_intent_token_signature
from armoriq_sdk.models import IntentToken

MCP = "weather-mcp"
BOSTON = {"city": "Boston", "units": "metric"}
PLAN = {"goal": "weather in Boston", "steps": [
    {"action": "get_weather", "mcp": MCP, "params": BOSTON}]}
PAYMENT = {"amount": 5000, "recipient": "bob"}
PAY_PLAN = {"goal": "pay bob", "steps": [
    {"action": "send_payment", "mcp": MCP, "params": PAYMENT}]}
NODES = json.loads(os.environ["ARMORIQ_NODES"])


def client(i):
    """A client whose backend (IAP) and proxy are node `i`'s."""
    n = NODES[i]
    return ArmorIQClient(user_id="alice@example.com", agent_id="weather-agent",
                         backend_endpoint=n["backend"], iap_endpoint=n["backend"],
                         proxy_endpoint=n["proxy"])


def mint(c, plan=PLAN, validity=120):
    cap = c.capture_plan(llm="gpt-4o", prompt=plan["goal"], plan=plan)
    return c.get_intent_token(cap, validity_seconds=validity, user_email="alice@example.com")


def err(e):
    return {"exception": type(e).__name__, "message": str(e),
            "status_code": getattr(e, "status_code", None),
            "delegation_context": getattr(e, "delegation_context", None)}


def attempt(fn):
    try:
        r = fn()
    except Exception as e:  # noqa: BLE001 - the test asserts on the class name
        return err(e)
    return {"exception": None, "status": getattr(r, "status", None)}


def public_key(i):
    with urllib.request.urlopen(NODES[i]["backend"] + "/iap/public-key", timeout=10) as r:
        return json.load(r)


def save(t):
    with open(os.environ["ARMORIQ_TOKEN_FILE"], "w") as f:
        f.write(t.model_dump_json())


def load():
    with open(os.environ["ARMORIQ_TOKEN_FILE"]) as f:
        return IntentToken.model_validate_json(f.read())


def cross_node():
    """Mint on node 0, invoke on every other node, verify against the last
    node's published key (the SDK's check, and PyJWT on the JWT)."""
    t = mint(client(0))
    invokes = [attempt(lambda i=i: client(i).invoke(MCP, "get_weather", t, params=BOSTON,
                                                     user_email="alice@example.com"))
               for i in range(1, len(NODES))]
    last = len(NODES) - 1
    pk = public_key(last)
    token_key = t.raw_token["token"]["public_key"]
    claims = jwt.decode(t.jwt_token, key=pk["pem"], algorithms=["EdDSA"],
                        options={"verify_aud": False})
    return {"invokes": invokes, "verify_token": client(last).verify_token(t),
            "signature_ok": verify_intent_token_signature(t.raw_token),
            "token_key_is_node_key": token_key == pk["public_key"],
            "jwt_verified_with_node_key": claims.get("plan_hash") is not None or bool(claims),
            "kids": [public_key(i)["kid"] for i in range(len(NODES))]}


def hold():
    """A payment held on node 1; the token is kept for `approved_race`."""
    c = client(0)
    t = mint(c, plan=PAY_PLAN)
    save(t)
    r = attempt(lambda: client(1).invoke(MCP, "send_payment", t, params=PAYMENT,
                                         user_email="alice@example.com"))
    return r


def approved_race():
    """The approved call sent to every node at once: one goes through."""
    t = load()
    clients = [client(i) for i in range(len(NODES))]
    gate = threading.Barrier(len(NODES))
    out = [None] * len(NODES)

    def go(i):
        gate.wait()
        out[i] = attempt(lambda: clients[i].invoke(MCP, "send_payment", t, params=PAYMENT,
                                                   user_email="alice@example.com"))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(NODES))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {"results": out}


def revoke_propagation():
    """Mint on node 0 and use the token on every node (so each caches it),
    revoke on node 0, then time until every other node refuses it."""
    t = mint(client(0))
    warm = [attempt(lambda i=i: client(i).invoke(MCP, "get_weather", t, params=BOSTON,
                                                 user_email="alice@example.com"))
            for i in range(len(NODES))]
    revoked = client(0).revoke(t, reason="test: revoke on one node")
    t0 = time.monotonic()
    refused_after = {}
    last = {}
    while len(refused_after) < len(NODES) - 1 and time.monotonic() - t0 < 10:
        for i in range(1, len(NODES)):
            if i in refused_after:
                continue
            r = attempt(lambda i=i: client(i).invoke(MCP, "get_weather", t, params=BOSTON,
                                                     user_email="alice@example.com"))
            last[i] = r
            if r["exception"] is not None:
                refused_after[i] = time.monotonic() - t0
        time.sleep(0.02)
    return {"warm": warm, "revoked": revoked,
            "refused_after_s": {str(k): v for k, v in refused_after.items()},
            "last": {str(k): v for k, v in last.items()}}


if __name__ == "__main__":
    name = sys.argv[1]
    try:
        out = globals()[name]()
    except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
        out = {"scenario_error": err(e)}
    print(json.dumps(out, default=str))
