"""Scenarios run with the unmodified official SDK (armoriq-sdk 0.8.17) against
`armoriq serve`. Used by host-harness/cli/tests/gateway_e2e.rs.

Usage: python sdk_scenarios.py SCENARIO
Env: ARMORIQ_API_KEY, ARMORIQ_BACKEND_URL, PROXY_ENDPOINT (set by the test),
     ARMORIQ_BIN and ARMORIQ_STATE_DIR (for `armoriq approve`).
Prints one JSON object: what happened, for the Rust test to assert on.
"""

import json
import os
import subprocess
import sys
import threading
import time

from armoriq_sdk import ArmorIQClient
from armoriq_sdk.models import InvokeOptions
from armoriq_sdk.session import SessionOptions

MCP = "weather-mcp"
PLAN = {
    "goal": "Get the weather in Boston and email it to the team",
    "steps": [
        {
            "action": "get_weather",
            "mcp": MCP,
            "params": {"city": "Boston", "units": "metric"},
            "description": "Look up the current weather",
        },
        {
            "action": "send_email",
            "mcp": MCP,
            "params": {"to": "team@example.com", "subject": "Weather in Boston"},
            "description": "Mail the forecast",
        },
    ],
}
BOSTON = {"city": "Boston", "units": "metric"}


def client(agent="weather-agent"):
    # Endpoints and key come from the environment, as a user would set them.
    return ArmorIQClient(user_id="alice@example.com", agent_id=agent)


def token(c, plan=PLAN, validity=60, email=None):
    cap = c.capture_plan(llm="gpt-4o", prompt="weather in boston, mail the team", plan=plan)
    return c.get_intent_token(cap, validity_seconds=validity, user_email=email)


def err(e):
    return {"exception": type(e).__name__, "message": str(e),
            "status_code": getattr(e, "status_code", None),
            "reason": getattr(e, "reason", None),
            "delegation_context": getattr(e, "delegation_context", None)}


def expect_raise(fn):
    try:
        r = fn()
    except Exception as e:  # noqa: BLE001 - the test asserts on the class name
        return err(e)
    return {"exception": None, "status": getattr(r, "status", None),
            "result": getattr(r, "result", None)}


def text_of(result):
    blocks = (result or {}).get("content") or []
    return " ".join(b.get("text", "") for b in blocks)


def worked_example():
    c = client()
    t = token(c)
    r = c.invoke(MCP, "get_weather", t, params=BOSTON, user_email="alice@example.com")
    return {"verify_token": c.verify_token(t), "plan_hash": t.plan_hash,
            "merkle_root": t.raw_token["merkle_root"], "plan_id": t.plan_id,
            "status": r.status, "text": text_of(r.result), "plan": PLAN,
            "step_proofs": len(t.step_proofs or [])}


def trace_token():
    """A token for a one-step plan calling `trace_context`: the Rust test
    sends that call itself, with a W3C traceparent header."""
    c = client()
    plan = {"goal": "Show the trace context", "steps": [
        {"action": "trace_context", "mcp": MCP, "params": {}, "description": "trace"}]}
    t = token(c, plan=plan)
    return {"jwt": t.jwt_token, "plan_id": t.plan_id}


def changed_param():
    c = client()
    t = token(c)
    return expect_raise(lambda: c.invoke(MCP, "get_weather", t, params={"city": "Paris", "units": "metric"}))


def outside_plan():
    c = client()
    t = token(c)
    return expect_raise(lambda: c.invoke(MCP, "delete_records", t, params={"table": "users"}))


def expired_local():
    c = client()
    t = token(c, validity=1)
    time.sleep(2.2)
    return expect_raise(lambda: c.invoke(MCP, "get_weather", t, params=BOSTON))


def expired_gateway():
    # The SDK refuses an expired token before sending; move its local clock
    # view forward so the request reaches the gateway, which must refuse it.
    c = client()
    t = token(c, validity=1)
    time.sleep(2.2)
    t = t.model_copy(update={"expires_at": time.time() + 3600})
    return expect_raise(lambda: c.invoke(MCP, "get_weather", t, params=BOSTON))


def denied_at_mint():
    c = client()
    plan = {"goal": "clean up", "steps": [
        {"action": "get_weather", "mcp": MCP, "params": BOSTON},
        {"action": "delete_records", "mcp": MCP, "params": {"table": "users"}}]}
    return expect_raise(lambda: token(c, plan=plan))


def blocked_at_invoke():
    # A member-scoped block: the plan mints (nothing is blocked for the agent),
    # but this user's call is refused at the proxy.
    c = client()
    plan = {"goal": "pay", "steps": [{"action": "send_payment", "mcp": MCP,
                                      "params": {"amount": 50, "recipient": "bob"}}]}
    t = token(c, plan=plan, email="alice@example.com")
    return expect_raise(lambda: c.invoke(MCP, "send_payment", t, params={"amount": 50, "recipient": "bob"},
                                         user_email="mallory@example.com"))


