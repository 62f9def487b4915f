"""Render assertions in the style of helm-unittest: probes, resources, security, secrets, hooks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from opp.compile import compile_file
from opp.config.diagnostics import ConfigError
from tests.chart.chart_support import (
    CI_VALUES,
    RELEASE,
    ci_values,
    container,
    gateway_yaml,
    render,
)

ALL_VALUES = [pytest.param({}, id="defaults")] + [
    pytest.param(ci_values(path), id=path.name) for path in CI_VALUES
]

# What would go into the Secret; none of it may appear in a rendered ConfigMap.
SECRET_VALUES = {
    "database-url": "postgresql://opp:db-Pa55word@postgres.db.svc:5432/opp",
    "redis-url": "redis://:redis-Pa55word@redis.db.svc:6379/0",
    "admin-token": "opa_" + "A" * 43,
    "idp-client-secret": "idp-client-Secret-value",
}
CREDENTIAL_SHAPES = re.compile(
    r"(?i)://[^/\s:@]*:[^@\s]+@|\bopa?_[A-Za-z0-9_-]{43}\b|password|client_secret:"
)


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("values", ALL_VALUES)
def test_every_workload_is_restricted_and_has_resources(values: dict[str, Any]) -> None:
    rendered = render(values)
    assert {w["kind"] for w in rendered.workloads()} == {"Deployment", "Job"}
    for workload in rendered.workloads():
        pod = _pod(workload)
        main = container(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        security = main["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] > 0
        assert main["resources"]["requests"]["cpu"] and main["resources"]["requests"]["memory"]
        assert main["resources"]["limits"]["memory"]
        mounts = {m["mountPath"]: m for m in main["volumeMounts"]}
        assert mounts["/etc/opp"]["readOnly"] is True
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes["tmp"] and {"/tmp", "/var/lib/opp"} <= set(mounts)


@pytest.mark.parametrize("values", ALL_VALUES)
def test_deployment_probes_command_and_termination(values: dict[str, Any]) -> None:
    rendered = render(values)
    deployment = rendered.one("Deployment", RELEASE)
    main = container(deployment)
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    workers = str(values.get("workers", 2))
    assert main["command"] == ["opp"]
    assert main["args"] == [
        "serve",
        "/etc/opp/gateway.yaml",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
        "--workers",
        workers,
    ]
    drain = int(main["lifecycle"]["preStop"]["exec"]["command"][1])
    assert _pod(deployment)["terminationGracePeriodSeconds"] > drain
    constraints = _pod(deployment)["topologySpreadConstraints"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert constraints and all(c["labelSelector"]["matchLabels"] == selector for c in constraints)


def test_workers_and_replicas_come_from_values() -> None:
    rendered = render({"replicaCount": 4, "workers": 3})
    deployment = rendered.one("Deployment")
    assert deployment["spec"]["replicas"] == 4
    assert container(deployment)["args"][-2:] == ["--workers", "3"]
    assert "replicas" not in render({"autoscaling": {"enabled": True}}).one("Deployment")["spec"]


def test_gateway_yaml_gets_the_sections_the_chart_owns() -> None:
    rendered = render(
        {
            "publicUrl": "https://opp.example.com",
            "admin": {"bootstrapToken": {"enabled": True}},
            "store": {"settings": {"pool_max": 20}},
            "config": {"gateway": {"name": "edge"}, "scopes": {"a.read": "A"}},
        }
    )
    config = gateway_yaml(rendered)
    assert config["version"] == 1
    assert config["gateway"] == {"name": "edge", "public_url": "https://opp.example.com"}
    assert config["store"] == {"kind": "postgres", "url_env": "OPP_DATABASE_URL", "pool_max": 20}
    assert config["redis"] == {"url_env": "OPP_REDIS_URL"}
    assert config["admin"] == {"bootstrap_token_env": "OPP_ADMIN_BOOTSTRAP_TOKEN"}
    assert config["scopes"] == {"a.read": "A"}
    sqlite = gateway_yaml(
        render({"replicaCount": 1, "redis": {"enabled": False}, "store": {"kind": "sqlite"}})
    )
    assert sqlite["store"] == {"kind": "sqlite", "path": "/var/lib/opp/opp.db"} and "redis" not in sqlite


def _env(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container(workload)["env"]}


def test_secrets_are_wired_by_reference_only() -> None:
    production = ci_values(next(p for p in CI_VALUES if p.name == "production-values.yaml"))
    rendered = render(production)
    for workload in rendered.workloads():
        env = _env(workload)
        for name, secret, key in [
            ("OPP_DATABASE_URL", "opp-prod", "database-url"),
            ("OPP_REDIS_URL", "opp-prod", "redis-url"),
            ("OPP_ADMIN_BOOTSTRAP_TOKEN", "opp-prod", "admin-token"),
            ("OPP_IDP_CLIENT_SECRET", "opp-prod", "idp-client-secret"),
            ("LEDGER_SERVICE_TOKEN", "ledger-service", "token"),
        ]:
            assert env[name] == {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
    assert "Secret" not in rendered.kinds()


@pytest.mark.parametrize("values", ALL_VALUES)
def test_no_secret_value_in_any_configmap(values: dict[str, Any]) -> None:
    rendered = render(values)
    config_maps = rendered.all("ConfigMap")
    assert len(config_maps) == 2  # the release's and the migration hook's copy
    for config_map in config_maps:
        text = yaml.safe_dump(config_map)
        for secret in SECRET_VALUES.values():
            assert secret not in text
        assert not CREDENTIAL_SHAPES.search(text), CREDENTIAL_SHAPES.search(text)


def test_the_credential_shape_check_can_fail() -> None:
    leaked = {"config": {"gateway": {"name": SECRET_VALUES["database-url"]}}}
    text = yaml.safe_dump(render(leaked).one("ConfigMap", RELEASE))
    assert CREDENTIAL_SHAPES.search(text)


def test_migration_job_is_a_pre_install_and_pre_upgrade_hook() -> None:
    rendered = render()
    job = rendered.one("Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert container(job)["command"] == ["opp"] and container(job)["args"] == [
        "migrate",
        "/etc/opp/gateway.yaml",
    ]
    assert _pod(job)["restartPolicy"] == "Never"
    hook_map = rendered.one("ConfigMap", f"{RELEASE}-migrate")
    assert int(hook_map["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        annotations["helm.sh/hook-weight"]
    )
    assert hook_map["data"] == rendered.one("ConfigMap", RELEASE)["data"]
    assert {v["name"]: v for v in _pod(job)["volumes"]}["config"]["configMap"]["name"] == f"{RELEASE}-migrate"
    assert _env(job) == _env(rendered.one("Deployment"))
    assert "Job" not in render({"migration": {"enabled": False}}).kinds()


def test_checksum_annotation_follows_gateway_yaml_only() -> None:
    def checksum(values: dict[str, Any]) -> str:
        deployment = render(values).one("Deployment")
        value: str = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        return value

    base = checksum({})
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert checksum({"replicaCount": 5}) == base
    assert checksum({"config": {"gateway": {"name": "renamed"}}}) != base
    assert checksum({"publicUrl": "https://opp.example.com"}) != base


def test_optional_resources_are_off_by_default() -> None:
    kinds = render().kinds()
    for kind in ("Ingress", "HTTPRoute", "HorizontalPodAutoscaler", "ServiceMonitor", "Secret"):
        assert kind not in kinds
    assert {
        "Deployment",
        "Service",
        "ConfigMap",
        "ServiceAccount",
        "PodDisruptionBudget",
        "NetworkPolicy",
    } <= set(kinds)
    single = render({"replicaCount": 1, "redis": {"enabled": False}, "store": {"kind": "sqlite"}})
    assert "PodDisruptionBudget" not in single.kinds()


def test_ingress_and_httproute_target_the_service_port() -> None:
    rendered = render(
        {
            "ingress": {"enabled": True, "className": "nginx", "hosts": [{"host": "opp.example.com"}]},
        }
    )
    service = rendered.one("Service")
    ingress = rendered.one("Ingress")
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["backend"]["service"] == {"name": service["metadata"]["name"], "port": {"name": "http"}}
    route = render({"httpRoute": {"enabled": True, "parentRefs": [{"name": "public"}]}}).one("HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["rules"][0]["backendRefs"] == [
        {"name": RELEASE, "port": service["spec"]["ports"][0]["port"]}
    ]


def test_servicemonitor_scrapes_metrics_on_the_service_port() -> None:
    rendered = render({"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}})
    monitor = rendered.one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    assert monitor["spec"]["selector"]["matchLabels"] == rendered.one("Service")["spec"]["selector"]


def test_hpa_and_pdb_select_the_gateway_pods() -> None:
    rendered = render({"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9}})
    hpa = rendered.one("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": RELEASE}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 9)
    pods = rendered.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = rendered.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pods.items()


def test_network_policy_opens_the_gateway_port_and_optional_egress() -> None:
    policy = render().one("NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    egress = [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 5432, "protocol": "TCP"}]}]
    restricted = render({"networkPolicy": {"egress": egress}}).one("NetworkPolicy")
    assert restricted["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert restricted["spec"]["egress"][1:] == egress
    assert {p["port"] for p in restricted["spec"]["egress"][0]["ports"]} == {53}


def test_notes_tell_how_to_check_the_release() -> None:
    notes = render().notes
    assert "rollout status deployment/opp" in notes and "publicUrl is not set" in notes


def test_image_digest_wins_over_the_tag() -> None:
    digest = "sha256:" + "a" * 64
    assert container(render({"image": {"digest": digest}}).one("Deployment"))["image"] == f"opp@{digest}"
    assert container(render({"image": {"tag": "1.2.3"}}).one("Deployment"))["image"] == "opp:1.2.3"


@pytest.mark.parametrize("values", ALL_VALUES)
def test_rendered_gateway_yaml_compiles_with_the_wired_environment(
    values: dict[str, Any], tmp_path: Path
) -> None:
    """What the chart writes into gateway.yaml is what opp accepts (``opp check`` on the ConfigMap)."""
    rendered = render(values)
    deployment = rendered.one("Deployment")
    fake = {
        "database-url": "postgresql://opp:pw@postgres.db.svc:5432/opp",
        "redis-url": "redis://:pw@redis.db.svc:6379/0",
        "admin-token": "opa_" + "b" * 43,
    }
    environ = {}
    for entry in container(deployment)["env"]:
        if "value" in entry:
            environ[entry["name"]] = entry["value"]
        else:
            environ[entry["name"]] = fake.get(entry["valueFrom"]["secretKeyRef"]["key"], "s3cret-value")
    config = tmp_path / "gateway.yaml"
    config.write_text(rendered.one("ConfigMap", RELEASE)["data"]["gateway.yaml"], encoding="utf-8")
    plan = compile_file(config, environ=environ)
    assert plan.config.store.kind == values.get("store", {}).get("kind", "postgres")
    assert (plan.config.redis is not None) == values.get("redis", {}).get("enabled", True)
    if any("valueFrom" in entry for entry in container(deployment)["env"]):
        with pytest.raises(ConfigError):  # without the Secrets' variables it does not start
            compile_file(config, environ={})
