"""``GET /metrics`` after real traffic: requests, latencies, policy, backend, drafts, reloads, logs.

The prometheus-client registry is per process, so each test compares values before and after its
own requests.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from opp.observability.logs import configure_logging
from opp.observability.metrics import rate_limited
from tests.integration.conftest import ROOT
from tests.integration.live_gateway import Live, config_text, live, sighup

__all__ = ["config_text", "live", "sighup"]  # fixtures used here

LEDGERS = "/api/agent/v1/ledgers"
LEDGERS_ROUTE = {"route": "/api/agent/v1/ledgers", "tool": "ledger.list"}


async def scrape(live: Live) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await live.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_governed_read_is_counted_and_timed(live: Live) -> None:
    before = await scrape(live)

    response = await live.client.get(LEDGERS, headers=live.auth())
    denied = await live.client.get(LEDGERS)

    assert (response.status_code, denied.status_code) == (200, 401)
    after = await scrape(live)
    ok = {**LEDGERS_ROUTE, "code": "common.success", "status": "200"}
    refused = {**LEDGERS_ROUTE, "code": "agent.token_invalid", "status": "401"}
    assert value(after, "opp_requests_total", **ok) - value(before, "opp_requests_total", **ok) == 1
    assert value(after, "opp_requests_total", **refused) - value(before, "opp_requests_total", **refused) == 1
    count = "opp_request_duration_seconds_count"
    assert value(after, count, **LEDGERS_ROUTE) - value(before, count, **LEDGERS_ROUTE) == 2
    inf = {**LEDGERS_ROUTE, "le": "+Inf"}
    bucket = "opp_request_duration_seconds_bucket"
    assert value(after, bucket, **inf) - value(before, bucket, **inf) == 2
    assert value(after, "opp_request_duration_seconds_sum", **LEDGERS_ROUTE) > 0
    policy = "opp_policy_evaluation_seconds_count"
    assert value(after, policy, tool="ledger.list") - value(before, policy, tool="ledger.list") == 1
    backend = "opp_backend_duration_seconds_count"
    call = {"operation": "ledger.list", "outcome": "ok"}
    assert value(after, backend, **call) - value(before, backend, **call) == 1


async def test_routes_without_a_tool_and_unknown_paths_are_labelled_by_template(live: Live) -> None:
    before = await scrape(live)

    await live.client.get("/api/agent/v1/manifest", headers=live.auth())
    await live.client.get("/no/such/route")

    after = await scrape(live)
    manifest = {"route": "/api/agent/v1/manifest", "tool": "", "code": "common.success", "status": "200"}
    unmatched = {"route": "unmatched", "tool": "", "code": "common.not_found", "status": "404"}
    for labels in (manifest, unmatched):
        assert (
            value(after, "opp_requests_total", **labels) - value(before, "opp_requests_total", **labels) == 1
        )


async def test_an_action_is_labelled_with_its_tool_and_pending_drafts_are_gauged(live: Live) -> None:
    payload = {
        "ledgerId": "ledger_main",
        "kind": "expense",
        "amount": 12.5,
        "title": "Team lunch",
        "occurredOn": dt.datetime.now(dt.UTC).date().isoformat(),
    }
    for _ in range(2):
        response = await live.client.post(
            "/api/agent/v1/actions",
            json={"action": "transaction.create", "payload": payload},
            headers=live.auth(),
        )
        assert response.json()["data"]["status"] == "draft", response.text
    unknown = await live.client.post(
        "/api/agent/v1/actions", json={"action": "no.such.tool", "payload": {}}, headers=live.auth()
    )
    assert unknown.json()["code"] == "agent.action_unknown"

    after = await scrape(live)

    assert value(after, "opp_drafts_pending", tool="transaction.create") == 2
    labels = {
        "route": "/api/agent/v1/actions",
        "tool": "transaction.create",
        "code": "common.success",
        "status": "200",
    }
    assert value(after, "opp_requests_total", **labels) >= 2
    unknown_labels = {
        **labels,
        "tool": "",
        "code": "agent.action_unknown",
        "status": str(unknown.status_code),
    }
    assert value(after, "opp_requests_total", **unknown_labels) >= 1


async def test_rate_limit_rejections_and_reloads_are_counted(live: Live) -> None:
    before = await scrape(live)

    rate_limited("per-key-ip", "ledger.list")
    live.edit("required_scopes: [ledger.read]", "required_scopes: [ledger.reed]")
    assert (await live.reload()).status_code == 400

    after = await scrape(live)
    limited = {"limit": "per-key-ip", "tool": "ledger.list"}
    assert (
        value(after, "opp_rate_limited_total", **limited) - value(before, "opp_rate_limited_total", **limited)
        == 1
    )
    refused = {"outcome": "refused"}
    assert value(after, "opp_reloads_total", **refused) - value(before, "opp_reloads_total", **refused) == 1


_NO_METRICS = (
    ROOT / "examples" / "ledger" / "gateway.yaml"
).read_text() + "\nobservability:\n  metrics: false\n"


@pytest.mark.parametrize("config_text", [_NO_METRICS], indirect=True)
async def test_metrics_can_be_turned_off(live: Live) -> None:
    response = await live.client.get("/metrics")

    assert (response.status_code, response.json()["code"]) == (404, "common.not_found")


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The ``opp`` loggers in JSON to a buffer; their previous set-up restored afterwards."""
    logger = logging.getLogger("opp")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    buffer = io.StringIO()
    configure_logging("json", "info")
    logger.handlers[-1].setStream(buffer)  # type: ignore[attr-defined]
    yield buffer
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


_EXPLODING = (
    (ROOT / "examples" / "ledger" / "gateway.yaml")
    .read_text()
    .replace(
        "    backend: {backend: demo, call: list_ledgers}",
        '    backend: {function: "tests.integration.slow_backend:explode"}',
    )
)


@pytest.mark.parametrize("config_text", [_EXPLODING], indirect=True)
async def test_log_records_of_a_request_carry_its_request_id(live: Live, json_logs: io.StringIO) -> None:
    response = await live.client.get(LEDGERS, headers={**live.auth(), "X-Request-Id": "req-metrics-1"})

    assert response.status_code == 502
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    failures = [r for r in records if r["logger"] == "opp.tools"]
    assert failures, records
    assert failures[0]["request_id"] == "req-metrics-1" == response.headers["x-request-id"]
    assert failures[0]["level"] == "error" and "RuntimeError" in failures[0]["exception"]
    assert "hunter2" in failures[0]["exception"]  # server-side only: the client never sees it
    assert "hunter2" not in response.text
    before = {r["message"] for r in records}
    other = await live.client.get("/api/agent/v1/manifest", headers=live.auth())
    assert other.status_code == 200
    assert {json.loads(line)["message"] for line in json_logs.getvalue().splitlines()} == before
