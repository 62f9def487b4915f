"""`opp check` on every invalid fixture prints exactly its golden output and exits 1.

Regenerate the goldens with ``OPP_UPDATE_GOLDEN=1 pytest tests/unit/config/test_invalid_fixtures.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from opp.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "invalid").glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema=../../../schema/gateway.schema.json"


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_there_are_enough_fixtures() -> None:
    assert len(FIXTURES) >= 18


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda path: path.stem)
def test_check_output_matches_golden(fixture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    relative = fixture.relative_to(ROOT).as_posix()
    assert fixture.read_text().splitlines()[0] == MODELINE

    code = main(["check", relative])

    output = capsys.readouterr().out
    golden = fixture.with_suffix(".golden")
    if os.environ.get("OPP_UPDATE_GOLDEN") == "1":
        golden.write_text(output)
    assert code == 1
    assert output == golden.read_text()
    lines = output.splitlines()
    assert all(line.startswith(f"{relative}:") for line in lines)
    assert lines[-1] == f"{relative}: {len(lines) - 1} error{'' if len(lines) == 2 else 's'}"


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda path: path.stem)
def test_json_format_lists_the_same_diagnostics(fixture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    relative = fixture.relative_to(ROOT).as_posix()

    code = main(["check", relative, "--format", "json"])

    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["ok"] is False
    text_lines = fixture.with_suffix(".golden").read_text().splitlines()[:-1]
    assert len(document["diagnostics"]) == len(text_lines)
    for diagnostic, line in zip(document["diagnostics"], text_lines, strict=True):
        assert set(diagnostic) == {"file", "line", "col", "code", "message", "hint"}
        assert line.startswith(f"{relative}:{diagnostic['line']}:{diagnostic['col']}: {diagnostic['code']}: ")


def test_multiple_errors_are_all_printed_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", "tests/fixtures/invalid/multiple_errors.yaml"])

    lines = capsys.readouterr().out.splitlines()[:-1]
    positions = [tuple(int(part) for part in line.split(":")[1:3]) for line in lines]
    assert len(lines) >= 8
    assert positions == sorted(positions)
    assert len({line.split(": ")[1] for line in lines}) >= 7


def test_root_gateway_yaml_is_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "gateway.yaml"])

    assert code == 0
    assert capsys.readouterr().out == "gateway.yaml: ok (7 tools, 4 policies, 0 apps)\n"


def test_root_gateway_yaml_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "gateway.yaml", "--format", "json"])

    assert code == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "diagnostics": []}


def test_check_defaults_to_gateway_yaml_in_the_working_directory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert capsys.readouterr().out.startswith("gateway.yaml: ok")


def test_missing_file_is_a_diagnostic_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "no/such/gateway.yaml"])

    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith(
        "no/such/gateway.yaml:1:1: config.file_not_found: no such file: no/such/gateway.yaml"
    )
    assert out.endswith("no/such/gateway.yaml: 1 error\n")


def test_the_reference_example_config_checks_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "examples/ledger/gateway.yaml"]) == 0
    assert "ok (7 tools" in capsys.readouterr().out
