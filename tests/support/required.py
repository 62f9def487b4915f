"""What a test needs from the machine: skipped on a developer's laptop, a failure in CI.

CI (``.ci/run``) sets ``OPP_REQUIRE_INTEROP=1`` and installs every peer, so anything a test needs
and does not find there — a program, the ``../shared`` contract and CEL data, an IPv6 loopback — is
a broken CI machine, not a reason to drop a suite silently. Every such skip goes through
:func:`unavailable`.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["REQUIRE_ENV", "required", "unavailable"]

REQUIRE_ENV = "OPP_REQUIRE_INTEROP"
"""``1``: a missing requirement fails the test instead of skipping it (set in CI)."""


def required() -> bool:
    """Whether this run must fail rather than skip (``OPP_REQUIRE_INTEROP=1``)."""
    return os.environ.get(REQUIRE_ENV) == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it under ``OPP_REQUIRE_INTEROP=1``."""
    if required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: required here)")
    pytest.skip(reason)
