"""Fixtures of the browser tests: one real ``opp serve`` and one system Chromium per module.

Chromium is Debian's ``chromium`` (``scripts/ci-install-browser.sh``), driven by Playwright for
Python through ``executable_path`` (no browser download); axe-core comes from the npm peers in
``tests/interop/node``. Either missing skips the tests, or fails them under ``OPP_REQUIRE_INTEROP=1``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from opp.clock import SystemClock
from opp.compile import compile_file
from opp.compile.plan import Plan
from opp.console.sessions import ConsoleSessions
from opp.console.settings import ConsoleSettings
from opp.store.sqlite import SqliteStore
from tests.console.receiver import Receiver, running_receiver
from tests.support.interop import NODE_DIR
from tests.support.required import unavailable
from tests.support.servers import RunningServer, demo_config, run_cli, running_server

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SECRET = b"console-test-webhook-secret"
SECRET_ENV = "OPP_TEST_CONSOLE_WEBHOOK_SECRET"
STEP_UP_MAX_AGE_S = 5


@dataclass
class Console:
    server: RunningServer
    receiver: Receiver
    browser: Any
    axe: str
    agent_token: str
    admin_token: str

    @property
    def base(self) -> str:
        return self.server.base_url

    def cli_link(self, role: str, name: str) -> str:
        """A sign-in link printed by ``opp console-link`` (a process of its own)."""
        result = run_cli(
            "console-link",
            str(self.server.config),
            "--role",
            role,
            "--name",
            name,
            "--url",
            self.base,
            cwd=self.server.config.parent,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def link(self, role: str, name: str, next_path: str | None = None) -> str:
        """A sign-in link made in this process by the code ``opp console-link`` runs (faster)."""
        # Playwright's sync API runs an event loop in this thread: issue the link from another one.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, _issue_link(self.server, role, name, next_path)).result()


@functools.cache
def _plan(config: Path) -> Plan:
    return compile_file(str(config))


async def _issue_link(server: RunningServer, role: str, name: str, next_path: str | None) -> str:
    plan = _plan(server.config)
    store = SqliteStore(plan.store_path)
    await store.open()
    try:
        settings = dataclasses.replace(ConsoleSettings.of(plan), public_url=server.base_url)
        return await ConsoleSessions(store, SystemClock(), settings).issue_link(name, (role,), next_path)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        unavailable("chromium is not installed; scripts/ci-install-browser.sh installs it")
    if not AXE.is_file():
        unavailable(f"{AXE} is missing; run npm ci in {NODE_DIR}")
    return path


@pytest.fixture(scope="module")
def console(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    from playwright.sync_api import sync_playwright

    with (
        running_receiver(SECRET, fail_first={"draft.decided"}) as receiver,
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv(SECRET_ENV, SECRET.decode())
        hooks = [
            {"name": "ops", "url": f"{receiver.url}/hook", "secret_env": SECRET_ENV},
            {
                "name": "chat",
                "url": f"{receiver.url}/slack",
                "secret_env": SECRET_ENV,
                "format": "slack",
                "events": ["draft.created"],
            },
        ]
        overrides = {
            "oauth": {"step_up": {"max_age": f"{STEP_UP_MAX_AGE_S}s"}},
            "console": {"webhooks": hooks, "queue_refresh": "1s"},
        }
        config = demo_config(tmp_path_factory.mktemp("console"), overrides)
        with running_server(config, workers=2) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                axe = AXE.read_text(encoding="utf-8")
                yield Console(server, receiver, browser, axe, server.token(), server.admin_token())
            finally:
                browser.close()


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


def screenshot(page: Any, name: str) -> None:
    """Refresh ``docs/img/console-NAME.png`` when ``OPP_REFRESH_SCREENSHOTS=1``."""
    if os.environ.get("OPP_REFRESH_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)
