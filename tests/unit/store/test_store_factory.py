"""``open_store`` builds each configured backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from opp.store import MemoryStore, SqliteStore, open_store
from opp.store.postgres import PostgresStore

from .samples import Samples


async def test_memory_kind_ignores_the_path(tmp_path: Path) -> None:
    store = open_store("memory", str(tmp_path / "unused" / "opp.db"))
    assert isinstance(store, MemoryStore)
    assert not (tmp_path / "unused").exists()


async def test_sqlite_kind_creates_parent_directories(tmp_path: Path, samples: Samples) -> None:
    path = tmp_path / "state" / "nested" / "opp.db"
    store = open_store("sqlite", str(path))
    assert isinstance(store, SqliteStore)
    await store.open()
    app = samples.app()
    await store.apps.create(app)
    await store.close()
    assert path.is_file()

    reopened = open_store("sqlite", str(path))
    await reopened.open()
    assert await reopened.apps.get(app.id) == app
    await reopened.close()


async def test_sqlite_in_memory_path_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite", ":memory:")
    await store.open()
    await store.ping()
    await store.close()
    assert list(tmp_path.iterdir()) == []


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown store kind 'mysql'"):
        open_store("mysql", "x")


def test_postgres_without_a_url_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a URL"):
        open_store("postgres", "x")


def test_postgres_with_a_url_builds_a_postgres_store_that_hides_it() -> None:
    store = open_store("postgres", "unused", url="postgresql://u:hidden-pw@127.0.0.1/db")
    assert isinstance(store, PostgresStore)
    assert "hidden-pw" not in repr(store)
