"""Fixtures shared by the store tests: every backend, and record builders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from opp.store import MemoryStore, SqliteStore, Store

from .samples import Samples


@pytest.fixture
def samples() -> Samples:
    return Samples()


BACKENDS: dict[str, Callable[[Path], Store]] = {
    "memory": lambda _tmp: MemoryStore(),
    "sqlite": lambda tmp: SqliteStore(str(tmp / "opp.db")),
}


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An opened store of each backend, closed after the test."""
    backend = BACKENDS[request.param](tmp_path)
    await backend.open()
    yield backend
    await backend.close()
