"""The official Python SDK 0.8.17's methods beyond the worked example, run
unmodified against `armoriq serve`. Used by host-harness/cli/tests/sdk_methods.rs.

Usage: python sdk_methods.py SCENARIO
Env: ARMORIQ_API_KEY, ARMORIQ_BACKEND_URL, PROXY_ENDPOINT (set by the test).
Prints one JSON object (the last line of stdout) for the Rust test to assert on.
"""

import json
import sys

from armoriq_sdk import ArmorIQClient
from armoriq_sdk.models import IntentToken
from armoriq_sdk.session import SessionOptions

# An Ed25519 public key of the delegate (hex); the gateway binds it into the
# delegated token.
DELEGATE_KEY = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"

MCP = "weather-mcp"
BOSTON = {"city": "Boston", "units": "metric"}
PLAN = {
    "goal": "Get the weather in Boston and email it to the team",
    "steps": [
        {"action": "get_weather", "mcp": MCP, "params": BOSTON},
        {"action": "send_email", "mcp": MCP,
         "params": {"to": "team@example.com", "subject": "Weather in Boston"}},
    ],
}


def client(agent="weather-agent"):
    return ArmorIQClient(user_id="alice@example.com", agent_id=agent)


def token(c, plan=PLAN, validity=60):
    cap = c.capture_plan(llm="gpt-4o", prompt="weather", plan=plan)
    return c.get_intent_token(cap, validity_seconds=validity)


def err(e):
    return {"exception": type(e).__name__, "message": str(e),
            "status_code": getattr(e, "status_code", None),
            "reason": getattr(e, "reason", None)}


def attempt(fn):
    try:
        return {"exception": None, "value": fn()}
    except Exception as e:  # noqa: BLE001 - the test asserts on the class name
        return err(e)


def catalogue():
    c = client()
    meta = c.fetch_tool_metadata(MCP)
    return {
        "servers": c.list_mcps(),
        "tools": c.get_mcp_tool_schemas(MCP),
        "unknown": attempt(lambda: c.get_mcp_tool_schemas("no-such-mcp")),
        "metadata_mcp": getattr(meta, "mcp_id", None) or getattr(meta, "name", None),
    }


def preflight():
    c = client()

    def refine(calls):
        return attempt(lambda: c.refine({"agent_id": "weather-agent", "user_prompt": "pay",
                                         "tool_calls": calls,
                                         "authority_snapshot": {"user_email": "alice@example.com"}}))

    return {
        "allow": refine([{"name": f"{MCP}__get_weather", "args": BOSTON},
                         {"name": f"mcp__{MCP}__send_email",
                          "args": {"to": "a@example.com", "subject": "s"}}]),
        "hold": refine([{"name": f"{MCP}__get_weather", "args": BOSTON},
                        {"name": f"{MCP}__send_payment", "args": {"amount": 5000, "recipient": "bob"}}]),
        "block": refine([{"name": f"{MCP}__send_payment", "args": {"amount": 5000, "recipient": "bob"}},
                         {"mcp": MCP, "action": "delete_records", "params": {"table": "users"}},
                         {"name": f"{MCP}__send_payment", "args": {"amount": 10**7, "recipient": "bob"}}]),
        "unknown_mcp": refine([{"name": "nowhere__get_weather", "args": {}}]),
        "no_calls": refine(None),
        "bad_call": refine([{"args": {"x": 1}}]),
    }


def invoke(c, action, tok, params):
    return attempt(lambda: c.invoke(MCP, action, tok, params=params).status)


def delegate():
    owner = client()
    t = token(owner)
    d = owner.delegate(t, DELEGATE_KEY, validity_seconds=3600,
                       allowed_actions=["get_weather"], target_agent="helper-agent")
    helper = client(agent="helper-agent")
    dt = d.delegated_token
    out = {
        "parent_expires_at": t.expires_at, "delegated_expires_at": d.expires_at,
        "delegation_id": d.delegation_id, "delegated_plan_id": dt.plan_id,
        "parent_plan_id": t.plan_id, "verify_token": helper.verify_token(dt),
        "raw": dt.raw_token["token"],
        "allowed": invoke(helper, "get_weather", dt, BOSTON),
        "other_action": invoke(helper, "send_email", dt,
                               {"to": "team@example.com", "subject": "Weather in Boston"}),
        "other_agent": invoke(owner, "get_weather", dt, BOSTON),
        "not_in_plan": attempt(lambda: owner.delegate(t, DELEGATE_KEY, allowed_actions=["delete_records"])),
        "bad_key": attempt(lambda: owner.delegate(t, "zz", allowed_actions=["get_weather"])),
    }
    # The delegate revokes its own token: the delegation goes, the parent stays.
    d2 = owner.delegate(t, DELEGATE_KEY, allowed_actions=["get_weather"])
    out["self_revoke"] = attempt(lambda: helper.revoke(d2.delegated_token, reason="mine"))
    out["after_self_revoke"] = invoke(helper, "get_weather", d2.delegated_token, BOSTON)
    out["parent_after_self_revoke"] = invoke(owner, "get_weather", t, BOSTON)
    out["revoke"] = attempt(lambda: owner.revoke(t, reason="done"))
    out["after_revoke"] = invoke(helper, "get_weather", dt, BOSTON)
    out["parent_after_revoke"] = invoke(owner, "get_weather", t, BOSTON)
    return out


