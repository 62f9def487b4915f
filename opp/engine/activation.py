"""The CEL activation for one call: plain values, built once per request."""

from __future__ import annotations

from typing import Any

from opp.auth.principal import Principal
from opp.compile.plan import Plan, ToolPlan
from opp.engine.request import IncomingRequest

__all__ = ["app_policy_data", "build_activation"]


def app_policy_data(plan: Plan, principal: Principal) -> dict[str, Any]:
    """The app's data policy with the schema's defaults filled in."""
    data = principal.app.policy.get("data") or {}
    return {**plan.app_policy_defaults, **data}


def build_activation(
    plan: Plan,
    principal: Principal,
    request: IncomingRequest,
    ip: str | None,
    tool: ToolPlan | None,
    args: dict[str, Any] | None = None,
    resource: dict[str, Any] | None = None,
) -> dict[str, Any]:
    app = principal.app
    activation: dict[str, Any] = {
        "principal": {
            "sub": principal.sub,
            "client_id": principal.client_id,
            "app_id": app.id,
            "key_id": principal.key_id or "",
            "scopes": sorted(principal.scopes),
            "tenant": principal.tenant,
            "claims": principal.claims,
            "roles": [],
        },
        "app": {
            "id": app.id,
            "name": app.name,
            "scope": app.scope,
            "tenant": principal.tenant,
            "policy": app_policy_data(plan, principal),
        },
        "request": {
            "ip": ip or "",
            "method": request.method,
            "path": request.path,
            "time": request.received_at,
            "user_agent": request.user_agent or "",
        },
    }
    if tool is not None:
        activation["tool"] = tool.cel_tool
    if args is not None:
        activation["args"] = args
    if resource is not None:
        activation["resource"] = resource
    return activation
