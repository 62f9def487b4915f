"""The hand-written references agree with the code: every config field and default, every example."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from opp.auth.tokens import is_opaque_token
from opp.compile import compile_file
from opp.config import schema
from opp.config.loader import load_config
from opp.policy import build_environment, compile_rule

ROOT = Path(__file__).resolve().parents[3]
CONFIG_DOC = (ROOT / "docs" / "CONFIG.md").read_text()
CEL_DOC = (ROOT / "docs" / "CEL.md").read_text()
_MARKER = re.compile(r"<!-- fields: (\w+) -->\n((?:\|.*\n)+)")
_YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_IDENTITY = {"policies": "id", "tools": "name", "apps": "id"}


def _field_tables() -> dict[str, dict[str, str]]:
    """Struct name → {field: default cell} from the `<!-- fields: X -->` tables of CONFIG.md."""
    tables: dict[str, dict[str, str]] = {}
    for match in _MARKER.finditer(CONFIG_DOC):
        rows = match[2].splitlines()[2:]
        cells = [[cell.strip() for cell in _CELL_SPLIT.split(row)[1:-1]] for row in rows]
        tables[match[1]] = {row[0].strip("`"): row[2] for row in cells}
    return tables


def _reachable_structs(info: Any, found: dict[str, msgspec.inspect.StructType]) -> None:
    inspect = msgspec.inspect
    if isinstance(info, inspect.Metadata):
        _reachable_structs(info.type, found)
    elif isinstance(info, inspect.StructType) and info.cls.__name__ not in found:
        found[info.cls.__name__] = info
        for field in info.fields:
            _reachable_structs(field.type, found)
    elif isinstance(info, inspect.UnionType):
        for member in info.types:
            _reachable_structs(member, found)
    elif isinstance(info, inspect.ListType | inspect.VarTupleType):
        _reachable_structs(info.item_type, found)
    elif isinstance(info, inspect.DictType):
        _reachable_structs(info.value_type, found)


def _structs() -> dict[str, msgspec.inspect.StructType]:
    found: dict[str, msgspec.inspect.StructType] = {}
    _reachable_structs(msgspec.inspect.type_info(schema.GatewayConfig), found)
    return found


def _flow(value: Any) -> str:
    """A default as the docs write it: YAML flow style."""
    if isinstance(value, msgspec.Struct):
        return "{}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value) if value != "" else '""'


def _default_cell(field: msgspec.inspect.Field) -> str:
    if field.required:
        return "required"
    value = field.default if field.default is not msgspec.NODEFAULT else field.default_factory()
    return f"`{_flow(value)}`"


def test_every_config_object_has_a_field_table() -> None:
    assert set(_field_tables()) == set(_structs())


@pytest.mark.parametrize("name", sorted(_structs()))
def test_field_table_lists_every_field_with_its_default(name: str) -> None:
    info = _structs()[name]
    documented = _field_tables()[name]
    expected = {field.name: _default_cell(field) for field in info.fields}
    if info.tag_field is not None:
        expected[info.tag_field] = "required"
    assert documented == expected


def _yaml_examples() -> list[dict[str, Any]]:
    blocks = [*_YAML_BLOCK.findall(CONFIG_DOC), *_YAML_BLOCK.findall(CEL_DOC)]
    return [yaml.safe_load(block) for block in blocks]


def _merge(base: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    """``example`` laid over ``base``: mappings merged, list entries replaced by their id or added."""
    merged = dict(base)
    for key, value in example.items():
        if key in _IDENTITY and isinstance(value, list):
            identity = _IDENTITY[key]
            entries = {entry[identity]: entry for entry in merged.get(key, [])}
            entries.update({entry[identity]: entry for entry in value})
            merged[key] = list(entries.values())
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def test_there_are_yaml_examples() -> None:
    assert len(_yaml_examples()) >= 15


@pytest.mark.parametrize("index", range(len(_yaml_examples())))
def test_every_yaml_example_compiles_within_the_demo(index: int, tmp_path: Path) -> None:
    demo = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
    over_http = yaml.safe_load((ROOT / "examples" / "ledger-http" / "gateway.yaml").read_text())
    base = _merge(demo, {"backends": over_http["backends"]})
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump(_merge(base, _yaml_examples()[index]), sort_keys=False))

    environ = {
        "LEDGER_SERVICE_TOKEN": "service-token",
        "OPP_REDIS_URL": "redis://127.0.0.1:6379/0",
        "OPP_DATABASE_URL": "postgresql://opp@127.0.0.1:5432/opp",
    }
    plan = compile_file(config, environ=environ)

    assert plan.tools


def test_every_documented_rule_type_checks_against_a_demo_tool() -> None:
    """Each rule checks against ``transaction.list`` (ledger resource) or, for rules reading a
    transaction, ``transaction.update`` (transaction resource)."""
    config, _ = load_config(ROOT / "examples" / "ledger" / "gateway.yaml")
    envs = []
    for name in ("transaction.list", "transaction.update"):
        tool = next(tool for tool in config.tools if tool.name == name)
        assert tool.resource is not None
        envs.append(
            build_environment(
                app_policy_schema=config.app_policy_schema,
                input_schema=tool.input_schema,
                resource_fields=config.resources[tool.resource.type].fields,
            )
        )
    rules = [rule["when"] for example in _yaml_examples() for rule in example.get("policies", [])]

    assert len(rules) >= 5
    for rule in rules:
        assert any(compile_rule(rule, env)[1] == [] for env in envs), rule


@pytest.mark.parametrize("prefix", ["op", "opa"])
def test_the_documented_token_recipe_makes_well_formed_tokens(prefix: str) -> None:
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    assert is_opaque_token(token, prefix)
