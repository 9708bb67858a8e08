"""A real MCP server (official `mcp` SDK, streamable HTTP) for the gateway tests.

Usage: python mcp_test_server.py NAME PORT [--trace-tool]

Tools:
  get_weather(city, units)   -> "Weather in <city>: 21 degrees <units>, clear"
  send_email(to, subject)    -> "sent to <to>"
  send_payment(amount, recipient) -> "paid <amount> to <recipient>"
  delete_records(table)      -> "deleted <table>"
  fail(message)              -> raises: the result has isError: true
  slow(seconds)              -> sleeps, then "slept"
  trace_context()            -> JSON: the W3C traceparent the call carried in
                                its MCP `_meta` and in its HTTP header (only
                                with --trace-tool: the other tests list six tools)
"""

import asyncio
import json
import sys

from mcp.server.mcpserver import Context, MCPServer

name, port = sys.argv[1], int(sys.argv[2])
trace_tool = "--trace-tool" in sys.argv[3:]
server = MCPServer(name)


@server.tool()
def get_weather(city: str, units: str = "metric") -> str:
    """Current weather for a city."""
    return f"Weather in {city}: 21 degrees {units}, clear"


@server.tool()
def send_email(to: str, subject: str) -> str:
    """Send an email."""
    return f"sent to {to}: {subject}"


@server.tool()
def send_payment(amount: float, recipient: str) -> str:
    """Pay someone."""
    return f"paid {amount} to {recipient}"


@server.tool()
def delete_records(table: str) -> str:
    """Delete a table."""
    return f"deleted {table}"


@server.tool()
def fail(message: str) -> str:
    """Always fails."""
    raise ValueError(message)


@server.tool()
async def slow(seconds: float) -> str:
    """Sleeps."""
    await asyncio.sleep(seconds)
    return "slept"


def trace_context(ctx: Context) -> str:
    """The trace context this call carried (for the tracing tests)."""
    rc = ctx.request_context
    meta = rc.meta
    if meta is None:
        meta_tp = None
    elif isinstance(meta, dict):
        meta_tp = meta.get("traceparent")
    else:
        meta_tp = getattr(meta, "traceparent", None) or (getattr(meta, "model_extra", None) or {}).get("traceparent")
    request = rc.request
    header_tp = request.headers.get("traceparent") if request is not None else None
    return json.dumps({"meta": meta_tp, "header": header_tp})


if trace_tool:
    server.tool()(trace_context)


server.run(transport="streamable-http", host="127.0.0.1", port=port, json_response=True)
