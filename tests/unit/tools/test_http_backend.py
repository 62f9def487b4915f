"""The HTTP upstream backend, against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from opp.codes import ReasonCode
from opp.config.schema import HttpBackend, HttpMethod
from opp.errors import OppError
from opp.tools.http_backend import HttpBackendRuntime

from .conftest import MakeCall, ServerThread, free_port

Invoke = Callable[..., Awaitable[Any]]


def runtime_for(base_url: str, **settings: Any) -> HttpBackendRuntime:
    backend = HttpBackend(base_url=base_url, **settings)
    return HttpBackendRuntime.build("app", backend, environ={"APP_TOKEN": "s3rvice"})


@pytest.fixture
async def upstream(echo_server: ServerThread) -> AsyncIterator[HttpBackendRuntime]:
    runtime = runtime_for(echo_server.base_url, headers={"Authorization": "Bearer ${APP_TOKEN}"})
    await runtime.start()
    yield runtime
    await runtime.close()


@pytest.fixture
def invoke(upstream: HttpBackendRuntime, make_call: MakeCall) -> Invoke:
    async def call(method: HttpMethod, path: str, args: dict[str, Any] | None = None, **options: Any) -> Any:
        lookup = options.pop("lookup", False)
        return await upstream.invoker(method, path, lookup=lookup)(make_call(args, **options))

    return call


async def test_get_sends_arguments_as_query_parameters(invoke: Invoke) -> None:
    args = {"q": "a b&c", "tags": ["x", "y"], "flag": True, "off": False, "n": 3, "skipped": None}
    seen = await invoke("GET", "/echo", args)
    assert seen["method"] == "GET"
    assert seen["query"] == [
        ["q", "a b&c"],
        ["tags", "x"],
        ["tags", "y"],
        ["flag", "true"],
        ["off", "false"],
        ["n", "3"],
    ]
    assert seen["body"] is None


async def test_path_placeholders_are_quoted_and_removed_from_the_rest(invoke: Invoke) -> None:
    seen = await invoke("GET", "/items/{id}", {"id": "a/b c?", "page": 2})
    assert seen["raw_path"] == "/items/a%2Fb%20c%3F"
    assert seen["query"] == [["page", "2"]]


async def test_post_sends_remaining_arguments_as_json(invoke: Invoke) -> None:
    seen = await invoke(
        "POST", "/items/{id}", {"id": "t1", "amount": 12.5, "tags": ["a"], "meta": {"k": None}}
    )
    assert seen["method"] == "POST"
    assert seen["raw_path"] == "/items/t1"
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["body"] == {"amount": 12.5, "tags": ["a"], "meta": {"k": None}}
    assert seen["query"] == []


async def test_delete_sends_query_parameters(invoke: Invoke) -> None:
    seen = await invoke("DELETE", "/items/{id}", {"id": "t1", "hard": True})
    assert (seen["method"], seen["query"], seen["body"]) == ("DELETE", [["hard", "true"]], None)


async def test_context_and_static_headers_are_forwarded(invoke: Invoke) -> None:
    seen = await invoke("POST", "/echo", {}, request_id="req_42", idempotency_key="idem-7")
    headers = seen["headers"]
    assert headers["authorization"] == "Bearer s3rvice"
    assert headers["x-request-id"] == "req_42"
    assert headers["idempotency-key"] == "idem-7"
    assert headers["x-opp-app"] == "app_demo"
    assert headers["x-opp-tenant"] == "org_demo"
    assert headers["x-opp-actor"] == "svc_org_demo"


async def test_optional_context_headers_are_omitted(invoke: Invoke) -> None:
    headers = (await invoke("GET", "/echo", {}, tenant=None))["headers"]
    assert "idempotency-key" not in headers
    assert "x-opp-tenant" not in headers


async def test_opp_envelope_is_unwrapped(invoke: Invoke) -> None:
    assert await invoke("GET", "/envelope") == {"x": 1}


async def test_empty_success_is_none(invoke: Invoke) -> None:
    assert await invoke("GET", "/empty") is None


async def test_404_is_none_for_a_lookup(invoke: Invoke) -> None:
    assert await invoke("GET", "/status/{code}", {"code": 404}, lookup=True) is None


async def failure(invoke: Invoke, path: str, args: dict[str, Any] | None = None) -> OppError:
    with pytest.raises(OppError) as caught:
        await invoke("GET", path, args)
    assert "SECRET" not in str(caught.value)
    assert "SECRET" not in repr(caught.value.details)
    return caught.value


async def test_404_is_not_found_for_a_tool(invoke: Invoke) -> None:
    error = await failure(invoke, "/status/{code}", {"code": 404})
    assert (error.code, error.message) == (ReasonCode.NOT_FOUND, "Resource not found.")


@pytest.mark.parametrize("status", [400, 409, 422])
async def test_rejected_input_is_action_invalid(invoke: Invoke, status: int) -> None:
    error = await failure(invoke, "/status/{code}", {"code": status})
    assert (error.code, error.message) == (ReasonCode.ACTION_INVALID, "The application rejected the input.")


@pytest.mark.parametrize("status", [500, 503, 401, 403, 418])
async def test_other_failures_are_execution_failed_without_upstream_text(invoke: Invoke, status: int) -> None:
    error = await failure(invoke, "/status/{code}", {"code": status})
    assert (error.code, error.message, error.status) == (
        ReasonCode.EXECUTION_FAILED,
        "Tool backend failed.",
        502,
    )


@pytest.mark.parametrize("path", ["/invalid-json", "/error-envelope"])
async def test_unusable_success_body_is_execution_failed(invoke: Invoke, path: str) -> None:
    error = await failure(invoke, path)
    assert error.code is ReasonCode.EXECUTION_FAILED


async def test_missing_path_argument_is_action_invalid(invoke: Invoke) -> None:
    error = await failure(invoke, "/items/{id}", {})
    assert error.code is ReasonCode.ACTION_INVALID


async def test_connection_refused_is_upstream_unavailable_502(make_call: MakeCall) -> None:
    runtime = runtime_for(f"http://127.0.0.1:{free_port()}")
    await runtime.start()
    try:
        with pytest.raises(OppError) as caught:
            await runtime.invoker("GET", "/ledgers")(make_call())
    finally:
        await runtime.close()
    error = caught.value
    assert (error.code, error.status, error.message) == (
        ReasonCode.UPSTREAM_UNAVAILABLE,
        502,
        "Tool backend unavailable.",
    )


async def test_timeout_is_upstream_unavailable_504(make_call: MakeCall) -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # returns when the client gives up and closes the connection
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    runtime = runtime_for(f"http://127.0.0.1:{port}", timeout="200ms")
    await runtime.start()
    try:
        with pytest.raises(OppError) as caught:
            await runtime.invoker("GET", "/slow")(make_call())
    finally:
        await runtime.close()
        server.close()
        await server.wait_closed()
    assert (caught.value.code, caught.value.status) == (ReasonCode.UPSTREAM_UNAVAILABLE, 504)


async def test_invoking_before_start_fails_sanitised(echo_server: ServerThread, make_call: MakeCall) -> None:
    runtime = runtime_for(echo_server.base_url)
    with pytest.raises(OppError) as caught:
        await runtime.invoker("GET", "/echo")(make_call())
    assert caught.value.code is ReasonCode.EXECUTION_FAILED


async def test_runtime_settings_come_from_config() -> None:
    runtime = runtime_for("http://127.0.0.1:1", timeout="3s", connect_timeout="250ms", max_connections=7)
    assert (runtime.timeout.read, runtime.timeout.connect) == (3.0, 0.25)
    assert runtime.limits.max_connections == 7
    with pytest.raises(RuntimeError):
        _ = runtime.client
