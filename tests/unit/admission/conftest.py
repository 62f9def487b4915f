"""Small configs for the rate-limit compile tests, and principals for the limiter tests."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from opp.auth.principal import Principal
from opp.compile import compile_file
from opp.compile.plan import Plan
from opp.config.diagnostics import ConfigError, Diagnostic
from opp.store.records import AppRecord

BASE: dict[str, Any] = {
    "version": 1,
    "store": {"kind": "sqlite", "path": "state/opp.db"},
    "scopes": {"ledger.read": "Read ledgers."},
    "backends": {"demo": {"kind": "python", "module": "opp.demo.ledger"}},
    "tools": [
        {
            "name": "ledger.list",
            "description": "List ledgers.",
            "required_scopes": ["ledger.read"],
            "http": {"method": "GET", "path": "/ledgers"},
            "backend": {"backend": "demo", "call": "list_ledgers"},
        },
        {
            "name": "ledger.get",
            "description": "One ledger.",
            "required_scopes": ["ledger.read"],
            "http": {"method": "GET", "path": "/ledger"},
            "backend": {"backend": "demo", "call": "get_ledger"},
        },
    ],
}

Document = dict[str, Any]


def with_limits(**rate_limits: Any) -> Document:
    """The base config with this ``rate_limits`` section."""
    document = copy.deepcopy(BASE)
    document["rate_limits"] = rate_limits
    return document


@pytest.fixture
def compile_config(tmp_path: Path) -> Callable[[Document], Plan]:
    def run(document: Document) -> Plan:
        path = tmp_path / "gateway.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return compile_file(path, environ={})

    return run


@pytest.fixture
def diagnostics(compile_config: Callable[[Document], Plan]) -> Callable[[Document], list[Diagnostic]]:
    def run(document: Document) -> list[Diagnostic]:
        with pytest.raises(ConfigError) as caught:
            compile_config(document)
        return caught.value.diagnostics

    return run


EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def principal(sub: str = "svc", app: str = "app_one", tenant: str | None = "org_1") -> Principal:
    """A key-less principal (the ``key`` dimension falls back to ``sub:<sub>``)."""
    record = AppRecord(id=app, name=app, scope="workspace", org_id=tenant, created_at=EPOCH, updated_at=EPOCH)
    return Principal(
        app=record,
        key=None,
        actor_user_id=sub,
        tenant=tenant,
        scopes=frozenset(),
        sub=sub,
        client_id=app,
        claims={},
    )
