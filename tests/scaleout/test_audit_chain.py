"""One audit hash chain written by 3 replicas at once, verified on PostgreSQL down to the tampered event.

Each replica appends its events under one transaction-scoped lock on the chain head, in the same
transaction as the state change they describe, so concurrent replicas still build one unbroken
chain (``seq`` 1..N, each ``prev_hash`` the hash before it). ``opp audit verify`` reads the
PostgreSQL store named by ``gateway.yaml`` and stops at the exact event an update, a delete, an
insert or a reordering done directly in the database broke; each tampering is undone before the
next, and the chain verifies again.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from opp.cli.main import main
from opp.store.sql import AUDIT_COLUMNS
from tests.scaleout.cluster import Cluster, fire, new_transaction, running_cluster, spread
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer

Capture = pytest.CaptureFixture[str]
READS, DRAFTS = 45, 15
CREATE = new_transaction("Chained", 3.5)
COLUMNS = ("insert_order", *AUDIT_COLUMNS)
"""Every column of ``audit_events``."""


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("audit"), postgres_server, redis_server) as running:
        token = running.token()
        agent = {"Authorization": f"Bearer {token}"}
        reads = [("GET", url, "/api/agent/v1/ledgers", None, agent) for url in spread(running, READS)]
        body = {"action": "transaction.create", "payload": CREATE}
        drafts = [("POST", url, "/api/agent/v1/actions", body, agent) for url in spread(running, DRAFTS)]
        responses = asyncio.run(fire(reads + drafts))
        assert [r.status_code for r in responses] == [200] * (READS + DRAFTS)
        for replica in running.replicas:  # a clean stop flushes each replica's batched read events
            replica.process.send_signal(signal.SIGTERM)
            replica.process.wait(30)
        yield running


def _verify(cluster: Cluster, capsys: Capture) -> tuple[int, str]:
    """``opp audit verify CONFIG``, in this process (its output captured)."""
    code = main(["audit", "verify", str(cluster.config)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _row(cluster: Cluster, seq: int) -> dict[str, Any]:
    names = ", ".join(COLUMNS)
    (row,) = cluster.query(f"SELECT {names} FROM audit_events WHERE seq = %s", seq)
    return dict(zip(COLUMNS, row, strict=True))


def _insert(cluster: Cluster, row: dict[str, Any]) -> None:
    names = [name for name in COLUMNS if name in row]
    marks = ", ".join("%s" for _ in names)
    statement = f"INSERT INTO audit_events ({', '.join(names)}) OVERRIDING SYSTEM VALUE VALUES ({marks})"
    cluster.query(statement, *(row[name] for name in names))


def _count(cluster: Cluster) -> int:
    (row,) = cluster.query("SELECT count(*) FROM audit_events")
    return int(row[0])


def test_three_replicas_wrote_one_unbroken_chain(cluster: Cluster, capsys: Capture) -> None:
    total = _count(cluster)
    seqs = [row[0] for row in cluster.query("SELECT seq FROM audit_events ORDER BY insert_order")]

    code, out = _verify(cluster, capsys)

    assert code == 0, out
    assert f"audit chain intact: {total} events, seq 1..{total}" in out
    assert seqs == list(range(1, total + 1))
    reads = cluster.query("SELECT count(*) FROM audit_events WHERE tool = 'ledger.list'")[0][0]
    assert reads == READS
    created = cluster.query("SELECT count(*) FROM audit_events WHERE action = 'agent.action.draft.created'")[
        0
    ][0]
    drafts = cluster.query("SELECT count(*) FROM drafts")[0][0]
    assert created == drafts == DRAFTS  # every draft has its event, committed with it


def test_an_updated_event_is_found_at_its_seq(cluster: Cluster, capsys: Capture) -> None:
    original = _row(cluster, 10)
    tamper = "UPDATE audit_events SET body = jsonb_set(body::jsonb, '{code}', '\"x\"')::text WHERE seq = 10"
    cluster.query(tamper)
    try:
        code, out = _verify(cluster, capsys)
    finally:
        cluster.query("UPDATE audit_events SET body = %s WHERE seq = 10", original["body"])
    assert code == 1
    assert f"BROKEN at seq 10 (event {original['id']}): hash does not match" in out


def test_an_updated_column_is_found_at_its_seq(cluster: Cluster, capsys: Capture) -> None:
    original = _row(cluster, 12)
    forged = "denied" if original["status"] == "success" else "success"
    cluster.query("UPDATE audit_events SET status = %s WHERE seq = 12", forged)
    try:
        code, out = _verify(cluster, capsys)
    finally:
        cluster.query("UPDATE audit_events SET status = %s WHERE seq = 12", original["status"])
    assert code == 1
    assert f"BROKEN at seq 12 (event {original['id']}): column 'status' differs" in out


def test_a_deleted_event_is_found_where_it_was(cluster: Cluster, capsys: Capture) -> None:
    deleted, following = _row(cluster, 20), _row(cluster, 21)
    cluster.query("DELETE FROM audit_events WHERE seq = 20")
    try:
        code, out = _verify(cluster, capsys)
    finally:
        _insert(cluster, deleted)
    assert code == 1
    assert f"BROKEN at seq 20 (event {following['id']}): seq 20 is missing: found seq 21" in out


def _forgery(cluster: Cluster, **changes: Any) -> dict[str, Any]:
    """A copy of the newest row (columns and body alike) with ``changes`` and id ``aud_forged``."""
    source = _row(cluster, _count(cluster))
    body = {**json.loads(source["body"]), "id": "aud_forged", **changes}
    row = {name: source[name] for name in AUDIT_COLUMNS}
    row.update({name: body[name] for name in ("id", *changes)}, body=json.dumps(body))
    return row


@pytest.mark.parametrize(
    ("chained", "reason"),
    [(True, "hash does not match"), (False, "event without a seq inside the chain (inserted)")],
)
def test_an_inserted_event_is_found(cluster: Cluster, capsys: Capture, chained: bool, reason: str) -> None:
    last = _count(cluster)
    head = _row(cluster, last)
    links = {"seq": last + 1, "prev_hash": head["hash"], "hash": "0" * 64} if chained else {"seq": None}
    _insert(cluster, _forgery(cluster, status="success", **links))
    try:
        code, out = _verify(cluster, capsys)
    finally:
        cluster.query("DELETE FROM audit_events WHERE id = 'aud_forged'")
    assert code == 1
    assert f"BROKEN at seq {last + 1} (event aud_forged): {reason}" in out


def _put(cluster: Cluster, insert_order: int, row: dict[str, Any]) -> None:
    """Overwrite every column but ``insert_order`` (an identity column) of one row."""
    assignments = ", ".join(f"{name} = %s" for name in AUDIT_COLUMNS)
    statement = f"UPDATE audit_events SET {assignments} WHERE insert_order = %s"
    cluster.query(statement, *(row[name] for name in AUDIT_COLUMNS), insert_order)


def _arrange(cluster: Cluster, placement: dict[int, dict[str, Any]]) -> None:
    """Put each row's contents at the ``insert_order`` it is keyed by (``id``, ``seq`` parked first)."""
    for insert_order in placement:
        park = "UPDATE audit_events SET id = %s, seq = %s WHERE insert_order = %s"
        cluster.query(park, f"parked-{insert_order}", -insert_order, insert_order)
    for insert_order, row in placement.items():
        _put(cluster, insert_order, row)


def test_reordered_events_are_found_at_the_first(cluster: Cluster, capsys: Capture) -> None:
    third, eighth = _row(cluster, 3), _row(cluster, 8)
    _arrange(cluster, {third["insert_order"]: eighth, eighth["insert_order"]: third})
    try:
        code, out = _verify(cluster, capsys)
    finally:
        _arrange(cluster, {third["insert_order"]: third, eighth["insert_order"]: eighth})
    assert code == 1
    assert f"BROKEN at seq 3 (event {eighth['id']}): seq 3 is missing: found seq 8" in out


def test_every_tampering_was_undone(cluster: Cluster, capsys: Capture) -> None:
    """Run last: the repairs above restored the exact rows, so the chain verifies again."""
    total = _count(cluster)
    code, out = _verify(cluster, capsys)
    assert code == 0, out
    assert f"audit chain intact: {total} events, seq 1..{total}" in out
