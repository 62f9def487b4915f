"""The rehearsal runs on the session's PostgreSQL server (tests/support/postgres.py)."""

from tests.support.postgres import postgres_server  # noqa: F401
