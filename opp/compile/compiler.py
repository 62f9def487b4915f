"""``compile_plan``: ``GatewayConfig`` → :class:`Plan`, or every semantic error at once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from jsonschema import Draft202012Validator

from opp.compile.apps import check_apps, compile_admin_credentials, parse_networks
from opp.compile.backends import Backends, build_backends
from opp.compile.oauth import compile_oauth
from opp.compile.plan import Plan, WritesPlan
from opp.compile.policies import check_unused_policies, index_policies
from opp.compile.rate_limits import compile_rate_limits
from opp.compile.redis import compile_redis, replay_on_redis
from opp.compile.report import Reporter
from opp.compile.routes import check_routes, check_tool_names
from opp.compile.schemas import build_validator, property_defaults, report_schema_problems
from opp.compile.server import check_server
from opp.compile.store import compile_store
from opp.compile.tools import ToolCompiler
from opp.config.diagnostics import ConfigError
from opp.config.durations import parse_duration
from opp.config.schema import AppConfig, GatewayConfig, WritesConfig
from opp.config.source_map import JsonPath, SourceMap
from opp.tools.api import Invoker

__all__ = ["compile_plan"]


def compile_plan(
    config: GatewayConfig,
    source_map: SourceMap,
    *,
    path: str | os.PathLike[str],
    environ: Mapping[str, str] = os.environ,
) -> Plan:
    """Resolve and compile everything the server needs.

    Args:
        config: The loaded config.
        source_map: Positions of ``config``'s values (from :func:`opp.config.loader.load_config`).
        path: The ``gateway.yaml`` the config came from; relative paths resolve against its directory.
        environ: Where ``${VAR}`` in backend headers is looked up.

    Returns:
        The frozen plan (built only when there is no diagnostic).

    Raises:
        ConfigError: With every semantic diagnostic, sorted.
    """
    report = Reporter(source_map)
    base_dir = str(Path(path).resolve().parent)
    policy_schema_ok = report_schema_problems(config.app_policy_schema, ("app_policy_schema",), report)
    policies = index_policies(config.policies, report)
    backends = build_backends(config.backends, base_dir=base_dir, environ=environ, report=report)
    compiler = ToolCompiler(
        config=config,
        report=report,
        policies=policies,
        backends=backends,
        lookups=_resource_lookups(config, backends, report),
        policy_schema_ok=policy_schema_ok,
    )
    tools = [compiler.compile(index, tool) for index, tool in enumerate(config.tools)]
    check_tool_names(config.tools, report)
    check_routes(config.tools, report)
    check_server(config.server, report)
    if policy_schema_ok:
        used = {name for tool in config.tools for name in tool.policies}
        check_unused_policies(policies, used, config.app_policy_schema, report)
    trusted_proxies = parse_networks(config.gateway.trusted_proxies, ("gateway", "trusted_proxies"), report)
    policy_validator = Draft202012Validator(config.app_policy_schema) if policy_schema_ok else None
    check_apps(_declared_apps(config), config.scopes, policy_validator, report)
    admin_credentials = compile_admin_credentials(config.admin, report, environ)
    store_path = _store_path(config, base_dir)
    store = compile_store(config, store_path, str(path), report, environ)
    tool_names = [tool.name for tool in config.tools]
    redis = compile_redis(config.redis, base_dir, report, environ)
    rate_limits = compile_rate_limits(
        config.rate_limits, tool_names, store_path, report, redis, redis_configured=config.redis is not None
    )
    oauth = compile_oauth(config, base_dir, trusted_proxies, report, environ)
    oauth = replay_on_redis(config, oauth, redis, report)
    if report.diagnostics:
        raise ConfigError(report.diagnostics)
    tool_plans = tuple(tool for tool in tools if tool is not None)
    return Plan(
        config=config,
        source=str(path),
        base_dir=base_dir,
        tools=tool_plans,
        tools_by_name={tool.name: tool for tool in tool_plans},
        trusted_proxies=trusted_proxies,
        declared_apps=config.apps,
        app_policy_defaults=property_defaults(config.app_policy_schema),
        validate_app_policy=build_validator(config.app_policy_schema),
        admin_credentials=admin_credentials,
        scopes=dict(config.scopes),
        store_path=store_path,
        store=store,
        request_timeout_s=parse_duration(config.gateway.request_timeout),
        audit_flush_interval_s=parse_duration(config.audit.flush_interval),
        runtimes=dict(backends.runtimes),
        writes=_writes_plan(config.writes),
        rate_limits=rate_limits,
        oauth=oauth,
    )


def _writes_plan(writes: WritesConfig) -> WritesPlan:
    return WritesPlan(
        preflight_ttl_s=parse_duration(writes.preflight_ttl),
        draft_ttl_s=parse_duration(writes.draft_ttl),
        auto_execute_max_s=parse_duration(writes.auto_execute_max),
        idempotency_retention_s=parse_duration(writes.idempotency_retention),
        idempotency_wait_s=parse_duration(writes.idempotency_wait),
        execution_lease_s=parse_duration(writes.execution_lease),
        approve_drafts_of_revoked_keys=writes.approve_drafts_of_revoked_keys,
    )


def _resource_lookups(
    config: GatewayConfig, backends: Backends, report: Reporter
) -> dict[str, Invoker | None]:
    """Resolve each resource type's lookup once; tools share it."""
    return {
        name: backends.resolve(resource.lookup, ("resources", name, "lookup"), report, lookup=True)
        for name, resource in config.resources.items()
    }


def _declared_apps(config: GatewayConfig) -> list[tuple[JsonPath, AppConfig]]:
    apps: list[tuple[JsonPath, AppConfig]] = [(("apps", index), app) for index, app in enumerate(config.apps)]
    if config.bootstrap.bootstrap_app is not None:
        apps.append((("bootstrap", "bootstrap_app"), config.bootstrap.bootstrap_app))
    return apps


def _store_path(config: GatewayConfig, base_dir: str) -> str:
    if config.store.kind == "memory":
        return ":memory:"
    return str(Path(base_dir, config.store.path).resolve())
