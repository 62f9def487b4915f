"""How a tool call becomes an upstream HTTP request: path, query, body and headers.

Kept apart from the transport so each rule is testable on its own:

- ``{name}`` placeholders of the route path are filled from the arguments (URL-quoted) and removed
  from the rest;
- ``GET``/``DELETE`` send the rest as query parameters (lists repeated, booleans ``true``/``false``,
  ``None`` omitted); other methods send them as a JSON body;
- every request carries the call's context: ``X-Request-Id``, ``X-OPP-App``, ``X-OPP-Actor``,
  ``X-OPP-Tenant`` (when the app has one) and ``Idempotency-Key`` (when the call has one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.tools.api import CallContext
from opp.tools.errors import BackendResolutionError

__all__ = ["PathTemplate", "context_headers", "expand_env", "query_params"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(text: str, environ: Mapping[str, str], *, where: str) -> str:
    """Replace every ``${VAR}`` in ``text`` with ``environ[VAR]``.

    Raises:
        BackendResolutionError: ``backend.env_missing`` when a variable is not set; ``where`` says
            which value referenced it.
    """

    def substitute(match: re.Match[str]) -> str:
        variable = match.group(1)
        if variable not in environ:
            raise BackendResolutionError(
                "backend.env_missing",
                f"environment variable '{variable}' used by {where} is not set",
                f"export {variable} before running opp",
            )
        return environ[variable]

    return _ENV_REFERENCE.sub(substitute, text)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return msgspec.json.encode(value).decode()
    return str(value)


class PathTemplate:
    """A route path such as ``/ledgers/{id}``, parsed once."""

    __slots__ = ("names", "template")

    def __init__(self, template: str) -> None:
        self.template = template
        self.names = tuple(_PLACEHOLDER.findall(template))

    def render(self, args: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Fill the placeholders; return the path and the arguments not consumed by it.

        Raises:
            OppError: ``agent.action_invalid`` when a placeholder has no (non-null) argument.
        """
        if not self.names:
            return self.template, dict(args)
        rest = dict(args)
        values: dict[str, str] = {}
        for name in self.names:
            value = rest.pop(name, None)
            if value is None:
                raise OppError(ReasonCode.ACTION_INVALID, f"Missing path parameter '{name}'.")
            values[name] = quote(_text(value), safe="")
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], self.template), rest


def query_params(args: Mapping[str, Any]) -> httpx.QueryParams:
    """Arguments as query parameters: lists repeat the key, ``None`` is omitted."""
    params: list[tuple[str, Any]] = []
    for key, value in args.items():
        if value is None:
            continue
        items = value if isinstance(value, list | tuple) else (value,)
        params.extend((key, _text(item)) for item in items if item is not None)
    return httpx.QueryParams(params)


def context_headers(context: CallContext) -> dict[str, str]:
    """The per-call headers an upstream uses to trace, deduplicate and scope the request."""
    headers = {
        "X-Request-Id": context.request_id,
        "X-OPP-App": context.app_id,
        "X-OPP-Actor": context.actor_user_id,
    }
    if context.tenant is not None:
        headers["X-OPP-Tenant"] = context.tenant
    if context.idempotency_key is not None:
        headers["Idempotency-Key"] = context.idempotency_key
    return headers
