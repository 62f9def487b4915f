"""The ledger demo with a pause before each write, to hold an execution in flight in tests.

Use it in place of the demo backend (``backends.demo: {kind: python, module:
tests.support.slow_backend, options: {delay_s: 0.5, path: ...}}``): reads and lookups answer at once;
``create_transaction``, ``update_transaction``, ``delete_transaction`` and ``hard_delete_transaction``
wait ``delay_s`` seconds (without blocking the event loop), then apply the demo's real effect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from opp.demo import ledger
from opp.demo.ledger_data import LedgerDatabase
from opp.tools.api import ToolCall

__all__ = [
    "create_transaction",
    "delete_transaction",
    "export_transactions",
    "get_ledger",
    "get_transaction",
    "hard_delete_transaction",
    "list_ledgers",
    "list_transactions",
    "preview_export",
    "setup",
    "teardown",
    "update_transaction",
]


@dataclass(frozen=True, slots=True)
class SlowLedger:
    database: LedgerDatabase
    delay_s: float


def setup(options: dict[str, Any], base_dir: str) -> SlowLedger:
    demo_options = {key: value for key, value in options.items() if key != "delay_s"}
    return SlowLedger(ledger.setup(demo_options, base_dir), float(options.get("delay_s", 0.5)))


def teardown(state: SlowLedger) -> None:
    ledger.teardown(state.database)


def get_ledger(call: ToolCall, state: SlowLedger) -> Any:
    return ledger.get_ledger(call, state.database)


def get_transaction(call: ToolCall, state: SlowLedger) -> Any:
    return ledger.get_transaction(call, state.database)


def list_ledgers(call: ToolCall, state: SlowLedger) -> Any:
    return ledger.list_ledgers(call, state.database)


def list_transactions(call: ToolCall, state: SlowLedger) -> Any:
    return ledger.list_transactions(call, state.database)


def preview_export(call: ToolCall, state: SlowLedger) -> Any:
    return ledger.preview_export(call, state.database)


def export_transactions(call: ToolCall, state: SlowLedger) -> Any:
    return ledger.export_transactions(call, state.database)


async def create_transaction(call: ToolCall, state: SlowLedger) -> Any:
    await asyncio.sleep(state.delay_s)
    return ledger.create_transaction(call, state.database)


async def update_transaction(call: ToolCall, state: SlowLedger) -> Any:
    await asyncio.sleep(state.delay_s)
    return ledger.update_transaction(call, state.database)


async def delete_transaction(call: ToolCall, state: SlowLedger) -> Any:
    await asyncio.sleep(state.delay_s)
    return ledger.delete_transaction(call, state.database)


async def hard_delete_transaction(call: ToolCall, state: SlowLedger) -> Any:
    await asyncio.sleep(state.delay_s)
    return ledger.hard_delete_transaction(call, state.database)
