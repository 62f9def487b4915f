"""The in-process Python module backend: sync/async functions, setup/state/teardown, sanitising."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from opp.codes import ReasonCode
from opp.config.schema import PythonBackend
from opp.errors import OppError
from opp.tools.python_backend import PythonModuleRuntime, resolve_function

from .conftest import MakeCall, MakeModule

STATEFUL = """
    import asyncio

    events = []

    def setup(options, base_dir):
        events.append(("setup", options, base_dir))
        return {"greeting": options["greeting"], "calls": 0}

    def teardown(state):
        events.append(("teardown", state["calls"]))

    def greet(call, state):
        state["calls"] += 1
        return {"text": state["greeting"] + " " + call.args["name"]}

    async def greet_later(call, state):
        await asyncio.sleep(0)
        state["calls"] += 1
        return {"text": state["greeting"].upper() + " " + call.args["name"]}
"""

STATELESS = """
    from opp.codes import ReasonCode
    from opp.errors import OppError

    def echo(call):
        return {"operation": call.operation, "args": call.args, "tenant": call.context.tenant}

    async def echo_async(call):
        return {"async": True, "args": call.args}

    def find(call):
        return None if call.args["id"] == "missing" else {"id": call.args["id"]}

    def find_raising(call):
        raise OppError(ReasonCode.NOT_FOUND, "No such thing.")

    def refuse(call):
        raise OppError(ReasonCode.ACTION_INVALID, "Amount must be positive.")

    def explode(call):
        raise ValueError("SECRET database password in text")

    async def explode_async(call):
        raise KeyError("SECRET key")

    class _Async:
        async def __call__(self, call):
            return "awaited"

    awaitable_object = _Async()
"""


def load(name: str, base_dir: Path, **options: object) -> PythonModuleRuntime:
    return PythonModuleRuntime.load(
        "tools", PythonBackend(module=name, options=options), base_dir=str(base_dir)
    )


async def test_sync_function_without_setup_gets_only_the_call(
    make_module: MakeModule, make_call: MakeCall, tmp_path: Path
) -> None:
    runtime = load(make_module(STATELESS), tmp_path)
    await runtime.start()
    result = await runtime.invoker("echo")(make_call({"a": 1}, operation="thing.echo"))
    assert result == {"operation": "thing.echo", "args": {"a": 1}, "tenant": "org_demo"}


async def test_async_function_is_awaited(
    make_module: MakeModule, make_call: MakeCall, tmp_path: Path
) -> None:
    runtime = load(make_module(STATELESS), tmp_path)
    await runtime.start()
    assert await runtime.invoker("echo_async")(make_call({"b": 2})) == {"async": True, "args": {"b": 2}}
    assert await runtime.invoker("awaitable_object")(make_call()) == "awaited"


async def test_only_async_functions_can_block_so_only_they_get_a_timeout(
    make_module: MakeModule, tmp_path: Path
) -> None:
    runtime = load(make_module(STATELESS), tmp_path)
    assert runtime.invoker("echo").can_block is False
    assert runtime.invoker("echo_async").can_block is True


async def test_setup_state_is_passed_to_every_function_and_teardown(
    make_module: MakeModule, make_call: MakeCall, tmp_path: Path
) -> None:
    name = make_module(STATEFUL)
    runtime = load(name, tmp_path, greeting="hello")
    module = runtime.module
    assert module.events == [], "building the runtime must not call setup"

    await runtime.start()
    assert module.events == [("setup", {"greeting": "hello"}, str(tmp_path))]
    assert await runtime.invoker("greet")(make_call({"name": "ada"})) == {"text": "hello ada"}
    assert await runtime.invoker("greet_later")(make_call({"name": "bob"})) == {"text": "HELLO bob"}

    await runtime.close()
    assert module.events[-1] == ("teardown", 2)


async def test_async_setup_and_teardown_are_awaited(
    make_module: MakeModule, make_call: MakeCall, tmp_path: Path
) -> None:
    name = make_module(
        """
        closed = []

        async def setup(options, base_dir):
            return {"db": options["db"]}

        async def teardown(state):
            closed.append(state["db"])

        def which(call, state):
            return state["db"]
        """
    )
    runtime = load(name, tmp_path, db="sqlite")
    await runtime.start()
    assert await runtime.invoker("which")(make_call()) == "sqlite"
    await runtime.close()
    assert runtime.module.closed == ["sqlite"]


async def test_stateful_function_before_start_fails_sanitised(
    make_module: MakeModule, make_call: MakeCall, tmp_path: Path
) -> None:
    runtime = load(make_module(STATEFUL), tmp_path, greeting="hi")
    with pytest.raises(OppError) as caught:
        await runtime.invoker("greet")(make_call({"name": "x"}))
    assert caught.value.code is ReasonCode.EXECUTION_FAILED


@pytest.mark.parametrize("function", ["explode", "explode_async"])
async def test_unexpected_exception_is_sanitised_and_logged(
    function: str,
    make_module: MakeModule,
    make_call: MakeCall,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = load(make_module(STATELESS), tmp_path)
    await runtime.start()
    with caplog.at_level(logging.ERROR, logger="opp.tools"), pytest.raises(OppError) as caught:
        await runtime.invoker(function)(make_call(request_id="req_boom"))
    error = caught.value
    assert error.code is ReasonCode.EXECUTION_FAILED
    assert error.message == "Tool backend failed."
    assert error.details is None
    assert "SECRET" not in str(error)
    assert error.__cause__ is None
    [record] = [r for r in caplog.records if r.name == "opp.tools"]
    assert record.levelno == logging.ERROR
    assert "req_boom" in record.getMessage()
    assert record.exc_text is not None or record.exc_info is not None


async def test_opp_error_passes_through(make_module: MakeModule, make_call: MakeCall, tmp_path: Path) -> None:
    runtime = load(make_module(STATELESS), tmp_path)
    with pytest.raises(OppError) as caught:
        await runtime.invoker("refuse")(make_call())
    assert caught.value.code is ReasonCode.ACTION_INVALID
    assert caught.value.message == "Amount must be positive."


async def test_lookup_returns_none_for_missing_resources(
    make_module: MakeModule, make_call: MakeCall, tmp_path: Path
) -> None:
    runtime = load(make_module(STATELESS), tmp_path)
    find = runtime.invoker("find", lookup=True)
    assert await find(make_call({"id": "l1"})) == {"id": "l1"}
    assert await find(make_call({"id": "missing"})) is None
    assert await runtime.invoker("find_raising", lookup=True)(make_call()) is None
    with pytest.raises(OppError) as caught:
        await runtime.invoker("find_raising")(make_call())
    assert caught.value.code is ReasonCode.NOT_FOUND


async def test_direct_function_reference_is_called_without_state(
    make_module: MakeModule, make_call: MakeCall, tmp_path: Path
) -> None:
    name = make_module(STATELESS)
    invoker = resolve_function(f"{name}:echo", base_dir=str(tmp_path))
    assert (await invoker(make_call({"z": 0})))["args"] == {"z": 0}
    lookup = resolve_function(f"{name}:find", base_dir=str(tmp_path), lookup=True)
    assert await lookup(make_call({"id": "missing"})) is None


async def test_close_without_start_does_nothing(make_module: MakeModule, tmp_path: Path) -> None:
    runtime = load(make_module(STATEFUL), tmp_path, greeting="hi")
    await runtime.close()
    assert runtime.module.events == []
