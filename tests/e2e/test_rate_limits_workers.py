"""A quota holds across worker processes: `opp serve --workers 2` shares its counters (a mapped file).

With process-local counters each worker would grant the full quota, so a client spreading its calls
over both workers would get up to twice its quota.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from opp.admission import MmapStorage
from tests.support.servers import demo_config, free_port, mint_token, run_cli, running_server

QUOTA = 20
RULE = {"id": "per-key-ip", "per": ["key", "ip"], "limit": f"{QUOTA}/minute"}


async def _storm(base_url: str, token: str, n: int) -> list[httpx.Response]:
    """``n`` concurrent reads over ``n`` connections, so both workers take a share."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        headers = {"Authorization": f"Bearer {token}"}
        return await asyncio.gather(*(client.get("/api/agent/v1/ledgers", headers=headers) for _ in range(n)))


def test_two_workers_grant_one_quota_between_them(tmp_path: Path) -> None:
    config = demo_config(tmp_path, {"rate_limits": {"storage": "memory://", "rules": [RULE]}})
    token = mint_token(config)
    with running_server(config, workers=2) as server:
        responses = asyncio.run(_storm(server.base_url, token, 3 * QUOTA))
        late = httpx.get(
            f"{server.base_url}/api/agent/v1/ledgers", headers={"Authorization": f"Bearer {token}"}
        )

    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == QUOTA, statuses
    assert statuses.count(429) == 2 * QUOTA, statuses
    refused = next(response for response in responses if response.status_code == 429)
    assert refused.json()["code"] == "agent.rate_limited"
    assert refused.headers["RateLimit-Policy"] == f'"per-key-ip";q={QUOTA};w=60'
    assert late.status_code == 429
    counters = MmapStorage(f"mmap:///{tmp_path / '.opp' / 'opp.db-ratelimits.counters'}")
    assert counters.counts() == [3 * QUOTA + 1]  # every hit of both workers landed in the one counter


def test_a_moving_window_with_process_local_counters_refuses_to_start(tmp_path: Path) -> None:
    config = demo_config(tmp_path, {"rate_limits": {"strategy": "moving-window", "rules": [RULE]}})

    result = run_cli("serve", str(config), "--workers", "2", "--port", str(free_port()), cwd=tmp_path)

    assert result.returncode == 1
    assert "moving-window strategy needs a shared storage" in result.stderr
