"""Render charts/opp offline with the Helm v4 SDK (``helm-python-sdk``; no helm binary, no cluster)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "opp"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RELEASE = "opp"
NAMESPACE = "agents"

helm.disable_logging()


@functools.cache
def chart() -> Any:
    return helm.Chart.load(str(CHART))


def ci_values(path: Path) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return values


@dataclass(frozen=True)
class Rendered:
    """The manifests of one render, with the template each came from."""

    manifests: tuple[dict[str, Any], ...]
    sources: tuple[str, ...]
    notes: str

    def kinds(self) -> list[str]:
        return [m["kind"] for m in self.manifests]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.manifests if m["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [m for m in self.all(kind) if name is None or m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def hooks(self) -> list[dict[str, Any]]:
        return [m for m in self.manifests if "helm.sh/hook" in m["metadata"].get("annotations", {})]

    def workloads(self) -> list[dict[str, Any]]:
        return [m for m in self.manifests if m["kind"] in ("Deployment", "Job")]


def render(values: dict[str, Any] | None = None, *, upgrade: bool = False, revision: int = 1) -> Rendered:
    """Render like ``helm install`` (or ``helm upgrade``) would, offline."""
    out: dict[str, str] = chart().render(
        values or {},
        name=RELEASE,
        namespace=NAMESPACE,
        revision=revision,
        is_install=not upgrade,
        is_upgrade=upgrade,
    )
    manifests: list[dict[str, Any]] = []
    sources: list[str] = []
    for template, text in sorted(out.items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                manifests.append(document)
                sources.append(template)
    notes = next((text for template, text in out.items() if template.endswith("NOTES.txt")), "")
    return Rendered(tuple(manifests), tuple(sources), notes)


def render_error(values: dict[str, Any]) -> str:
    """The message ``helm install`` would stop with (the render must fail)."""
    with pytest.raises(helm.HelmError) as caught:
        render(values)
    return str(caught.value)


def kube_versions() -> list[str]:
    """Every minor of the chart's ``kubeVersion`` range (``>=1.A.0-0 <1.B.0-0``), as ``1.N.0``."""
    declared = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))["kubeVersion"]
    match = re.fullmatch(r">=1\.(\d+)\.0-0 <1\.(\d+)\.0-0", declared)
    assert match, f"kubeVersion {declared!r} is not of the form '>=1.A.0-0 <1.B.0-0'"
    low, high = int(match.group(1)), int(match.group(2))
    return [f"1.{minor}.0" for minor in range(low, high)]


def gateway_yaml(rendered: Rendered, name: str = RELEASE) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(rendered.one("ConfigMap", name)["data"]["gateway.yaml"])
    return document


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]
