"""``opp serve`` and ``opp token`` as an operator runs them: real processes, real sockets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.admin import AdminPlane
from tests.support.servers import RunningServer, demo_config, free_port, run_cli, running_server

LEDGERS = "/api/agent/v1/ledgers"
TOKEN_LINE = re.compile(r"^op_[A-Za-z0-9_-]{43}\n$")
WARM_UP = 20  # enough requests that both workers have answered with high probability


def _ledgers(server: RunningServer, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(f"{server.base_url}{LEDGERS}", headers=headers, timeout=10.0)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"store": {"kind": "sqlite", "pth": ".opp/opp.db"}},
            r"gateway\.yaml:\d+:\d+: config\.unknown_field: unknown field 'pth' .*did you mean 'path'",
        ),
        (
            {"gateway": {"trusted_proxies": ["not-a-cidr"]}},
            r"gateway\.yaml:\d+:\d+: network\.bad_cidr: 'not-a-cidr'",
        ),
    ],
)
def test_a_broken_config_exits_1_with_diagnostics(
    tmp_path: Path, overrides: dict[str, Any], expected: str
) -> None:
    config = demo_config(tmp_path, overrides)
    result = run_cli("serve", str(config), "--host", "127.0.0.1", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert re.search(expected, result.stderr), result.stderr
    assert result.stderr.rstrip().endswith("not starting.")
    assert not (tmp_path / ".opp").exists(), "nothing is created for a config that does not compile"


def test_the_bootstrap_hint_is_printed_on_first_start_only(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    with running_server(config) as first:
        assert "Created app app_demo" in first.stderr()
        assert f"opp token --app app_demo {config}" in first.stderr()
    with running_server(config) as second:
        assert "Created app" not in second.stderr()
        assert "serving" in second.stderr()


def test_opp_token_prints_only_the_token(demo_server: RunningServer) -> None:
    result = run_cli("token", str(demo_server.config), cwd=demo_server.config.parent)
    assert result.returncode == 0
    assert TOKEN_LINE.match(result.stdout), repr(result.stdout)


def test_the_token_lists_the_demo_ledgers(demo_server: RunningServer) -> None:
    response = _ledgers(demo_server, demo_server.token())
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["code"] == "common.success"
    assert [item["id"] for item in body["data"]["items"]] == ["ledger_main", "ledger_ops"]


@pytest.mark.parametrize("token", [None, "op_unknown"])
def test_no_or_a_wrong_token_gets_a_401_envelope(demo_server: RunningServer, token: str | None) -> None:
    response = _ledgers(demo_server, token)
    assert response.status_code == 401
    body = response.json()
    assert body["ok"] is False and body["code"] == "agent.token_invalid" and body["message"]
    assert "data" not in body


def test_a_revoked_key_is_refused_by_every_worker(demo_server: RunningServer) -> None:
    admin = AdminPlane(demo_server.base_url, demo_server.admin_token())
    app = admin.create_app("revocation-key", scopes=("ledger.read",))
    assert all(_ledgers(demo_server, app.token).status_code == 200 for _ in range(WARM_UP))
    admin.revoke_key(app.key_id)
    codes = [
        (r.status_code, r.json()["code"]) for r in (_ledgers(demo_server, app.token) for _ in range(WARM_UP))
    ]
    assert set(codes) == {(401, "agent.token_invalid")}


def test_a_revoked_app_is_refused_by_every_worker(demo_server: RunningServer) -> None:
    admin = AdminPlane(demo_server.base_url, demo_server.admin_token())
    app = admin.create_app("revocation-app", scopes=("ledger.read",))
    assert all(_ledgers(demo_server, app.token).status_code == 200 for _ in range(WARM_UP))
    admin.revoke_app(app.app_id)
    codes = {_ledgers(demo_server, app.token).status_code for _ in range(WARM_UP)}
    assert codes == {401}
