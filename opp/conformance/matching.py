"""The small path syntax and matchers of profile expectations, and ``{variable}`` substitution.

Paths are dot-separated: ``data.draft.id``; a number indexes a list (``data.items.0.id``); ``#`` is
the length of a list or mapping (``data.items.#``); ``*`` maps the rest of the path over a list
(``data.tools.*.name``). A matcher is a literal (equality) or a mapping of tests that must all hold:
``type`` (string, number, integer, boolean, array, object, null), ``present`` (true/false),
``not`` (a literal it must differ from), ``same_items`` (the same elements, any order),
``includes`` / ``excludes`` (an element), ``min`` (a number at least), ``matches`` (a regular
expression the text must match), ``nonempty`` (true).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MISSING", "describe", "lookup", "match", "substitute"]

MISSING: Any = object()
"""What :func:`lookup` returns for a path that leads nowhere."""

_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def lookup(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``, or :data:`MISSING`."""
    parts = path.split(".") if path else []
    return _walk(document, parts)


def _walk(value: Any, parts: list[str]) -> Any:
    for position, part in enumerate(parts):
        if part == "*":
            if not isinstance(value, list):
                return MISSING
            rest = parts[position + 1 :]
            return [item for item in (_walk(element, rest) for element in value) if item is not MISSING]
        if part == "#":
            return len(value) if isinstance(value, (list, dict)) else MISSING
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("number", "integer"):
        return False
    return isinstance(value, _TYPES.get(name, ()))


def match(value: Any, matcher: Any) -> str | None:
    """``None`` when ``value`` satisfies ``matcher``, else why not."""
    if not isinstance(matcher, Mapping):
        if value is MISSING:
            return f"missing, expected {matcher!r}"
        same = value == matcher and isinstance(value, bool) == isinstance(matcher, bool)
        return None if same else f"is {_show(value)}, expected {matcher!r}"
    for test, wanted in matcher.items():
        fault = _test(value, str(test), wanted)
        if fault is not None:
            return fault
    return None


def _test(value: Any, test: str, wanted: Any) -> str | None:
    if test == "present":
        return (
            None
            if (value is not MISSING) == bool(wanted)
            else ("missing" if wanted else f"present: {_show(value)}")
        )
    if value is MISSING:
        return "missing"
    checks: dict[str, bool] = {}
    if test == "type":
        checks[test] = _is_type(value, str(wanted))
    elif test == "not":
        checks[test] = value != wanted
    elif test == "same_items":
        checks[test] = isinstance(value, list) and sorted(map(repr, value)) == sorted(map(repr, wanted))
    elif test == "includes":
        checks[test] = isinstance(value, list) and wanted in value
    elif test == "excludes":
        checks[test] = isinstance(value, list) and wanted not in value
    elif test == "min":
        checks[test] = _is_type(value, "number") and value >= wanted
    elif test == "matches":
        checks[test] = isinstance(value, str) and re.search(str(wanted), value) is not None
    elif test == "nonempty":
        checks[test] = bool(value) == bool(wanted)
    else:
        return f"unknown matcher {test!r}"
    return None if checks[test] else f"is {_show(value)}, expected {test} {wanted!r}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def describe(matcher: Any) -> str:
    """A matcher in words, for the generated documentation."""
    if not isinstance(matcher, Mapping):
        return f"= `{_literal(matcher)}`"
    return ", ".join(f"{test} `{_literal(wanted)}`" for test, wanted in matcher.items())


def _literal(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    """``value`` with every ``{name}`` in its strings replaced; a string that is exactly ``{name}``
    becomes the variable's value itself (keeping its type).

    Raises:
        KeyError: a variable that is not set (its name).
    """
    if isinstance(value, str):
        whole = _VARIABLE.fullmatch(value)
        if whole:
            return variables[whole.group(1)]
        return _VARIABLE.sub(lambda found: str(variables[found.group(1)]), value)
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, dict):
        return {str(substitute(key, variables)): substitute(item, variables) for key, item in value.items()}
    return value
