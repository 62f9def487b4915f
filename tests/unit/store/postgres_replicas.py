"""Several :class:`PostgresStore` instances ("replicas", each with its own pool) on one database."""

from __future__ import annotations

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
