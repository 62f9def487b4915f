"""The compiled rate-limit plan: rules with their ``limits`` items parsed once, split by when they apply.

A rule's counter is identified by the rule id and the caller's value for each of its dimensions
(``per: [key, ip]`` counts each key from each client address separately). Rules that involve a tool
(``per`` contains ``tool``, or ``tools`` names some) are checked when the tool is known
(``Authorizer.authorize``); the others on every agent request, right after the network step
(SPEC §4 step 6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from limits import RateLimitItem

from opp.store.redis import RedisTarget

__all__ = [
    "DEFAULT_STORAGE",
    "AdmissionPlan",
    "Dimension",
    "LimitRule",
    "Strategy",
    "shared_storage_uri",
]

Dimension = Literal["key", "app", "ip", "tool", "tenant"]
Strategy = Literal["fixed-window", "moving-window", "sliding-window-counter"]

DEFAULT_STORAGE = "memory://"
SHARED_SUFFIXES = {"mmap": "-ratelimits.counters", "sqlite": "-ratelimits.sqlite3"}
"""Appended to the store path to name the rate-limit counters file the workers share, by scheme."""


@dataclass(frozen=True, slots=True)
class LimitRule:
    """One declared quota, ready to count."""

    id: str
    per: tuple[Dimension, ...]
    item: RateLimitItem
    """``limits.parse(limit)``: the amount and the window."""
    tools: frozenset[str] = frozenset()
    """When not empty, the rule counts only calls of these tools."""

    @property
    def window_s(self) -> int:
        return self.item.get_expiry()

    @property
    def needs_tool(self) -> bool:
        """Whether the rule can only be checked once the tool is known."""
        return bool(self.tools) or "tool" in self.per


@dataclass(frozen=True, slots=True)
class AdmissionPlan:
    """``rate_limits:`` compiled: where counters live, how windows move, which rules apply when."""

    storage_uri: str = DEFAULT_STORAGE
    """The ``limits`` storage URI; with :attr:`redis`, that server's URL without credentials (shown only)."""
    strategy: Strategy = "fixed-window"
    request_rules: tuple[LimitRule, ...] = ()
    """Rules checked on every agent request (no tool involved)."""
    tool_rules: Mapping[str, tuple[LimitRule, ...]] = field(default_factory=dict)
    """Tool name → the tool rules that count its calls (tools without any are absent)."""
    redis: RedisTarget | None = None
    """The ``redis:`` section's server, when the counters live there (``storage: redis``)."""

    @property
    def enabled(self) -> bool:
        return bool(self.request_rules or self.tool_rules)

    @property
    def process_local(self) -> bool:
        """Whether counters live in this process only (so N workers would grant N quotas)."""
        return self.redis is None and self.storage_uri.startswith(DEFAULT_STORAGE)

    def for_workers(self, workers: int, store_path: str) -> AdmissionPlan:
        """This plan as ``workers`` processes must run it: shared counters when there is more than one.

        A process-local ``memory://`` storage is replaced by a memory-mapped file next to the store
        (see :func:`shared_storage_uri`); an explicit storage (``mmap://``, ``sqlite://``,
        ``redis://``) is kept.

        Raises:
            ValueError: The moving window is asked for with several workers and process-local
                counters (the shared file counts fixed and sliding windows only).
        """
        if workers <= 1 or not self.enabled or not self.process_local:
            return self
        if self.strategy == "moving-window":
            raise ValueError(
                "rate_limits: the moving-window strategy needs a shared storage with several workers; "
                "set rate_limits.storage (e.g. redis://host:6379) or use fixed-window"
            )
        return replace(self, storage_uri=shared_storage_uri(store_path))


def shared_storage_uri(store_path: str, scheme: str = "mmap") -> str:
    """``mmap:///<store path>-ratelimits.counters`` (or the ``sqlite`` file): counters next to the store.

    Raises:
        ValueError: The store is in memory, so there is no file to put the counters next to.
    """
    if store_path == ":memory:":
        raise ValueError(
            "rate_limits: several workers with a memory store have no shared file for the counters; "
            "set rate_limits.storage to mmap:///PATH or redis://HOST:PORT"
        )
    return f"{scheme}:///{store_path}{SHARED_SUFFIXES[scheme]}"
