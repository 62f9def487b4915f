"""Shared fixtures of the OAuth unit tests: a loopback identity provider and a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opp.clock import FrozenClock
from tests.support.oauth_idp import NOW, LoopbackIdp, running_idp


@pytest.fixture
def idp() -> Iterator[LoopbackIdp]:
    with running_idp() as server:
        yield server


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)
