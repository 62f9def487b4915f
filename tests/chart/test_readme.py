"""charts/opp/README.md is generated from values.yaml by scripts/chart_readme.py; every key is documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.chart.chart_support import CHART, ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import chart_readme


def test_readme_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chart_readme.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_value_is_documented() -> None:
    text = (CHART / "values.yaml").read_text(encoding="utf-8")
    found, missing = chart_readme.entries(yaml.safe_load(text), chart_readme.described_keys(text))
    assert missing == []
    assert len(found) > 80
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    for entry in found:
        assert f"| `{entry.path}` |" in readme


def test_an_undocumented_key_is_found() -> None:
    text = "# -- documented\na: 1\nnested:\n  # -- inner\n  b: 2\n  c: 3\n"
    found, missing = chart_readme.entries(yaml.safe_load(text), chart_readme.described_keys(text))
    assert [e.path for e in found] == ["a", "nested.b"] and missing == ["nested.c"]


def test_a_stale_readme_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "README.md"
    stale.write_text((CHART / "README.md").read_text(encoding="utf-8").replace("postgres", "mysql"), "utf-8")
    monkeypatch.setattr(chart_readme, "README", stale)
    monkeypatch.setattr(chart_readme, "ROOT", tmp_path)
    assert chart_readme.main(["--check"]) == 1
    assert chart_readme.main([]) == 0
    assert chart_readme.main(["--check"]) == 0
