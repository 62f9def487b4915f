"""What the draft page shows beside the admin API's draft: the State Witness diff and the policy trace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opp.explain import CallSpec, Explainer, Explanation, Subject
from opp.explain.model import ExplainError
from opp.store.write_records import DraftRecord

__all__ = ["WitnessDiff", "explain_draft", "witness_diff"]


@dataclass(frozen=True, slots=True)
class WitnessDiff:
    applies: bool
    """False: the tool has no State Witness (or none was captured)."""
    matches: bool
    gone: bool
    """The resource no longer exists."""
    changed: list[tuple[str, Any, Any]]
    """``(field, at preflight, now)`` for every field that differs."""


def witness_diff(draft: DraftRecord, applies: bool, now: dict[str, Any] | None) -> WitnessDiff:
    if not applies:
        return WitnessDiff(False, True, False, [])
    then = draft.preflight_state_witness or {}
    if now is None:
        return WitnessDiff(True, False, True, [])
    before, after = then.get("fields", then), now.get("fields", now)
    names = sorted(set(before) | set(after)) if isinstance(before, dict) and isinstance(after, dict) else []
    changed = [
        (name, before.get(name), after.get(name)) for name in names if before.get(name) != after.get(name)
    ]
    if then.get("fields") is None or now.get("fields") is None:
        changed = changed if then != now else []
    return WitnessDiff(True, then == now, False, changed)


async def explain_draft(explainer: Explainer, draft: DraftRecord) -> Explanation | str:
    """The ``opp explain`` pipeline for the draft's call by its app, as it would run now."""
    try:
        return await explainer.explain(
            Subject(app_id=draft.app_id), CallSpec(tool=draft.action, args=draft.payload)
        )
    except ExplainError as error:
        return str(error)
