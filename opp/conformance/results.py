"""The outcome of one conformance check."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CheckResult"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check of a conformance profile against a running gateway.

    Attributes:
        id: Stable identifier, e.g. ``endpoint:GET /api/agent/v1/manifest`` or ``envelope:error``.
        description: What the check requires, in the profile's words where it has them.
        passed: Whether the gateway met the requirement.
        detail: What was observed (status and reason code), or why the check failed.
    """

    id: str
    description: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready mapping."""
        return asdict(self)

    def line(self) -> str:
        """``PASS id: detail`` or ``FAIL id: detail``."""
        return f"{'PASS' if self.passed else 'FAIL'} {self.id}: {self.detail}"
