"""SIGTERM while a request runs (a rolling update): the request finishes before backends close."""

from __future__ import annotations

import contextlib
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx

from tests.integration.writes_support import ACTIONS, create_payload
from tests.support import slow_backend
from tests.support.admin import AdminPlane
from tests.support.servers import demo_config, mint_admin_token, mint_token, running_server

DELAY_S = 2.0


def test_a_request_in_flight_at_sigterm_completes_and_its_effect_is_recorded(tmp_path: Path) -> None:
    shutil.copy(slow_backend.__file__, tmp_path / "slow_ledger.py")  # importable next to gateway.yaml
    slow = {"kind": "python", "module": "slow_ledger", "options": {"delay_s": DELAY_S}}
    config = demo_config(tmp_path, {"backends": {"demo": slow}})
    token, admin = mint_token(config), mint_admin_token(config)
    with running_server(config) as server:
        AdminPlane(server.base_url, admin).open_writes_window()
        answers: list[httpx.Response] = []

        def execute(title: str, timeout: float) -> None:
            body = {"action": "transaction.create", "payload": create_payload(title=title), "execute": True}
            headers = {"Authorization": f"Bearer {token}"}
            # A timeout: the caller gave up and closed its connection; the execution goes on.
            with contextlib.suppress(httpx.TimeoutException):
                answers.append(
                    httpx.post(f"{server.base_url}{ACTIONS}", json=body, headers=headers, timeout=timeout)
                )

        callers = [
            threading.Thread(target=execute, args=("waits for its answer", 30.0)),
            threading.Thread(target=execute, args=("gave up before shutdown", DELAY_S / 4)),
        ]
        for caller in callers:
            caller.start()
        time.sleep(DELAY_S / 2)  # both backends are sleeping inside their executions now
        server.process.send_signal(signal.SIGTERM)
        for caller in callers:
            caller.join(30)
        assert server.process.wait(30) == 0
        stopped = server.stderr()
    [answer] = answers
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["execution"]["status"] == "success"
    assert "used before start" not in stopped and "failed" not in stopped
    with running_server(config) as again:
        listed = httpx.get(
            f"{again.base_url}/api/agent-admin/v1/drafts",
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )
    drafts = {item["payload"]["title"]: item["status"] for item in listed.json()["data"]["items"]}
    assert drafts == {"waits for its answer": "confirmed", "gave up before shutdown": "confirmed"}, drafts
