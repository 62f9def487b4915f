"""Differential property tests for opp's custom functions: generated glob patterns and texts, and
generated address/network pairs, give the same value (or both fail) under cel-python's interpreter
and the compiled evaluator, in every call form. Well-formed globs without escapes are also checked
against :func:`fnmatch.fnmatchcase` (a test oracle only: opp's glob adds ``\\`` escapes and makes
malformed classes errors, where fnmatch reads them literally)."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opp.policy.api import PolicyEvalError
from opp.policy.extensions import glob_match, glob_regex
from tests.conformance.cel.cases import ERROR, Case, same_value
from tests.conformance.cel.engines import Outcome, run_cel_python, run_compiled

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_GLOB_FORMS = ("glob(a, b)", "a.glob(b)")
_CIDR_FORMS = ("ip_in_cidr(a, b)", "a.inCidr(b)")

_TEXT = st.text(alphabet="ab-]é/\n*?[", max_size=8)
_PATTERN = st.lists(
    st.sampled_from(["a", "b", "é", "/", "-", "*", "?", "[", "]", "!", "[a-b]", "[!a]", "\\", "\\*"]),
    max_size=8,
).map("".join)


def _outcomes(forms: tuple[str, ...], a: str, b: str) -> list[Outcome]:
    outcomes = []
    for form in forms:
        case = Case(file="generated", section="", name="", expr=form, bindings={"a": a, "b": b})
        reference, compiled = run_cel_python(case), run_compiled(case)
        if reference.value is ERROR or compiled.value is ERROR:
            assert (reference.value is ERROR) == (compiled.value is ERROR), (form, reference, compiled)
        else:
            assert same_value(compiled.value, reference.value), (form, reference, compiled)
        outcomes += [reference, compiled]
    assert len({repr(outcome.value) for outcome in outcomes}) == 1, outcomes
    return outcomes


@_SETTINGS
@given(text=_TEXT, pattern=_PATTERN)
def test_generated_globs_agree(text: str, pattern: str) -> None:
    outcome = _outcomes(_GLOB_FORMS, text, pattern)[0]
    if outcome.value is not ERROR and "\\" not in pattern:
        assert outcome.value == fnmatch.fnmatchcase(text, pattern), (text, pattern)


@_SETTINGS
@given(pattern=_PATTERN, data=st.data())
def test_texts_built_from_the_pattern_agree(pattern: str, data: Any) -> None:
    # Texts derived from the pattern itself hit the matching branches more often than random text.
    text = data.draw(st.sampled_from([pattern, pattern.replace("*", ""), pattern.replace("?", "a")]))
    _outcomes(_GLOB_FORMS, text, pattern)


def _python_regex(pattern: str) -> str:
    """``glob_regex`` in Python's ``re`` syntax (``\\x{2a}`` → ``\\*``)."""
    return re.sub(r"\\x\{([0-9a-f]+)\}", lambda m: re.escape(chr(int(m[1], 16))), glob_regex(pattern))


_STAR_PATTERN = st.lists(st.sampled_from(["a", "b", "ab", "*", "\\*", "\\"]), min_size=1, max_size=6)


@_SETTINGS
@given(tokens=_STAR_PATTERN, data=st.data())
def test_star_patterns_match_as_their_regular_expression(tokens: list[str], data: Any) -> None:
    # Literal-and-star patterns skip RE2 (string methods); they must match exactly as the regex would.
    # Texts: the pattern's literals with each star filled, then maybe a slice cut out, or random.
    pattern = "".join(tokens)
    fills = iter(data.draw(st.lists(st.text(alphabet="ab", max_size=2), min_size=6, max_size=6)))
    text = "".join(next(fills) if token == "*" else token.lstrip("\\") for token in tokens)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    text = data.draw(st.sampled_from([text[:start] + text[end:], text, next(fills)]))
    try:
        regex = _python_regex(pattern)
    except PolicyEvalError:
        with pytest.raises(PolicyEvalError):
            glob_match(text, pattern)
        return
    assert glob_match(text, pattern) == (re.fullmatch(regex, text) is not None), (text, pattern)


def _address(version: int) -> st.SearchStrategy[str]:
    return st.ip_addresses(v=version).map(str)  # type: ignore[arg-type]


_ADDRESS = st.one_of(
    _address(4),
    _address(6),
    _address(4).map(lambda v4: f"::ffff:{v4}"),
    st.sampled_from(["10.0.0.1", "10.255.255.255", "11.0.0.0", "::1", "", "x", "1.2.3", "10.0.0.1/8"]),
)


@st.composite
def _networks(draw: Any) -> str:
    base = draw(_ADDRESS)
    prefix = draw(st.one_of(st.integers(0, 129), st.sampled_from(["", "-1", "x"])))
    network: str = draw(st.sampled_from([f"{base}/{prefix}", base]))
    return network


@_SETTINGS
@given(ip=_ADDRESS, cidr=_networks())
def test_generated_cidrs_agree(ip: str, cidr: str) -> None:
    outcome = _outcomes(_CIDR_FORMS, ip, cidr)[0]
    if outcome.value is not ERROR and "." in ip and "." in cidr and ":" not in ip + cidr:
        # IPv4 oracle: integer mask arithmetic.
        address, network = ipaddress.IPv4Address(ip), ipaddress.IPv4Network(cidr, strict=False)
        mask = (0xFFFFFFFF << (32 - network.prefixlen)) & 0xFFFFFFFF
        assert outcome.value == ((int(address) & mask) == int(network.network_address)), (ip, cidr)


@_SETTINGS
@given(ip=_address(4), prefix=st.integers(0, 32))
def test_an_address_is_in_its_own_networks(ip: str, prefix: int) -> None:
    assert _outcomes(_CIDR_FORMS, ip, f"{ip}/{prefix}")[0].value is True
    assert _outcomes(_CIDR_FORMS, f"::ffff:{ip}", f"{ip}/{prefix}")[0].value is True
