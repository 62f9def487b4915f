"""Injected time and identifiers, so tests can freeze both."""

from __future__ import annotations

import base64
import datetime as dt
import os
import random
import secrets
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "FrozenClock", "IdFactory", "SystemClock", "iso", "new_token"]


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, at: dt.datetime) -> None:
        self._at = at

    def now(self) -> dt.datetime:
        return self._at

    def advance(self, delta: dt.timedelta) -> None:
        self._at += delta


class IdFactory:
    """Prefixed, time-ordered identifiers (``app_…``, ``key_…``, ``aud_…``), like UUIDv7.

    A hex nanosecond timestamp followed by 64 random bits: unique across processes, and ids
    created later sort later, so index inserts append instead of scattering (audit inserts cost
    a third less than with fully random ids). Ids are identifiers, never secrets.
    """

    def __init__(self, nanoseconds: Callable[[], int] = time.time_ns) -> None:
        self._ns = nanoseconds

    def new(self, prefix: str) -> str:
        return f"{prefix}_{self._ns():016x}{_id_random.getrandbits(64):016x}"


# Identifiers need uniqueness, not secrecy: a PRNG seeded from the OS (and reseeded in every forked
# worker, so two workers never share a sequence) instead of a getrandom() syscall per id, which
# cost ~8% of a governed read on a virtualised host.
_id_random = random.Random(secrets.randbits(128))  # noqa: S311 - ids are not secrets
os.register_at_fork(after_in_child=lambda: _id_random.seed(secrets.randbits(128)))


def new_token(prefix: str = "op") -> str:
    """An opaque credential: ``prefix_`` + base64url(32 random bytes), unpadded (SPEC §1)."""
    raw = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    return f"{prefix}_{raw}"


def iso(at: dt.datetime) -> str:
    """RFC 3339 UTC timestamp with millisecond precision and a ``Z`` suffix."""
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
