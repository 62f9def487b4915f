"""Build the configured store (``store:`` in ``gateway.yaml``, compiled to :class:`StoreSettings`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from opp.clock import Clock
from opp.store.memory import MemoryStore
from opp.store.pool_settings import PoolSettings
from opp.store.protocols import Store
from opp.store.sqlite import SqliteStore

__all__ = ["STORE_KINDS", "StoreSettings", "open_configured_store", "open_store"]

STORE_KINDS = ("memory", "sqlite", "postgres")

_IN_MEMORY_PATH = ":memory:"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """The compiled ``store:`` section: which backend, and how to reach it."""

    kind: str = "memory"
    path: str = _IN_MEMORY_PATH
    """The SQLite file (``:memory:`` for the memory backend)."""
    url: str | None = field(default=None, repr=False)
    """``postgres``: the libpq URL, read from ``store.url_env`` or ``store.url_file`` (a secret)."""
    pool: PoolSettings = field(default_factory=PoolSettings)
    config_file: str = "gateway.yaml"
    """Named in "run ``opp migrate FILE``" messages."""

    @property
    def migrates_on_open(self) -> bool:
        """Whether ``open()`` applies pending migrations (memory, SQLite) or refuses (PostgreSQL)."""
        return self.kind != "postgres"


def open_store(
    kind: str,
    path: str,
    clock: Clock | None = None,
    *,
    url: str | None = None,
    pool: PoolSettings | None = None,
    config_file: str = "gateway.yaml",
) -> Store:
    """A new, not yet opened store; ``await store.open()`` connects (and, but for PostgreSQL, migrates).

    Args:
        kind: ``"memory"``, ``"sqlite"`` or ``"postgres"``.
        path: The SQLite file (its parent directories are created); ignored otherwise.
        clock: Stamps migration records (SQL backends).
        url: The PostgreSQL URL (required for ``postgres``).
        pool: The PostgreSQL pool settings (SQLite takes its ``key_cache_max_age_s``).
        config_file: Named in PostgreSQL's "run ``opp migrate FILE``" message.

    Raises:
        ValueError: ``kind`` is not a known store kind, or ``postgres`` without a URL.
    """
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        if path != _IN_MEMORY_PATH:
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
        return SqliteStore(path, clock, key_cache_max_age_s=(pool or PoolSettings()).key_cache_max_age_s)
    if kind == "postgres":
        if not url:
            raise ValueError("store.kind postgres needs a URL (store.url_env or store.url_file)")
        from opp.store.postgres import PostgresStore  # noqa: PLC0415  (psycopg only when configured)

        return PostgresStore(url, pool, clock, config_file)
    raise ValueError(f"unknown store kind {kind!r}; expected one of {', '.join(STORE_KINDS)}")


def open_configured_store(settings: StoreSettings, clock: Clock | None = None) -> Store:
    """:func:`open_store` for a compiled ``store:`` section."""
    return open_store(
        settings.kind,
        settings.path,
        clock,
        url=settings.url,
        pool=settings.pool,
        config_file=settings.config_file,
    )