PLAN4 = {
    "goal": "weather twice, mail, pay",
    "steps": [
        {"action": "get_weather", "mcp": MCP, "params": BOSTON},
        {"action": "send_email", "mcp": MCP, "params": {"to": "team@example.com", "subject": "s"}},
        {"action": "get_weather", "mcp": MCP, "params": {"city": "Paris", "units": "metric"}},
        {"action": "send_payment", "mcp": MCP, "params": {"amount": 10, "recipient": "bob"}},
    ],
}


def delegate_subtree():
    owner = client()
    t = token(owner, plan=PLAN4)
    r = owner.delegate_subtree(t, delegate_public_key=DELEGATE_KEY, subtree_path="/steps/[2..3]",
                               validity_seconds=3600, parent_plan=PLAN4)
    payload = r["delta"]["payload"]
    child = payload["child_token"]
    ct = IntentToken(token_id=child["token_id"], plan_hash=child["plan_hash"],
                     plan_id=child["plan_id"], signature=child["signature"],
                     issued_at=child["issued_at"], expires_at=child["expires_at"],
                     policy={}, composite_identity=child["composite_identity"],
                     step_proofs=[], total_steps=child["total_steps"],
                     raw_token={"token": child})
    helper = client(agent="helper-agent")
    return {
        "merkle_root": t.raw_token["merkle_root"], "plan_hash": t.plan_hash,
        "trust_id": r["trust_id"], "subtree_root": r["subtree_root"],
        "inclusion_proof": r["inclusion_proof"], "payload": payload,
        "sdk_copy_has_envelope": r["delegated_token"].subtree_delegation is not None,
        "inside": invoke(helper, "get_weather", ct, {"city": "Paris", "units": "metric"}),
        "inside_pay": invoke(helper, "send_payment", ct, {"amount": 10, "recipient": "bob"}),
        "outside_same_action": invoke(helper, "get_weather", ct, BOSTON),
        "outside_action": invoke(helper, "send_email", ct, {"to": "team@example.com", "subject": "s"}),
        "not_a_node": attempt(lambda: owner.delegate_subtree(t, delegate_public_key=DELEGATE_KEY,
                                                              subtree_path="/steps/[1..2]")),
    }


def growing_session(mode):
    c = client()
    scoped = c.for_user("alice@example.com")
    s = scoped.start_session(SessionOptions(mode=mode, default_mcp_name=MCP))
    calls = [{"name": f"{MCP}__get_weather", "args": BOSTON}]
    t1 = s.start_plan(calls, goal="weather")
    first = s.check(f"{MCP}__get_weather", BOSTON)
    calls = calls + [{"name": f"{MCP}__send_email", "args": {"to": "team@example.com", "subject": "s"}}]
    t2 = s.start_plan(calls, goal="weather and mail")
    second = s.last_plan_start if hasattr(s, "last_plan_start") else None
    mail = s.check(f"{MCP}__send_email", {"to": "team@example.com", "subject": "s"})
    calls = calls + [{"name": f"{MCP}__send_payment", "args": {"amount": 10, "recipient": "bob"}}]
    t3 = s.start_plan(calls, goal="weather, mail, pay")
    pay = s.check(f"{MCP}__send_payment", {"amount": 10, "recipient": "bob"})
    out = {"same_token": t1 is t2 is t3, "plan_start": second,
           "first": first.allowed, "mail": mail.allowed, "pay": pay.allowed,
           "mail_reason": mail.reason, "pay_reason": pay.reason}
    if mode == "proxy":
        out["dispatch_pay"] = attempt(lambda: s.dispatch(f"{MCP}__send_payment",
                                                         {"amount": 10, "recipient": "bob"}))
        out["dispatch_mail"] = attempt(lambda: s.dispatch(f"{MCP}__send_email",
                                                          {"to": "team@example.com", "subject": "s"}))
        out["dispatch_outside"] = attempt(lambda: s.dispatch(f"{MCP}__send_email",
                                                             {"to": "x@example.com", "subject": "s"}))
    # The token also works with invoke() directly for a re-anchored step.
    out["invoke_pay"] = invoke(c, "send_payment", t3, {"amount": 10, "recipient": "bob"})
    return out


