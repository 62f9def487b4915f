"""The Model Context Protocol binding (docs/MCP.md): a thin adapter over the agent-plane engine.

``tools/list`` is the manifest, ``tools/call`` is a governed read or a write submission; every rule,
check and audit call stays in ``opp/engine`` and ``opp/writes``. The HTTP endpoint that mounts the
official SDK's streamable HTTP transport lives in ``opp/http/mcp_route.py``.
"""
