"""``opp audit verify`` catches tampering done directly in the SQLite database, at the exact event."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from opp.audit.sources import jsonl_events
from opp.audit.verify import StoredEvent, verify_chain
from opp.cli.main import main
from opp.compile import compile_file
from opp.http.app import create_app
from opp.http.runtime import Runtime
from opp.store import AuditEvent, AuditQuery, MemoryStore, SqliteStore
from opp.store.sql import AUDIT_COLUMNS
from tests.unit.audit.conftest import make_event

from .conftest import Gateway, demo_config

COUNT = 10
ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "gateway.yaml"
    config.write_text("store:\n  kind: sqlite\n  path: audit.db\n")
    return config


async def _seed(tmp_path: Path, count: int = COUNT) -> list[AuditEvent]:
    store = SqliteStore(str(tmp_path / "audit.db"))
    await store.open()
    await store.audit.append([make_event() for _ in range(count // 2)])
    await store.audit.append(
        [make_event(status="denied", code="agent.scope_denied") for _ in range(count // 2)]
    )
    events = list(reversed(await store.audit.list(AuditQuery(limit=200))))
    await store.close()
    return events


@pytest.fixture
async def seeded(tmp_path: Path) -> tuple[Path, list[AuditEvent]]:
    return _config(tmp_path), await _seed(tmp_path)


def _sql(tmp_path: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    with sqlite3.connect(tmp_path / "audit.db") as connection:
        for sql, params in statements:
            connection.execute(sql, params)


def _verify(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["audit", "verify", str(config), *extra])
    return code, capsys.readouterr().out


def test_an_intact_chain_verifies(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, events = seeded
    code, out = _verify(config, capsys)
    assert code == 0
    assert f"audit chain intact: {COUNT} events, seq 1..{COUNT}" in out
    assert f"head {COUNT}:{events[-1].hash}" in out


def test_a_modified_body_is_caught_at_its_seq(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, events = seeded
    target = events[3]
    _sql(
        config.parent,
        ("UPDATE audit_events SET body = json_set(body, '$.status', 'success') WHERE seq = 4", ()),
    )
    _sql(
        config.parent,
        ("UPDATE audit_events SET body = json_set(body, '$.code', 'x') WHERE id = ?", (target.id,)),
    )
    code, out = _verify(config, capsys)
    assert code == 1
    assert f"BROKEN at seq 4 (event {target.id}): hash does not match" in out


def test_a_modified_filter_column_is_caught(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, events = seeded
    _sql(config.parent, ("UPDATE audit_events SET status = 'success' WHERE seq = 7", ()))
    code, out = _verify(config, capsys)
    assert code == 1
    assert f"BROKEN at seq 7 (event {events[6].id}): column 'status' differs" in out


def test_a_deleted_row_is_caught_where_it_was(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, events = seeded
    _sql(config.parent, ("DELETE FROM audit_events WHERE seq = 5", ()))
    code, out = _verify(config, capsys)
    assert code == 1
    assert f"BROKEN at seq 5 (event {events[5].id}): seq 5 is missing: found seq 6" in out
    assert "4 events verified before it" in out


def test_a_deleted_first_row_is_caught(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, events = seeded
    _sql(config.parent, ("DELETE FROM audit_events WHERE seq = 1", ()))
    code, out = _verify(config, capsys)
    assert (code, f"BROKEN at seq 1 (event {events[1].id})" in out) == (1, True)


def test_a_forged_row_appended_with_a_made_up_hash_is_caught(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, events = seeded
    forged = dict(json.loads(_body(config.parent, COUNT)))
    forged.update(id="aud_forged", seq=COUNT + 1, prev_hash=events[-1].hash, hash="0" * 64, status="success")
    _insert(config.parent, forged)
    code, out = _verify(config, capsys)
    assert code == 1
    assert f"BROKEN at seq {COUNT + 1} (event aud_forged): hash does not match" in out


def test_a_forged_row_without_seq_inside_the_chain_is_caught(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _events = seeded
    forged = dict(json.loads(_body(config.parent, 2)))
    forged.update(id="aud_forged", seq=None, prev_hash=None, hash=None)
    _insert(config.parent, forged)
    code, out = _verify(config, capsys)
    assert code == 1
    assert f"BROKEN at seq {COUNT + 1} (event aud_forged): event without a seq" in out


def test_a_correctly_rehashed_forgery_is_caught_by_a_checkpoint(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a secret anyone can recompute hashes; a head recorded elsewhere still catches it."""
    from opp.audit.chain import event_hash

    config, events = seeded
    checkpoint = f"{COUNT}:{events[-1].hash}"
    _sql(config.parent, ("DELETE FROM audit_events WHERE seq = ?", (COUNT,)))
    code, _ = _verify(config, capsys)
    assert code == 0  # truncating the newest events leaves a valid, shorter chain...
    code, out = _verify(config, capsys, "--checkpoint", checkpoint)
    assert code == 1  # ...which the recorded head exposes
    assert f"BROKEN at seq {COUNT}" in out and "before the checkpoint" in out
    forged = dict(json.loads(_body(config.parent, COUNT - 1)))
    forged.update(id="aud_forged", seq=COUNT, prev_hash=events[-2].hash)
    forged["hash"] = event_hash(forged)
    _insert(config.parent, forged)
    code, out = _verify(config, capsys, "--checkpoint", checkpoint)
    assert code == 1
    assert f"BROKEN at seq {COUNT} (event aud_forged): hash differs from the checkpoint" in out


