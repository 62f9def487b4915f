"""``load_config``: positions, and every structural diagnostic code."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from opp.config.diagnostics import ConfigError, Diagnostic
from opp.config.loader import load_config
from opp.config.schema import GatewayConfig, PythonBackend

MINIMAL_TOOL = """
tools:
  - name: ledger.list
    description: List ledgers.
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def errors(tmp_path: Path, text: str) -> list[Diagnostic]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return caught.value.diagnostics


def only(tmp_path: Path, text: str) -> Diagnostic:
    found = errors(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


def test_loads_a_valid_config_with_positions(tmp_path: Path) -> None:
    config, source_map = load_config(
        write(
            tmp_path,
            """
            version: 1
            backends:
              demo: {kind: python, module: opp.demo.ledger}
            tools:
              - name: ledger.list
                description: List ledgers.
                risk: medium
            """,
        )
    )
    assert isinstance(config, GatewayConfig)
    assert isinstance(config.backends["demo"], PythonBackend)
    assert config.tools[0].risk == "medium"
    assert source_map.key(("tools", 0, "risk")) == (7, 5)
    assert source_map.value(("tools", 0, "risk")) == (7, 11)
    assert source_map.value(("backends", "demo", "module")) == (3, 32)
    # A defaulted field falls back to its nearest written ancestor.
    assert source_map.value(("tools", 0, "kind")) == source_map.value(("tools", 0))


def test_empty_file_is_the_default_config(tmp_path: Path) -> None:
    config, _ = load_config(write(tmp_path, ""))
    assert config == GatewayConfig()


def test_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.line, diagnostic.col, diagnostic.file) == (
        "config.file_not_found",
        1,
        1,
        str(missing),
    )


def test_yaml_syntax_error_at_its_mark(tmp_path: Path) -> None:
    diagnostic = only(tmp_path, "scopes:\n  a: [1, 2\ntools: []\n")
    assert diagnostic.code == "config.yaml_syntax"
    assert (diagnostic.line, diagnostic.col) == (3, 6)


def test_duplicate_key_is_reported_at_the_second_key(tmp_path: Path) -> None:
    diagnostic = only(tmp_path, "scopes:\n  a.read: one\n  a.read: two\n")
    assert diagnostic.code == "config.duplicate_key"
    assert (diagnostic.line, diagnostic.col) == (3, 3)
    assert diagnostic.hint is not None and "line 2" in diagnostic.hint


def test_unknown_field_with_did_you_mean_at_the_key(tmp_path: Path) -> None:
    diagnostic = only(tmp_path, MINIMAL_TOOL + "    requird_scopes: []\n")
    assert diagnostic.code == "config.unknown_field"
    assert (diagnostic.line, diagnostic.col) == (4, 5)
    assert diagnostic.message == "unknown field 'requird_scopes' in tools[0]"
    assert diagnostic.hint == "did you mean 'required_scopes'?"


def test_unknown_top_level_field_without_close_match_lists_fields(tmp_path: Path) -> None:
    diagnostic = only(tmp_path, "zzz: 1\n")
    assert diagnostic.message == "unknown field 'zzz' at the top level"
    assert diagnostic.hint is not None and diagnostic.hint.startswith(
        "allowed fields: admin, app_policy_schema"
    )


def test_missing_field_at_the_parent_mapping(tmp_path: Path) -> None:
    diagnostic = only(tmp_path, "tools:\n  - name: ledger.list\n")
    assert diagnostic.code == "config.missing_field"
    assert diagnostic.message == "missing required field 'description' in tools[0]"
    assert (diagnostic.line, diagnostic.col) == (2, 5)


def test_invalid_type_at_the_value(tmp_path: Path) -> None:
    diagnostic = only(tmp_path, MINIMAL_TOOL + "    required_scopes: ledger.read\n")
    assert diagnostic.code == "config.invalid_type"
    assert diagnostic.message == "tools[0].required_scopes: expected array, got string"
    assert (diagnostic.line, diagnostic.col) == (4, 22)


def test_invalid_type_of_an_optional_object(tmp_path: Path) -> None:
    diagnostic = only(tmp_path, MINIMAL_TOOL + "    http: /ledgers\n")
    assert diagnostic.code == "config.invalid_type"
    assert diagnostic.message == "tools[0].http: expected object or null, got string"


def test_errors_inside_an_optional_object_are_reported(tmp_path: Path) -> None:
    found = errors(tmp_path, MINIMAL_TOOL + "    http: {method: GET, paht: /x}\n")
    assert [d.code for d in found] == ["config.missing_field", "config.unknown_field"]
    assert found[1].hint == "did you mean 'path'?"


def test_enum_value_lists_allowed_values_with_hint(tmp_path: Path) -> None:
    diagnostic = only(tmp_path, MINIMAL_TOOL + "    risk: hgih\n")
    assert diagnostic.code == "config.invalid_value"
    assert diagnostic.message == "tools[0].risk: 'hgih' is not one of 'high', 'low', 'medium'"
    assert diagnostic.hint == "did you mean 'high'?"
    assert (diagnostic.line, diagnostic.col) == (4, 11)


