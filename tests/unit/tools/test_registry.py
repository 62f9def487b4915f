"""Building runtimes and resolving references: every resolution error code, and the real configs."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import yaml

from opp.config.schema import BackendRef, GatewayConfig, HttpBackend, PythonBackend
from opp.tools.api import BackendRuntime
from opp.tools.http_backend import HttpBackendRuntime
from opp.tools.python_backend import PythonModuleRuntime
from opp.tools.registry import BackendResolutionError, build_runtime, resolve_invoker

from .conftest import MakeModule

REPO = Path(__file__).resolve().parents[3]
TOOLS = """
    CALLS = []

    def setup(options, base_dir):
        CALLS.append("setup")

    def list_items(call, state):
        return []

    def get_item(call, state):
        return None

    def _private(call, state):
        return None
"""


@pytest.fixture
def runtimes(make_module: MakeModule, tmp_path: Path) -> dict[str, BackendRuntime]:
    python = PythonBackend(module=make_module(TOOLS))
    http = HttpBackend(base_url="http://127.0.0.1:9", headers={"Authorization": "Bearer ${TOKEN}"})
    return {
        "tools": build_runtime("tools", python, base_dir=str(tmp_path), environ={}),
        "api": build_runtime("api", http, base_dir=str(tmp_path), environ={"TOKEN": "t0k"}),
    }


def resolution_error(ref: BackendRef, runtimes: dict[str, BackendRuntime]) -> BackendResolutionError:
    with pytest.raises(BackendResolutionError) as caught:
        resolve_invoker(ref, runtimes)
    error = caught.value
    assert "Traceback" not in error.message
    return error


def test_build_runtime_acquires_nothing(runtimes: dict[str, BackendRuntime]) -> None:
    python = runtimes["tools"]
    http = runtimes["api"]
    assert isinstance(python, PythonModuleRuntime)
    assert isinstance(http, HttpBackendRuntime)
    assert python.module.CALLS == []
    with pytest.raises(RuntimeError):
        _ = http.client
    assert http.headers == {"Authorization": "Bearer t0k"}


def test_valid_references_resolve(runtimes: dict[str, BackendRuntime]) -> None:
    assert callable(resolve_invoker(BackendRef(backend="tools", call="list_items"), runtimes))
    assert callable(resolve_invoker(BackendRef(backend="api", path="/items/{id}"), runtimes, lookup=True))
    assert callable(resolve_invoker(BackendRef(function="opp.demo.ledger:get_ledger"), runtimes))


def test_unknown_backend_suggests_the_closest_name(runtimes: dict[str, BackendRuntime]) -> None:
    error = resolution_error(BackendRef(backend="tool", call="list_items"), runtimes)
    assert error.code == "backend.unknown"
    assert "tool" in error.message
    assert error.hint == "did you mean 'tools'?"


@pytest.mark.parametrize("module", ["opp_no_such_module_xyz", "opp.no_such_submodule"])
def test_unknown_module(module: str, tmp_path: Path) -> None:
    with pytest.raises(BackendResolutionError) as caught:
        build_runtime("x", PythonBackend(module=module), base_dir=str(tmp_path), environ={})
    assert caught.value.code == "backend.unknown_module"
    assert module in caught.value.message
    assert caught.value.__cause__ is None


def test_module_failing_at_import_is_unknown_module(make_module: MakeModule, tmp_path: Path) -> None:
    name = make_module("raise RuntimeError('boom at import')\n")
    with pytest.raises(BackendResolutionError) as caught:
        build_runtime("x", PythonBackend(module=name), base_dir=str(tmp_path), environ={})
    assert caught.value.code == "backend.unknown_module"
    assert name in caught.value.message
    assert "Traceback" not in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("function", ["list_itmes", "_private", "setup", "CALLS"])
def test_unknown_function(function: str, runtimes: dict[str, BackendRuntime]) -> None:
    error = resolution_error(BackendRef(backend="tools", call=function), runtimes)
    assert error.code == "backend.unknown_function"
    assert function in error.message


def test_unknown_function_suggests_a_public_callable(runtimes: dict[str, BackendRuntime]) -> None:
    error = resolution_error(BackendRef(backend="tools", call="list_itmes"), runtimes)
    assert error.hint == "did you mean 'list_items'?"


@pytest.mark.parametrize("spec", ["opp.demo.ledger:list_ledger", "opp.demo.ledger", ":get_ledger"])
def test_unknown_direct_function(spec: str, runtimes: dict[str, BackendRuntime]) -> None:
    assert resolution_error(BackendRef(function=spec), runtimes).code == "backend.unknown_function"


def test_direct_function_in_unknown_module(runtimes: dict[str, BackendRuntime]) -> None:
    assert resolution_error(BackendRef(function="opp_nope_mod:f"), runtimes).code == "backend.unknown_module"


@pytest.mark.parametrize("ref", [BackendRef(), BackendRef(call="list_items"), BackendRef(backend="tools")])
def test_missing(ref: BackendRef, runtimes: dict[str, BackendRuntime]) -> None:
    assert resolution_error(ref, runtimes).code == "backend.missing"


@pytest.mark.parametrize(
    "ref",
    [
        BackendRef(backend="api", call="list_items", path="/items"),
        BackendRef(backend="tools", call="list_items", path="/items"),
        BackendRef(backend="tools", function="opp.demo.ledger:get_ledger"),
        BackendRef(function="opp.demo.ledger:get_ledger", path="/ledgers"),
    ],
)
def test_kind_mismatch(ref: BackendRef, runtimes: dict[str, BackendRuntime]) -> None:
    assert resolution_error(ref, runtimes).code == "backend.kind_mismatch"


def test_path_required(runtimes: dict[str, BackendRuntime]) -> None:
    error = resolution_error(BackendRef(backend="api", method="POST"), runtimes)
    assert error.code == "backend.path_required"


def test_env_missing(tmp_path: Path) -> None:
    backend = HttpBackend(base_url="http://127.0.0.1:9", headers={"X-Key": "k-${OPP_TEST_UNSET_VAR}"})
    with pytest.raises(BackendResolutionError) as caught:
        build_runtime("api", backend, base_dir=str(tmp_path), environ={"OTHER": "1"})
    assert caught.value.code == "backend.env_missing"
    assert "OPP_TEST_UNSET_VAR" in caught.value.message


@pytest.mark.parametrize("url", ["127.0.0.1:9100", "ftp://host/", "http://"])
def test_invalid_base_url(url: str, tmp_path: Path) -> None:
    with pytest.raises(BackendResolutionError) as caught:
        build_runtime("api", HttpBackend(base_url=url), base_dir=str(tmp_path), environ={})
    assert caught.value.code == "backend.invalid_url"


@pytest.mark.parametrize("config", ["gateway.yaml", "examples/ledger-http/gateway.yaml"])
def test_shipped_configs_resolve(config: str) -> None:
    path = REPO / config
    gateway = msgspec.convert(yaml.safe_load(path.read_text()), GatewayConfig)
    environ = {"LEDGER_SERVICE_TOKEN": "secret"}
    runtimes = {
        name: build_runtime(name, backend, base_dir=str(path.parent), environ=environ)
        for name, backend in gateway.backends.items()
    }
    for tool in gateway.tools:
        assert tool.backend is not None
        assert callable(resolve_invoker(tool.backend, runtimes))
    for resource in gateway.resources.values():
        assert callable(resolve_invoker(resource.lookup, runtimes, lookup=True))
