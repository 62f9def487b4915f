"""``RateLimit`` / ``RateLimit-Policy`` header values (draft-ietf-httpapi-ratelimit-headers, Sept 2025).

Both fields are RFC 8941 structured-field Lists of Items whose value is an sf-string naming the
policy::

    RateLimit-Policy: "per-key-ip";q=240;w=60
    RateLimit: "per-key-ip";r=0;t=37
    Retry-After: 37

Not the older ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` fields (what Litestar's own
middleware emits). "With both Retry-After and RateLimit present, Retry-After SHOULD NOT point
earlier than t": both carry the same delay-seconds value here.
"""

from __future__ import annotations

from math import ceil

from opp.admission.plan import LimitRule

__all__ = ["delay_seconds", "rejection_headers", "sf_string"]


def sf_string(text: str) -> str:
    """An RFC 8941 §3.3.3 sf-string: double quotes, with ``\\`` and ``"`` escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def delay_seconds(reset_at: float, now: float) -> int:
    """Whole seconds until ``reset_at``, at least 1 (a refused client must wait for something)."""
    return max(1, ceil(reset_at - now))


def rejection_headers(rule: LimitRule, remaining: int, delay: int) -> dict[str, str]:
    """The headers of a 429 refused by ``rule``: ``Retry-After``, ``RateLimit``, ``RateLimit-Policy``."""
    name = sf_string(rule.id)
    return {
        "Retry-After": str(delay),
        "RateLimit": f"{name};r={max(0, remaining)};t={delay}",
        "RateLimit-Policy": f"{name};q={rule.item.amount};w={rule.window_s}",
    }
