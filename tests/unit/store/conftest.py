"""Fixtures shared by the store tests: every backend, and record builders.

The ``store`` fixture runs each contract test on memory, SQLite and PostgreSQL (a fresh, migrated
database on the session's throwaway server, see :mod:`tests.support.postgres`; skipped when no
PostgreSQL is installed, failed with ``OPP_REQUIRE_INTEROP=1``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from opp.store import MemoryStore, SqliteStore, Store
from opp.store.postgres import PostgresStore
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401

from .samples import Samples


@pytest.fixture
def samples() -> Samples:
    return Samples()


async def _postgres(request: pytest.FixtureRequest) -> Store:
    store = PostgresStore(request.getfixturevalue("postgres_url"))
    await store.migrate()
    return store


async def _memory(_request: pytest.FixtureRequest) -> Store:
    return MemoryStore()


async def _sqlite(request: pytest.FixtureRequest) -> Store:
    tmp: Path = request.getfixturevalue("tmp_path")
    return SqliteStore(str(tmp / "opp.db"))


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Awaitable[Store]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgres": _postgres,
}


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """An opened store of each backend, closed after the test."""
    backend = await BACKENDS[request.param](request)
    await backend.open()
    yield backend
    await backend.close()
