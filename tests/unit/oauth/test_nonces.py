"""Stateless DPoP server nonces (opp.oauth.nonces): current and previous period only, shared secret."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from opp.clock import FrozenClock
from opp.oauth.jwk_keys import b64url_decode, b64url_encode
from opp.oauth.nonces import NonceSource

SECRET = b"a shared secret of 32 bytes long"
LIFETIME = 300.0
START = dt.datetime(2027, 1, 15, 12, 0, 0, tzinfo=dt.UTC)  # on a period boundary


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def source(clock: FrozenClock) -> NonceSource:
    return NonceSource(SECRET, LIFETIME, clock)


def test_the_nonce_is_stable_within_a_period_and_changes_after(
    source: NonceSource, clock: FrozenClock
) -> None:
    first = source.current()
    clock.advance(dt.timedelta(seconds=LIFETIME - 1))
    assert source.current() == first
    clock.advance(dt.timedelta(seconds=1))
    assert source.current() != first


def test_nonce_syntax_is_nqchar_safe(source: NonceSource) -> None:
    # RFC 9449 §8.1: 1*NQCHAR; base64url is a subset
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", source.current())


def test_current_and_previous_periods_are_valid(source: NonceSource, clock: FrozenClock) -> None:
    nonce = source.current()
    assert source.valid(nonce)
    clock.advance(dt.timedelta(seconds=LIFETIME))
    assert source.valid(nonce)
    clock.advance(dt.timedelta(seconds=LIFETIME))
    assert not source.valid(nonce)


def test_a_nonce_from_a_future_period_is_invalid(source: NonceSource, clock: FrozenClock) -> None:
    clock.advance(dt.timedelta(seconds=LIFETIME))
    future = source.current()
    clock.advance(dt.timedelta(seconds=-LIFETIME))
    assert not source.valid(future)


def test_sources_sharing_a_secret_agree(source: NonceSource, clock: FrozenClock) -> None:
    other_worker = NonceSource(SECRET, LIFETIME, clock)
    assert other_worker.current() == source.current()
    assert other_worker.valid(source.current())


def test_a_nonce_under_another_secret_is_invalid(source: NonceSource, clock: FrozenClock) -> None:
    foreign = NonceSource(b"another secret, also long enough", LIFETIME, clock)
    assert not source.valid(foreign.current())


def test_a_tampered_nonce_is_invalid(source: NonceSource) -> None:
    raw = b64url_decode(source.current())
    flipped_mac = raw[:-1] + bytes([raw[-1] ^ 1])
    assert not source.valid(b64url_encode(flipped_mac))
    # moving the epoch forward without the secret does not produce a valid MAC
    epoch = int.from_bytes(raw[:8], "big")
    assert not source.valid(b64url_encode((epoch - 1).to_bytes(8, "big") + raw[8:]))


@pytest.mark.parametrize("nonce", ["", "short", "x" * 31, "x" * 33, "=" * 32, "+" * 32, "é" * 32, None, 42])
def test_malformed_nonces_are_invalid(source: NonceSource, nonce: Any) -> None:
    assert source.valid(nonce) is False


def test_unpredictable_across_secrets_and_periods(clock: FrozenClock) -> None:
    nonces = {NonceSource(bytes([i]) * 16, LIFETIME, clock).current() for i in range(20)}
    assert len(nonces) == 20


def test_constructor_refuses_weak_settings(clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        NonceSource(b"short", LIFETIME, clock)
    with pytest.raises(ValueError, match="lifetime"):
        NonceSource(SECRET, 0.0, clock)