def blocked_at_mint_for_member():
    c = client()
    plan = {"goal": "pay", "steps": [{"action": "send_payment", "mcp": MCP,
                                      "params": {"amount": 50, "recipient": "bob"}}]}
    return expect_raise(lambda: token(c, plan=plan, email="mallory@example.com"))


def payment(amount, email="alice@example.com"):
    c = client()
    params = {"amount": amount, "recipient": "bob"}
    plan = {"goal": "pay bob", "steps": [{"action": "send_payment", "mcp": MCP, "params": params}]}
    t = token(c, plan=plan, email=email)
    return c, t, params


def payment_small():
    c, t, params = payment(500)
    r = c.invoke(MCP, "send_payment", t, params=params, user_email="alice@example.com")
    return {"exception": None, "status": r.status, "text": text_of(r.result)}


def payment_huge_blocked():
    c = client()
    return expect_raise(lambda: payment(250000))


def payment_held():
    c, t, params = payment(5000)
    return expect_raise(lambda: c.invoke(MCP, "send_payment", t, params=params,
                                         user_email="alice@example.com"))


def payment_held_then_approved():
    c, t, params = payment(5000)
    seen = []

    def approve_later(delegation_id):
        time.sleep(0.5)
        out = subprocess.run([os.environ["ARMORIQ_BIN"], "approve", delegation_id,
                              "--state-dir", os.environ["ARMORIQ_STATE_DIR"], "--by", "boss@example.com"],
                             capture_output=True, text=True)
        seen.append({"approve_exit": out.returncode, "stdout": out.stdout, "stderr": out.stderr})

    def on_hold(info):
        seen.append({"hold": info.delegation_id})
        if info.delegation_id:
            threading.Thread(target=approve_later, args=(info.delegation_id,), daemon=True).start()

    opts = InvokeOptions(wait_for_approval=True, on_hold=on_hold, user_email="alice@example.com",
                         delegation_timeout_ms=60000)
    try:
        r = c.invoke_with_policy(MCP, "send_payment", t, params=params, options=opts)
    except Exception as e:  # noqa: BLE001
        return dict(err(e), seen=seen)
    return {"exception": None, "status": r.status, "text": text_of(r.result), "seen": seen}


def sdk_session():
    c = client()
    scoped = c.for_user("alice@example.com")
    s = scoped.start_session(SessionOptions(mode="sdk", default_mcp_name=MCP))
    s.start_plan([{"name": f"{MCP}__get_weather", "args": BOSTON}], goal="weather")
    allowed = s.check(f"{MCP}__get_weather", BOSTON)
    blocked = s.check(f"{MCP}__delete_records", {"table": "users"})
    return {"allowed": {"allowed": allowed.allowed, "action": allowed.action, "reason": allowed.reason},
            "blocked": {"allowed": blocked.allowed, "action": blocked.action, "reason": blocked.reason}}


def tool_error():
    c = client()
    plan = {"goal": "x", "steps": [{"action": "fail", "mcp": MCP, "params": {"message": "boom"}}]}
    t = token(c, plan=plan)
    return expect_raise(lambda: c.invoke(MCP, "fail", t, params={"message": "boom"}))


def slow_tool():
    c = client()
    plan = {"goal": "x", "steps": [{"action": "slow", "mcp": MCP, "params": {"seconds": 30}}]}
    t = token(c, plan=plan)
    return expect_raise(lambda: c.invoke(MCP, "slow", t, params={"seconds": 30}))


def mcp_down():
    c = client()
    t = token(c)
    return expect_raise(lambda: c.invoke(MCP, "get_weather", t, params=BOSTON))


def invoke_raising():
    """The worked example's invoke, reporting an exception instead of failing
    (gateway_device.rs: a device that refuses, or is gone)."""
    c = client()
    t = token(c)
    return expect_raise(lambda: c.invoke(MCP, "get_weather", t, params=BOSTON))


def throughput():
    """Calls per second through the gateway: one token, N sequential invokes
    of the worked example's step (ARMORIQ_CALLS, default 40)."""
    n = int(os.environ.get("ARMORIQ_CALLS", "40"))
    c = client()
    t = token(c)
    c.invoke(MCP, "get_weather", t, params=BOSTON)  # warm: connections, caches
    t0 = time.perf_counter()
    for _ in range(n):
        c.invoke(MCP, "get_weather", t, params=BOSTON)
    dt = time.perf_counter() - t0
    return {"calls": n, "seconds": dt, "calls_per_second": n / dt}


