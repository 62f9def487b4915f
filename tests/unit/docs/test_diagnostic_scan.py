"""The scan that lists config diagnostic codes finds every code and only codes."""

from __future__ import annotations

import re
from pathlib import Path

import opp
from opp.cli.docs import scan_diagnostic_codes
from opp.codes import ReasonCode

ROOT = Path(__file__).resolve().parents[3]
_GOLDEN_CODE = re.compile(r"^[^:]+:\d+:\d+: ([a-z_]+\.[a-z_]+): ", re.MULTILINE)


def test_every_code_in_the_golden_files_is_found() -> None:
    golden = {
        code
        for path in (ROOT / "tests" / "fixtures" / "invalid").glob("*.golden")
        for code in _GOLDEN_CODE.findall(path.read_text())
    }
    found = scan_diagnostic_codes(Path(opp.__file__).parent)

    assert len(golden) >= 20
    assert golden <= set(found)


def test_the_real_scan_excludes_reason_codes_and_logger_names() -> None:
    found = scan_diagnostic_codes(Path(opp.__file__).parent)

    assert not set(found) & {code.value for code in ReasonCode}
    assert "opp.tools" not in found
    assert found["backend.env_missing"].template == "environment variable '…' used by … is not set"
    assert found["backend.env_missing"].modules == {"opp/compile/backends.py", "opp/tools/http_encoding.py"}


def test_scan_reads_calls_aliases_keywords_and_bare_literals(tmp_path: Path) -> None:
    package = tmp_path / "opp"
    (package / "compile").mkdir(parents=True)
    (package / "compile" / "sample.py").write_text(
        "import logging\n"
        '_log = logging.getLogger("opp.compile")\n'
        'SYNTAX = "policy.syntax_error"\n'
        "def check(report, name, error):\n"
        '    report.error((), "scope.unknown", f"scope \'{name}\' is not declared", None)\n'
        '    report.error((), SYNTAX, "bad syntax")\n'
        '    error(file="x", code="config.yaml_syntax", message="not YAML")\n'
        '    code = "config.file_not_found" if name else "config.unreadable"\n'
        '    raise ValueError("common.validation", "tool.name")\n'
    )
    (package / "cli").mkdir()
    (package / "cli" / "ignored.py").write_text('X = "cli.not_scanned"\n')

    found = scan_diagnostic_codes(package)

    assert {code: entry.template for code, entry in found.items()} == {
        "scope.unknown": "scope '…' is not declared",
        "policy.syntax_error": "bad syntax",
        "config.yaml_syntax": "not YAML",
        "config.file_not_found": None,
        "config.unreadable": None,
        "tool.name": None,
    }
    assert found["scope.unknown"].modules == {"opp/compile/sample.py"}
