"""``helm lint --strict`` (the Helm v4 SDK's linter) on the default values and every charts/opp/ci/ file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.chart_support import CHART, CI_VALUES, ci_values, helm, kube_versions, render

WARNING = 2


def _problems(report: dict[str, object]) -> list[object]:
    messages = report["messages"]
    assert isinstance(messages, list)
    return [*report["errors"], *(m for m in messages if m["severity"] >= WARNING)]  # type: ignore[misc]


@pytest.mark.parametrize("kube_version", [kube_versions()[0], kube_versions()[-1]])
def test_default_values_lint_strictly(kube_version: str) -> None:
    report = helm.lint(str(CHART), strict=True, kube_version=f"v{kube_version}")
    assert report["total_charts_linted"] == 1
    assert _problems(report) == []


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.name)
def test_ci_values_lint_strictly_and_render(values_file: Path) -> None:
    values = ci_values(values_file)
    assert _problems(helm.lint(str(CHART), values, strict=True)) == []
    assert "Deployment" in render(values).kinds()  # lint does not run `fail`: render does


def test_ci_folder_covers_the_optional_resources() -> None:
    kinds = {kind for path in CI_VALUES for kind in render(ci_values(path)).kinds()}
    assert {
        "Ingress",
        "HTTPRoute",
        "HorizontalPodAutoscaler",
        "ServiceMonitor",
        "PodDisruptionBudget",
    } <= kinds


def test_lint_reports_a_broken_chart(tmp_path: Path) -> None:
    broken = tmp_path / "opp"
    broken.mkdir()
    (broken / "Chart.yaml").write_text("apiVersion: v2\nname: opp\n", encoding="utf-8")  # no version
    assert helm.lint(str(broken), strict=True)["errors"] or _problems(helm.lint(str(broken), strict=True))
