"""The CEL standard functions a compiled rule may call, by name, with how each may be called.

``matches`` uses RE2 (``google-re2``, as cel-python does): patterns with features RE2 lacks
(backreferences, lookaround) are errors, and matching runs in linear time. opp's ``glob``,
``ip_in_cidr`` and ``inCidr`` come from :mod:`opp.policy.extensions`, shared with cel-python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

from opp.policy.compiled.conversions import CONVERSIONS
from opp.policy.compiled.time import ACCESSORS
from opp.policy.compiled.values import fail, type_name
from opp.policy.extensions import glob_match, ip_in_cidr

__all__ = ["LIBRARY", "Function", "compile_pattern"]


@dataclass(frozen=True, slots=True)
class Function:
    """A callable with its arity (arguments after the subject) and allowed call forms."""

    run: Callable[..., Any]
    extra: tuple[int, int] = (0, 0)
    method: bool = True
    call: bool = False


def _size(value: Any) -> int:
    kind = type(value)
    if kind is str or kind is bytes or kind is list or kind is dict:
        return len(value)
    fail(f"no such overload: size({type_name(value)})")


def _string_test(name: str, test: Callable[[str, str], bool], **forms: bool) -> Function:
    def run(subject: Any, argument: Any) -> bool:
        if type(subject) is str and type(argument) is str:
            return test(subject, argument)
        fail(f"no such overload: {type_name(subject)}.{name}({type_name(argument)})")

    return Function(run, extra=(1, 1), **forms)


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    """``pattern`` compiled with RE2, or an evaluation error when RE2 rejects it."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        fail(f"invalid regular expression {pattern!r}: {exc}")


def _matches(subject: Any, pattern: Any) -> bool:
    if type(subject) is str and type(pattern) is str:
        return compile_pattern(pattern).search(subject) is not None
    fail(f"no such overload: matches({type_name(subject)}, {type_name(pattern)})")


def _conversion(run: Callable[[Any], Any]) -> Function:
    return Function(run, method=False, call=True)


LIBRARY: dict[str, Function] = {
    "size": Function(_size, call=True),
    "contains": _string_test("contains", lambda s, sub: sub in s),
    "startsWith": _string_test("startsWith", str.startswith),
    "endsWith": _string_test("endsWith", str.endswith),
    "matches": Function(_matches, extra=(1, 1), call=True),
    "glob": _string_test("glob", glob_match, call=True),
    "ip_in_cidr": _string_test("ip_in_cidr", ip_in_cidr, method=False, call=True),
    "inCidr": _string_test("inCidr", ip_in_cidr),
    **{name: Function(run, extra=(0, 1)) for name, run in ACCESSORS.items()},
    **{name: _conversion(run) for name, run in CONVERSIONS.items()},
}
"""Functions and methods by name (``has`` and the comprehension macros are compiled separately)."""
