"""Every rendered manifest validates against the Kubernetes OpenAPI schemas of each minor in the
chart's ``kubeVersion`` range, offline: ``kubernetes-validate`` ships the schemas, and the sockets
are closed while it runs (any connection attempt fails the test).

The two CRD kinds (Gateway API ``HTTPRoute``, Prometheus Operator ``ServiceMonitor``) have no schema
in Kubernetes itself; their shape is asserted in test_render.py.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest

from tests.chart.chart_support import CI_VALUES, ci_values, kube_versions, render

CRD_KINDS = {"HTTPRoute", "ServiceMonitor"}
ALL_VALUES = [pytest.param({}, id="defaults")] + [
    pytest.param(ci_values(path), id=path.name) for path in CI_VALUES
]


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkUsed(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


def test_the_network_guard_catches_a_connection(no_network: None) -> None:
    with pytest.raises(NetworkUsed):
        socket.create_connection(("127.0.0.1", 9))


def test_the_range_is_covered_by_the_shipped_schemas() -> None:
    versions = kube_versions()
    assert len(versions) >= 5
    shipped = set(kubernetes_validate.utils.all_versions())
    assert set(versions) <= shipped, f"kubernetes-validate lacks {sorted(set(versions) - shipped)}"


@pytest.mark.parametrize("kube_version", kube_versions())
@pytest.mark.parametrize("values", ALL_VALUES)
def test_manifests_validate_offline(values: dict[str, Any], kube_version: str, no_network: None) -> None:
    validated = []
    for manifest in render(values).manifests:
        if manifest["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(manifest, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(
                f"{manifest['kind']}/{manifest['metadata']['name']} on {kube_version}: "
                f"{error.message} at {list(error.path)}"
            )
        validated.append(manifest["kind"])
    assert {"Deployment", "Job", "Service", "ConfigMap"} <= set(validated)


def test_an_invalid_manifest_is_reported(no_network: None) -> None:
    deployment = render().one("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(kubernetes_validate.ValidationError, match="is not of type 'integer'"):
        kubernetes_validate.validate(deployment, kube_versions()[0], strict=True)
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kube_versions()[0], strict=True)