def test_bad_duration(tmp_path: Path) -> None:
    diagnostic = only(tmp_path, "audit:\n  flush_interval: 50 ms\n")
    assert diagnostic.code == "config.bad_duration"
    assert diagnostic.hint == "use a number with ms, s, m, h or d, e.g. 30s"
    assert (diagnostic.line, diagnostic.col) == (2, 19)


def test_other_patterns_and_bounds_are_invalid_values(tmp_path: Path) -> None:
    found = errors(tmp_path, "gateway:\n  max_body_bytes: 10\napps:\n  - {id: billing, name: B}\n")
    assert [d.code for d in found] == ["config.invalid_value", "config.invalid_value"]
    assert "less than the minimum of 1024" in found[0].message
    assert found[1].hint == "app ids start with app_, e.g. app_billing"


def test_tagged_backend_is_checked_against_its_own_kind(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        """
        backends:
          a: {kind: pythn, module: x}
          b: {kind: http, base_url: http://x, modul: y}
          c: {module: x}
        """,
    )
    assert [(d.code, d.line) for d in found] == [
        ("config.invalid_value", 2),
        ("config.unknown_field", 3),
        ("config.missing_field", 4),
    ]
    assert found[0].hint == "did you mean 'python'?"


def test_every_structural_error_is_reported_sorted(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        """
        gatway: {}
        audit: {flush_interval: soon}
        tools:
          - name: Bad Name
            description: x
            kind: write
        """,
    )
    assert [d.code for d in found] == [
        "config.unknown_field",
        "config.bad_duration",
        "config.invalid_value",
        "config.invalid_value",
    ]
    assert [d.line for d in found] == sorted(d.line for d in found)


def test_duplicate_keys_and_schema_errors_are_reported_together(tmp_path: Path) -> None:
    found = errors(tmp_path, "scopes: {a: x, a: y}\nrisk: low\n")
    assert {d.code for d in found} == {"config.duplicate_key", "config.unknown_field"}


def test_unquoted_timestamps_stay_strings(tmp_path: Path) -> None:
    config, _ = load_config(
        write(
            tmp_path,
            """
            apps:
              - id: app_a
                name: A
                keys:
                  - id: key_a
                    token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
                    expires_at: 2030-01-01T00:00:00Z
            """,
        )
    )
    assert config.apps[0].keys[0].expires_at == "2030-01-01T00:00:00Z"


def test_merge_keys_and_non_string_keys(tmp_path: Path) -> None:
    config, _ = load_config(
        write(
            tmp_path,
            """
            resources:
              base: &base
                lookup: {function: "opp.demo.ledger:get_ledger"}
                tenant_field: org_id
              ledger:
                <<: *base
                tenant_field: owner
            scopes:
              200: numeric key taken as written
            """,
        )
    )
    assert config.resources["ledger"].tenant_field == "owner"
    assert config.resources["ledger"].lookup.function == "opp.demo.ledger:get_ledger"
    assert "200" in config.scopes


def test_in_scalar_maps_positions_for_each_style(tmp_path: Path) -> None:
    text = """
    policies:
      - id: plain
        when: args.a == 1
      - id: quoted
        when: "args.b == 2"
      - id: literal
        when: |
          true &&
            args.c == 3
      - id: folded
        when: >-
          true
          && args.d == 4
    """
    config, source_map = load_config(write(tmp_path, text))
    rules = config.policies
    assert source_map.in_scalar(("policies", 0, "when"), rules[0].when, 1, 6) == (3, 16)
    assert source_map.in_scalar(("policies", 1, "when"), rules[1].when, 1, 6) == (5, 17)
    assert source_map.in_scalar(("policies", 2, "when"), rules[2].when, 2, 8) == (9, 14)
    assert rules[3].when == "true && args.d == 4"
    assert source_map.in_scalar(("policies", 3, "when"), rules[3].when, 1, 14) == (13, 15)


def test_more_than_one_document_is_a_syntax_error(tmp_path: Path) -> None:
    diagnostic = only(tmp_path, "scopes: {}\n---\ntools: []\n")
    assert diagnostic.code == "config.yaml_syntax"
    assert diagnostic.message == "expected a single document in the stream, but found another document"
    assert diagnostic.line == 2


def test_root_must_be_a_mapping(tmp_path: Path) -> None:
    diagnostic = only(tmp_path, "- tools\n")
    assert (diagnostic.code, diagnostic.message) == (
        "config.invalid_type",
        "top level: expected object, got array",
    )


def test_non_scalar_keys_and_recursive_aliases(tmp_path: Path) -> None:
    found = errors(tmp_path, "scopes:\n  ? [a]\n  : b\n")
    assert [(d.code, d.line) for d in found] == [("config.invalid_type", 2)]
    found = errors(tmp_path, "scopes: &loop {a: *loop}\n")
    assert "config.yaml_syntax" in {d.code for d in found}
