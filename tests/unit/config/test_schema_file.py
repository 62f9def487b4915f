"""The committed ``schema/gateway.schema.json`` is the generated one; ``opp schema`` writes and checks it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from opp.cli.main import main
from opp.config.json_schema import DRAFT_2020_12, gateway_json_schema, render_gateway_schema

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "schema" / "gateway.schema.json"


def test_committed_schema_is_not_stale() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render_gateway_schema(), (
        "schema/gateway.schema.json is stale: run `opp schema`"
    )


def test_schema_is_a_valid_draft_2020_12_schema_with_title() -> None:
    schema = gateway_json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT_2020_12
    assert schema["title"]
    assert "GatewayConfig" in schema["$defs"]


def test_rendering_is_sorted_pretty_and_newline_terminated() -> None:
    text = render_gateway_schema()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_opp_schema_writes_the_file_and_check_accepts_it(tmp_path: Path) -> None:
    target = tmp_path / "out" / "gateway.schema.json"

    assert main(["schema", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_gateway_schema()
    assert main(["schema", "--output", str(target), "--check"]) == 0


def test_opp_schema_check_fails_on_a_stale_or_missing_file(tmp_path: Path) -> None:
    stale = tmp_path / "gateway.schema.json"
    stale.write_text("{}\n", encoding="utf-8")

    assert main(["schema", "--output", str(stale), "--check"]) == 1
    assert main(["schema", "--output", str(tmp_path / "missing.json"), "--check"]) == 1


def test_opp_schema_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--output", "-"]) == 0
    assert capsys.readouterr().out == render_gateway_schema()


def _reindented(node: object) -> object:
    """msgspec 0.22's shape: docstring continuation lines keep the class body's indentation."""
    if isinstance(node, dict):
        return {
            key: value.replace("\n", "\n    ").replace("\n    \n", "\n\n")
            if key == "description" and isinstance(value, str)
            else _reindented(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_reindented(item) for item in node]
    return node


@pytest.mark.parametrize("shape", ["msgspec-0.22-indented", "msgspec-0.23-cleaned"])
def test_schema_is_identical_whatever_the_generator_does_with_docstrings(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import inspect

    import msgspec

    from opp.config import json_schema

    real = msgspec.json.schema

    def generator(cls: type) -> object:
        schema = real(cls)
        cleaned = json_schema.normalise_descriptions(schema)
        return _reindented(cleaned) if shape.startswith("msgspec-0.22") else cleaned

    if shape.startswith("msgspec-0.22"):  # the variant really differs before normalisation
        sample = _reindented({"description": "a\n\nb\nc"})
        assert sample == {"description": "a\n\n    b\n    c"}
        assert inspect.cleandoc(sample["description"]) == "a\n\nb\nc"
    monkeypatch.setattr(msgspec.json, "schema", generator)
    json_schema._schema_text.cache_clear()
    try:
        assert render_gateway_schema() == COMMITTED.read_text(encoding="utf-8")
    finally:
        json_schema._schema_text.cache_clear()
