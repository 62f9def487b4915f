"""The chart's validate helper stops ``helm install`` with one readable message per contradiction."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.chart_support import render, render_error

SINGLE = {"replicaCount": 1, "workers": 1, "redis": {"enabled": False}}

CONTRADICTIONS: list[tuple[str, dict[str, Any], str]] = [
    (
        "sqlite-with-replicas",
        {"replicaCount": 3, "store": {"kind": "sqlite"}},
        "store.kind=sqlite keeps its records inside one pod, so 3 replicas would each have a store of their",
    ),
    (
        "memory-with-replicas",
        {"replicaCount": 2, "store": {"kind": "memory"}, "workers": 1},
        "store.kind=memory keeps its records inside one pod, so 2 replicas",
    ),
    (
        "sqlite-with-autoscaling",
        {"replicaCount": 1, "store": {"kind": "sqlite"}, "autoscaling": {"enabled": True, "maxReplicas": 4}},
        "store.kind=sqlite keeps its records inside one pod, so 4 replicas",
    ),
    (
        "replicas-without-redis",
        {"replicaCount": 2, "redis": {"enabled": False}},
        "2 replicas share the DPoP replay cache and the rate-limit counters only through Redis: set redis",
    ),
    (
        "oauth-without-public-url",
        {"config": {"oauth": {"enabled": True}}},
        "config.oauth.enabled=true needs publicUrl",
    ),
    (
        "memory-with-workers",
        {**SINGLE, "store": {"kind": "memory"}, "workers": 2},
        "store.kind=memory keeps its records inside one process, so workers=2",
    ),
    (
        "store-in-config",
        {"config": {"store": {"kind": "sqlite"}}},
        "config.store is written by the chart",
    ),
    ("redis-in-config", {"config": {"redis": {"url_env": "X"}}}, "config.redis is written by the chart"),
    (
        "public-url-in-config",
        {"config": {"gateway": {"public_url": "https://x.example"}}},
        "config.gateway.public_url is written by the chart: set publicUrl instead",
    ),
    (
        "postgres-without-secret",
        {"secrets": {"existingSecret": ""}, "redis": {"url": {"existingSecret": "r"}}},
        "store.kind=postgres reads the database URL from a Secret",
    ),
    (
        "redis-without-secret",
        {"secrets": {"existingSecret": ""}, "store": {"database": {"existingSecret": "db"}}},
        "redis.enabled=true reads the Redis URL from a Secret",
    ),
    (
        "grace-shorter-than-drain",
        {"drainSeconds": 30, "terminationGracePeriodSeconds": 20},
        "=20 must be longer than drainSeconds=30 plus server.shutdown_timeout=30s,",
    ),
    (
        "grace-shorter-than-shutdown-timeout",
        {"terminationGracePeriodSeconds": 60, "config": {"server": {"shutdown_timeout": "1m"}}},
        "=60 must be longer than drainSeconds=10 plus server.shutdown_timeout=1m,",
    ),
    (
        "autoscaling-min-above-max",
        {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 3}},
        "autoscaling.minReplicas=5 is more than autoscaling.maxReplicas=3",
    ),
    (
        "servicemonitor-without-metrics",
        {"metrics": {"serviceMonitor": {"enabled": True}}, "config": {"observability": {"metrics": False}}},
        "metrics.serviceMonitor.enabled=true but config.observability.metrics=false",
    ),
    (
        "literal-backend-credential",
        {
            "config": {
                "backends": {
                    "crm": {
                        "kind": "http",
                        "base_url": "http://crm",
                        "headers": {"Authorization": "Bearer abc"},
                    }
                }
            }
        },
        "config.backends.crm.headers.Authorization is a literal value in a ConfigMap",
    ),
]


@pytest.mark.parametrize(("case", "values", "message"), CONTRADICTIONS, ids=[c[0] for c in CONTRADICTIONS])
def test_contradiction_stops_the_install(case: str, values: dict[str, Any], message: str) -> None:
    error = render_error(values)
    assert "opp: these values contradict each other:" in error
    assert message in error


def test_every_contradiction_is_listed_at_once() -> None:
    error = render_error(
        {
            "replicaCount": 2,
            "store": {"kind": "sqlite"},
            "redis": {"enabled": False},
            "config": {"oauth": {"enabled": True}},
        }
    )
    assert error.count("\n  - ") == 3


@pytest.mark.parametrize(
    "values",
    [
        {},
        {**SINGLE, "store": {"kind": "sqlite"}},
        {**SINGLE, "store": {"kind": "memory"}},
        {"config": {"oauth": {"enabled": True}}, "publicUrl": "https://opp.example.com"},
        {
            "config": {
                "backends": {
                    "crm": {
                        "kind": "http",
                        "base_url": "http://crm",
                        "headers": {"Authorization": "Bearer ${CRM_TOKEN}", "Accept": "application/json"},
                    }
                }
            }
        },
        {"metrics": {"serviceMonitor": {"enabled": True}}},
        {"terminationGracePeriodSeconds": 71, "config": {"server": {"shutdown_timeout": "1m"}}},
        {"terminationGracePeriodSeconds": 13, "config": {"server": {"shutdown_timeout": "1500ms"}}},
    ],
)
def test_consistent_values_render(values: dict[str, Any]) -> None:
    assert "Deployment" in render(values).kinds()
