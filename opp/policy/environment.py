"""The declared activation: which root variables a rule may read, and their CEL types.

One environment is built per rule site (a tool's policies see ``args`` and maybe ``resource``; a
``filter_items`` rule also sees ``item``), so a typo in a field name is a config error, not a rule
that silently never matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opp.policy.types import (
    BOOL,
    DOUBLE,
    DYN,
    INT,
    STRING,
    TIMESTAMP,
    CelType,
    ListType,
    MapType,
    ObjectType,
    type_from_json_schema,
)

__all__ = ["PolicyEnvironment", "build_environment", "describe_environment"]

_RESOURCE_FIELD_TYPES: Mapping[str, CelType] = {
    "string": STRING,
    "int": INT,
    "double": DOUBLE,
    "bool": BOOL,
    "list": ListType(DYN),
    "map": MapType(STRING, DYN),
    "timestamp": TIMESTAMP,
}


def _closed(**fields: CelType) -> ObjectType:
    return ObjectType(fields, closed=True, required=frozenset(fields))


_PRINCIPAL = _closed(
    sub=STRING,
    client_id=STRING,
    app_id=STRING,
    key_id=STRING,
    scopes=ListType(STRING),
    tenant=DYN,
    claims=MapType(STRING, DYN),
    roles=ListType(STRING),
)
_TOOL = _closed(name=STRING, risk=STRING, kind=STRING)
_REQUEST = _closed(ip=STRING, method=STRING, path=STRING, time=TIMESTAMP, user_agent=STRING)


@dataclass(frozen=True)
class PolicyEnvironment:
    """Root variable names mapped to their CEL types."""

    variables: Mapping[str, CelType] = field(hash=False)

    def type_of(self, name: str) -> CelType | None:
        """The declared type of root variable ``name``, or None when it is not declared."""
        return self.variables.get(name)


def build_environment(
    *,
    app_policy_schema: Mapping[str, Any],
    input_schema: Mapping[str, Any] | None = None,
    resource_fields: Mapping[str, str] | None = None,
    item: bool = False,
) -> PolicyEnvironment:
    """The activation a rule sees.

    Args:
        app_policy_schema: JSON Schema of the app's data policy, read as ``app.policy``.
        input_schema: the tool's input schema, read as ``args``; None leaves ``args`` undeclared.
        resource_fields: field name → type name (``string``, ``int``, ``double``, ``bool``,
            ``list``, ``map``, ``timestamp``) of the tool's resource; None leaves ``resource``
            undeclared.
        item: declare ``item`` (an element of a ``filter_items`` list, a map of any values).

    Returns:
        The frozen environment.
    """
    app = _closed(
        id=STRING,
        name=STRING,
        scope=STRING,
        tenant=STRING,
        policy=type_from_json_schema(app_policy_schema),
    )
    variables: dict[str, CelType] = {
        "principal": _PRINCIPAL,
        "app": app,
        "tool": _TOOL,
        "request": _REQUEST,
    }
    if input_schema is not None:
        variables["args"] = type_from_json_schema(input_schema)
    if resource_fields is not None:
        variables["resource"] = _closed(
            **{name: _RESOURCE_FIELD_TYPES.get(kind, DYN) for name, kind in resource_fields.items()}
        )
    if item:
        variables["item"] = MapType(STRING, DYN)
    return PolicyEnvironment(variables)


def describe_environment(env: PolicyEnvironment) -> str:
    """The variables of ``env`` with their types, one per line, for the CEL variable reference.

    Fields of object types are listed under their variable as dotted paths; fields that may be
    absent are marked ``(optional: guard with has())``.
    """
    lines: list[str] = []
    for name in sorted(env.variables):
        _describe(name, env.variables[name], lines, optional=False)
    return "\n".join(lines) + "\n"


def _describe(path: str, cel_type: CelType, lines: list[str], *, optional: bool) -> None:
    note = "  (optional: guard with has())" if optional else ""
    lines.append(f"{path}: {cel_type.describe()}{note}")
    if isinstance(cel_type, ObjectType):
        for name in sorted(cel_type.fields):
            sub_optional = name not in cel_type.required
            _describe(f"{path}.{name}", cel_type.fields[name], lines, optional=sub_optional)
