"""Reading a body straight from ASGI ``receive``: the framework reader's limits and errors."""

from __future__ import annotations

from typing import Any

import pytest

from opp.errors import OppError
from opp.http.bodies import read_asgi_body


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
