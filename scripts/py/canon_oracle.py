"""Differential oracle: the official SDK's canonical_json on each input line.

Reads a JSON array of document texts from the file named by argv[1] (so
documents may hold raw newlines); writes one line per document to stdout: the hex of
armoriq_sdk.crypto_verify.canonical_json(json.loads(line)), or "ERR <type>".
"""
import json
import sys

from armoriq_sdk.crypto_verify import canonical_json

with open(sys.argv[1], "rb") as f, open(sys.stdout.fileno(), "w", closefd=False) as out:
    for text in json.load(f):
        try:
            out.write(canonical_json(json.loads(text)).hex() + "\n")
        except Exception as e:  # noqa: BLE001 - the class name is the answer
            out.write("ERR " + type(e).__name__ + "\n")
