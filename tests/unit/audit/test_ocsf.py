"""The OCSF API Activity mapping."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from opp.audit.chain import EMPTY_CHAIN, seal_after
from opp.audit.export import export_lines
from opp.audit.ocsf import activity_id, to_ocsf
from opp.audit.verify import StoredEvent

from .conftest import T0, make_event


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("agent.ledger.list.read", 2),
        ("agent.manifest.read", 2),
        ("agent.action.preflight", 2),
        ("agent.action.draft.created", 1),
        ("agent_app.create", 1),
        ("agent.draft.approve", 3),
        ("agent_key.revoke", 3),
        ("agent_app.delete", 4),
        ("agent.action.execute", 99),
    ],
)
def test_activity_follows_the_last_word_of_the_action(action: str, expected: int) -> None:
    assert activity_id(action) == expected


def test_a_denied_read_maps_every_field() -> None:
    (event,) = seal_after(
        EMPTY_CHAIN,
        [
            make_event(
                status="denied",
                code="agent.scope_denied",
                key_id="key_1",
                actor_user_id="user_1",
                request_id="req_1",
                ip="203.0.113.7",
                user_agent="agent/1.0",
                tool="ledger.list",
                tenant="t1",
                created_at=T0,
            )
        ],
    )
    ocsf = to_ocsf(msgspec.to_builtins(event), "0.1.0")
    assert (ocsf["class_uid"], ocsf["category_uid"], ocsf["activity_id"], ocsf["type_uid"]) == (
        6003,
        6,
        2,
        600302,
    )
    assert (ocsf["status_id"], ocsf["status"], ocsf["status_code"]) == (2, "Failure", "agent.scope_denied")
    assert ocsf["severity_id"] == 3
    assert ocsf["time"] == int(T0.timestamp() * 1000)
    assert ocsf["actor"] == {"user": {"uid": "user_1", "credential_uid": "key_1"}, "app_uid": "app_1"}
    assert ocsf["api"] == {
        "operation": "agent.ledger.list.read",
        "service": {"name": "opp"},
        "request": {"uid": "req_1"},
    }
    assert ocsf["src_endpoint"] == {"ip": "203.0.113.7"}
    assert ocsf["http_request"] == {"user_agent": "agent/1.0"}
    assert ocsf["resources"] == [{"name": "ledger.list", "type": "tool"}]
    assert ocsf["metadata"]["uid"] == event.id and ocsf["metadata"]["sequence"] == 1
    assert ocsf["metadata"]["product"] == {"name": "opp", "vendor_name": "OpenPort", "version": "0.1.0"}
    assert ocsf["unmapped"]["hash"] == event.hash and ocsf["unmapped"]["tenant"] == "t1"


def test_export_filters_by_time_window() -> None:
    events = seal_after(EMPTY_CHAIN, [make_event(created_at=T0 + dt.timedelta(hours=n)) for n in range(4)])
    stored = [StoredEvent(msgspec.json.encode(event).decode()) for event in events]
    window = list(export_lines(stored, "jsonl", T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=3)))
    assert [msgspec.json.decode(line)["seq"] for line in window] == [2, 3]
    assert window[0] == stored[1].body
    ocsf = [msgspec.json.decode(line) for line in export_lines(stored, "ocsf")]
    assert [line["metadata"]["sequence"] for line in ocsf] == [1, 2, 3, 4]
