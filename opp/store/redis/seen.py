"""A set of seen keys with expiry in Redis: the DPoP ``jti`` replay cache shared by every replica.

One ``SET key 1 NX PX ttl`` per proof: Redis sets the key only if it is absent and answers ``OK``,
or nothing when it was already there, in one atomic command. Two replicas presenting the same
proof at the same instant therefore get one ``OK`` between them. Millisecond expiry (``PX``), so a
key lives exactly as long as the proof could still be accepted.
"""

from __future__ import annotations

import math

import redis

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.store.redis.client import RedisConnections
from opp.store.redis.target import RedisTarget

__all__ = ["RedisSeen"]


class RedisSeen:
    """``first_use(key, ttl_s)``: True the first time ``key`` is recorded within its expiry."""

    def __init__(self, target: RedisTarget) -> None:
        self._connections = RedisConnections(target)

    def first_use(self, key: str, ttl_s: float) -> bool:
        """Record ``key`` for ``ttl_s`` seconds (at least 1 ms).

        Raises:
            OppError: 503 ``agent.shared_state_unavailable`` when Redis cannot be reached (fail closed).
        """
        try:
            answer = self._connections.client().set(key, b"1", nx=True, px=max(1, math.ceil(ttl_s * 1000)))
        except redis.RedisError:
            raise OppError(ReasonCode.SHARED_STATE_UNAVAILABLE, "DPoP replay cache is unavailable.") from None
        return bool(answer)

    def close(self) -> None:
        self._connections.close()
