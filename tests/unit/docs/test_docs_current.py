"""The committed generated docs match what `opp docs` would write (run `opp docs` to refresh)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opp.cli.docs import CEL_DOC, CONFIG_DOC, REASON_CODES_DOC, stale_docs
from opp.cli.main import main

ROOT = Path(__file__).resolve().parents[3]


def test_generated_docs_are_current() -> None:
    assert stale_docs(ROOT) == [], "generated docs are stale: run `opp docs`"


def test_docs_check_command_passes_on_the_repository(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "--check", "--root", str(ROOT)]) == 0
    assert capsys.readouterr().out == "docs: up to date\n"


@pytest.mark.parametrize("name", [REASON_CODES_DOC, CEL_DOC, CONFIG_DOC])
def test_generated_docs_are_committed(name: str) -> None:
    assert (ROOT / name).is_file()
