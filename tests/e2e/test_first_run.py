"""A new user's first run: the printed hints run as printed, the port and the public URL agree.

Each test starts real ``opp serve`` processes on loopback (``tests.support.servers``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import httpx
from joserfc.jwk import ECKey

from tests.e2e.test_oauth_token_cli import OAUTH_ON, get_with_dpop
from tests.support.servers import demo_config, free_port, run_cli, running_server

LEDGERS = "/api/agent/v1/ledgers"
HINT = re.compile(r"^Get a token for it:  TOKEN=\$\((?P<command>.+)\)$", re.MULTILINE)
THEN = re.compile(r"^Then:  (?P<command>curl .+)$", re.MULTILINE)


def _shell(command: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # the hint is meant for a shell: run it in one, exactly as printed
        command,
        shell=True,
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_printed_hint_commands_run_exactly_as_printed(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    with running_server(config) as server:
        printed = server.stderr()
        hint, then = HINT.search(printed), THEN.search(printed)
        assert hint and then, printed
        token = _shell(hint["command"], cwd=tmp_path)
        assert token.returncode == 0, token.stderr
        assert token.stdout.startswith("op_")
        ledgers = _shell(then["command"], cwd=tmp_path, TOKEN=token.stdout.strip())
        assert ledgers.returncode == 0, ledgers.stderr
        assert '"ok":true' in ledgers.stdout and "ledger_main" in ledgers.stdout
        assert server.base_url in then["command"]


def test_a_second_server_on_a_busy_port_refuses_to_start(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    with running_server(config) as first:
        port = first.base_url.rsplit(":", 1)[1]
        second = run_cli("serve", str(config), "--port", port, cwd=tmp_path, timeout=30)
        assert second.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
        assert "choose another port with --port" in second.stderr
        assert "Traceback" not in second.stderr
        assert httpx.get(f"{first.base_url}/healthz", timeout=5).status_code == 200


def test_a_port_held_by_another_program_is_refused_too(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        refused = run_cli("serve", str(config), "--port", str(port), cwd=tmp_path, timeout=30)
    assert refused.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in refused.stderr


def test_an_unset_public_url_follows_the_port_for_challenges_metadata_and_oauth(tmp_path: Path) -> None:
    config = demo_config(tmp_path, {"oauth": OAUTH_ON})
    port = free_port()
    with running_server(config, port=port) as server:
        base = f"http://127.0.0.1:{port}"
        challenge = httpx.get(f"{base}{LEDGERS}", timeout=10).headers["www-authenticate"]
        assert f'resource_metadata="{base}/.well-known/oauth-protected-resource"' in challenge
        metadata = httpx.get(f"{base}/.well-known/oauth-protected-resource", timeout=10).json()
        assert metadata["resource"] == f"{base}/"

        issued = run_cli("token", str(config), "--oauth", "--url", base, cwd=tmp_path)
        assert issued.returncode == 0, issued.stderr
        token, key_line = issued.stdout.splitlines()
        saved = json.loads(Path(key_line.removeprefix("DPoP key: ")).read_text(encoding="utf-8"))
        key = ECKey.import_key(saved["dpop_jwk"])
        answer = get_with_dpop(f"{server.base_url}{LEDGERS}", key, token)
        assert answer.status_code == 200, answer.text
        assert answer.json()["code"] == "common.success"


def test_an_explicit_loopback_public_url_on_another_port_is_warned_about(tmp_path: Path) -> None:
    config = demo_config(tmp_path, {"gateway": {"public_url": "http://127.0.0.1:1"}})
    with running_server(config) as server:
        assert "opp: warning: gateway.public_url is http://127.0.0.1:1 but the server listens on" in (
            server.stderr()
        )
