"""A held payment that waits for a person in the console, made with the
unmodified official SDK (armoriq-sdk 0.8.17). Used by
host-harness/cli/tests/console.rs, which approves or rejects it in a browser.

Usage: python console_scenarios.py AMOUNT RECIPIENT
Env: ARMORIQ_API_KEY, ARMORIQ_BACKEND_URL, PROXY_ENDPOINT (set by the test).
Prints one JSON line when the hold is seen ({"held": id, "plan_id": ...}),
then one JSON object: what `invoke_with_policy(wait_for_approval=True)` did.
"""

import json
import sys

from armoriq_sdk.models import InvokeOptions

from sdk_scenarios import MCP, client, err, text_of, token


def wait_for_person(amount, recipient):
    c, t, params = payment_with(client(), amount, recipient)
    seen = []

    def on_hold(info):
        seen.append(info.delegation_id)
        if info.delegation_id:
            print(json.dumps({"held": info.delegation_id, "plan_id": t.plan_id}), flush=True)

    opts = InvokeOptions(wait_for_approval=True, on_hold=on_hold, user_email="alice@example.com",
                         delegation_timeout_ms=180000)
    try:
        r = c.invoke_with_policy(MCP, "send_payment", t, params=params, options=opts)
    except Exception as e:  # noqa: BLE001 - the test asserts on the class name
        return dict(err(e), seen=seen, plan_id=t.plan_id)
    return {"exception": None, "status": r.status, "text": text_of(r.result), "seen": seen,
            "plan_id": t.plan_id}


def payment_with(c, amount, recipient):
    """A plan of one payment with exactly these params, and its token."""
    params = {"amount": amount, "recipient": recipient}
    plan = {"goal": "pay " + recipient,
            "steps": [{"action": "send_payment", "mcp": MCP, "params": params}]}
    return c, token(c, plan=plan, email="alice@example.com"), params


if __name__ == "__main__":
    try:
        out = wait_for_person(float(sys.argv[1]) if "." in sys.argv[1] else int(sys.argv[1]), sys.argv[2])
    except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
        out = {"scenario_error": err(e)}
    print(json.dumps(out, default=str), flush=True)
