"""The CEL specification's conformance tests, read from ``../shared/cel-spec/*.textproto``.

Each test becomes a :class:`Case`: the expression, its bindings and the expected outcome as plain
Python values (the compiled evaluator's representation: ``Uint`` for uint, ``TypeValue`` for types,
``datetime``/``timedelta`` for timestamps/durations). Tests that need protobuf message types, or
expect a type-check result rather than a value, carry a ``skip`` reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opp.policy.compiled.values import TypeValue, Uint
from tests.conformance.cel.textproto import Message, read_textproto

__all__ = ["CEL_SPEC", "ERROR", "Case", "load_cases", "same_value"]

CEL_SPEC = Path(__file__).resolve().parents[4] / "shared" / "cel-spec"
"""Where the conformance data lives: ``shared/cel-spec`` beside the repository."""

ERROR = "<error>"
"""The expected outcome of a test whose evaluation must fail."""

_PROTO_NAMES = re.compile(
    r"TestAllTypes|NestedTestAllTypes|google\.protobuf\.(?!Timestamp\b|Duration\b)\w+|proto[23]\b|\.Enum"
)


class Unsupported(Exception):
    """The test needs something outside this evaluator's scope (the message is the reason)."""


@dataclass(frozen=True)
class Case:
    """One conformance test."""

    file: str
    section: str
    name: str
    expr: str
    bindings: dict[str, Any] = field(default_factory=dict)
    expected: Any = True
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"{self.file}/{self.section}/{self.name}"


def _float(token: str) -> float:
    lowered = token.lower()
    if lowered in ("inf", "infinity", "+inf"):
        return math.inf
    if lowered in ("-inf", "-infinity"):
        return -math.inf
    if lowered == "nan":
        return math.nan
    return float(token)


def _object(message: Message) -> Any:
    (type_url, values), *_ = message.items()
    body = values[-1]
    assert isinstance(body, Message)
    seconds, nanos = int(body.text("seconds", "0")), int(body.text("nanos", "0"))
    if type_url.endswith("google.protobuf.Duration]"):
        return timedelta(seconds=seconds, microseconds=nanos // 1000)
    if type_url.endswith("google.protobuf.Timestamp]"):
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=nanos // 1000)
    raise Unsupported(f"needs protobuf message type {type_url.strip('[]')}")


def decode_value(value: Message) -> Any:
    """A ``cel.expr.Value`` message as a plain value."""
    if "int64_value" in value:
        return int(value.text("int64_value"))
    if "uint64_value" in value:
        return Uint(int(value.text("uint64_value")))
    if "double_value" in value:
        return _float(value.text("double_value"))
    if "string_value" in value:
        return value.text("string_value")
    if "bytes_value" in value:
        raw = value.one("bytes_value")
        return raw if isinstance(raw, bytes) else str(raw).encode()
    if "bool_value" in value:
        return value.text("bool_value") == "true"
    if "null_value" in value:
        return None
    if "type_value" in value:
        return TypeValue(value.text("type_value"))
    if "list_value" in value:
        items = value.messages("list_value")[-1]
        return [decode_value(item) for item in items.messages("values")]
    if "map_value" in value:
        entries = value.messages("map_value")[-1].messages("entries")
        return {decode_value(e.messages("key")[-1]): decode_value(e.messages("value")[-1]) for e in entries}
    if "object_value" in value:
        return _object(value.messages("object_value")[-1])
    raise Unsupported(f"needs value kind {', '.join(value)}")


def _case(file: str, section: str, test: Message) -> Case:
    name, expr = test.text("name"), test.text("expr")
    base = {"file": file, "section": section, "name": name, "expr": expr}
    try:
        if test.get("container") or _PROTO_NAMES.search(expr):
            raise Unsupported("needs protobuf message types")
        if any(key in test for key in ("typed_result", "unknown", "any_unknowns", "any_eval_errors")):
            raise Unsupported("expects a type-check or unknown result")
        bindings = {
            binding.text("key"): decode_value(binding.messages("value")[-1].messages("value")[-1])
            for binding in test.messages("bindings")
        }
        if "eval_error" in test:
            expected: Any = ERROR
        elif "value" in test:
            expected = decode_value(test.messages("value")[-1])
        else:
            expected = True
    except Unsupported as reason:
        return Case(**base, skip=str(reason))
    return Case(**base, bindings=bindings, expected=expected)


def load_cases(directory: Path = CEL_SPEC) -> list[Case]:
    """Every test of every ``*.textproto`` file in ``directory``, in file order."""
    cases: list[Case] = []
    for path in sorted(directory.glob("*.textproto")):
        document = read_textproto(path)
        for section in document.messages("section"):
            for test in section.messages("test"):
                cases.append(_case(path.stem, section.text("name"), test))
    return cases


def same_value(actual: Any, expected: Any) -> bool:
    """Whether two plain CEL values are identical in type and value (NaN equals NaN)."""
    if type(actual) is not type(expected):
        return False
    if isinstance(actual, float):
        return actual == expected or (math.isnan(actual) and math.isnan(expected))
    if isinstance(actual, list):
        return len(actual) == len(expected) and all(map(same_value, actual, expected))
    if isinstance(actual, dict):
        if len(actual) != len(expected):
            return False
        pairs = {(type(k), k): v for k, v in expected.items()}
        return all((type(k), k) in pairs and same_value(v, pairs[(type(k), k)]) for k, v in actual.items())
    return bool(actual == expected)
