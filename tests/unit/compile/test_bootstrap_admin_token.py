"""``admin.bootstrap_token_env``: an admin token handed to the process by its environment (a Secret)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import yaml

from opp.auth.tokens import hash_token
from opp.compile import compile_file
from opp.compile.plan import Plan
from opp.config.diagnostics import ConfigError, Diagnostic
from tests.unit.compile.conftest import base

VARIABLE = "OPP_ADMIN_BOOTSTRAP_TOKEN"


def _compile(tmp_path: Path, environ: dict[str, str], **admin: object) -> Plan:
    document = base()
    document["admin"] = {"bootstrap_token_env": VARIABLE, **admin}
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return compile_file(path, environ=environ)


def _diagnostics(tmp_path: Path, environ: dict[str, str], **admin: object) -> list[Diagnostic]:
    with pytest.raises(ConfigError) as caught:
        _compile(tmp_path, environ, **admin)
    return caught.value.diagnostics


def _token() -> str:
    return "opa_" + secrets.token_urlsafe(32)


def test_the_token_becomes_an_admin_credential(tmp_path: Path) -> None:
    token = _token()
    plan = _compile(tmp_path, {VARIABLE: token})
    credential = plan.admin_credentials[hash_token(token)]
    assert (credential.name, credential.roles) == ("bootstrap", frozenset({"admin"}))
    assert token not in repr(plan.admin_credentials)


def test_an_unset_variable_is_a_compile_error(tmp_path: Path) -> None:
    [found] = _diagnostics(tmp_path, {})
    assert found.code == "admin.bootstrap_token_missing"
    assert VARIABLE in found.message
    [empty] = _diagnostics(tmp_path, {VARIABLE: "  "})
    assert empty.code == "admin.bootstrap_token_missing"


def test_a_malformed_token_is_refused_without_echoing_it(tmp_path: Path) -> None:
    [found] = _diagnostics(tmp_path, {VARIABLE: "op_" + secrets.token_urlsafe(32)})  # an agent key
    assert found.code == "admin.bootstrap_token_malformed"
    [other] = _diagnostics(tmp_path, {VARIABLE: "hunter2-very-secret"})
    assert other.code == "admin.bootstrap_token_malformed"
    assert "hunter2" not in f"{other.message} {other.hint}"


def test_the_same_token_declared_twice_is_a_duplicate(tmp_path: Path) -> None:
    token = _token()
    declared = [{"name": "ops", "roles": ["auditor"], "token_sha256": hash_token(token)}]
    [found] = _diagnostics(tmp_path, {VARIABLE: token}, credentials=declared)
    assert found.code == "admin.duplicate_token"


def test_a_bad_variable_name_is_a_schema_error(tmp_path: Path) -> None:
    document = base()
    document["admin"] = {"bootstrap_token_env": "not a name"}
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ConfigError):
        compile_file(path, environ={})
