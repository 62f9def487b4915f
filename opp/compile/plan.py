"""The compiled ``Plan``: frozen, request-ready objects built once from ``GatewayConfig``.

Request-time code reads only these objects: every name is resolved, every CEL rule checked and
compiled, every JSON Schema compiled to a validator, every CIDR parsed. Nothing here is looked up
by name or parsed per request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from opp.admission.plan import AdmissionPlan
from opp.config.schema import AppConfig, GatewayConfig
from opp.oauth.plan import OAuthPlan
from opp.policy.api import Program
from opp.store.factory import StoreSettings
from opp.tools.api import BackendRuntime, Invoker, ToolCall

__all__ = [
    "AdminCredentialPlan",
    "CompiledRedaction",
    "CompiledRule",
    "CsvPlan",
    "ImpactPlan",
    "IpNetwork",
    "ItemsFilterPlan",
    "Plan",
    "ResourcePlan",
    "ToolPlan",
    "WitnessPlan",
    "WritesPlan",
]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
InputValidator = Callable[[dict[str, Any]], dict[str, Any]]
"""Validates (and fills defaults into) tool input; raises ``ValidationFailed`` with issues."""


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    effect: Literal["allow", "deny", "invalid"]
    message: str
    program: Program

    @property
    def discoverable(self) -> bool:
        """Whether the rule can be decided without a call's input (used by the manifest)."""
        return not (self.program.uses & {"args", "resource", "item"})


@dataclass(frozen=True, slots=True)
class ResourcePlan:
    type: str
    id_arg: str
    tenant_field: str
    lookup: Invoker
    id_arg_aliases: tuple[str, ...] = ()

    def id_of(self, args: Mapping[str, Any]) -> Any:
        """The resource id of a call: ``id_arg``, else the first alias holding a non-empty value."""
        value = args.get(self.id_arg)
        for alias in self.id_arg_aliases:
            if value not in (None, ""):
                break
            value = args.get(alias)
        return value


@dataclass(frozen=True, slots=True)
class CompiledRedaction:
    paths: tuple[tuple[str, ...], ...]
    """Each path split on dots; a ``[]`` suffix on a segment walks a list (``("items[]", "title")``)."""
    display: tuple[str, ...]
    """The paths as written in config, recorded in the audit event."""
    replacement: Any
    unless: Program | None


@dataclass(frozen=True, slots=True)
class ItemsFilterPlan:
    path: str
    keep: Program


class ImpactPlan(Protocol):
    """Computes an action's impact: ``{"summary": …, <field>: …}`` (declarative) or a backend's."""

    async def compute(
        self, args: Mapping[str, Any], resource: Mapping[str, Any] | None, call: ToolCall
    ) -> dict[str, Any]: ...


class WitnessPlan(Protocol):
    """Computes the State Witness: selected fields of the live resource, or a backend's answer.

    Returns None when the resource no longer exists (a mismatch against any captured witness).
    """

    async def compute(
        self, args: Mapping[str, Any], resource: Mapping[str, Any] | None, call: ToolCall
    ) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class CsvPlan:
    """Render the list at ``path`` of the (redacted) result as CSV with these columns."""

    path: str
    columns: tuple[str, ...]


def confirmation_on_wire(kind: str, declared: bool) -> bool:
    """``requiresConfirmation`` as agents see it (see :attr:`ToolPlan.needs_confirmation`)."""
    return kind == "action" or declared


