"""Admission control at request time: count a call against every rule that applies, refuse with 429.

The hot path is one synchronous ``limits`` hit per applicable rule: the sync in-memory fixed window
costs a few microseconds where the async API costs tens to hundreds (``benchmarks/rate_limit_cost.py``,
``docs/RATE_LIMITS.md``). For the fixed window, the hit is the storage's own ``incr`` on the key
``limits`` would build (what ``FixedWindowRateLimiter.hit`` does), with the key remembered per
counter: building it (``RateLimitItem.key_for``) cost more than the increment. The exception is
the fixed window on the ``redis:`` section's server: its hits are batched
(:class:`~opp.store.redis.pipelined.PipelinedCounters`, the same counting and keys as ``limits``'
Redis storage), so the event loop never waits on a Redis round trip. Rules are hit in
declaration order and the first one exhausted refuses the request; window statistics are read only
then, for the headers.

A refusal is audited once per counter per window (the first one); the later ones of the same
window are only counted in :attr:`Admission.rejections`, so a retry storm cannot flood the audit log.
"""

from __future__ import annotations

import importlib
import time
from collections import Counter
from collections.abc import Callable
from typing import NamedTuple, Protocol

from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import STRATEGIES, RateLimiter

import opp.admission.mmap_storage  # registers the mmap:// scheme
import opp.admission.sqlite_storage  # noqa: F401 - registers the sqlite:// scheme
from opp.admission.headers import delay_seconds, rejection_headers
from opp.admission.memory_storage import ThreadlessMemoryStorage
from opp.admission.plan import AdmissionPlan, Dimension, LimitRule
from opp.auth.principal import Principal
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.observability import metrics
from opp.store.redis import RedisTarget

__all__ = ["Admission", "RuleState", "caller_values"]

_MAX_TRACKED = 10_000
"""Counters remembered for audit suppression before expired entries are dropped."""


def caller_values(principal: Principal, ip: str | None, tool: str | None = None) -> dict[Dimension, str]:
    """The caller's value for each dimension a rule may count by (``-`` when there is none)."""
    return {
        "key": principal.key_id or f"sub:{principal.sub}",
        "app": principal.app.id,
        "ip": ip or "-",
        "tenant": principal.tenant or "-",
        "tool": tool or "-",
    }


class RuleState(NamedTuple):
    """Where one counter stands for a caller (what ``opp explain`` shows)."""

    rule: LimitRule
    remaining: int
    reset_in: int
    """Seconds until the quota comes back (0 when nothing is counted yet)."""


