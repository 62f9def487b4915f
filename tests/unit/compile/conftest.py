"""Builders for small configs: a valid base document that each test breaks in one place."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from opp.compile import compile_file
from opp.compile.plan import Plan
from opp.config.diagnostics import ConfigError, Diagnostic

TOKEN_A = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
TOKEN_B = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

BASE: dict[str, Any] = {
    "version": 1,
    "store": {"kind": "memory"},
    "scopes": {"ledger.read": "Read ledgers.", "transaction.read": "Read transactions."},
    "app_policy_schema": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"max_days": {"type": "integer", "minimum": 1, "default": 30}},
    },
    "backends": {"demo": {"kind": "python", "module": "opp.demo.ledger"}},
    "resources": {
        "ledger": {
            "lookup": {"backend": "demo", "call": "get_ledger"},
            "fields": {"id": "string", "org_id": "string"},
        }
    },
    "policies": [{"id": "small-pages", "effect": "deny", "when": "args.pageSize > 100"}],
    "tools": [
        {
            "name": "ledger.list",
            "description": "List ledgers.",
            "required_scopes": ["ledger.read"],
            "http": {"method": "GET", "path": "/ledgers"},
            "backend": {"backend": "demo", "call": "list_ledgers"},
        },
        {
            "name": "transaction.list",
            "description": "List transactions.",
            "required_scopes": ["transaction.read"],
            "http": {"method": "GET", "path": "/transactions"},
            "input_schema": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ledgerId"],
                "properties": {
                    "ledgerId": {"type": "string"},
                    "pageSize": {"type": "integer", "default": 50},
                },
            },
            "policies": ["small-pages"],
            "tenant_boundary": "resource",
            "resource": {"type": "ledger", "id_arg": "ledgerId"},
            "backend": {"backend": "demo", "call": "list_transactions"},
        },
    ],
    "apps": [{"id": "app_one", "name": "One", "org_id": "org_1", "scopes": ["ledger.read"]}],
}

Edit = Callable[[dict[str, Any]], None]


def base() -> dict[str, Any]:
    """A deep copy of the valid base config."""
    return copy.deepcopy(BASE)


@pytest.fixture
def compile_config(tmp_path: Path) -> Callable[[dict[str, Any]], Plan]:
    """Write a config document to gateway.yaml and compile it."""

    def run(document: dict[str, Any]) -> Plan:
        path = tmp_path / "gateway.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return compile_file(path, environ={})

    return run


@pytest.fixture
def diagnostics(compile_config: Callable[[dict[str, Any]], Plan]) -> Callable[[Edit], list[Diagnostic]]:
    """Apply an edit to the base config, compile, and return the diagnostics (which must exist)."""

    def run(edit: Edit) -> list[Diagnostic]:
        document = base()
        edit(document)
        with pytest.raises(ConfigError) as caught:
            compile_config(document)
        return caught.value.diagnostics

    return run
