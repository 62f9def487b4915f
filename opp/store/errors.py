"""The error every store backend raises when it cannot serve: :class:`StoreUnavailable`.

SQLite (locked past its busy timeout, read-only file, disk full, I/O error, not a database),
PostgreSQL (server down, pool exhausted) and any future backend raise this one type, through
:func:`opp.store.rules.store_unavailable`. It is an :class:`~opp.errors.OppError`, so the HTTP
layer answers ``503 agent.unavailable`` in the envelope with ``Retry-After``, and the request's
transaction was rolled back: nothing of it is half-written. Nothing needs resetting afterwards:
the next request uses the store again and succeeds once the store does.
"""

from __future__ import annotations

from opp.codes import ReasonCode
from opp.errors import OppError

__all__ = ["RETRY_AFTER_S", "StoreUnavailable"]

RETRY_AFTER_S = 1
"""What ``Retry-After`` tells a client refused because the store could not serve."""


class StoreUnavailable(OppError):
    """The store cannot read or write now; the request had no effect on it (fail closed)."""

    def __init__(self) -> None:
        super().__init__(
            ReasonCode.UNAVAILABLE, "Store unavailable.", headers={"Retry-After": str(RETRY_AFTER_S)}
        )
