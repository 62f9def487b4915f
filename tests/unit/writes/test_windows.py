"""Auto-execute windows: the PATCH body's normalisation and the high-risk gate's requirements."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from opp.codes import ReasonCode
from opp.errors import ValidationFailed
from opp.writes.gating import gate
from opp.writes.windows import normalise_windows

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
SOON = (NOW + dt.timedelta(hours=1)).isoformat()
DAY = dt.timedelta(hours=24)


class Tool:
    name = "transaction.delete"
    risk = "high"
    requires_confirmation = False


def high_risk(**fields: Any) -> dict[str, Any]:
    return normalise_windows({}, {"high_risk": {"enabled": True, "expires_at": SOON, **fields}}, NOW, DAY)


def test_high_risk_defaults_and_clamps() -> None:
    assert high_risk()["high_risk"] == {
        "enabled": True,
        "expires_at": SOON,
        "allowed_actions": None,
        "require_preflight": True,
        "require_idempotency": True,
        "max_export_rows": 1000,
    }
    assert high_risk(max_export_rows=7)["high_risk"]["max_export_rows"] == 100
    assert high_risk(max_export_rows=99999)["high_risk"]["max_export_rows"] == 5000
    assert high_risk(max_export_rows=250)["high_risk"]["max_export_rows"] == 250


def test_a_section_sent_replaces_the_stored_one_and_an_omitted_one_is_kept() -> None:
    stored = high_risk(require_preflight=False)
    merged = normalise_windows(stored, {"writes": {"enabled": False}}, NOW, DAY)
    assert merged["high_risk"]["require_preflight"] is False
    replaced = normalise_windows(stored, {"high_risk": {"enabled": False}}, NOW, DAY)
    assert replaced["high_risk"]["require_preflight"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"writes": {"require_preflight": False}},
        {"high_risk": {"require_idempotency": "no"}},
        {"high_risk": {"max_export_rows": 1.5}},
        {"high_risk": {"max_export_rows": True}},
    ],
)
def test_bad_window_fields_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        normalise_windows({}, body, NOW, DAY)


def gate_of(windows: dict[str, Any], *, key: str | None, hashes: tuple[str, ...]) -> ReasonCode | None:
    return gate(
        Tool(),  # type: ignore[arg-type]
        windows,
        NOW,
        justification="cleanup",
        idempotency_key=key,
        preflight_hashes=hashes,
        computed_hash="h",
    )


def test_the_gate_applies_require_idempotency_and_require_preflight() -> None:
    strict = high_risk()
    assert gate_of(strict, key=None, hashes=("h",)) is ReasonCode.IDEMPOTENCY_REQUIRED
    assert gate_of(strict, key="k", hashes=()) is ReasonCode.PREFLIGHT_REQUIRED
    assert gate_of(strict, key="k", hashes=("x",)) is ReasonCode.PREFLIGHT_MISMATCH
    assert gate_of(strict, key="k", hashes=("h",)) is None
    relaxed = high_risk(require_preflight=False, require_idempotency=False)
    assert gate_of(relaxed, key=None, hashes=()) is None
    assert gate_of(relaxed, key=None, hashes=("x",)) is ReasonCode.PREFLIGHT_MISMATCH  # a binding still binds
