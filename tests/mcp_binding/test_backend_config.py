"""``kind: mcp`` backends are checked when the config is compiled: one transport, an absolute URL,
every ``${ENV}`` secret present, and a tool reference naming the upstream tool."""

from __future__ import annotations

import msgspec
import pytest

from opp.config.schema import BackendRef, McpBackend
from opp.tools.mcp_backend import McpBackendRuntime
from opp.tools.registry import BackendResolutionError, build_runtime, resolve_invoker


def backend(**fields: object) -> McpBackend:
    return msgspec.convert({"kind": "mcp", **fields}, McpBackend)


@pytest.mark.parametrize(
    "fields",
    [{}, {"url": "http://127.0.0.1:1/mcp", "command": ["x"]}, {"url": "ftp://h/mcp"}, {"url": "/mcp"}],
)
def test_exactly_one_absolute_transport(fields: dict[str, object]) -> None:
    with pytest.raises(BackendResolutionError) as refused:
        build_runtime("up", backend(**fields), base_dir=".", environ={})
    assert refused.value.code == "backend.invalid_url"


def test_secrets_come_from_the_environment() -> None:
    config = backend(url="https://mcp.example/mcp", headers={"Authorization": "Bearer ${UP_TOKEN}"})
    with pytest.raises(BackendResolutionError) as refused:
        build_runtime("up", config, base_dir=".", environ={})
    assert refused.value.code == "backend.env_missing"
    built = build_runtime("up", config, base_dir=".", environ={"UP_TOKEN": "s3cret"})
    assert isinstance(built, McpBackendRuntime)


def test_a_reference_names_the_upstream_tool() -> None:
    runtimes = {"up": build_runtime("up", backend(command=["server"]), base_dir=".", environ={})}
    with pytest.raises(BackendResolutionError) as refused:
        resolve_invoker(BackendRef(backend="up"), runtimes)
    assert refused.value.code == "backend.missing"
    with pytest.raises(BackendResolutionError):
        resolve_invoker(BackendRef(backend="up", call="t", path="/x"), runtimes)
    assert resolve_invoker(BackendRef(backend="up", call="get_order"), runtimes) is not None
