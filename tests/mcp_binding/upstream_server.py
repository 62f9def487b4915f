"""An upstream MCP server written with the official SDK, for opp to front (``kind: mcp`` backends).

    python upstream_server.py stdio        serve on stdin/stdout
    python upstream_server.py http PORT    serve streamable HTTP on 127.0.0.1:PORT/mcp (stateless)

Tools: ``get_order`` (read), ``refund_order`` (a write, remembered in memory) and ``whoami``, which
answers with the ``Authorization`` header the upstream received and the call's ``_meta``, so a test
can prove the agent's credential never reaches it.
"""

from __future__ import annotations

import sys
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server

ORDERS: dict[str, dict[str, Any]] = {
    "ord_1": {"id": "ord_1", "tenant": "org_demo", "amount": 250, "refunded": 0},
    "ord_foreign": {"id": "ord_foreign", "tenant": "org_other", "amount": 90, "refunded": 0},
}
OBJECT = {"type": "object"}
TOOLS = [
    types.Tool(
        name="get_order",
        description="Look an order up by id.",
        input_schema={
            "type": "object",
            "required": ["orderId"],
            "properties": {"orderId": {"type": "string"}},
        },
        annotations=types.ToolAnnotations(read_only_hint=True),
    ),
    types.Tool(
        name="refund_order",
        description="Refund part of an order.",
        input_schema={
            "type": "object",
            "required": ["orderId", "amount"],
            "properties": {"orderId": {"type": "string"}, "amount": {"type": "number"}},
        },
        annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=True),
    ),
    types.Tool(name="whoami", description="What the upstream saw of the caller.", input_schema=OBJECT),
]


def _result(data: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=str(data))], structured_content=data)


async def list_tools(ctx: ServerRequestContext[Any, Any], params: Any) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def call_tool(
    ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
) -> types.CallToolResult:
    args = params.arguments or {}
    if params.name == "whoami":
        headers = getattr(ctx.request, "headers", None)
        seen = headers.get("authorization") if headers is not None else None
        meta = (ctx.params or {}).get("_meta", {})
        return _result({"authorization": seen, "context": meta.get("openport/context")})
    order = ORDERS.get(str(args.get("orderId")))
    if order is None:
        return types.CallToolResult(content=[types.TextContent(text="no such order")], is_error=True)
    if params.name == "refund_order":
        order["refunded"] += float(args["amount"])
    return _result(dict(order))


server: Server[Any] = Server(
    "upstream-shop", version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool
)


async def serve_stdio() -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def http_app() -> Any:
    return server.streamable_http_app(stateless_http=True, json_response=True, host="127.0.0.1")


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        anyio.run(serve_stdio)
    else:
        import uvicorn

        uvicorn.run(http_app(), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
