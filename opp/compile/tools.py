"""Tools: check every cross-reference of one tool and build its :class:`ToolPlan`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opp.compile.actions import ActionCompiler, compile_csv
from opp.compile.backends import Backends
from opp.compile.plan import (
    CompiledRule,
    ImpactPlan,
    ResourcePlan,
    ToolPlan,
    WitnessPlan,
    confirmation_on_wire,
)
from opp.compile.policies import DeclaredPolicy, tool_rules
from opp.compile.redaction import compile_items_filter, compile_redactions
from opp.compile.report import Reporter
from opp.compile.schemas import build_validator, query_types, report_schema_problems
from opp.compile.scopes import check_scopes
from opp.config.diagnostics import did_you_mean
from opp.config.schema import GatewayConfig, ToolConfig
from opp.config.source_map import JsonPath
from opp.policy import PolicyEnvironment, build_environment
from opp.tools.api import Invoker

__all__ = ["AGENT_PREFIX", "ToolCompiler", "manifest_entry"]

AGENT_PREFIX = "/api/agent/v1"


@dataclass(frozen=True, slots=True)
class ToolCompiler:
    """Compiles tools against the config-wide context (policies, backends, resource lookups)."""

    config: GatewayConfig
    report: Reporter
    policies: Mapping[str, DeclaredPolicy]
    backends: Backends
    lookups: Mapping[str, Invoker | None]
    """Resource type → its resolved lookup (None when the lookup failed to resolve)."""
    policy_schema_ok: bool

    def compile(self, index: int, tool: ToolConfig) -> ToolPlan | None:
        """The tool's plan, or None after reporting every problem found."""
        path: JsonPath = ("tools", index)
        before = self.report.count
        check_scopes(tool.required_scopes, (*path, "required_scopes"), self.config.scopes, self.report)
        schema_ok = report_schema_problems(
            tool.input_schema, (*path, "input_schema"), self.report, require_object=True
        )
        if tool.output_schema is not None:
            report_schema_problems(tool.output_schema, (*path, "output_schema"), self.report)
        resource = self._resource(path, tool)
        env = self._environment(tool) if schema_ok and self.policy_schema_ok else None
        engine = self.config.policy.engine
        rules = tool_rules(index, tool.policies, self.policies, env, self.report, engine)
        redactions = compile_redactions(path, tool.redact, env, self.report, engine)
        item_env = self._environment(tool, item=True) if env is not None else None
        items = (
            compile_items_filter(path, tool.filter_items, item_env, self.report, engine)
            if tool.filter_items
            else None
        )
        backend = self._backend(path, tool)
        impact, witness = self._action_parts(path, tool)
        csv = compile_csv(path, tool.csv, self.report) if tool.csv is not None else None
        if self.report.count != before or rules is None or redactions is None or backend is None:
            return None
        if tool.filter_items is not None and items is None:
            return None
        return ToolPlan(
            name=tool.name,
            description=tool.description,
            kind=tool.kind,
            risk=tool.risk,
            required_scopes=frozenset(tool.required_scopes),
            requires_confirmation=tool.requires_confirmation,
            http_method=tool.http.method if tool.http else None,
            http_path=tool.http.path if tool.http else None,
            input_schema=tool.input_schema,
            output_schema=tool.output_schema,
            validate_input=build_validator(tool.input_schema),
            query_types=query_types(tool.input_schema),
            deny_rules=_effect(rules, "deny"),
            invalid_rules=_effect(rules, "invalid"),
            allow_rules=_effect(rules, "allow"),
            tenant_boundary=tool.tenant_boundary,
            resource=resource,
            redactions=tuple(redactions),
            filter_items=items,
            backend=backend,
            manifest_entry=manifest_entry(tool),
            audit_action=f"agent.{tool.name}.read" if tool.kind == "read" else "agent.action.execute",
            cel_tool={"name": tool.name, "risk": tool.risk, "kind": tool.kind},
            impact=impact,
            witness=witness,
            approvals=tool.approvals,
            csv=csv,
            dpop=tool.dpop or self.config.oauth.dpop.mode,
        )

    def _action_parts(self, path: JsonPath, tool: ToolConfig) -> tuple[ImpactPlan | None, WitnessPlan | None]:
        """Impact and witness of an action tool; a read tool may declare neither."""
        declared = self.config.resources.get(tool.resource.type) if tool.resource else None
        actions = ActionCompiler(
            path=path,
            tool=tool,
            resource_fields=declared.fields if declared is not None else None,
            backends=self.backends,
            report=self.report,
        )
        if tool.kind == "read":
            actions.read_only_options()
            return None, None
        return actions.impact(), actions.witness()

    def _environment(self, tool: ToolConfig, *, item: bool = False) -> PolicyEnvironment:
        resource = self.config.resources.get(tool.resource.type) if tool.resource else None
        return build_environment(
            app_policy_schema=self.config.app_policy_schema,
            input_schema=tool.input_schema,
            resource_fields=resource.fields if resource is not None else None,
            item=item,
        )

    def _resource(self, path: JsonPath, tool: ToolConfig) -> ResourcePlan | None:
        ref = tool.resource
        if ref is None:
            if tool.tenant_boundary == "resource":
                self.report.error(
                    (*path, "tenant_boundary"),
                    "tool.tenant_lookup_missing",
                    f"tool '{tool.name}' has tenant_boundary: resource but no resource to look up",
                    "add resource: {type: TYPE, id_arg: ARG} naming a resources: entry",
                )
            return None
        declared = self.config.resources.get(ref.type)
        if declared is None:
            hint = did_you_mean(ref.type, self.config.resources) or "declare it under resources:"
            self.report.error(
                (*path, "resource", "type"),
                "resource.unknown_type",
                f"resource type '{ref.type}' is not declared",
                hint,
            )
        properties = tool.input_schema.get("properties")
        names = list(properties) if isinstance(properties, Mapping) else []
        checked: list[tuple[JsonPath, str]] = [((*path, "resource", "id_arg"), ref.id_arg)]
        checked += [
            ((*path, "resource", "id_arg_aliases", n), alias) for n, alias in enumerate(ref.id_arg_aliases)
        ]
        for where, arg in checked:
            if arg not in names:
                self.report.error(
                    where,
                    "tool.resource_arg_unknown",
                    f"input field '{arg}' (resource id) is not a property of the tool's input_schema",
                    did_you_mean(arg, names) or "name an input property that carries the resource id",
                )
        lookup = self.lookups.get(ref.type)
        if declared is None or lookup is None:
            return None
        return ResourcePlan(
            type=ref.type,
            id_arg=ref.id_arg,
            tenant_field=declared.tenant_field,
            lookup=lookup,
            id_arg_aliases=ref.id_arg_aliases,
        )

    def _backend(self, path: JsonPath, tool: ToolConfig) -> Invoker | None:
        if tool.backend is None:
            self.report.error(
                path,
                "tool.backend_missing",
                f"tool '{tool.name}' has no backend",
                "add backend: {backend: NAME, call: FUNCTION} or backend: {function: 'module:function'}",
            )
            return None
        return self.backends.resolve(tool.backend, (*path, "backend"), self.report)


def manifest_entry(tool: ToolConfig) -> dict[str, Any]:
    """The tool as the manifest lists it (camelCase wire names), built once."""
    entry: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "kind": tool.kind,
        "requiredScopes": list(tool.required_scopes),
        "risk": tool.risk,
        "requiresConfirmation": confirmation_on_wire(tool.kind, tool.requires_confirmation),
        "inputSchema": tool.input_schema,
    }
    if tool.kind == "action":
        entry["autoExecutable"] = not tool.requires_confirmation
    if tool.output_schema is not None:
        entry["outputSchema"] = tool.output_schema
    if tool.http is not None:
        entry["http"] = {"method": tool.http.method, "path": AGENT_PREFIX + tool.http.path}
    return entry


def _effect(rules: list[CompiledRule], effect: str) -> tuple[CompiledRule, ...]:
    return tuple(rule for rule in rules if rule.effect == effect)