def test_two_rows_with_swapped_seq_are_caught_at_the_first(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, events = seeded
    _sql(
        config.parent,
        ("UPDATE audit_events SET seq = -1 WHERE seq = 3", ()),
        ("UPDATE audit_events SET seq = 3 WHERE seq = 8", ()),
        ("UPDATE audit_events SET seq = 8 WHERE seq = -1", ()),
    )
    code, out = _verify(config, capsys)
    assert code == 1
    assert f"BROKEN at seq 3 (event {events[2].id}): column 'seq' differs" in out


def test_two_whole_rows_swapped_are_caught_as_reordering(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, events = seeded
    _sql(
        config.parent,
        ("UPDATE audit_events SET insert_order = -1 WHERE seq = 3", ()),
        ("UPDATE audit_events SET insert_order = 3 WHERE seq = 8", ()),
        ("UPDATE audit_events SET insert_order = 8 WHERE insert_order = -1", ()),
    )
    code, out = _verify(config, capsys)
    assert code == 1
    assert f"BROKEN at seq 3 (event {events[7].id}): seq 3 is missing: found seq 8" in out


def _body(directory: Path, seq: int) -> str:
    with sqlite3.connect(directory / "audit.db") as connection:
        return str(connection.execute("SELECT body FROM audit_events WHERE seq = ?", (seq,)).fetchone()[0])


def _insert(directory: Path, body: dict[str, object]) -> None:
    columns = AUDIT_COLUMNS
    created = str(body["created_at"]).replace("Z", "").ljust(26, "0")[:26] + "Z"
    values = [body.get(name) for name in columns]
    values[columns.index("created_at")] = created
    values[columns.index("body")] = json.dumps(body)
    placeholders = ", ".join("?" for _ in columns)
    _sql(
        directory, (f"INSERT INTO audit_events ({', '.join(columns)}) VALUES ({placeholders})", tuple(values))
    )


def test_export_jsonl_is_verifiable_and_ocsf_is_api_activity(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, events = seeded
    exported = tmp_path / "export.jsonl"
    assert main(["audit", "export", str(config), "--format", "jsonl", "--output", str(exported)]) == 0
    assert len(exported.read_text().splitlines()) == COUNT
    code, out = _verify(config, capsys, "--jsonl", str(exported))
    assert code == 0 and f"seq 1..{COUNT}" in out

    since, until = events[2].created_at.isoformat(), events[5].created_at.isoformat()
    assert main(["audit", "export", str(config), "--format", "ocsf", "--since", since, "--until", until]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["metadata"]["uid"] for line in lines] == [event.id for event in events[2:5]]
    assert {line["class_uid"] for line in lines} == {6003}
    assert lines[0]["metadata"]["sequence"] == 3 and lines[0]["unmapped"]["hash"] == events[2].hash


def test_archiving_a_prefix_keeps_the_rest_verifiable(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, events = seeded
    archive = tmp_path / "archive-1.jsonl"
    assert main(["audit", "archive", str(config), "--through", "4", "--output", str(archive)]) == 0
    assert f"anchor 4:{events[3].hash}" in capsys.readouterr().out
    code, out = _verify(config, capsys)
    assert code == 0 and f"{COUNT - 4} events, seq 5..{COUNT}" in out
    code, out = _verify(config, capsys, "--jsonl", str(archive))
    assert code == 0 and "seq 1..4" in out

    async def append_more() -> None:
        store = SqliteStore(str(config.parent / "audit.db"))
        await store.open()
        await store.audit.append([make_event()])
        await store.close()

    asyncio.run(append_more())
    assert _verify(config, capsys)[0] == 0
    _sql(config.parent, ("DELETE FROM audit_events WHERE seq = 5", ()))
    code, out = _verify(config, capsys)
    assert code == 1 and f"BROKEN at seq 5 (event {events[5].id})" in out


def test_archive_refuses_a_broken_chain(
    seeded: tuple[Path, list[AuditEvent]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, _events = seeded
    _sql(config.parent, ("DELETE FROM audit_events WHERE seq = 2", ()))
    assert (
        main(["audit", "archive", str(config), "--through", "4", "--output", str(tmp_path / "a.jsonl")]) == 1
    )
    assert not (tmp_path / "a.jsonl").exists()


_WORKER = """
import asyncio, sys
from opp.store import SqliteStore
from tests.unit.audit.conftest import make_event

async def main(path, worker):
    store = SqliteStore(path)
    await store.open()
    for n in range(40):
        await store.audit.append([make_event(id=f"aud_{worker}_{n}_{i}") for i in range(3)])
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_workers_in_several_processes_extend_one_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    path = str(tmp_path / "audit.db")
    workers = [
        subprocess.Popen([sys.executable, "-c", _WORKER, path, name], cwd=ROOT) for name in ("a", "b", "c")
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0]
    code, out = _verify(config, capsys)
    assert code == 0 and "360 events, seq 1..360" in out


async def test_the_admin_listing_shows_a_chain_that_verifies(gateway: Gateway) -> None:
    for _ in range(3):
        await gateway.client.get("/api/agent/v1/ledgers", headers=gateway.auth())
    await gateway.client.get("/api/agent/v1/ledgers")  # denied: no credential
    response = await gateway.client.get(
        "/api/agent-admin/v1/audit", params={"limit": "200"}, headers=gateway.admin_auth(gateway.auditor)
    )
    items = list(reversed(response.json()["data"]["items"]))
    assert [item["seq"] for item in items] == list(range(1, len(items) + 1))
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(items))
    assert verify_chain([StoredEvent(json.dumps(item)) for item in items]).ok


async def test_a_gateway_with_a_jsonl_sink_mirrors_its_chain(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    config.write_text(
        config.read_text().replace(
            "audit:\n  enabled: true\n", "audit:\n  enabled: true\n  jsonl_path: logs/a.jsonl\n"
        )
    )
    plan = compile_file(str(config))
    runtime = Runtime(plan, store=MemoryStore())
    async with AsyncTestClient(app=create_app(plan, runtime)) as client:
        await client.get("/api/agent/v1/ledgers")
        await client.get("/api/agent/v1/manifest")
    lines = list(jsonl_events(tmp_path / "logs" / "a.jsonl"))
    report = verify_chain(lines)
    assert report.ok and report.verified == len(lines) >= 2


def test_verify_refuses_what_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    assert main(["audit", "verify", str(config)]) == 1
    assert "no audit database" in capsys.readouterr().err
    config.write_text("store:\n  kind: memory\n")
    assert main(["audit", "verify", str(config)]) == 1
    assert "nothing durable" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["audit", "verify", "--jsonl", "x.jsonl", "--anchor", "5:abc"])
