"""The embedded ledger demo backend (``backends.demo: {kind: python, module: opp.demo.ledger}``).

It serves the reference runtime's demo domain from a local SQLite file so that ``opp serve`` runs
the whole protocol with no other service. Options (``backends.demo.options``):

- ``path``: the SQLite file, relative to the directory of ``gateway.yaml``
  (default ``.opp/demo-ledger.db``; ``:memory:`` for a throw-away database);
- ``seed_date``: ``YYYY-MM-DD`` the seed data is dated from (default: today, at first open).

The gateway has already authenticated the caller, checked scopes, policies, tenant and input when
these functions run; they only scope what the application itself scopes (``list_ledgers`` by the
caller's tenant). All functions are synchronous and fast (local SQLite). The action tools and the
``transaction`` lookup live in :mod:`opp.demo.ledger_actions` and are exported here.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from opp.clock import SystemClock, iso
from opp.demo.ledger_actions import (
    create_transaction,
    delete_transaction,
    export_transactions,
    get_transaction,
    hard_delete_transaction,
    preview_export,
    update_transaction,
)
from opp.demo.ledger_args import DEFAULT_MAX_DAYS, date_arg, policy_int
from opp.demo.ledger_data import MEMORY, LedgerDatabase, transaction_window
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

DEFAULT_PATH = ".opp/demo-ledger.db"
DEFAULT_PAGE_SIZE = 50


def setup(options: dict[str, Any], base_dir: str) -> LedgerDatabase:
    """Open the demo database (seeding it on first open); the result is every function's state."""
    path = str(options.get("path", DEFAULT_PATH))
    if path != MEMORY:
        path = os.path.join(base_dir, path)
    seed_date = options.get("seed_date")
    if seed_date is not None:
        day = dt.date.fromisoformat(str(seed_date))
        return LedgerDatabase.open(
            path, seed_date=day, seeded_at=iso(dt.datetime.combine(day, dt.time(), dt.UTC))
        )
    now = SystemClock().now()
    return LedgerDatabase.open(path, seed_date=now.date(), seeded_at=iso(now))


def teardown(state: LedgerDatabase) -> None:
    """Close the demo database."""
    state.close()


def list_ledgers(call: ToolCall, state: LedgerDatabase) -> dict[str, Any]:
    """``ledger.list``: the ledgers of the caller's workspace (none without a tenant)."""
    tenant = call.context.tenant
    return {"items": state.ledgers_of(tenant) if tenant is not None else []}


def get_ledger(call: ToolCall, state: LedgerDatabase) -> dict[str, Any] | None:
    """Resource lookup ``ledger``: the ledger ``args.id`` whatever its workspace, or None.

    The gateway compares the ledger's ``org_id`` with the caller's tenant itself.
    """
    ledger_id = call.args.get("id")
    return state.ledger(ledger_id) if isinstance(ledger_id, str) else None


def list_transactions(call: ToolCall, state: LedgerDatabase) -> dict[str, Any]:
    """``transaction.list``: a page of a ledger's transactions in a date window, newest first.

    Without ``startDate``/``endDate`` the window is the app's last ``max_days`` days ending today
    (``call.context.now``); see :func:`~opp.demo.ledger_data.transaction_window`.
    """
    args = call.args
    window = transaction_window(
        date_arg(args, "startDate"),
        date_arg(args, "endDate"),
        today=call.context.now.astimezone(dt.UTC).date(),
        max_days=policy_int(call, "max_days", DEFAULT_MAX_DAYS),
    )
    return state.transaction_page(
        str(args["ledgerId"]),
        window,
        page=int(args.get("page") or 1),
        page_size=int(args.get("pageSize") or DEFAULT_PAGE_SIZE),
    )
