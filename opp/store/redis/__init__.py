"""Redis: what every replica shares and only keeps for a short while (docs/SCALE_OUT.md).

Rate-limit counters (:mod:`~opp.store.redis.counters`, ``limits``' Redis storage) and the DPoP
``jti`` replay cache (:mod:`~opp.store.redis.seen`, ``SET NX PX``) live here; durable records stay
in the store (SQLite or PostgreSQL). Both share the process's pool (:mod:`~opp.store.redis.client`).
The URL comes from an environment variable or a file (``redis.url_env`` / ``redis.url_file``) and
is never logged or echoed: :func:`redacted_url` is what diagnostics show.

Only :mod:`~opp.store.redis.target` is imported here: the others need the ``redis`` package (the
``opp[redis]`` extra) and are imported when a ``redis:`` section is configured.
"""

from opp.store.redis.target import DEFAULT_URL_ENV, SCHEMES, RedisTarget, redacted_url

__all__ = ["DEFAULT_URL_ENV", "SCHEMES", "RedisTarget", "redacted_url"]
