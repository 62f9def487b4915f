"""``store:`` compiled: the backend, the SQLite path, or the PostgreSQL URL and pool settings.

The PostgreSQL URL is read here, once, from ``store.url_file`` (relative to ``gateway.yaml``) or
the environment variable ``store.url_env`` (default ``OPP_DATABASE_URL``). It is a secret: the
diagnostics name where it was looked for, never what was found.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import psycopg.conninfo

from opp.compile.report import Reporter
from opp.config.durations import parse_duration
from opp.config.schema import GatewayConfig
from opp.store.factory import StoreSettings
from opp.store.postgres import PoolSettings

__all__ = ["compile_store"]


def compile_store(
    config: GatewayConfig, store_path: str, source: str, report: Reporter, environ: Mapping[str, str]
) -> StoreSettings:
    """The store settings; reports unreadable, missing or malformed PostgreSQL URLs and pool sizes."""
    store = config.store
    if store.kind != "postgres":
        cache = PoolSettings(key_cache_max_age_s=parse_duration(store.key_cache_max_age))
        return StoreSettings(kind=store.kind, path=store_path, pool=cache, config_file=source)
    if store.pool_min_size > store.pool_max_size:
        report.error(
            ("store", "pool_min_size"),
            "store.pool_sizes",
            f"pool_min_size {store.pool_min_size} is larger than pool_max_size {store.pool_max_size}",
        )
    url = _read_url(config, Path(source).resolve().parent, report, environ)
    pool = PoolSettings(
        store.pool_min_size,
        store.pool_max_size,
        parse_duration(store.pool_timeout),
        parse_duration(store.key_cache_max_age),
    )
    return StoreSettings(kind="postgres", path=store_path, url=url, pool=pool, config_file=source)


def _read_url(
    config: GatewayConfig, base_dir: Path, report: Reporter, environ: Mapping[str, str]
) -> str | None:
    store = config.store
    if store.url_file is not None:
        where = ("store", "url_file")
        path = base_dir / store.url_file
        try:
            url = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            report.error(where, "store.url_unreadable", f"cannot read the database URL file {path}: {reason}")
            return None
        origin = f"the file {path}"
    else:
        where = ("store", "url_env")
        url = environ.get(store.url_env, "").strip()
        if not url:
            report.error(
                where,
                "store.url_missing",
                f"environment variable {store.url_env} is not set",
                "export the PostgreSQL URL (postgresql://user:password@host/db) in it, or set store.url_file",
            )
            return None
        origin = f"environment variable {store.url_env}"
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        # The parser's message may quote the URL: it is not repeated here.
        report.error(where, "store.url_invalid", f"{origin} does not hold a valid PostgreSQL URL")
        return None
    return url