@dataclass(frozen=True, slots=True)
class ToolPlan:
    name: str
    description: str
    kind: Literal["read", "action"]
    risk: Literal["low", "medium", "high"]
    required_scopes: frozenset[str]
    requires_confirmation: bool
    http_method: str | None
    http_path: str | None
    """Path relative to ``/api/agent/v1`` (e.g. ``/ledgers``)."""
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None
    validate_input: InputValidator
    query_types: Mapping[str, str]
    """For GET routes: JSON type of each input property, to coerce query strings."""
    deny_rules: tuple[CompiledRule, ...]
    invalid_rules: tuple[CompiledRule, ...]
    allow_rules: tuple[CompiledRule, ...]
    tenant_boundary: Literal["resource", "app", "none"]
    resource: ResourcePlan | None
    redactions: tuple[CompiledRedaction, ...]
    filter_items: ItemsFilterPlan | None
    backend: Invoker
    manifest_entry: Mapping[str, Any]
    """The tool as listed in the manifest (camelCase wire fields), built once."""
    audit_action: str
    """``agent.<tool>.read`` for reads."""
    cel_tool: Mapping[str, Any] = field(default_factory=dict)
    """The ``tool`` CEL variable for this tool (name, risk, kind)."""
    impact: ImpactPlan | None = None
    witness: WitnessPlan | None = None
    approvals: int = 1
    csv: CsvPlan | None = None
    dpop: Literal["required", "allowed", "disabled"] = "allowed"
    """DPoP mode for this tool (its own ``dpop`` or ``oauth.dpop.mode``)."""

    @property
    def writes(self) -> bool:
        return self.kind == "action"

    @property
    def needs_confirmation(self) -> bool:
        """``requiresConfirmation`` on the wire: an action never runs unconfirmed — a reviewer
        approves its draft, or the app's open auto-execute window confirms it — so every action
        says true. The declared ``requires_confirmation: true`` further rules out windows."""
        return confirmation_on_wire(self.kind, self.requires_confirmation)

    @property
    def auto_executable(self) -> bool:
        """An action an open auto-execute window may run without a reviewer."""
        return self.writes and not self.requires_confirmation

    @property
    def uses_cel(self) -> bool:
        """Whether any rule, filter or redaction needs the CEL activation for this tool."""
        return bool(
            self.deny_rules
            or self.invalid_rules
            or self.allow_rules
            or self.redactions
            or self.filter_items
            or self.writes
        )


@dataclass(frozen=True, slots=True)
class AdminCredentialPlan:
    name: str
    roles: frozenset[str]
    token_sha256: str


@dataclass(frozen=True, slots=True)
class WritesPlan:
    """``writes:`` durations, in seconds."""

    preflight_ttl_s: float = 600.0
    draft_ttl_s: float = 86_400.0
    auto_execute_max_s: float = 86_400.0
    idempotency_retention_s: float = 86_400.0
    idempotency_wait_s: float = 2.0
    execution_lease_s: float = 60.0
    approve_drafts_of_revoked_keys: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the server needs, resolved. Swapped atomically on reload, never mutated."""

    config: GatewayConfig
    source: str
    """Path of the ``gateway.yaml`` this plan was compiled from."""
    base_dir: str
    """Directory relative paths (store path) are resolved against."""
    tools: tuple[ToolPlan, ...]
    tools_by_name: Mapping[str, ToolPlan]
    trusted_proxies: tuple[IpNetwork, ...]
    declared_apps: tuple[AppConfig, ...]
    app_policy_defaults: Mapping[str, Any]
    validate_app_policy: InputValidator
    admin_credentials: Mapping[str, AdminCredentialPlan]
    """Keyed by ``token_sha256``."""
    scopes: Mapping[str, str]
    store_path: str
    """Absolute SQLite path (or ``:memory:``)."""
    request_timeout_s: float
    audit_flush_interval_s: float
    runtimes: Mapping[str, BackendRuntime]
    """Backend runtimes by backend name: started when serving begins, closed when it ends."""
    writes: WritesPlan = field(default_factory=WritesPlan)
    rate_limits: AdmissionPlan = field(default_factory=AdmissionPlan)
    """``rate_limits:`` compiled: storage URI, strategy, and the rules split by when they apply."""
    oauth: OAuthPlan = field(default_factory=OAuthPlan)
    """``oauth:`` compiled (disabled by default: opaque keys only)."""
    store: StoreSettings = field(default_factory=StoreSettings)
    """``store:`` compiled: backend, SQLite path or PostgreSQL URL (never in ``repr``) and pool."""

    def action(self, name: str) -> ToolPlan | None:
        """The action tool (one that writes) called ``name``, else None."""
        tool = self.tools_by_name.get(name)
        return tool if tool is not None and tool.writes else None
