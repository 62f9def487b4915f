"""``rate_limits:`` compiles into the Plan, or fails with positioned ``ratelimit.*`` diagnostics."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest

from opp.compile.plan import Plan
from opp.config.diagnostics import Diagnostic

from .conftest import Document, with_limits

Compile = Callable[[Document], Plan]
Diagnose = Callable[[Document], list[Diagnostic]]

KEY_IP = {"id": "per-key-ip", "per": ["key", "ip"], "limit": "240/minute"}


def codes(found: list[Diagnostic]) -> list[str]:
    return [d.code for d in found]


def test_rules_are_parsed_once_and_split_by_when_they_apply(compile_config: Compile, tmp_path: Path) -> None:
    plan = compile_config(
        with_limits(
            rules=[
                KEY_IP,
                {"id": "tenant", "per": ["tenant"], "limit": "1000 per 1 hour"},
                {"id": "lists", "per": ["key"], "limit": "5/second", "tools": ["ledger.list"]},
                {"id": "each-tool", "per": ["tool", "app"], "limit": "100/minute"},
            ]
        )
    )

    limits = plan.rate_limits
    assert limits.storage_uri == "memory://"
    assert limits.strategy == "fixed-window"
    assert [rule.id for rule in limits.request_rules] == ["per-key-ip", "tenant"]
    assert limits.request_rules[0].item.amount == 240
    assert limits.request_rules[0].window_s == 60
    assert limits.request_rules[1].window_s == 3600
    assert [rule.id for rule in limits.tool_rules["ledger.list"]] == ["lists", "each-tool"]
    assert [rule.id for rule in limits.tool_rules["ledger.get"]] == ["each-tool"]


def test_no_section_means_no_limits(compile_config: Compile) -> None:
    plan = compile_config(with_limits())

    assert not plan.rate_limits.enabled
    assert plan.rate_limits.tool_rules == {}


@pytest.mark.parametrize(("scheme", "suffix"), [("mmap", "counters"), ("sqlite", "sqlite3")])
def test_a_file_storage_without_a_path_goes_next_to_the_store(
    compile_config: Compile, tmp_path: Path, scheme: str, suffix: str
) -> None:
    plan = compile_config(with_limits(storage=f"{scheme}://", rules=[KEY_IP]))

    store = tmp_path / "state" / "opp.db"
    assert plan.rate_limits.storage_uri == f"{scheme}:///{store}-ratelimits.{suffix}"


def test_explicit_file_and_redis_storages_are_accepted(compile_config: Compile, tmp_path: Path) -> None:
    mapped = compile_config(with_limits(storage=f"mmap:///{tmp_path}/counters", rules=[KEY_IP]))
    sqlite = compile_config(with_limits(storage=f"sqlite:///{tmp_path}/counters.db", rules=[KEY_IP]))
    pytest.importorskip("redis")
    redis = compile_config(
        with_limits(storage="redis://127.0.0.1:6379/0", strategy="moving-window", rules=[KEY_IP])
    )

    assert mapped.rate_limits.storage_uri == f"mmap:///{tmp_path}/counters"
    assert sqlite.rate_limits.storage_uri == f"sqlite:///{tmp_path}/counters.db"
    assert redis.rate_limits.storage_uri == "redis://127.0.0.1:6379/0"
    assert redis.rate_limits.strategy == "moving-window"


@pytest.mark.parametrize("limit", ["240/fortnight", "lots", "0/minute", "1/second;5/minute"])
def test_bad_limit(diagnostics: Diagnose, limit: str, tmp_path: Path) -> None:
    found = diagnostics(with_limits(rules=[{**KEY_IP, "limit": limit}]))

    assert codes(found) == ["ratelimit.bad_limit"]
    assert found[0].message == f"'{limit}' is not one positive rate limit"
    assert found[0].hint is not None and "240/minute" in found[0].hint
    text = (tmp_path / "gateway.yaml").read_text().splitlines()
    assert "limit:" in text[found[0].line - 1]


def test_unknown_tool_suggests_the_closest(diagnostics: Diagnose) -> None:
    found = diagnostics(with_limits(rules=[{**KEY_IP, "tools": ["ledger.lists"]}]))

    assert codes(found) == ["ratelimit.unknown_tool"]
    assert found[0].message == "rate limit 'per-key-ip' names tool 'ledger.lists', which is not declared"
    assert found[0].hint == "did you mean 'ledger.list'?"


def test_duplicate_id_points_at_the_first(diagnostics: Diagnose) -> None:
    found = diagnostics(with_limits(rules=[KEY_IP, {**KEY_IP, "limit": "10/second"}]))

    assert codes(found) == ["ratelimit.duplicate_id"]
    assert found[0].hint is not None and found[0].hint.startswith("first declared at line ")


def test_duplicate_dimension(diagnostics: Diagnose) -> None:
    found = diagnostics(with_limits(rules=[{**KEY_IP, "per": ["key", "key"]}]))

    assert codes(found) == ["ratelimit.duplicate_dimension"]


@pytest.mark.parametrize(
    "storage", ["nosuch://x", "async+memory://", "sqlite://relative.db", "mmap://relative", "memory"]
)
def test_bad_storage(diagnostics: Diagnose, storage: str) -> None:
    found = diagnostics(with_limits(storage=storage, rules=[KEY_IP]))

    assert codes(found) == ["ratelimit.bad_storage"]


@pytest.mark.parametrize("storage", ["mmap://", "sqlite://"])
def test_a_file_next_to_a_memory_store_is_refused(diagnostics: Diagnose, storage: str) -> None:
    document = with_limits(storage=storage, rules=[KEY_IP])
    document["store"] = {"kind": "memory"}

    found = diagnostics(document)

    assert codes(found) == ["ratelimit.bad_storage"]
    assert "store is in memory" in found[0].message


def test_storage_whose_client_library_is_missing(diagnostics: Diagnose) -> None:
    if importlib.util.find_spec("pymemcache") is not None:
        pytest.skip("pymemcache is installed here")
    found = diagnostics(with_limits(storage="memcached://127.0.0.1:11211", rules=[KEY_IP]))

    assert codes(found) == ["ratelimit.storage_dependency"]
    assert found[0].hint == "pip install pymemcache"


@pytest.mark.parametrize("storage", ["mmap://", "sqlite://"])
def test_moving_window_needs_a_storage_that_logs_hits(diagnostics: Diagnose, storage: str) -> None:
    found = diagnostics(with_limits(storage=storage, strategy="moving-window", rules=[KEY_IP]))

    assert codes(found) == ["ratelimit.strategy_unsupported"]


def test_structure_errors_come_from_the_schema(diagnostics: Diagnose) -> None:
    found = diagnostics(with_limits(rules=[{**KEY_IP, "per": ["user"]}]))

    assert len(found) == 1
    assert "per" in found[0].message
