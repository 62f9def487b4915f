"""The request id of the request being served, visible to logging without passing it around.

The agent and admin handlers set it when they read the request (:func:`opp.http.incoming.incoming`);
each ASGI request runs in its own task, so the value never leaks between concurrent requests.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["REQUEST_ID", "current_request_id"]

REQUEST_ID: ContextVar[str | None] = ContextVar("opp_request_id", default=None)


def current_request_id() -> str | None:
    """The request id of the current task, or None outside a request."""
    return REQUEST_ID.get()
