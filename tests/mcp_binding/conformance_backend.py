"""Backend of the two tools the MCP conformance suite calls by name (copied next to the config).

``test_error_handling`` always fails (scenario tools-call-error); ``json_schema_2020_12_tool``
echoes its input (scenario json-schema-2020-12 only reads its listed schema).
"""

from __future__ import annotations

from typing import Any

from opp.tools.api import ToolCall


def fail(call: ToolCall) -> dict[str, Any]:
    raise RuntimeError("This tool intentionally returns an error for testing")


def echo(call: ToolCall) -> dict[str, Any]:
    return {"echo": dict(call.args)}
