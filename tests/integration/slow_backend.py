"""Backends that misbehave, for the timeout and sanitisation tests."""

from __future__ import annotations

import asyncio
from typing import Any

from opp.tools.api import ToolCall


async def hang(call: ToolCall) -> Any:
    await asyncio.sleep(30)
    return {"items": []}


def explode(call: ToolCall) -> Any:
    raise RuntimeError("secret: connection string postgres://admin:hunter2@db")
