"""``rate_limits:`` → :class:`~opp.admission.plan.AdmissionPlan`: limits parsed, tools and storage checked.

Every rate string goes through ``limits.parse_many`` here, once; a request only counts.
"""

from __future__ import annotations

import importlib.util
import urllib.parse
from collections.abc import Collection

import limits
from limits._storage_scheme import SCHEMES  # the registry storage_from_string reads (not re-exported)

import opp.admission  # noqa: F401 - registers the mmap:// and sqlite:// storage schemes
from opp.admission.plan import DEFAULT_STORAGE, AdmissionPlan, LimitRule, shared_storage_uri
from opp.compile.redis import REDIS_STORAGE
from opp.compile.report import Reporter
from opp.config.diagnostics import did_you_mean
from opp.config.schema import RateLimitRule, RateLimitsConfig
from opp.config.source_map import JsonPath
from opp.store.redis import RedisTarget

__all__ = ["compile_rate_limits"]

_SECTION: JsonPath = ("rate_limits",)
_LIMIT_HINT = "write AMOUNT/GRANULARITY or AMOUNT per N GRANULARITY, e.g. 240/minute or 10 per 2 seconds"
_STORAGE_HINT = (
    "use redis (the redis: section), memory://, mmap:// or sqlite:// (next to the store), "
    "mmap:///ABSOLUTE/PATH, sqlite:///ABSOLUTE/PATH or redis://HOST:PORT"
)
_CLIENT_MODULES = {"redis": "redis", "rediss": "redis", "valkey": "valkey", "memcached": "pymemcache"}
"""The client library each networked scheme (before any ``+variant``) needs, to say so at compile time."""
_COUNTER_ONLY = {"mmap", "sqlite"}
"""Storages that keep counters, not hit logs: no moving window."""


def compile_rate_limits(
    config: RateLimitsConfig,
    tool_names: Collection[str],
    store_path: str,
    report: Reporter,
    redis: RedisTarget | None = None,
    *,
    redis_configured: bool = False,
) -> AdmissionPlan:
    """Compile ``rate_limits`` (diagnostics go to ``report``; the result is only used without any).

    ``redis``: the ``redis:`` section's server (``redis_configured``: the section exists, even if
    it has a diagnostic of its own); ``storage: redis``, or no storage at all, counts there.
    """
    on_redis = config.storage == REDIS_STORAGE or (config.storage is None and redis_configured)
    if on_redis:
        storage = _redis_storage(redis, redis_configured, report)
    else:
        storage = _storage_uri(config, store_path, report)
    compiled = [_rule(index, spec, tool_names, report) for index, spec in enumerate(config.rules)]
    rules = [rule for rule in compiled if rule is not None]
    _check_unique_ids(config.rules, report)
    tool_rules = {name: _rules_of_tool(name, rules) for name in tool_names}
    return AdmissionPlan(
        storage_uri=storage,
        redis=redis if on_redis else None,
        strategy=config.strategy,
        request_rules=tuple(rule for rule in rules if not rule.needs_tool),
        tool_rules={name: found for name, found in tool_rules.items() if found},
    )


def _rules_of_tool(name: str, rules: list[LimitRule]) -> tuple[LimitRule, ...]:
    """The tool rules that count calls of ``name``: those naming it, and those over every tool."""
    return tuple(rule for rule in rules if rule.needs_tool and (not rule.tools or name in rule.tools))


def _rule(index: int, spec: RateLimitRule, tool_names: Collection[str], report: Reporter) -> LimitRule | None:
    path = (*_SECTION, "rules", index)
    ok = True
    for position, name in enumerate(spec.tools):
        if name not in tool_names:
            report.error(
                (*path, "tools", position),
                "ratelimit.unknown_tool",
                f"rate limit '{spec.id}' names tool '{name}', which is not declared",
                did_you_mean(name, tool_names),
            )
            ok = False
    if len(set(spec.per)) != len(spec.per):
        report.error(
            (*path, "per"), "ratelimit.duplicate_dimension", f"rate limit '{spec.id}' repeats a dimension"
        )
        ok = False
    try:
        items = limits.parse_many(spec.limit)
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        report.error(
            (*path, "limit"),
            "ratelimit.bad_limit",
            f"'{spec.limit}' is not one positive rate limit",
            _LIMIT_HINT,
        )
        return None
    return LimitRule(id=spec.id, per=spec.per, item=items[0], tools=frozenset(spec.tools)) if ok else None


def _check_unique_ids(rules: tuple[RateLimitRule, ...], report: Reporter) -> None:
    first: dict[str, int] = {}
    for index, rule in enumerate(rules):
        if rule.id in first:
            line = report.line_of((*_SECTION, "rules", first[rule.id], "id"))
            report.error(
                (*_SECTION, "rules", index, "id"),
                "ratelimit.duplicate_id",
                f"rate limit id '{rule.id}' is declared twice",
                f"first declared at line {line}; each counter needs its own id",
            )
        else:
            first[rule.id] = index


def _redis_storage(redis: RedisTarget | None, configured: bool, report: Reporter) -> str:
    """What to show as the storage of counters kept on the ``redis:`` section's server."""
    if not configured:
        report.error(
            (*_SECTION, "storage"),
            "ratelimit.redis_missing",
            "storage: redis needs a top-level redis: section",
            "add redis: (the URL comes from $OPP_REDIS_URL by default) or name another storage",
        )
    return redis.shown if redis is not None else REDIS_STORAGE


def _storage_uri(config: RateLimitsConfig, store_path: str, report: Reporter) -> str:
    """The storage URI to open, with ``mmap://`` / ``sqlite://`` resolved next to the store; checked."""
    path = (*_SECTION, "storage")
    uri = config.storage or DEFAULT_STORAGE
    scheme = urllib.parse.urlparse(uri).scheme
    if scheme not in SCHEMES or scheme.startswith("async+") or "://" not in uri:
        report.error(
            path, "ratelimit.bad_storage", f"'{uri}' is not a supported rate-limit storage", _STORAGE_HINT
        )
        return uri
    if scheme in _COUNTER_ONLY:
        uri = _file_uri(scheme, uri, store_path, report)
    module = _CLIENT_MODULES.get(scheme.split("+")[0])
    if module is not None and importlib.util.find_spec(module) is None:
        report.error(
            path,
            "ratelimit.storage_dependency",
            f"storage '{uri}' needs the Python package '{module}', which is not installed",
            f"pip install {module}" if module != "redis" else "pip install 'opp[redis]'",
        )
    if scheme in _COUNTER_ONLY and config.strategy == "moving-window":
        report.error(
            (*_SECTION, "strategy"),
            "ratelimit.strategy_unsupported",
            f"the {scheme} storage keeps counters and cannot run the moving-window strategy",
            "use fixed-window or sliding-window-counter, or a redis:// storage",
        )
    return uri


def _file_uri(scheme: str, uri: str, store_path: str, report: Reporter) -> str:
    if uri == f"{scheme}://":
        try:
            return shared_storage_uri(store_path, scheme)
        except ValueError:
            report.error(
                (*_SECTION, "storage"),
                "ratelimit.bad_storage",
                f"{scheme}:// puts the counters next to the store, but the store is in memory",
                f"give a path: {scheme}:///ABSOLUTE/PATH",
            )
            return uri
    parsed = urllib.parse.urlparse(uri)
    if parsed.netloc or not parsed.path.startswith("/"):
        report.error(
            (*_SECTION, "storage"),
            "ratelimit.bad_storage",
            f"'{uri}' is not {scheme}:// or {scheme}:///ABSOLUTE/PATH",
            _STORAGE_HINT,
        )
    return uri
