"""Fixtures of the scale-out tests: one PostgreSQL server and one Redis server for the session."""

from tests.support.postgres import postgres_server
from tests.support.redis import redis_server

__all__ = ["postgres_server", "redis_server"]
