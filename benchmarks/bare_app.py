"""The baseline: a bare Litestar JSON route, no auth, no policy, no audit."""

from __future__ import annotations

from litestar import Litestar, get


@get("/bare", sync_to_thread=False)
async def bare() -> dict[str, object]:
    return {
        "ok": True,
        "code": "common.success",
        "data": {"items": [{"id": "ledger_main", "name": "Main ledger"}]},
    }


app = Litestar(route_handlers=[bare])
