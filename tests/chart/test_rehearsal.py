"""Deployment rehearsal: the rendered chart, run as the kubelet would run it, on real PostgreSQL and Redis.

1. Render the chart with the ledger-over-HTTP example as ``config`` (2 replicas, Redis, an admin
   bootstrap token and the backend's service token from Secrets).
2. Run the migration Job's container (``opp migrate``) with its env and mounts, then ``--check``.
3. Start the Deployment's container twice (two pods), wait on its startup and readiness probes.
4. Run the core conformance profile against each replica.
5. 100 concurrent executes with one ``Idempotency-Key`` spread over both replicas → one execution,
   one backend effect, 99 replays.
6. Render an upgrade with a changed gateway.yaml: the pod template's checksum changes with it.

See tests/chart/pods.py for what is taken from the manifests and the two things that change.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_client
import yaml

from opp.auth.tokens import hash_token
from opp.conformance import run_core_profile
from tests.chart.chart_support import RELEASE, ROOT, Rendered, container, render
from tests.chart.effect_counter import EffectCounter, effect_counter
from tests.chart.pods import LocalPod, Secrets, local_pod
from tests.conformance.reference import core_profile
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer, running_redis
from tests.support.servers import free_port

pytestmark = pytest.mark.timeout(300)

EXAMPLE = ROOT / "examples" / "ledger-http" / "gateway.yaml"
LEDGER_SERVICE = ROOT / "examples" / "ledger-http" / "ledger_service.py"
STARTUP_DEADLINE = 60.0
ACTIONS = "/api/agent/v1/actions"
ADMIN = "/api/agent-admin/v1"
BURST = 100


def rehearsal_values(ledger_url: str, effects_url: str, agent_token: str) -> dict[str, Any]:
    """The example gateway.yaml as chart values: what an operator moving it to Kubernetes writes."""
    config: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    config.pop("store")  # the chart writes it (PostgreSQL from the Secret)
    bootstrap = config.pop("bootstrap")["bootstrap_app"]
    config["backends"]["ledger"]["base_url"] = ledger_url
    config["backends"]["effects"] = {
        "kind": "http",
        "base_url": effects_url,
        "headers": {"Authorization": "Bearer ${LEDGER_SERVICE_TOKEN}"},
    }
    config["tools"].append(
        {
            "name": "effect.record",
            "description": "Record one effect upstream (counted, never deduplicated).",
            "kind": "action",
            "risk": "low",
            "required_scopes": ["transaction.write"],
            "input_schema": {
                "type": "object",
                "additionalProperties": False,
                "required": ["note"],
                "properties": {"note": {"type": "string", "maxLength": 100}},
            },
            "policies": ["allow-workspace-writes"],
            "tenant_boundary": "app",
            "backend": {"backend": "effects", "method": "POST", "path": "/effects"},
        }
    )
    # GitOps: the app and its key are declared (only the key's hash is in the ConfigMap).
    app = {k: v for k, v in bootstrap.items() if k != "description"}
    config["apps"] = [{**app, "keys": [{"id": "key_rehearsal", "token_sha256": hash_token(agent_token)}]}]
    config["rate_limits"] = {"rules": [{"id": "per-key", "per": ["key"], "limit": "100000/minute"}]}
    return {
        "replicaCount": 2,
        "workers": 2,
        "admin": {"bootstrapToken": {"enabled": True}},
        "secretEnv": [{"name": "LEDGER_SERVICE_TOKEN", "existingSecret": "ledger-service", "key": "token"}],
        "config": config,
    }


@dataclass
class Replica:
    pod: LocalPod
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.pod.port}"

    def log(self) -> str:
        return (self.pod.root / "container.log").read_text(encoding="utf-8", errors="replace")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(15)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(5)


@contextmanager
def started(pod: LocalPod) -> Iterator[subprocess.Popen[bytes]]:
    with (pod.root / "container.log").open("wb") as log:
        process = subprocess.Popen(
            pod.argv, cwd=pod.cwd, env=pod.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop(process)


def run_to_completion(pod: LocalPod) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        pod.argv, cwd=pod.cwd, env=pod.env, capture_output=True, text=True, timeout=120, check=False
    )


def wait_for_probes(replica: Replica) -> None:
    """Poll the startup probe's path, then the readiness probe's, as the kubelet does."""
    deadline = time.monotonic() + STARTUP_DEADLINE
    with httpx.Client(timeout=2.0) as client:
        for probe in ("startupProbe", "readinessProbe"):
            path = replica.pod.probe_path(probe)
            while True:
                assert replica.process.poll() is None, f"replica exited:\n{replica.log()}"
                with suppress(httpx.HTTPError):
                    if client.get(replica.base_url + path).status_code == 200:
                        break
                assert time.monotonic() < deadline, f"{probe} {path} never passed:\n{replica.log()}"
                time.sleep(0.1)


@contextmanager
def ledger_service(token: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "LEDGER_SERVICE_TOKEN": token, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, str(LEDGER_SERVICE), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE
        with httpx.Client(timeout=1.0) as client:
            while True:
                assert process.poll() is None, "ledger service exited"
                with suppress(httpx.HTTPError):
                    if client.get(f"{url}/ledgers").status_code == 401:  # up, and guarded
                        break
                assert time.monotonic() < deadline, "ledger service did not start"
                time.sleep(0.1)
        yield url
    finally:
        _stop(process)


@dataclass
class Rehearsal:
    values: dict[str, Any]
    rendered: Rendered
    secrets: Secrets
    migration: subprocess.CompletedProcess[str]
    migration_check: subprocess.CompletedProcess[str]
    replicas: list[Replica]
    effects: EffectCounter
    agent_token: str
    admin_token: str
    root: Path


def _config_maps(rendered: Rendered) -> dict[str, Any]:
    return {m["metadata"]["name"]: m for m in rendered.all("ConfigMap")}


@pytest.fixture(scope="module")
def rehearsal(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rehearsal]:
    root = tmp_path_factory.mktemp("rehearsal")
    service_token = secrets.token_urlsafe(32)
    agent_token = "op_" + secrets.token_urlsafe(32)
    admin_token = "opa_" + secrets.token_urlsafe(32)
    with ExitStack() as stack:
        redis: RedisServer = stack.enter_context(
            running_redis(root / "redis", password=secrets.token_hex(12))
        )
        database_url = postgres_server.create_database()
        stack.callback(postgres_server.drop_database, database_url)
        ledger_url = stack.enter_context(ledger_service(service_token))
        effects = stack.enter_context(effect_counter(service_token))
        values = rehearsal_values(ledger_url, effects.base_url, agent_token)
        rendered = render(values)
        cluster_secrets: Secrets = {  # `kubectl create secret generic opp --from-literal=…`
            "opp": {"database-url": database_url, "redis-url": redis.url, "admin-token": admin_token},
            "ledger-service": {"token": service_token},
        }
        config_maps = _config_maps(rendered)
        job = local_pod(rendered.one("Job"), config_maps, cluster_secrets, root / "migrate-pod")
        migration = run_to_completion(job)
        check_pod = local_pod(rendered.one("Job"), config_maps, cluster_secrets, root / "migrate-check-pod")
        check_pod.argv.append("--check")
        migration_check = run_to_completion(check_pod)
        assert migration.returncode == 0, migration.stdout + migration.stderr
        deployment = rendered.one("Deployment")
        pods = [
            local_pod(deployment, config_maps, cluster_secrets, root / f"pod-{n}", port=free_port())
            for n in (0, 1)
        ]
        replicas = [Replica(pod, stack.enter_context(started(pod))) for pod in pods]  # both at once
        for replica in replicas:
            wait_for_probes(replica)
        yield Rehearsal(
            values,
            rendered,
            cluster_secrets,
            migration,
            migration_check,
            replicas,
            effects,
            agent_token,
            admin_token,
            root,
        )


def test_the_pods_run_exactly_what_the_manifests_declare(rehearsal: Rehearsal) -> None:
    deployment = container(rehearsal.rendered.one("Deployment"))
    for replica in rehearsal.replicas:
        argv = replica.pod.argv
        declared = [*deployment["command"], *deployment["args"]]
        assert len(argv) == len(declared)
        changed = {i for i, (ran, said) in enumerate(zip(argv, declared, strict=True)) if ran != said}
        config_at = declared.index("/etc/opp/gateway.yaml")
        assert changed == {config_at, declared.index("--host") + 1, declared.index("--port") + 1}
        assert argv[config_at] == str(replica.pod.host_path("/etc/opp/gateway.yaml"))
        assert (
            replica.pod.host_path("/etc/opp/gateway.yaml").read_text()
            == (rehearsal.rendered.one("ConfigMap", RELEASE)["data"]["gateway.yaml"])
        )
        for name in (
            "OPP_DATABASE_URL",
            "OPP_REDIS_URL",
            "OPP_ADMIN_BOOTSTRAP_TOKEN",
            "LEDGER_SERVICE_TOKEN",
        ):
            assert replica.pod.env[name]  # given by the Secret references, nothing else
    gateway_yaml = rehearsal.rendered.one("ConfigMap", RELEASE)["data"]["gateway.yaml"]
    for secret in (*rehearsal.secrets["opp"].values(), *rehearsal.secrets["ledger-service"].values()):
        assert secret not in gateway_yaml


def test_the_migration_job_migrated_and_the_check_agrees(rehearsal: Rehearsal) -> None:
    assert rehearsal.migration.returncode == 0
    assert "schema at version" in rehearsal.migration.stdout
    assert rehearsal.migration_check.returncode == 0, rehearsal.migration_check.stdout
    assert "up to date" in rehearsal.migration_check.stdout
    for secret in rehearsal.secrets["opp"].values():
        assert secret not in rehearsal.migration.stdout + rehearsal.migration.stderr


def test_both_replicas_pass_the_probes_and_the_core_conformance_profile(rehearsal: Rehearsal) -> None:
    profile = core_profile()
    for replica in rehearsal.replicas:
        with httpx.Client(timeout=5.0) as client:
            assert client.get(replica.base_url + replica.pod.probe_path("livenessProbe")).status_code == 200
        results = run_core_profile(replica.base_url, rehearsal.agent_token, profile)
        failed = [result.line() for result in results if not result.passed]
        assert results and failed == [], "\n".join(failed) + "\n" + replica.log()


async def _execute_burst(rehearsal: Rehearsal, key: str) -> list[tuple[int, httpx.Response]]:
    body = {"action": "effect.record", "payload": {"note": "rehearsal"}, "execute": True}
    headers = {"Authorization": f"Bearer {rehearsal.agent_token}", "Idempotency-Key": key}
    limits = httpx.Limits(max_connections=BURST)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:

        async def one(index: int) -> tuple[int, httpx.Response]:
            replica = index % len(rehearsal.replicas)
            url = rehearsal.replicas[replica].base_url + ACTIONS
            deadline = time.monotonic() + 60
            while True:
                response = await client.post(url, json=body, headers=headers)
                busy = (
                    response.status_code == 409 and response.json()["code"] == "agent.idempotency_in_progress"
                )
                if not busy or time.monotonic() > deadline:
                    return replica, response
                await asyncio.sleep(0.05)  # the client's retry backoff

        return await asyncio.gather(*(one(n) for n in range(BURST)))


def test_one_idempotency_key_over_both_replicas_has_exactly_one_effect(rehearsal: Rehearsal) -> None:
    first, second = rehearsal.replicas
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)).isoformat()
    window = {"writes": {"enabled": True, "expires_at": expires, "allowed_actions": ["effect.record"]}}
    with httpx.Client(timeout=10.0) as client:  # the bootstrap admin token from the Secret
        opened = client.patch(
            f"{first.base_url}{ADMIN}/apps/app_demo/auto-execute",
            json=window,
            headers={"Authorization": f"Bearer {rehearsal.admin_token}"},
        )
        assert opened.status_code == 200, opened.text
        refused = client.patch(
            f"{second.base_url}{ADMIN}/apps/app_demo/auto-execute",
            json=window,
            headers={"Authorization": "Bearer opa_" + "x" * 43},
        )
        assert refused.status_code == 401
    before = len(rehearsal.effects.effects)
    answers = asyncio.run(_execute_burst(rehearsal, f"rehearsal-{secrets.token_hex(8)}"))
    statuses = sorted({response.status_code for _, response in answers})
    assert statuses == [200], [r.text for _, r in answers if r.status_code != 200][:3]
    data = [response.json()["data"] for _, response in answers]
    executions = {item["execution"]["id"] for item in data}
    assert len(executions) == 1, executions
    assert sum(item.get("replayed") is True for item in data) == BURST - 1
    assert {replica for replica, _ in answers} == {0, 1}
    effects = rehearsal.effects.effects[before:]
    assert len(effects) == 1, effects
    assert effects[0]["tenant"] == "org_demo"
    # The shared state went where the chart pointed both replicas: the Redis of the Secret.
    client = redis_client.Redis.from_url(rehearsal.secrets["opp"]["redis-url"])
    try:
        assert client.dbsize() > 0
    finally:
        client.close()


def _checksum(rendered: Rendered) -> str:
    value: str = rendered.one("Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    return value


def test_an_upgrade_with_a_changed_gateway_yaml_changes_the_checksum(
    rehearsal: Rehearsal, capsys: pytest.CaptureFixture[str]
) -> None:
    installed = rehearsal.rendered
    changed = {**rehearsal.values, "config": {**rehearsal.values["config"]}}
    changed["config"]["gateway"] = {**changed["config"]["gateway"], "name": "opp ledger (upgraded)"}
    upgrade = render(changed, upgrade=True, revision=2)
    same = render(rehearsal.values, upgrade=True, revision=2)
    old, new = _checksum(installed), _checksum(upgrade)
    with capsys.disabled():
        print(f"\nrehearsal: checksum/config {old[:16]}… (install) -> {new[:16]}… (upgrade: gateway.name)")
    assert old != new and _checksum(same) == old
    for rendered, checksum in ((installed, old), (upgrade, new)):
        text = rendered.one("ConfigMap", RELEASE)["data"]["gateway.yaml"]
        assert hashlib.sha256(text.rstrip("\n").encode()).hexdigest() == checksum
    hook = upgrade.one("Job")
    assert "pre-upgrade" in hook["metadata"]["annotations"]["helm.sh/hook"]
    assert upgrade.one("ConfigMap", f"{RELEASE}-migrate")["data"] == upgrade.one("ConfigMap", RELEASE)["data"]
    # The upgrade's migration hook finds nothing to do on the migrated database.
    pod = local_pod(hook, _config_maps(upgrade), rehearsal.secrets, rehearsal.root / "upgrade-migrate-pod")
    again = run_to_completion(pod)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
