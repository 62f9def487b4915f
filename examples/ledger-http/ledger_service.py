"""A small ledger API: the application that sits behind the gateway in the production shape.

The gateway (``examples/ledger-http/gateway.yaml``) authenticates agents, checks scopes, policies
and tenants, then calls this service with its own service credential::

    GET /ledgers                 the ledgers of the workspace in ``X-OPP-Tenant``
    GET /ledgers/{id}            one ledger (any workspace: the gateway compares ``org_id``), 404 if unknown
    GET /transactions?ledgerId&startDate&endDate&page&pageSize
    GET /transactions/{id}       one transaction with its ledger's ``org_id`` (the ``transaction`` lookup)
    POST /transactions           create (``Idempotency-Key`` makes retries return the same row)
    PATCH /transactions/{id}     update some fields
    DELETE /transactions/{id}    soft delete
    DELETE /transactions/{id}/permanent               hard delete
    GET /exports/transactions?ledgerId&startDate&endDate          rows to export (at most 1000)
    GET /exports/transactions/preview?ledgerId&startDate&endDate  how many rows that is

Every request needs ``Authorization: Bearer $LEDGER_SERVICE_TOKEN`` (401 otherwise). The data layer
is the embedded demo's (:mod:`opp.demo.ledger_data`, :mod:`opp.demo.ledger_writes`), seeded with the
same reference data. Refusals are ``400`` (invalid change) or ``404`` (unknown id or other tenant).

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
from litestar import Litestar, Request, Response, delete, get, patch, post
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from opp.clock import Clock, SystemClock, iso
from opp.codes import ReasonCode
from opp.demo import ledger_writes
from opp.demo.ledger_args import transaction_values
from opp.demo.ledger_data import MEMORY, LedgerDatabase, transaction_window
from opp.errors import OppError

DEFAULT_MAX_DAYS = 30
"""Window of an open-ended query. The gateway enforces each app's own max_days on explicit ranges."""
MAX_EXPORT_ROWS = 1000
"""The service's own export cap (the app's ``max_export_rows`` policy is not forwarded over HTTP)."""
_CREATE_FIELDS = frozenset({"ledgerId", "kind", "amount", "title", "notes", "occurredOn"})
Tenant = Annotated[str | None, HeaderParameter(name="X-OPP-Tenant")]


def _refusal(request: Request[Any, Any, Any], exc: OppError) -> Response[dict[str, Any]]:
    return Response({"ok": False, "code": exc.code.value, "message": exc.message}, status_code=exc.status)


def create_app(token: str, database: LedgerDatabase, clock: Clock | None = None) -> Litestar:
    """The ledger API, guarded by the service ``token``, serving ``database``."""
    expected = f"Bearer {token}".encode()
    today = (clock or SystemClock()).now

    def owned_transaction(transaction_id: str, tenant: str | None) -> dict[str, Any]:
        transaction = database.transaction(transaction_id)
        if transaction is None or (tenant is not None and transaction["org_id"] != tenant):
            raise NotFoundException("Transaction not found.")
        return transaction

    def owned_ledger(ledger_id: str, tenant: str | None) -> None:
        ledger = database.ledger(ledger_id)
        if ledger is None or (tenant is not None and ledger["org_id"] != tenant):
            raise NotFoundException("Ledger not found.")

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

    @get("/transactions/{transaction_id:str}")
    async def get_transaction(transaction_id: FromPath[str], tenant: Tenant = None) -> dict[str, Any]:
        return owned_transaction(transaction_id, tenant)

    @post("/transactions", status_code=201)
    async def create_transaction(
        data: JSONBody[dict[str, Any]],
        tenant: Tenant = None,
        app_id: Annotated[str, HeaderParameter(name="X-OPP-App")] = "",
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key")] = None,
    ) -> dict[str, Any]:
        owned_ledger(str(data.get("ledgerId")), tenant)
        values = transaction_values(data, _CREATE_FIELDS)
        txn_id = ledger_writes.new_transaction_id(app_id, idempotency_key)
        return {"transaction": ledger_writes.create(database, values, txn_id=txn_id, now=iso(today()))}

    @patch("/transactions/{transaction_id:str}")
    async def update_transaction(
        transaction_id: FromPath[str], data: JSONBody[dict[str, Any]], tenant: Tenant = None
    ) -> dict[str, Any]:
        owned_transaction(transaction_id, tenant)
        changes = transaction_values(data, frozenset(ledger_writes.UPDATABLE_FIELDS))
        if not changes:
            raise OppError(ReasonCode.ACTION_INVALID, "Give at least one field to change.")
        return {"transaction": ledger_writes.update(database, transaction_id, changes, now=iso(today()))}

    @delete("/transactions/{transaction_id:str}", status_code=200)
    async def delete_transaction(transaction_id: FromPath[str], tenant: Tenant = None) -> dict[str, Any]:
        owned_transaction(transaction_id, tenant)
        return {"transaction": ledger_writes.soft_delete(database, transaction_id, now=iso(today()))}

    @delete("/transactions/{transaction_id:str}/permanent", status_code=200)
    async def hard_delete_transaction(transaction_id: FromPath[str], tenant: Tenant = None) -> dict[str, Any]:
        owned_transaction(transaction_id, tenant)
        removed = ledger_writes.hard_delete(database, transaction_id)
        return {"deleted": True, "transactionId": removed["id"], "ledgerId": removed["ledgerId"]}

    @get("/exports/transactions")
    async def export_transactions(
        *,
        ledger_id: Annotated[str, QueryParameter(name="ledgerId", min_length=1)],
        start_date: Annotated[dt.date, QueryParameter(name="startDate")],
        end_date: Annotated[dt.date, QueryParameter(name="endDate")],
        tenant: Tenant = None,
    ) -> dict[str, Any]:
        owned_ledger(ledger_id, tenant)
        items = ledger_writes.export_rows(
            database, ledger_id, (start_date, end_date), max_rows=MAX_EXPORT_ROWS
        )
        return {"ledgerId": ledger_id, "startDate": str(start_date), "endDate": str(end_date), "items": items}

    @get("/exports/transactions/preview")
    async def preview_export(
        *,
        ledger_id: Annotated[str, QueryParameter(name="ledgerId", min_length=1)],
        start_date: Annotated[dt.date, QueryParameter(name="startDate")],
        end_date: Annotated[dt.date, QueryParameter(name="endDate")],
        tenant: Tenant = None,
    ) -> dict[str, Any]:
        owned_ledger(ledger_id, tenant)
        return ledger_writes.export_preview(
            database, ledger_id, (start_date, end_date), max_rows=MAX_EXPORT_ROWS
        )

    return Litestar(
        route_handlers=[
            list_ledgers,
            get_ledger,
            list_transactions,
            get_transaction,
            create_transaction,
            update_transaction,
            delete_transaction,
            hard_delete_transaction,
            export_transactions,
            preview_export,
        ],
        before_request=require_service_token,
        exception_handlers={OppError: _refusal},
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
