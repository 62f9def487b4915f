"""Run a rendered pod's container on loopback, exactly as the manifest declares it.

What the kubelet would do, on this machine: the container's ``command`` + ``args`` and ``env`` are
taken from the rendered workload; ``secretKeyRef`` entries are filled from a dict standing for the
cluster's Secrets (a missing Secret or key fails like ``CreateContainerConfigError``); every volume
is laid out under a per-pod root directory (ConfigMap keys written as files and made read-only,
``emptyDir`` and claims as empty directories), and an argument naming a path under a mount is
mapped into that root. Only two things change, because the pods share one loopback interface:
``--host 0.0.0.0`` becomes ``127.0.0.1`` (the pod IP) and ``--port`` gets a free port (each pod has
its own network namespace in a cluster). The image's ``PATH`` (``opp`` first) is the venv's.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

IMAGE_WORKDIR = "/var/lib/opp"
"""The Dockerfile's ``WORKDIR`` (the chart sets no ``workingDir``)."""
IMAGE_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
"""The Dockerfile's ``ENV`` besides ``PATH``."""

Secrets = Mapping[str, Mapping[str, str]]


class ContainerConfigError(AssertionError):
    """What the kubelet reports when a referenced Secret or key does not exist."""


@dataclass(frozen=True)
class LocalPod:
    """One container of a rendered pod, ready to run here."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    root: Path
    port: int | None
    container: dict[str, Any]

    def host_path(self, path: str) -> Path:
        return self.root / PurePosixPath(path).relative_to("/")

    def probe_path(self, kind: str) -> str:
        """The HTTP path of the container's ``livenessProbe``/``readinessProbe``/``startupProbe``."""
        probe = self.container[kind]["httpGet"]
        assert probe["port"] in ("http", self.container["ports"][0]["containerPort"])
        path: str = probe["path"]
        return path


def _pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def resolve_env(container: Mapping[str, Any], secrets: Secrets) -> dict[str, str]:
    """The container's variables, ``secretKeyRef`` values looked up in ``secrets``."""
    env: dict[str, str] = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        if ref["name"] not in secrets or ref["key"] not in secrets[ref["name"]]:
            raise ContainerConfigError(
                f"secret {ref['name']!r} has no key {ref['key']!r} (for {entry['name']})"
            )
        env[entry["name"]] = secrets[ref["name"]][ref["key"]]
    return env


def _lay_out_volumes(
    workload: Mapping[str, Any], container: Mapping[str, Any], config_maps: Mapping[str, Any], root: Path
) -> list[str]:
    """Create every mounted volume under ``root``; return the mount paths."""
    volumes = {volume["name"]: volume for volume in _pod_spec(workload)["volumes"]}
    mounts: list[str] = []
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        target = root / PurePosixPath(mount["mountPath"]).relative_to("/")
        target.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            for key, text in config_maps[volume["configMap"]["name"]]["data"].items():
                (target / key).write_text(text, encoding="utf-8")
                (target / key).chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        elif not ({"emptyDir", "persistentVolumeClaim"} & set(volume)):
            raise AssertionError(f"volume {mount['name']} of an unknown type: {sorted(volume)}")
        if mount.get("readOnly"):
            target.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
        mounts.append(mount["mountPath"])
    return mounts


def _map_argument(argument: str, mounts: list[str], root: Path) -> str:
    for mount in mounts:
        if argument == mount or argument.startswith(mount.rstrip("/") + "/"):
            return str(root / PurePosixPath(argument).relative_to("/"))
    return argument


def local_pod(
    workload: Mapping[str, Any],
    config_maps: Mapping[str, Any],
    secrets: Secrets,
    root: Path,
    *,
    port: int | None = None,
) -> LocalPod:
    """Lay out ``workload``'s only container under ``root`` and say how to start it."""
    containers = _pod_spec(workload)["containers"]
    assert len(containers) == 1
    container = containers[0]
    mounts = _lay_out_volumes(workload, container, config_maps, root)
    argv = [_map_argument(part, mounts, root) for part in [*container["command"], *container.get("args", [])]]
    if "--host" in argv:
        at = argv.index("--host") + 1
        assert argv[at] == "0.0.0.0", argv  # every interface of the pod
        argv[at] = "127.0.0.1"
    if "--port" in argv:
        at = argv.index("--port") + 1
        assert port is not None and int(argv[at]) == container["ports"][0]["containerPort"], argv
        argv[at] = str(port)
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(root / PurePosixPath(IMAGE_WORKDIR).relative_to("/")),
        **{k: os.environ[k] for k in ("LANG", "TMPDIR") if k in os.environ},
        **IMAGE_ENV,
        **resolve_env(container, secrets),
    }
    cwd = root / PurePosixPath(IMAGE_WORKDIR).relative_to("/")
    cwd.mkdir(parents=True, exist_ok=True)
    return LocalPod(argv, env, cwd, root, port, container)
