"""``opp migrate [FILE] [--check]`` on SQLite and memory.

PostgreSQL: tests/integration/test_postgres_serve.py and tests/unit/store/test_postgres_store.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from opp.cli.main import main
from opp.store.migrations import LATEST_VERSION
from tests.support.servers import demo_config

ALL_VERSIONS = ", ".join(str(version) for version in range(1, LATEST_VERSION + 1))


def _sqlite_config(tmp_path: Path) -> Path:
    return demo_config(tmp_path, {"store": {"kind": "sqlite", "path": "data/opp.db"}})


def test_check_on_a_missing_file_reports_everything_pending_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _sqlite_config(tmp_path)
    assert main(["migrate", str(config), "--check"]) == 1
    out = capsys.readouterr().out
    assert out == (
        f"schema at version 0, this opp needs {LATEST_VERSION}: pending {ALL_VERSIONS}; "
        f"run: opp migrate {config}\n"
    )
    assert not (tmp_path / "data").exists()


def test_migrate_applies_then_reports_up_to_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _sqlite_config(tmp_path)
    assert main(["migrate", str(config)]) == 0
    assert (
        capsys.readouterr().out == f"applied migrations {ALL_VERSIONS}: schema at version {LATEST_VERSION}\n"
    )
    with sqlite3.connect(tmp_path / "data" / "opp.db") as connection:
        versions = [row[0] for row in connection.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == list(range(1, LATEST_VERSION + 1))
    assert main(["migrate", str(config)]) == 0
    assert main(["migrate", str(config), "--check"]) == 0
    assert capsys.readouterr().out == f"schema at version {LATEST_VERSION} (up to date)\n" * 2


def test_check_names_only_the_pending_migrations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _sqlite_config(tmp_path)
    assert main(["migrate", str(config)]) == 0
    with sqlite3.connect(tmp_path / "data" / "opp.db") as connection:
        connection.execute("DELETE FROM schema_migrations WHERE version = ?", (LATEST_VERSION,))
    capsys.readouterr()
    assert main(["migrate", str(config), "--check"]) == 1
    assert f"pending {LATEST_VERSION};" in capsys.readouterr().out


def test_a_newer_schema_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _sqlite_config(tmp_path)
    assert main(["migrate", str(config)]) == 0
    with sqlite3.connect(tmp_path / "data" / "opp.db") as connection:
        connection.execute(
            "INSERT INTO schema_migrations VALUES (?, 'future', '2030-01-01T00:00:00.000000Z')",
            (LATEST_VERSION + 1,),
        )
    assert main(["migrate", str(config), "--check"]) == 1
    assert "newer than this opp supports" in capsys.readouterr().err


def test_memory_has_nothing_to_migrate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_config(tmp_path, {"store": {"kind": "memory"}})
    assert main(["migrate", str(config), "--check"]) == 0
    assert capsys.readouterr().out == "store.kind is memory: nothing to migrate\n"


def test_postgres_without_its_url_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPP_DATABASE_URL", raising=False)
    config = demo_config(tmp_path, {"store": {"kind": "postgres"}})
    assert main(["migrate", str(config)]) == 1
    assert "store.url_missing: environment variable OPP_DATABASE_URL is not set" in capsys.readouterr().err
