"""``opp token --oauth`` against a real ``opp serve``: client file, DPoP-bound token, nonce retry.

``running_server`` picks its port itself, but the DPoP ``htu`` and the token issuer come from
``gateway.public_url``, which must name that port before the server starts: the test chooses the
port, writes it into the config and makes ``running_server`` use it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey, KeySet

from tests.support.servers import RunningServer, demo_config, free_port, run_cli, running_server

LEDGERS = "/api/agent/v1/ledgers"
OAUTH_ON = {"enabled": True, "dev_server": {"enabled": True}, "dpop": {"nonce": True}}


@pytest.fixture(scope="module")
def oauth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """``opp serve`` (2 workers) whose ``gateway.public_url`` is its own loopback URL."""
    directory = tmp_path_factory.mktemp("oauth-server")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    config = demo_config(directory, {"gateway": {"public_url": base_url}, "oauth": OAUTH_ON})
    with running_server(config, workers=2, port=port) as server:
        assert server.base_url == base_url
        yield server


def oauth_token(server: RunningServer, *extra: str) -> Any:
    return run_cli("token", str(server.config), "--oauth", *extra, cwd=server.config.parent)


def resource_proof(key: ECKey, url: str, token: str, nonce: str | None = None) -> str:
    """A proof for ``GET url`` with ``token`` (``ath``), built with joserfc independently of opp."""
    ath = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
    claims = {"jti": secrets.token_urlsafe(12), "htm": "GET", "htu": url, "iat": int(time.time()), "ath": ath}
    if nonce is not None:
        claims["nonce"] = nonce
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": dict(key.as_dict(private=False))}
    return jws.serialize_compact(header, json.dumps(claims).encode(), key, algorithms=["ES256"])


def get_with_dpop(url: str, key: ECKey, token: str) -> httpx.Response:
    """``GET url`` with a DPoP-bound token, answering one nonce challenge."""
    nonce: str | None = None
    for _ in range(2):
        headers = {"Authorization": f"DPoP {token}", "DPoP": resource_proof(key, url, token, nonce)}
        response = httpx.get(url, headers=headers, timeout=10.0)
        nonce = response.headers.get("DPoP-Nonce")
        if response.status_code != 401 or nonce is None:
            break
    return response


def test_cli_prints_a_dpop_bound_token_for_the_saved_key(oauth_server: RunningServer) -> None:
    result = oauth_token(oauth_server)
    assert result.returncode == 0, result.stderr
    token, key_line = result.stdout.splitlines()
    assert key_line.startswith("DPoP key: ")
    client_file = Path(key_line.removeprefix("DPoP key: "))
    assert client_file.parent == oauth_server.config.parent / ".opp" / "oauth-clients"
    assert stat.S_IMODE(client_file.stat().st_mode) == 0o600
    saved = json.loads(client_file.read_text())
    key = ECKey.import_key(saved["dpop_jwk"])

    jwks = httpx.get(f"{oauth_server.base_url}/oauth/jwks", timeout=10.0).json()
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES256"])
    assert decoded.header["typ"] == "at+jwt"
    claims = decoded.claims
    assert claims["cnf"] == {"jkt": key.thumbprint()}
    assert claims["iss"] == oauth_server.base_url
    assert claims["aud"] == oauth_server.base_url + "/"
    assert claims["client_id"] == saved["client_id"]

    assert get_with_dpop(oauth_server.base_url + LEDGERS, key, token).status_code == 200
    other_key = ECKey.generate_key("P-256", auto_kid=False)
    assert get_with_dpop(oauth_server.base_url + LEDGERS, other_key, token).status_code == 401


def test_second_run_reuses_the_client_file(oauth_server: RunningServer) -> None:
    first = oauth_token(oauth_server)
    second = oauth_token(oauth_server)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.splitlines()[1] == second.stdout.splitlines()[1]
    assert first.stdout.splitlines()[0] != second.stdout.splitlines()[0]


def test_scope_narrows_the_token(oauth_server: RunningServer) -> None:
    result = oauth_token(oauth_server, "--scope", "ledger.read")
    assert result.returncode == 0, result.stderr
    payload = result.stdout.splitlines()[0].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["scope"] == "ledger.read"


def test_a_refused_request_exits_1_with_the_servers_description(oauth_server: RunningServer) -> None:
    result = oauth_token(oauth_server, "--scope", "ledger.read not.a.scope")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "opp token: The requested scope exceeds the client's grants."


def test_an_unreachable_url_exits_1(oauth_server: RunningServer) -> None:
    result = oauth_token(oauth_server, "--url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert result.stderr.startswith("opp token: cannot reach http://127.0.0.1:")


def test_oauth_needs_the_dev_server(tmp_path: Path) -> None:
    config = demo_config(tmp_path, {"oauth": {"enabled": False}})
    result = run_cli("token", str(config), "--oauth", cwd=tmp_path)
    assert result.returncode == 1
    assert "oauth.dev_server.enabled" in result.stderr


def test_a_client_file_readable_by_others_is_refused(oauth_server: RunningServer) -> None:
    first = oauth_token(oauth_server)
    assert first.returncode == 0, first.stderr
    client_file = Path(first.stdout.splitlines()[1].removeprefix("DPoP key: "))
    client_file.chmod(0o644)
    try:
        result = oauth_token(oauth_server)
    finally:
        client_file.chmod(0o600)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "accessible by other users" in result.stderr


def test_opp_proof_signs_a_one_use_proof_with_the_saved_key(oauth_server: RunningServer) -> None:
    token, key_line = oauth_token(oauth_server).stdout.splitlines()
    client_file = key_line.removeprefix("DPoP key: ")
    url = oauth_server.base_url + LEDGERS
    directory = oauth_server.config.parent

    def proof(*extra: str) -> str:
        result = run_cli("proof", client_file, "GET", url, "--token", token, *extra, cwd=directory)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    challenged = httpx.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": proof()}, timeout=10.0)
    assert challenged.status_code == 401 and challenged.json()["code"] == "agent.dpop_nonce_required"
    signed = proof("--nonce", challenged.headers["DPoP-Nonce"])
    headers = {"Authorization": f"DPoP {token}", "DPoP": signed}
    assert httpx.get(url, headers=headers, timeout=10.0).status_code == 200
    replayed = httpx.get(url, headers=headers, timeout=10.0)
    assert replayed.status_code == 401 and replayed.json()["code"] == "agent.dpop_invalid"
    assert run_cli("proof", str(oauth_server.config), "GET", url, cwd=directory).returncode == 1
