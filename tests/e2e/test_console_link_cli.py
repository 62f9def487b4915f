"""``opp console-link`` as a process: prints a link the store accepts once; refuses what cannot work."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from opp.compile import compile_file
from opp.store.sqlite import SqliteStore
from tests.support.servers import demo_config, run_cli

LINK = re.compile(r"^http://127\.0\.0\.1:9999/console/auth/link\?token=[A-Za-z0-9_-]{43}$")


def _link(config: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli("console-link", str(config), *args, cwd=config.parent)
    return result.returncode, result.stdout.strip(), result.stderr.strip()


async def _grants(config: Path) -> list[tuple[object, ...]]:
    store = SqliteStore(compile_file(str(config)).store_path)
    await store.open()
    try:
        rows = store._db.read("SELECT kind, name, roles, next_path, used_at FROM console_grants")
        return [tuple(row) for row in rows]
    finally:
        await store.close()


def test_prints_a_one_time_link_stored_as_a_digest(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    code, out, err = _link(
        config,
        "--role",
        "approver",
        "--role",
        "auditor",
        "--name",
        "alice",
        "--next",
        "/console/apps",
        "--url",
        "http://127.0.0.1:9999",
    )
    assert code == 0, err
    assert LINK.match(out), out
    assert asyncio.run(_grants(config)) == [
        ("link", "alice", '["approver","auditor"]', "/console/apps", None)
    ]
    token = out.rsplit("=", 1)[1]
    assert token not in (tmp_path / ".opp" / "opp.db").read_bytes().decode("latin-1")


def test_refuses_a_memory_store_a_disabled_console_and_a_blank_name(tmp_path: Path) -> None:
    for name in ("memory", "disabled", "blank"):
        (tmp_path / name).mkdir()
    memory = demo_config(tmp_path / "memory", {"store": {"kind": "memory"}})
    code, _, err = _link(memory, "--role", "approver", "--name", "alice")
    assert code == 1 and "needs a store the server shares" in err
    disabled = demo_config(tmp_path / "disabled", {"console": {"enabled": False}})
    code, _, err = _link(disabled, "--role", "approver", "--name", "alice")
    assert code == 1 and "the console is disabled" in err
    config = demo_config(tmp_path / "blank")
    code, _, err = _link(config, "--role", "approver", "--name", "  ")
    assert code == 1 and "A name and roles" in err
    code, _, err = _link(config, "--role", "root", "--name", "alice")
    assert code == 2 and "invalid choice: 'root'" in err