class Admission:
    """Counts calls against a compiled :class:`AdmissionPlan` (one per worker process)."""

    def __init__(
        self,
        plan: AdmissionPlan,
        *,
        storage: Storage | None = None,
        timer: Callable[[], float] = time.time,
    ) -> None:
        """Args:
        plan: The compiled ``rate_limits``.
        storage: A ``limits`` storage to use instead of ``plan.storage_uri`` (tests).
        timer: Wall-clock seconds, as ``limits`` measures its windows (for ``Retry-After``).
        """
        self.plan = plan
        self._timer = timer
        self._limiter: RateLimiter | None = None
        self._pipelined: PipelinedHits | None = None
        self._unavailable = ReasonCode.UNAVAILABLE
        if plan.enabled:
            if storage is None and plan.redis is not None:
                self._unavailable = ReasonCode.SHARED_STATE_UNAVAILABLE
                storage = _redis_storage(plan.redis)
                if plan.strategy == "fixed-window":
                    self._pipelined = _pipelined_counters(plan.redis)
            chosen = storage or _storage_for(plan.storage_uri)
            self._limiter = STRATEGIES[plan.strategy](chosen)
        fixed_window = plan.strategy == "fixed-window"
        self._incr = self._limiter.storage.incr if fixed_window and self._limiter else None
        self._keys: dict[tuple[str, ...], str] = {}  # counter -> its ``limits`` key
        self._quiet_until: dict[tuple[str, ...], float] = {}
        self.rejections: Counter[str] = Counter()
        """Refusals by rule id since the process started (audited or not), for metrics."""

    async def check_request(self, principal: Principal, ip: str | None) -> None:
        """Count one agent request against the rules that need no tool (SPEC §4 step 6).

        Raises:
            OppError: 429 ``agent.rate_limited`` with ``Retry-After`` and ``RateLimit`` headers,
                or 503 ``agent.unavailable`` when a shared storage cannot be reached (fail closed;
                ``agent.shared_state_unavailable`` for Redis).
        """
        if self.plan.request_rules:
            await self._count(self.plan.request_rules, caller_values(principal, ip))

    async def check_tool(self, tool: str, principal: Principal, ip: str | None) -> None:
        """Count one call of ``tool`` against the rules that involve it (same errors as above)."""
        rules = self.plan.tool_rules.get(tool)
        if rules:
            await self._count(rules, caller_values(principal, ip, tool))

    async def close(self) -> None:
        """Close what the counters hold open beyond the process's pools (the pipelined connection)."""
        if self._pipelined is not None:
            await self._pipelined.close()

    def peek(self, principal: Principal, ip: str | None, tool: str | None = None) -> list[RuleState]:
        """The state of every counter a call by ``principal`` (of ``tool``) would hit, consuming nothing.

        Raises:
            OppError: 503, as for :meth:`check_request`, when a shared storage cannot be reached.
        """
        if self._limiter is None:
            return []
        values = caller_values(principal, ip, tool)
        rules = self.plan.request_rules + (self.plan.tool_rules.get(tool, ()) if tool else ())
        now = self._timer()
        states = []
        for rule in rules:
            try:
                stats = self._limiter.get_window_stats(rule.item, *_counter(rule, values))
            except StorageError:
                raise OppError(self._unavailable, "Rate-limit storage is unavailable.") from None
            states.append(RuleState(rule, stats.remaining, max(0, round(stats.reset_time - now))))
        return states

    def _key(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> str:
        key = self._keys.get(identifiers)
        if key is None:
            if len(self._keys) >= _MAX_TRACKED:
                self._keys.clear()
            key = self._keys[identifiers] = item.key_for(*identifiers)
        return key

    async def _count(self, rules: tuple[LimitRule, ...], values: dict[Dimension, str]) -> None:
        limiter = self._limiter
        if limiter is None:
            return
        pipelined, incr = self._pipelined, self._incr
        for rule in rules:
            identifiers = _counter(rule, values)
            item = rule.item
            try:
                if pipelined is not None:
                    if await pipelined.incr(self._key(item, identifiers), item.get_expiry()) <= item.amount:
                        continue
                elif incr is not None:
                    if incr(self._key(item, identifiers), item.get_expiry()) <= item.amount:
                        continue
                elif limiter.hit(item, *identifiers):
                    continue
                stats = limiter.get_window_stats(item, *identifiers)
            except StorageError:
                raise OppError(self._unavailable, "Rate-limit storage is unavailable.") from None
            metrics.rate_limited(rule.id, values["tool"] if values["tool"] != "-" else "")
            raise self._refusal(rule, identifiers, stats.reset_time, stats.remaining)

    def _refusal(
        self, rule: LimitRule, counter: tuple[str, ...], reset_at: float, remaining: int
    ) -> OppError:
        now = self._timer()
        delay = delay_seconds(reset_at, now)
        self.rejections[rule.id] += 1
        error = OppError(
            ReasonCode.RATE_LIMITED,
            "Rate limit exceeded; retry later.",
            {"violatedPolicies": [rule.id], "retryAfterSeconds": delay},
            headers=rejection_headers(rule, remaining, delay),
        )
        error.audited = self._first_in_window(counter, now, now + delay)
        return error

    def _first_in_window(self, counter: tuple[str, ...], now: float, quiet_until: float) -> bool:
        """Whether this is the counter's first refusal since its quota last came back."""
        if self._quiet_until.get(counter, 0.0) > now:
            return False
        if len(self._quiet_until) >= _MAX_TRACKED:
            self._quiet_until = {key: until for key, until in self._quiet_until.items() if until > now}
            if len(self._quiet_until) >= _MAX_TRACKED:
                self._quiet_until.clear()
        self._quiet_until[counter] = quiet_until
        return True


class PipelinedHits(Protocol):
    async def incr(self, key: str, expiry: int, amount: int = 1) -> int: ...

    async def close(self) -> None: ...


def _pipelined_counters(target: RedisTarget) -> PipelinedHits:
    pipelined = importlib.import_module("opp.store.redis.pipelined")  # needs the optional redis extra
    counters: PipelinedHits = pipelined.PipelinedCounters(target)
    return counters


def _redis_storage(target: RedisTarget) -> Storage:
    counters = importlib.import_module("opp.store.redis.counters")  # needs the optional redis extra
    storage: Storage = counters.counters_storage(target)
    return storage


def _counter(rule: LimitRule, values: dict[Dimension, str]) -> tuple[str, ...]:
    """The identifiers of ``rule``'s counter for a caller: the rule id, then each ``per`` value."""
    return (rule.id, *(values[dimension] for dimension in rule.per))


def _storage_for(uri: str) -> Storage:
    """The storage a ``storage`` URI names; process-local memory without ``limits``' timer thread."""
    if uri == "memory://":
        return ThreadlessMemoryStorage(uri, wrap_exceptions=True)
    found = storage_from_string(uri, wrap_exceptions=True)
    if not isinstance(found, Storage):  # compile accepts synchronous schemes only
        raise TypeError(f"rate-limit storage {uri!r} is not a synchronous limits storage")
    return found
