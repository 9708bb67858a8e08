"""The official Python SDK 0.8.17's methods beyond the worked example, run
unmodified against `armoriq serve`. Used by host-harness/cli/tests/sdk_methods.rs.

Usage: python sdk_methods.py SCENARIO
Env: ARMORIQ_API_KEY, ARMORIQ_BACKEND_URL, PROXY_ENDPOINT (set by the test).
Prints one JSON object (the last line of stdout) for the Rust test to assert on.
"""

import json
import sys

from armoriq_sdk import ArmorIQClient

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


if __name__ == "__main__":
    name = sys.argv[1]
    try:
        out = globals()[name]()
    except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
        out = {"scenario_error": err(e)}
    print(json.dumps(out, default=str))