# --- Approvals bound to the held call (approvals_e2e.rs) -------------------

ACME = {"amount": 5000, "recipient": "acme"}
MALLORY = {"amount": 9000, "recipient": "mallory"}
TWO_PAYMENTS = {"goal": "pay two vendors", "steps": [
    {"action": "send_payment", "mcp": MCP, "params": ACME},
    {"action": "send_payment", "mcp": MCP, "params": MALLORY}]}


def approve_via(way, delegation_id):
    """Approves as Boss <boss@example.com> the way a person would: `armoriq
    approve`, the JSON route with Boss's admin key, or the console's form
    (signed in with that key). Returns what the surface answered."""
    if way == "cli":
        out = subprocess.run([os.environ["ARMORIQ_BIN"], "approve", delegation_id,
                              "--state-dir", os.environ["ARMORIQ_STATE_DIR"],
                              "--by", "Boss <boss@example.com>"],
                             capture_output=True, text=True)
        return {"exit": out.returncode, "stdout": out.stdout, "stderr": out.stderr}
    import http.cookiejar
    import re
    import urllib.parse
    import urllib.request
    base = os.environ["ARMORIQ_BACKEND_URL"]
    key = os.environ["BOSS_ADMIN_KEY"]
    if way == "api":
        req = urllib.request.Request(f"{base}/admin/delegations/{delegation_id}/approve",
                                     data=b"", method="POST", headers={"X-API-Key": key})
        with urllib.request.urlopen(req) as r:
            return {"status": r.status, "body": json.loads(r.read())}
    assert way == "console", way
    jar = http.cookiejar.CookieJar()
    web = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = web.open(f"{base}/console/login").read().decode()
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    form = urllib.parse.urlencode({"key": key, "csrf": csrf}).encode()
    web.open(f"{base}/console/login", data=form).read()
    page = web.open(f"{base}/console/approvals").read().decode()
    csrf = re.search(r'<meta name="csrf" content="([0-9a-f]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf": csrf}).encode()
    with web.open(f"{base}/console/approvals/{delegation_id}/approve", data=form) as r:
        return {"status": r.status, "url": r.geturl()}


def held_id(outcome):
    ctx = outcome.get("delegation_context") or {}
    return ctx.get("delegationId") or ctx.get("delegation_id")


def pay(c, t, params, delegation_id=None):
    if delegation_id:
        params = dict(params, _delegation_id=delegation_id)
    r = expect_raise(lambda: c.invoke(MCP, "send_payment", t, params=params,
                                      user_email="alice@example.com"))
    if r["exception"] is None:
        r["text"] = text_of(r.pop("result"))
    r["held"] = held_id(r)
    return r


def bound_approval():
    """Issue 29's scenario: a plan pays acme 5000 and mallory 9000, a policy
    holds both; a person approves the acme call (APPROVE_VIA: cli, api or
    console). Then mallory's call naming that approval, acme's call, and
    acme's call again."""
    c = client()
    t = token(c, plan=TWO_PAYMENTS, email="alice@example.com")
    first = pay(c, t, ACME)
    approval = approve_via(os.environ["APPROVE_VIA"], first["held"])
    mallory = pay(c, t, MALLORY, first["held"])
    acme = pay(c, t, ACME, first["held"])
    again = pay(c, t, ACME, first["held"])
    return {"plan_id": t.plan_id, "first": first, "approval": approval, "mallory": mallory,
            "acme": acme, "acme_again": again}


def approval_expires():
    """With a short --approval-ttl: the SDK's waiting invoke_with_policy
    raises on expiry; an approval not used in time lets nothing through."""
    c = client()
    t = token(c, plan=TWO_PAYMENTS, email="alice@example.com")
    opts = InvokeOptions(wait_for_approval=True, user_email="alice@example.com",
                         delegation_timeout_ms=60000)
    t0 = time.monotonic()
    try:
        c.invoke_with_policy(MCP, "send_payment", t, params=ACME, options=opts)
        waited = {"exception": None}
    except Exception as e:  # noqa: BLE001 - the test asserts on the class name
        waited = err(e)
    waited["seconds"] = time.monotonic() - t0
    held = pay(c, t, MALLORY)
    approval = approve_via("cli", held["held"])
    time.sleep(float(os.environ["APPROVAL_TTL"]) + 1.5)
    late = pay(c, t, MALLORY, held["held"])
    return {"waited": waited, "held": held, "approval": approval, "late": late}


if __name__ == "__main__":
    name = sys.argv[1]
    try:
        out = globals()[name]()
    except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
        out = {"scenario_error": err(e)}
    print(json.dumps(out, default=str))
