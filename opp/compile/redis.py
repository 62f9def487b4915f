"""``redis:`` → :class:`~opp.store.redis.RedisTarget`, and the DPoP replay cache pointed at it.

The URL is read from the environment variable ``url_env`` (default ``OPP_REDIS_URL``) or from
``url_file`` and checked here; no diagnostic ever contains it (only its scheme, or where it was
read from).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from opp.compile.report import Reporter
from opp.config.durations import parse_duration
from opp.config.schema import GatewayConfig, RedisConfig
from opp.config.source_map import JsonPath
from opp.oauth.plan import OAuthPlan
from opp.store.redis import SCHEMES, RedisTarget

__all__ = ["REDIS_STORAGE", "compile_redis", "replay_on_redis"]

REDIS_STORAGE = "redis"
"""``rate_limits.storage`` / ``oauth.dpop.replay_storage`` value naming the ``redis:`` section."""
_SECTION: JsonPath = ("redis",)
_URL_HINT = "write redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss://… (TLS)"


def compile_redis(
    config: RedisConfig | None, base_dir: str, report: Reporter, environ: Mapping[str, str]
) -> RedisTarget | None:
    """The configured Redis server, or None without a ``redis:`` section (or with a diagnostic)."""
    if config is None:
        return None
    if importlib.util.find_spec("redis") is None:
        report.error(
            _SECTION,
            "redis.dependency",
            "the redis: section needs the Python package 'redis', which is not installed",
            "pip install 'opp[redis]'",
            at_key=True,
        )
        return None
    found = _read_url(config, base_dir, report, environ)
    if found is None:
        return None
    url, source, path = found
    if not _check_url(url, source, path, report):
        return None
    return RedisTarget(url=url, source=source, timeout_s=parse_duration(config.timeout))


def _read_url(
    config: RedisConfig, base_dir: str, report: Reporter, environ: Mapping[str, str]
) -> tuple[str, str, JsonPath] | None:
    """(URL, where it came from, its config path), or None with a diagnostic."""
    if config.url_file is not None:
        path: JsonPath = (*_SECTION, "url_file")
        file = Path(base_dir, config.url_file)
        try:
            url = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as failed:
            reason = failed.strerror if isinstance(failed, OSError) and failed.strerror else "not UTF-8 text"
            report.error(path, "redis.url_unreadable", f"cannot read the Redis URL file {file}: {reason}")
            return None
        source = f"file {file}"
    else:
        path = (*_SECTION, "url_env")
        url = environ.get(config.url_env, "").strip()
        source = f"${config.url_env}"
        if not url:
            report.error(
                path,
                "redis.url_missing",
                f"environment variable {config.url_env} is not set",
                "export the Redis URL (redis://… or rediss://…) in it before starting opp, or set url_file",
            )
            return None
    return url, source, path


def _check_url(url: str, source: str, path: JsonPath, report: Reporter) -> bool:
    """Whether ``url`` is a usable Redis URL; the diagnostic names ``source``, never the URL."""
    parsed = urllib.parse.urlsplit(url)
    try:
        port_ok = parsed.port is None or parsed.port > 0
    except ValueError:
        port_ok = False
    if parsed.scheme not in SCHEMES:
        scheme = f" (scheme {parsed.scheme!r})" if parsed.scheme else ""
        message = f"the URL in {source} is not redis:// or rediss://{scheme}"
        report.error(path, "redis.bad_url", message, _URL_HINT)
        return False
    if not parsed.hostname or not port_ok:
        report.error(path, "redis.bad_url", f"the URL in {source} has no valid host and port", _URL_HINT)
        return False
    return True


def replay_on_redis(
    config: GatewayConfig, oauth: OAuthPlan, redis: RedisTarget | None, report: Reporter
) -> OAuthPlan:
    """``oauth`` with its DPoP replay cache on ``redis`` when asked for (or by default with a server)."""
    asked = config.oauth.dpop.replay_storage
    if asked not in (None, REDIS_STORAGE):
        return oauth
    if redis is None:
        if asked == REDIS_STORAGE and config.redis is None:
            report.error(
                ("oauth", "dpop", "replay_storage"),
                "oauth.redis_missing",
                "replay_storage: redis needs a top-level redis: section",
                "add redis: (the URL comes from $OPP_REDIS_URL by default) or name another storage",
            )
        return oauth
    dpop = dataclasses.replace(oauth.dpop, replay_storage_uri=redis.shown, replay_redis=redis)
    return dataclasses.replace(oauth, dpop=dpop)
