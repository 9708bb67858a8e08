#!/usr/bin/env python3
"""Differential oracle for the Rust Armor Policy v2 evaluator (policy/).

Reads JSON lines ``{"call": ..., "bound": ...}`` on stdin and writes one JSON
line per input: the decision dict returned by ``armoriq_policy_ir.evaluate``
(armoriq-policy-ir==0.1.3), or ``{"error": "<ExceptionClass>", "reason": str}``
where it raises (``re.error`` is reported as ``"re.error"``).

Run with TZ=UTC: the reference reads offset-less date-times in local time.
"""

import json
import sys

from armoriq_policy_ir import evaluate


def main() -> int:
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        try:
            result = evaluate(case["call"], case["bound"])
        except Exception as e:  # noqa: BLE001 - every exception class is data here
            name = type(e).__name__
            if type(e).__module__ in ("re", "sre_constants"):
                name = "re." + name
            result = {"error": name, "reason": str(e)}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
