"""Reading a body straight from ASGI ``receive``: the framework reader's limits and errors."""

from __future__ import annotations

from typing import Any

import pytest

from opp.errors import OppError
from opp.http.bodies import json_depth_exceeds, read_asgi_body


def _receiver(*messages: dict[str, Any]) -> Any:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def _scope(**headers: str) -> dict[str, Any]:
    return {"headers": [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]}


async def test_a_streamed_body_is_joined_with_its_content_type() -> None:
    receive = _receiver(
        {"type": "http.request", "body": b'{"a"', "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b":1}", "more_body": False},
    )
    assert await read_asgi_body(_scope(content_type="application/json"), receive, 100) == (
        b'{"a":1}',
        "application/json",
    )


@pytest.mark.parametrize(
    ("headers", "messages", "code"),
    [
        ({"content_length": "101"}, [], "common.payload_too_large"),
        (
            {},
            [{"type": "http.request", "body": b"x" * 60, "more_body": True}] * 2,
            "common.payload_too_large",
        ),
        (
            {},
            [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}],
            "common.body_malformed",
        ),
        ({"content_length": "12abc"}, [], "common.body_malformed"),
    ],
    ids=["declared too large", "streamed too large", "client gone mid-body", "content-length not a number"],
)
async def test_refusals(headers: dict[str, str], messages: list[dict[str, Any]], code: str) -> None:
    with pytest.raises(OppError) as refused:
        await read_asgi_body(_scope(**headers), _receiver(*messages), 100)
    assert refused.value.code.value == code


@pytest.mark.parametrize(
    ("body", "limit", "too_deep"),
    [
        (b'{"a": [1, {"b": 2}]}', 3, False),  # 3 levels, 6 brackets: counted past the quick check
        (b'{"a": [1, {"b": 2}]}', 2, True),
        (b'{"a": [1, 2]}', 4, False),  # 4 brackets in all: within the limit without counting
        (b'{"a": "[[[[[[[[", "b": {}}', 2, False),  # brackets inside a string do not nest
        (b'{"a": "\\"[[[[", "b": [[[]]]}', 3, True),  # nor after an escaped quote; the array does
        (b"[" * 65 + b"]" * 65, 64, True),
        (b"[" * 64 + b"]" * 64, 64, False),
        (b"[[[", 2, True),  # unclosed: three brackets are three levels (malformed input counts too)
        (b'{"unterminated": "[[[[', 2, True),  # an unterminated string's brackets count: conservative
    ],
)
def test_json_depth_counts_nesting_not_brackets(body: bytes, limit: int, too_deep: bool) -> None:
    assert json_depth_exceeds(body, limit) is too_deep
