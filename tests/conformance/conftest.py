"""Fixtures of the conformance tests: the in-process gateway and a real ``opp serve``."""

from tests.integration.conftest import config_text, gateway
from tests.support.servers import demo_server

__all__ = ["config_text", "demo_server", "gateway"]
