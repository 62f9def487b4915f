"""Run one conformance case through cel-python or the compiled evaluator; plain-value outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celpy import celtypes
from celpy.celparser import CELParseError, CELParser
from celpy.evaluation import CELEvalError

from opp.policy.api import PolicyEvalError
from opp.policy.celpython import cel_python_runner
from opp.policy.compiled import UnsupportedExpression, compile_tree
from opp.policy.compiled.values import TypeValue, Uint, normalize
from opp.policy.types import DYN
from tests.conformance.cel.cases import ERROR, Case, same_value

__all__ = ["CRASH", "ENGINES", "Outcome", "passes", "run_cel_python", "run_compiled"]

CRASH = "<crash>"
"""cel-python raised a plain Python exception, not a CEL error: it gave no answer at all."""


@dataclass(frozen=True)
class Outcome:
    """A value, or ``ERROR`` with the error's message."""

    value: Any
    message: str = ""

    def __repr__(self) -> str:
        if self.value is CRASH:
            return f"crash({self.message!r})"
        return f"error({self.message!r})" if self.value is ERROR else repr(self.value)


_PARSER = CELParser()
_CEL_TYPE_NAMES = {
    celtypes.BoolType: "bool",
    celtypes.IntType: "int",
    celtypes.UintType: "uint",
    celtypes.DoubleType: "double",
    celtypes.StringType: "string",
    celtypes.BytesType: "bytes",
    celtypes.ListType: "list",
    celtypes.MapType: "map",
    celtypes.TimestampType: "google.protobuf.Timestamp",
    celtypes.DurationType: "google.protobuf.Duration",
    celtypes.TypeType: "type",
    type(None): "null_type",
}


def to_cel_python(value: Any) -> Any:
    """A plain value as a cel-python value."""
    converted: dict[type, Any] = {
        bool: celtypes.BoolType,
        Uint: celtypes.UintType,
        int: celtypes.IntType,
        float: celtypes.DoubleType,
        str: celtypes.StringType,
        bytes: celtypes.BytesType,
        datetime: celtypes.TimestampType,
        timedelta: celtypes.DurationType,
    }
    if value is None:
        return None
    if type(value) in converted:
        return converted[type(value)](value)
    if isinstance(value, list):
        return celtypes.ListType([to_cel_python(item) for item in value])
    if isinstance(value, dict):
        return celtypes.MapType({to_cel_python(k): to_cel_python(v) for k, v in value.items()})
    raise TypeError(f"cannot bind {type(value).__name__}")


def from_cel_python(value: Any) -> Any:
    """A cel-python result as a plain value."""
    if isinstance(value, type):
        return TypeValue(_CEL_TYPE_NAMES.get(value, value.__name__))
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.UintType):
        return Uint(value)
    if isinstance(value, celtypes.ListType):
        return [from_cel_python(item) for item in value]
    if isinstance(value, celtypes.MapType):
        return {from_cel_python(k): from_cel_python(v) for k, v in value.items()}
    return normalize(value)


def run_cel_python(case: Case) -> Outcome:
    """The case's outcome under cel-python's interpreter (as ``opp``'s cel-python engine runs it)."""
    try:
        runner = cel_python_runner(_PARSER.parse(case.expr))
        result = runner.evaluate({name: to_cel_python(v) for name, v in case.bindings.items()})
    except (CELEvalError, CELParseError) as exc:
        return Outcome(ERROR, str(exc.args[0]) if exc.args else type(exc).__name__)
    except Exception as exc:  # not a CEL error: cel-python itself broke (opp's engine denies)
        return Outcome(CRASH, f"{type(exc).__name__}: {exc}")
    if isinstance(result, CELEvalError):
        return Outcome(ERROR, str(result.args[0]) if result.args else "error")
    try:
        return Outcome(from_cel_python(result))
    except PolicyEvalError as exc:
        return Outcome(ERROR, f"unreadable result: {exc}")


def run_compiled(case: Case) -> Outcome:
    """The case's outcome under the compiled evaluator (bindings are plain values)."""
    try:
        expression = compile_tree(_PARSER.parse(case.expr), dict.fromkeys(case.bindings, DYN))
        return Outcome(expression.value(case.bindings))
    except (PolicyEvalError, UnsupportedExpression, CELParseError) as exc:
        return Outcome(ERROR, str(exc))


def passes(case: Case, outcome: Outcome) -> bool:
    """Whether ``outcome`` is the expected one (any CEL error passes an expected error, a crash never)."""
    if outcome.value is CRASH:
        return False
    if case.expected is ERROR:
        return outcome.value is ERROR
    return outcome.value is not ERROR and same_value(outcome.value, case.expected)


ENGINES = {"cel-python": run_cel_python, "compiled": run_compiled}
