"""Stores of every backend and an event builder for the audit tests."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from opp.store import AuditEvent, MemoryStore, SqliteStore, Store

T0 = dt.datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)

_BACKENDS: dict[str, Callable[[Path], Store]] = {
    "memory": lambda _tmp: MemoryStore(),
    "sqlite": lambda tmp: SqliteStore(str(tmp / "opp.db")),
}

_numbers = itertools.count(1)


def make_event(**fields: Any) -> AuditEvent:
    n = next(_numbers)
    values: dict[str, Any] = {
        "id": f"aud_{n}",
        "action": "agent.ledger.list.read",
        "status": "success",
        "code": "common.success",
        "created_at": T0 + dt.timedelta(seconds=n),
        "app_id": "app_1",
        "details": {"args": {"page": n}},
    }
    return AuditEvent(**(values | fields))


@pytest.fixture(params=sorted(_BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend = _BACKENDS[request.param](tmp_path)
    await backend.open()
    yield backend
    await backend.close()
