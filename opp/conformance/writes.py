"""Write-lifecycle checks of the core profile's endpoints (SPEC §2, §7), beyond "it is served":
a preflight returns a string ``impactHash``; an action without ``execute`` returns a draft id;
``GET /drafts/{id}`` returns that draft. Nothing is executed: the draft stays pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opp.conformance.probe import Observation, Prober
from opp.conformance.results import CheckResult

__all__ = ["WriteProbe", "check_writes"]

AGENT_PREFIX = "/api/agent/v1"


@dataclass(frozen=True, slots=True)
class WriteProbe:
    """The actions the write checks use (defaults: the reference ledger demo)."""

    preflight_action: str = "transaction.delete"
    preflight_payload: dict[str, Any] = field(default_factory=lambda: {"transactionId": "txn_1"})
    draft_action: str = "transaction.create"
    draft_payload: dict[str, Any] = field(
        default_factory=lambda: {
            "ledgerId": "ledger_main",
            "kind": "expense",
            "amount": 1,
            "title": "opp conformance probe",
            "occurredOn": "2026-01-01",
        }
    )


def _data(seen: Observation) -> dict[str, Any]:
    if seen.status == 200 and isinstance(seen.body, dict) and isinstance(seen.body.get("data"), dict):
        data: dict[str, Any] = seen.body["data"]
        return data
    return {}


def check_writes(prober: Prober, probe: WriteProbe) -> list[CheckResult]:
    results = []
    body = {"action": probe.preflight_action, "payload": probe.preflight_payload}
    seen = prober.send("POST", f"{AGENT_PREFIX}/preflight", json_body=body)
    impact_hash = _data(seen).get("impactHash")
    results.append(
        CheckResult(
            "writes:preflight-impact-hash",
            f"preflight of {probe.preflight_action} returns a string impactHash",
            isinstance(impact_hash, str) and bool(impact_hash),
            seen.summary(),
        )
    )
    body = {"action": probe.draft_action, "payload": probe.draft_payload}
    seen = prober.send("POST", f"{AGENT_PREFIX}/actions", json_body=body)
    draft_id = (_data(seen).get("draft") or {}).get("id")
    created = isinstance(draft_id, str) and _data(seen).get("status") == "draft"
    results.append(
        CheckResult(
            "writes:draft-created",
            f"{probe.draft_action} without execute returns a draft id",
            created,
            seen.summary(),
        )
    )
    if not created:
        results.append(
            CheckResult(
                "writes:draft-readable", "GET /drafts/{id} returns the draft", False, "no draft id to read"
            )
        )
        return results
    seen = prober.send("GET", f"{AGENT_PREFIX}/drafts/{draft_id}")
    read = (_data(seen).get("draft") or {}).get("id") == draft_id
    results.append(
        CheckResult("writes:draft-readable", "GET /drafts/{id} returns the draft", read, seen.summary())
    )
    return results
