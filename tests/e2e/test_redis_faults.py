"""Redis stopped under a real ``opp serve``: requests that count on it get 503, then it recovers.

The gateway keeps its rate-limit counters in Redis (``redis:`` section, URL from ``url_file``).
While Redis is down nothing is admitted unchecked: every agent request is refused with 503
``agent.shared_state_unavailable`` in the usual envelope (never a 500, never a 200 that skipped the
count); once Redis is back, on the same address, the next requests pass without a restart.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.redis import running_redis
from tests.support.servers import demo_config, running_server

LEDGERS = "/api/agent/v1/ledgers"
RULE = {"id": "per-key", "per": ["key"], "limit": "10000/minute"}


def test_redis_down_is_503_and_service_resumes_by_itself(tmp_path: Path) -> None:
    with running_redis(tmp_path / "redis") as redis_server:
        (tmp_path / "redis-url").write_text(redis_server.url, encoding="utf-8")
        overrides = {"redis": {"url_file": "redis-url"}, "rate_limits": {"storage": "redis", "rules": [RULE]}}
        config = demo_config(tmp_path, overrides)
        with running_server(config) as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
            client.headers["Authorization"] = f"Bearer {server.token()}"
            assert client.get(LEDGERS).status_code == 200

            redis_server.stop()
            refused = [client.get(LEDGERS) for _ in range(3)]
            assert client.get("/healthz").status_code == 200  # the process is fine; Redis is not

            redis_server.start()
            deadline = time.monotonic() + 10
            while (resumed := client.get(LEDGERS)).status_code != 200:
                assert time.monotonic() < deadline, resumed.text
                time.sleep(0.05)

    for response in refused:
        assert response.status_code == 503, response.text
        body = response.json()
        assert (body["ok"], body["code"]) == (False, "agent.shared_state_unavailable")
        assert body["message"] == "Rate-limit storage is unavailable."
    assert "127.0.0.1" not in refused[0].text  # no address (nor URL) of Redis in the answer
