"""The tool-backend interface.

A backend receives a :class:`ToolCall` (validated input plus the server-side context the gateway
resolved) and returns a JSON-compatible result, or raises :class:`~opp.errors.OppError` with
``agent.upstream_unavailable`` / ``agent.execution_failed`` (sanitised) or ``agent.action_invalid``
/ ``agent.not_found`` for input the application refuses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import msgspec

__all__ = ["BackendRuntime", "CallContext", "Invoker", "ToolCall"]


class CallContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling, resolved server-side. Backends must scope tenant data by ``tenant``."""

    request_id: str
    app_id: str
    key_id: str | None
    actor_user_id: str
    tenant: str | None
    app_policy: dict[str, Any]
    now: dt.datetime
    idempotency_key: str | None = None
    auto_execute_window: dict[str, Any] | None = None
    """The app's auto-execute window an action runs under without a reviewer (e.g. the high-risk
    window's ``max_export_rows``); None when a reviewer approved it, and for reads."""


class ToolCall(msgspec.Struct, frozen=True, kw_only=True):
    operation: str
    """The tool name, or the resource type for a resource lookup."""
    args: dict[str, Any]
    context: CallContext


class Invoker(Protocol):
    """One compiled backend entry point (a bound Python function or an HTTP route)."""

    async def __call__(self, call: ToolCall) -> Any: ...


class BackendRuntime(Protocol):
    """A named backend's live resources (a module's state, a pooled HTTP client)."""

    async def start(self) -> None:
        """Acquire resources; called once when serving begins (never by ``opp check``)."""
        ...

    async def close(self) -> None: ...
