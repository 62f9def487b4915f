"""``store:`` with ``kind: postgres``: where the URL comes from, what ``opp check`` reports, and
that the URL (a secret) never appears in a diagnostic or in the Plan's ``repr``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from opp.compile import compile_file
from opp.compile.plan import Plan
from opp.config.diagnostics import ConfigError, Diagnostic
from opp.store.postgres import PoolSettings
from tests.unit.compile.conftest import base

SECRET = "pw-of-the-test-4711"
URL = f"postgresql://opp:{SECRET}@db.internal:5432/opp"


def _compile(tmp_path: Path, environ: dict[str, str], **store: Any) -> Plan:
    document = base()
    document["store"] = {"kind": "postgres", **store}
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return compile_file(path, environ=environ)


def _diagnostics(tmp_path: Path, environ: dict[str, str], **store: Any) -> list[Diagnostic]:
    with pytest.raises(ConfigError) as caught:
        _compile(tmp_path, environ, **store)
    return caught.value.diagnostics


def test_the_url_comes_from_opp_database_url_by_default(tmp_path: Path) -> None:
    plan = _compile(tmp_path, {"OPP_DATABASE_URL": URL})
    assert plan.store.kind == "postgres"
    assert plan.store.url == URL
    assert plan.store.pool == PoolSettings(min_size=1, max_size=10, timeout_s=5.0)
    assert not plan.store.migrates_on_open
    assert SECRET not in repr(plan.store) and SECRET not in repr(plan)


def test_another_variable_and_pool_settings(tmp_path: Path) -> None:
    plan = _compile(
        tmp_path, {"DB": URL}, url_env="DB", pool_min_size=0, pool_max_size=3, pool_timeout="250ms"
    )
    assert plan.store.url == URL
    assert plan.store.pool == PoolSettings(min_size=0, max_size=3, timeout_s=0.25)


def test_url_file_is_read_relative_to_the_config_and_stripped(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "database-url").write_text(URL + "\n", encoding="utf-8")
    plan = _compile(
        tmp_path, {"OPP_DATABASE_URL": "postgresql://ignored/db"}, url_file="secrets/database-url"
    )
    assert plan.store.url == URL


def test_a_missing_variable_is_reported_by_name(tmp_path: Path) -> None:
    [diagnostic] = _diagnostics(tmp_path, {})
    assert diagnostic.code == "store.url_missing"
    assert "OPP_DATABASE_URL" in diagnostic.message


def test_an_unreadable_url_file_is_reported(tmp_path: Path) -> None:
    [diagnostic] = _diagnostics(tmp_path, {}, url_file="nowhere/url")
    assert diagnostic.code == "store.url_unreadable"
    assert "nowhere/url" in diagnostic.message


def test_an_invalid_url_is_reported_without_echoing_it(tmp_path: Path) -> None:
    bad = f"postgresql://opp:{SECRET}@db/opp?not_a_libpq_option=1"
    [diagnostic] = _diagnostics(tmp_path, {"OPP_DATABASE_URL": bad})
    assert diagnostic.code == "store.url_invalid"
    assert SECRET not in diagnostic.format() and "not_a_libpq_option" not in diagnostic.format()


def test_pool_min_above_max_is_reported(tmp_path: Path) -> None:
    [diagnostic] = _diagnostics(tmp_path, {"OPP_DATABASE_URL": URL}, pool_min_size=5, pool_max_size=2)
    assert diagnostic.code == "store.pool_sizes"


def test_a_bad_variable_name_is_a_schema_error(tmp_path: Path) -> None:
    diagnostics = _diagnostics(tmp_path, {}, url_env="not a name")
    assert diagnostics and all(SECRET not in d.format() for d in diagnostics)


def test_sqlite_needs_no_url(tmp_path: Path) -> None:
    document = base()
    document["store"] = {"kind": "sqlite", "path": "data/opp.db"}
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    plan = compile_file(path, environ={})
    assert plan.store.kind == "sqlite" and plan.store.url is None and plan.store.migrates_on_open
    assert plan.store.path == str(tmp_path / "data" / "opp.db")
