"""What a layered-profile run found: one :class:`CheckOutcome` per check."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["CheckOutcome", "Status"]

Status = Literal["passed", "failed", "skipped", "expected-failure", "unexpected-pass"]


@dataclass(slots=True)
class CheckOutcome:
    """One check of one profile.

    Attributes:
        id: The check id, e.g. ``authz.scope-denied``.
        layer: Its profile.
        spec: The SPEC section it tests.
        title: What it requires.
        status: ``passed``, ``failed``, ``skipped`` (a credential was not given), or with a baseline
            ``expected-failure`` / ``unexpected-pass``.
        reason: Why it failed or was skipped (and the baseline's reason).
        log: One line per step: the request and what came back.
    """

    id: str
    layer: str
    spec: str
    title: str
    status: Status
    reason: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def unexpected_failure(self) -> bool:
        return self.status == "failed"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
