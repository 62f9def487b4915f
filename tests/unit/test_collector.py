"""The worker's garbage-collector settings: what is alive at start-up is frozen, thresholds raised."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from opp.http.collector import THRESHOLDS, settle_collector


@pytest.fixture
def restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored")
def test_start_up_objects_are_frozen_and_collections_are_rarer() -> None:
    plan = {"compiled": [1, 2, 3]}
    assert any(tracked is plan for tracked in gc.get_objects())
    settle_collector()
    assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert not any(tracked is plan for tracked in gc.get_objects())  # no collection walks it again
