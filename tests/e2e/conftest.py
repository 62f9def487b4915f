"""Fixtures of the end-to-end tests: real ``opp serve`` processes on loopback."""

from tests.support.servers import demo_server

__all__ = ["demo_server"]
