"""`opp docs` rewrites only generated text, keeps the prose, and `--check` detects staleness."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from opp.cli.docs import CEL_DOC, CONFIG_DOC, REASON_CODES_DOC, replace_regions
from opp.cli.main import main
from opp.codes import ReasonCode

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The parts of the repository `opp docs` reads, copied."""
    (tmp_path / "examples" / "ledger").mkdir(parents=True)
    shutil.copy(
        ROOT / "examples" / "ledger" / "gateway.yaml", tmp_path / "examples" / "ledger" / "gateway.yaml"
    )
    shutil.copytree(ROOT / "tests" / "fixtures" / "invalid", tmp_path / "tests" / "fixtures" / "invalid")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def _docs(repo: Path, *extra: str) -> int:
    return main(["docs", "--root", str(repo), *extra])


def test_check_fails_on_an_edited_generated_region_and_docs_repairs_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cel = repo / CEL_DOC
    committed = cel.read_text()
    cel.write_text(committed.replace("| `tool.risk` | string | always |", "| `tool.risk` | int | always |"))

    assert _docs(repo, "--check") == 1
    assert f"{CEL_DOC} is stale" in capsys.readouterr().err

    assert _docs(repo) == 0
    assert cel.read_text() == committed
    assert _docs(repo, "--check") == 0


def test_prose_outside_regions_survives_regeneration(repo: Path) -> None:
    cel = repo / CEL_DOC
    edited = cel.read_text().replace("# CEL in `gateway.yaml`", "# CEL in `gateway.yaml` (edited prose)")
    cel.write_text(edited)

    assert _docs(repo) == 0

    assert cel.read_text() == edited


def test_check_fails_when_the_demo_config_changes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = repo / "examples" / "ledger" / "gateway.yaml"
    config.write_text(config.read_text().replace("ledgerId: {type: string", "ledgerId: {type: integer"))

    assert _docs(repo, "--check") == 1
    assert f"{CEL_DOC} is stale" in capsys.readouterr().err
    assert _docs(repo) == 0
    assert "| `args.ledgerId` | int | always |" in (repo / CEL_DOC).read_text()


def test_check_fails_when_a_generated_document_is_missing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / REASON_CODES_DOC).unlink()

    assert _docs(repo, "--check") == 1
    assert f"{REASON_CODES_DOC} is stale" in capsys.readouterr().err


def test_a_removed_region_is_an_error_not_a_silent_skip(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = repo / CONFIG_DOC
    config.write_text(config.read_text().replace("<!-- BEGIN GENERATED check-json -->", "<!-- gone -->"))

    assert _docs(repo) == 1
    assert "missing ['check-json']" in capsys.readouterr().err


def test_replace_regions_sets_each_body_and_keeps_the_rest() -> None:
    text = (
        "intro\n<!-- BEGIN GENERATED a -->\nold a\n<!-- END GENERATED -->\nmiddle\n"
        "<!-- BEGIN GENERATED b -->\n<!-- END GENERATED -->\nend\n"
    )

    result = replace_regions(text, {"a": "new a", "b": "new b\n"}, where="x.md")

    assert result == (
        "intro\n<!-- BEGIN GENERATED a -->\n\nnew a\n\n<!-- END GENERATED -->\nmiddle\n"
        "<!-- BEGIN GENERATED b -->\n\nnew b\n\n<!-- END GENERATED -->\nend\n"
    )
    assert replace_regions(result, {"a": "new a", "b": "new b"}, where="x.md") == result


def test_replace_regions_rejects_unknown_regions() -> None:
    region = "<!-- BEGIN GENERATED {} -->\n<!-- END GENERATED -->\n"
    text = region.format("a") + region.format("zz")

    with pytest.raises(ValueError, match=r"x.md: .*unknown \['zz'\]"):
        replace_regions(text, {"a": "body"}, where="x.md")


def test_reason_codes_doc_has_one_row_per_code_with_its_status() -> None:
    text = (ROOT / REASON_CODES_DOC).read_text()
    for code in ReasonCode:
        assert f"| `{code.value}` | {code.status} | " in text
