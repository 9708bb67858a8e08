#!/usr/bin/env bash
# Creates .venv with the reference implementations the differential and
# interop tests run against (the official ArmorIQ SDK, pinned). Idempotent:
# a venv that already has the pinned versions is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
REQS=(armoriq-sdk==0.8.17 pyjwt==2.15.1 joserfc==1.8.0 armoriq-policy-ir==0.1.3 mcp==2.3.0)
if [ ! -x .venv/bin/python ]; then
  echo "setup-python: creating .venv" >&2
  "$PY" -m venv .venv
fi
if ! .venv/bin/python - "${REQS[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for req in sys.argv[1:]:
    name, want = req.split("==")
    if version(name) != want:
        sys.exit(1)
PY
then
  echo "setup-python: installing ${REQS[*]}" >&2
  .venv/bin/pip install --quiet "${REQS[@]}"
fi
