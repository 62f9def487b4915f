"""The profile's security minimums, each matched by its wording to an executable check.

A minimum this module has no check for is reported as a failure ("no automated check"), never
skipped: a profile that grows a requirement must not pass silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from opp.conformance.probe import Prober
from opp.conformance.results import CheckResult

__all__ = ["BoundaryProbe", "check_security_minimum"]

# The protocol's paths, spelled out here: the runner checks a gateway, it does not import one.
AGENT_PREFIX = "/api/agent/v1"
UNKNOWN_LEDGER_ID = "ledger_opp_conformance_unknown"


@dataclass(frozen=True, slots=True)
class BoundaryProbe:
    """What the boundary check reaches for: a resource of another tenant.

    Attributes:
        foreign_ledger_id: A ledger that exists but belongs to another tenant than the token's.
    """

    foreign_ledger_id: str = "ledger_foreign"


Check = Callable[[Prober, BoundaryProbe], tuple[bool, str]]


def _unauthenticated_manifest(prober: Prober, _: BoundaryProbe) -> tuple[bool, str]:
    seen = prober.send("GET", f"{AGENT_PREFIX}/manifest", authenticated=False)
    return seen.status == 401, seen.summary()


def _authenticated_manifest(prober: Prober, _: BoundaryProbe) -> tuple[bool, str]:
    seen = prober.send("GET", f"{AGENT_PREFIX}/manifest")
    ok = seen.status == 200 and isinstance(seen.body, dict) and seen.body.get("ok") is True
    return ok, seen.summary()


def _policy_boundary(prober: Prober, probe: BoundaryProbe) -> tuple[bool, str]:
    """Own ledgers are listed without the foreign one; the foreign ledger is refused with 403,
    answered exactly like a ledger that does not exist (no existence oracle)."""
    ledgers = prober.send("GET", f"{AGENT_PREFIX}/ledgers")
    if ledgers.status != 200 or not isinstance(ledgers.body, dict):
        return False, f"listing own ledgers: {ledgers.summary()}"
    items = (ledgers.body.get("data") or {}).get("items") or []
    listed = {item.get("id") for item in items if isinstance(item, dict)}
    if probe.foreign_ledger_id in listed:
        return False, f"{probe.foreign_ledger_id} appears in the token's ledger list"
    transactions = f"{AGENT_PREFIX}/transactions"
    foreign = prober.send("GET", transactions, params={"ledgerId": probe.foreign_ledger_id})
    unknown = prober.send("GET", transactions, params={"ledgerId": UNKNOWN_LEDGER_ID})
    if foreign.status != 403:
        return False, f"foreign ledger {probe.foreign_ledger_id}: {foreign.summary()}, expected HTTP 403"
    if (foreign.status, foreign.body) != (unknown.status, unknown.body):
        return False, (
            f"foreign ledger answered {foreign.summary()} but an unknown ledger "
            f"{unknown.summary()}: the answers differ (existence oracle)"
        )
    return True, (
        f"{len(listed)} own ledger(s) listed; {probe.foreign_ledger_id} refused with "
        f"{foreign.summary()}, identical to an unknown ledger"
    )


_CHECKS: dict[str, tuple[str, Check]] = {
    "unauthenticated manifest request returns 401": (
        "security:unauthenticated-401",
        _unauthenticated_manifest,
    ),
    "authenticated manifest request returns 200": ("security:authenticated-200", _authenticated_manifest),
    "agent token can access only within granted policy boundaries": (
        "security:policy-boundary",
        _policy_boundary,
    ),
}


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def check_security_minimum(prober: Prober, requirement: str, probe: BoundaryProbe) -> CheckResult:
    """Run the check that implements ``requirement`` (the profile's wording)."""
    known = _CHECKS.get(_normalise(requirement))
    if known is None:
        slug = re.sub(r"[^a-z0-9]+", "-", requirement.lower()).strip("-")
        return CheckResult(f"security:{slug}", requirement, False, "no automated check for this requirement")
    check_id, check = known
    passed, detail = check(prober, probe)
    return CheckResult(check_id, requirement, passed, detail)
