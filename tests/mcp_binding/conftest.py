"""One real ``opp serve`` with the MCP binding, shared by a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mcp_binding.support import gateway_config
from tests.support.servers import RunningServer, running_server


@pytest.fixture(scope="module")
def mcp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    config, port = gateway_config(tmp_path_factory.mktemp("mcp-server"))
    with running_server(config, port=port) as server:
        yield server