def session_sdk():
    return growing_session("sdk")


def session_proxy():
    return growing_session("proxy")


def reanchor_blocked():
    c = client()
    t = token(c)
    grown = {"goal": "x", "steps": PLAN["steps"] + [
        {"action": "delete_records", "mcp": MCP, "params": {"table": "users"}}]}
    blocked = attempt(lambda: c.reanchor(t, grown, reason="plan grew"))
    # The plan is unchanged: its steps still work, the blocked one is not in it.
    return {"blocked": blocked,
            "still_works": invoke(c, "get_weather", t, BOSTON),
            "not_added": invoke(c, "delete_records", t, {"table": "users"})}


def usage():
    import uuid

    c = client()
    entries = [{"model": "claude-sonnet-4", "inputTokens": 1200, "outputTokens": 340,
                "cacheReadTokens": 50, "cacheWriteTokens": 0},
               {"model": "gpt-4o", "inputTokens": 10, "outputTokens": 5,
                "cacheReadTokens": 0, "cacheWriteTokens": 0}]
    first = c.record_token_usage("claude-code", "sess-1", entries, "2026-12-02", 21,
                                 repo="armoriq-rs", device_id="dev-1", device_name="laptop")
    again = c.record_token_usage("claude-code", "sess-1", entries, "2026-12-02", 21,
                                 repo="armoriq-rs", device_id="dev-1", device_name="laptop")
    zeroed = c.record_token_usage("claude-code", "sess-1",
                                  [dict(entries[1], inputTokens=0, outputTokens=0)],
                                  "2026-12-02", 21, device_id="dev-1")
    bad_hour = attempt(lambda: c.record_token_usage("p", "s", entries, "2026-12-02", 24))
    stream = c.initialize_usage_stream()
    gen = (stream.get("value") or {}).get("generation")
    snap = {"sessionId": "sess-2", "revision": 2, "usageDate": "2026-12-02", "usageHour": 22,
            "product": "codex", "deviceId": "dev-2",
            "entries": [{"model": "o3", "inputTokens": 7, "outputTokens": 3,
                         "cacheReadTokens": 0, "cacheWriteTokens": 0}]}
    batch = {"generation": gen, "batchId": str(uuid.uuid4()), "snapshots": [snap]}
    applied = c.record_token_usage_batch(batch)
    present = c.record_token_usage_batch(dict(batch, batchId=str(uuid.uuid4())))
    older = c.record_token_usage_batch(dict(batch, batchId=str(uuid.uuid4()),
                                            snapshots=[dict(snap, revision=1)]))
    reset = c.reset_usage_stream(gen, str(uuid.uuid4()))
    stale = c.record_token_usage_batch(dict(batch, batchId=str(uuid.uuid4())))
    run_id = str(uuid.uuid4())
    run = c.report_usage_run(run_id, {"status": "running", "processed": 3})
    return {"first": first, "again": again, "zeroed": zeroed, "bad_hour": bad_hour,
            "stream": stream, "applied": applied, "present": present, "older": older,
            "reset": reset, "stale": stale, "run": run}


def plan_lifecycle():
    c = client()
    done = token(c)
    c.complete_plan(done.plan_id)
    failed = token(c)
    c.update_plan_status(failed.plan_id, "failed")
    s = c.for_user("alice@example.com").start_session(SessionOptions(mode="sdk", default_mcp_name=MCP))
    t = s.start_plan([{"name": f"{MCP}__get_weather", "args": BOSTON}], goal="weather")
    s.report(f"{MCP}__get_weather", BOSTON, {"ok": True})
    return {"completed": done.plan_id, "failed": failed.plan_id, "reported": t.plan_id}


def mixed_tokens():
    c = client()
    a = token(c)
    b = token(c, plan={"goal": "b", "steps": [PLAN["steps"][1]]})
    mixed = a.model_copy(update={"raw_token": dict(a.raw_token, token=b.raw_token["token"])})
    return {"same": invoke(c, "get_weather", a, BOSTON),
            "mixed": invoke(c, "get_weather", mixed, BOSTON)}


if __name__ == "__main__":
    name = sys.argv[1]
    try:
        out = globals()[name]()
    except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
        out = {"scenario_error": err(e)}
    print(json.dumps(out, default=str))
