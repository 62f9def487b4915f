"""values.schema.json rejects wrong types, unknown keys and impossible values before anything renders."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.chart_support import chart, helm

REJECTED: list[tuple[dict[str, Any], str]] = [
    ({"replicaCount": "2"}, "/replicaCount"),
    ({"replicaCount": -1}, "/replicaCount"),
    ({"workers": 0}, "/workers"),
    ({"workers": 2.5}, "/workers"),
    ({"containerPort": 80}, "/containerPort"),
    ({"store": {"kind": "mysql"}}, "/store/kind"),
    ({"store": {"database": {"env": "NOT-AN-ENV"}}}, "/store/database/env"),
    ({"redis": {"enabled": "yes"}}, "/redis/enabled"),
    ({"publicUrl": "opp.example.com"}, "/publicUrl"),
    ({"publicUrl": "https://opp.example.com/path"}, "/publicUrl"),
    ({"image": {"digest": "latest"}}, "/image/digest"),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ({"config": "version: 1"}, "/config"),
    ({"secretEnv": [{"name": "X"}]}, "/secretEnv/0"),
    ({"secretEnv": [{"name": "X", "key": "k", "value": "s3cret"}]}, "/secretEnv/0"),
    ({"probes": {"readiness": {"periodSeconds": "5s"}}}, "/probes/readiness"),
    ({"httpRoute": {"enabled": True}}, "/httpRoute/parentRefs"),
    ({"ingress": {"enabled": True}}, "/ingress/hosts"),
    ({"autoscaling": {"targetCPUUtilizationPercentage": 150}}, "/autoscaling/targetCPUUtilizationPercentage"),
    ({"podDisruptionBudget": {"maxUnavailable": "half"}}, "/podDisruptionBudget/maxUnavailable"),
    ({"replicas": 3}, "additional properties 'replicas'"),
    ({"store": {"url": "postgresql://opp:pw@db/opp"}}, "additional properties 'url'"),
]


@pytest.mark.parametrize(("values", "where"), REJECTED, ids=[w for _, w in REJECTED])
def test_schema_rejects(values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm.HelmValuesError) as caught:
        chart().validate_schema(values)
    assert where in str(caught.value)


def test_render_checks_the_schema_too() -> None:
    with pytest.raises(helm.HelmValuesError, match="/replicaCount"):
        chart().render({"replicaCount": "two"})


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"replicaCount": 0},
        {"podDisruptionBudget": {"maxUnavailable": "25%"}},
        {"publicUrl": "https://a.b:8443"},
    ],
)
def test_schema_accepts(values: dict[str, Any]) -> None:
    chart().validate_schema(values)
