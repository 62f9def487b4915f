"""Several :class:`PostgresStore` instances ("replicas", each with its own pool) on one database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from opp.store.postgres import PoolSettings, PostgresStore


async def replicas(url: str, count: int, pool: PoolSettings | None = None) -> list[PostgresStore]:
    """``count`` opened stores on ``url``, the schema migrated by the first."""
    stores = [PostgresStore(url, pool) for _ in range(count)]
    await stores[0].migrate()
    for store in stores:
        await store.open()
    return stores


async def close(stores: list[PostgresStore]) -> None:
    for store in stores:
        await store.close()


@contextlib.asynccontextmanager
async def opened(url: str, pool: PoolSettings | None = None) -> AsyncIterator[PostgresStore]:
    """One opened store on ``url`` (schema migrated), closed when the block exits."""
    [store] = await replicas(url, 1, pool)
    try:
        yield store
    finally:
        await store.close()
