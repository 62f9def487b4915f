"""Where Redis is: the URL read from the environment or a file, kept out of every repr and message."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

__all__ = ["DEFAULT_URL_ENV", "SCHEMES", "RedisTarget", "redacted_url"]

DEFAULT_URL_ENV = "OPP_REDIS_URL"
"""The environment variable read when ``redis.url_env`` is not set."""
SCHEMES = ("redis", "rediss")
"""``redis://`` (plain TCP) and ``rediss://`` (TLS)."""


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A Redis server to connect to (compiled from the ``redis:`` section)."""

    url: str = field(repr=False)
    """``redis[s]://[[user]:password@]host[:port][/db]``: may hold a password, so never shown."""
    source: str
    """Where the URL came from, for messages: ``$OPP_REDIS_URL`` or ``file /run/secrets/redis-url``."""
    timeout_s: float = 0.5
    """Connect and read timeout: a Redis that does not answer in time fails the request with 503."""

    @property
    def shown(self) -> str:
        """The URL without its credentials, for ``opp explain`` and logs."""
        return redacted_url(self.url)


def redacted_url(url: str) -> str:
    """``url`` with any user name and password replaced by ``***`` (``redis://***@host:6379/0``)."""
    parsed = urllib.parse.urlsplit(url)
    if "@" not in parsed.netloc:
        return url
    host = parsed.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parsed._replace(netloc=f"***@{host}"))
