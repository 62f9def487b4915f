"""``redis:`` compiles into a target for the counters and the replay cache; its URL never shows."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from opp.compile import compile_file
from opp.compile.plan import Plan
from opp.config.diagnostics import ConfigError, Diagnostic
from opp.store.redis import RedisTarget, redacted_url

from .conftest import BASE

SECRET_URL = "redis://:s3cr3t-pa55@cache.internal:6380/2"
NOT_REDIS = "the URL in $OPP_REDIS_URL is not redis:// or rediss://"
KEY_IP = {"id": "per-key-ip", "per": ["key", "ip"], "limit": "240/minute"}


def _compile(tmp_path: Path, environ: dict[str, str], **sections: Any) -> Plan:
    document = copy.deepcopy(BASE)
    document.update(sections)
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return compile_file(path, environ=environ)


def _diagnostics(tmp_path: Path, environ: dict[str, str], **sections: Any) -> list[Diagnostic]:
    with pytest.raises(ConfigError) as caught:
        _compile(tmp_path, environ, **sections)
    return caught.value.diagnostics


def _oauth() -> dict[str, Any]:
    return {"enabled": True, "dev_server": {"enabled": True}}


def test_a_redis_section_carries_counters_and_the_replay_cache_by_default(tmp_path: Path) -> None:
    plan = _compile(
        tmp_path, {"OPP_REDIS_URL": SECRET_URL}, redis={}, rate_limits={"rules": [KEY_IP]}, oauth=_oauth()
    )

    target = plan.rate_limits.redis
    assert target is not None and target.url == SECRET_URL and target.source == "$OPP_REDIS_URL"
    assert target.timeout_s == 0.5
    assert plan.rate_limits.storage_uri == "redis://***@cache.internal:6380/2"
    assert not plan.rate_limits.process_local
    assert plan.oauth.dpop.replay_redis == target
    assert plan.oauth.dpop.replay_storage_uri == "redis://***@cache.internal:6380/2"


def test_the_password_is_in_no_repr(tmp_path: Path) -> None:
    plan = _compile(tmp_path, {"OPP_REDIS_URL": SECRET_URL}, redis={}, rate_limits={"rules": [KEY_IP]})

    assert "s3cr3t" not in repr(plan.rate_limits)
    assert "s3cr3t" not in repr(plan.rate_limits.redis)


def test_the_url_may_come_from_a_file_and_another_variable(tmp_path: Path) -> None:
    (tmp_path / "redis-url").write_text("rediss://cache.internal:6379/0\n", encoding="utf-8")
    from_file = _compile(tmp_path, {}, redis={"url_file": "redis-url", "timeout": "2s"}, rate_limits={})
    from_env = _compile(tmp_path, {"CACHE_URL": "redis://cache:6379"}, redis={"url_env": "CACHE_URL"})

    assert from_file.rate_limits.redis == RedisTarget(
        url="rediss://cache.internal:6379/0", source=f"file {tmp_path / 'redis-url'}", timeout_s=2.0
    )
    assert from_env.rate_limits.redis is not None and from_env.rate_limits.redis.source == "$CACHE_URL"


def test_an_explicit_storage_keeps_its_own_place(tmp_path: Path) -> None:
    plan = _compile(
        tmp_path,
        {"OPP_REDIS_URL": SECRET_URL},
        redis={},
        rate_limits={"storage": "memory://", "rules": [KEY_IP]},
        oauth={**_oauth(), "dpop": {"replay_storage": "memory://"}},
    )

    assert plan.rate_limits.redis is None and plan.rate_limits.storage_uri == "memory://"
    assert plan.oauth.dpop.replay_redis is None and plan.oauth.dpop.replay_storage_uri == "memory://"


def test_a_missing_variable_is_named_without_any_value(tmp_path: Path) -> None:
    found = _diagnostics(tmp_path, {}, redis={}, rate_limits={"rules": [KEY_IP]})

    assert [(d.code, d.message) for d in found] == [
        ("redis.url_missing", "environment variable OPP_REDIS_URL is not set")
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://:s3cr3t@cache:6379", f"{NOT_REDIS} (scheme 'http')"),
        ("s3cr3t", NOT_REDIS),
        ("redis://:s3cr3t@:6379", "the URL in $OPP_REDIS_URL has no valid host and port"),
        ("redis://:s3cr3t@cache:port", "the URL in $OPP_REDIS_URL has no valid host and port"),
    ],
)
def test_a_bad_url_is_refused_without_echoing_it(tmp_path: Path, url: str, message: str) -> None:
    found = _diagnostics(tmp_path, {"OPP_REDIS_URL": url}, redis={})

    assert [(d.code, d.message) for d in found] == [("redis.bad_url", message)]
    assert all("s3cr3t" not in f"{d.message} {d.hint}" for d in found)


def test_an_unreadable_url_file_is_named(tmp_path: Path) -> None:
    found = _diagnostics(tmp_path, {}, redis={"url_file": "missing-url"})

    assert [d.code for d in found] == ["redis.url_unreadable"]
    assert str(tmp_path / "missing-url") in found[0].message


def test_storage_redis_needs_the_section(tmp_path: Path) -> None:
    found = _diagnostics(
        tmp_path,
        {},
        rate_limits={"storage": "redis", "rules": [KEY_IP]},
        oauth={**_oauth(), "dpop": {"replay_storage": "redis"}},
    )

    assert sorted(d.code for d in found) == ["oauth.redis_missing", "ratelimit.redis_missing"]


def test_redacted_url_hides_user_and_password_only() -> None:
    assert redacted_url("redis://user:pw@host:6379/1") == "redis://***@host:6379/1"
    assert redacted_url("rediss://:pw@host") == "rediss://***@host"
    assert redacted_url("redis://host:6379") == "redis://host:6379"
    assert redacted_url("memory://") == "memory://"
