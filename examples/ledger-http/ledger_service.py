"""A small ledger API: the application that sits behind the gateway in the production shape.

The gateway (``examples/ledger-http/gateway.yaml``) authenticates agents, checks scopes, policies
and tenants, then calls this service with its own service credential::

    GET /ledgers                 the ledgers of the workspace in ``X-OPP-Tenant``
    GET /ledgers/{id}            one ledger (any workspace: the gateway compares ``org_id``), 404 if unknown
    GET /transactions?ledgerId&startDate&endDate&page&pageSize

Every request needs ``Authorization: Bearer $LEDGER_SERVICE_TOKEN`` (401 otherwise). The data layer
is the embedded demo's (:mod:`opp.demo.ledger_data`), seeded with the same reference data.

Run::

    LEDGER_SERVICE_TOKEN=… python examples/ledger-http/ledger_service.py --port 9100
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import os
import sys
from typing import Annotated, Any

import uvicorn
from litestar import Litestar, Request, get
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath, HeaderParameter, QueryParameter

from opp.clock import Clock, SystemClock, iso
from opp.demo.ledger_data import MEMORY, LedgerDatabase, transaction_window

DEFAULT_MAX_DAYS = 30
"""Window of an open-ended query. The gateway enforces each app's own max_days on explicit ranges."""


def create_app(token: str, database: LedgerDatabase, clock: Clock | None = None) -> Litestar:
    """The ledger API, guarded by the service ``token``, serving ``database``."""
    expected = f"Bearer {token}".encode()
    today = (clock or SystemClock()).now

    def require_service_token(request: Request[Any, Any, Any]) -> None:
        presented = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(presented, expected):
            raise NotAuthorizedException("A valid service token is required.")

    @get("/ledgers")
    async def list_ledgers(
        tenant: Annotated[str | None, HeaderParameter(name="X-OPP-Tenant")] = None,
    ) -> dict[str, Any]:
        return {"items": database.ledgers_of(tenant) if tenant else []}

    @get("/ledgers/{ledger_id:str}")
    async def get_ledger(ledger_id: FromPath[str]) -> dict[str, Any]:
        ledger = database.ledger(ledger_id)
        if ledger is None:
            raise NotFoundException("Ledger not found.")
        return ledger

    @get("/transactions")
    async def list_transactions(
        *,
        ledger_id: Annotated[str, QueryParameter(name="ledgerId", min_length=1)],
        start_date: Annotated[dt.date | None, QueryParameter(name="startDate")] = None,
        end_date: Annotated[dt.date | None, QueryParameter(name="endDate")] = None,
        page: Annotated[int, QueryParameter(ge=1)] = 1,
        page_size: Annotated[int, QueryParameter(name="pageSize", ge=1, le=200)] = 50,
        tenant: Annotated[str | None, HeaderParameter(name="X-OPP-Tenant")] = None,
    ) -> dict[str, Any]:
        ledger = database.ledger(ledger_id)
        if ledger is None or (tenant is not None and ledger["org_id"] != tenant):
            raise NotFoundException("Ledger not found.")
        window = transaction_window(start_date, end_date, today=today().date(), max_days=DEFAULT_MAX_DAYS)
        return database.transaction_page(ledger_id, window, page=page, page_size=page_size)

    return Litestar(
        route_handlers=[list_ledgers, get_ledger, list_transactions],
        before_request=require_service_token,
    )


def main(argv: list[str] | None = None) -> int:
    """Serve the ledger API on loopback until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--db", default=MEMORY, help="SQLite file (default: in memory, reseeded per run)")
    args = parser.parse_args(argv)
    token = os.environ.get("LEDGER_SERVICE_TOKEN")
    if not token:
        print(
            "ledger_service: set LEDGER_SERVICE_TOKEN (the gateway sends it as a Bearer token)",
            file=sys.stderr,
        )
        return 2
    now = SystemClock().now()
    database = LedgerDatabase.open(args.db, seed_date=now.date(), seeded_at=iso(now))
    uvicorn.run(create_app(token, database), host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
