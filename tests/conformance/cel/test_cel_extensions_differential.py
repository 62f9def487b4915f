"""Property tests for opp's custom functions: generated glob patterns and texts, and generated
address/network pairs, through cel-python's interpreter and the compiled evaluator in every call form.

Both engines call the same code (``opp/policy/extensions.py``), so their agreement proves only the
binding; the semantics are checked against independent oracles written here from the documented
rules: :func:`oracle_glob` (a backtracking matcher over parsed tokens: no regular expressions, no
string-method fast path) and :func:`oracle_in_cidr` (integer mask arithmetic for IPv4, IPv6 and
IPv4-mapped forms, ``ipaddress`` used only to read the text). Well-formed globs without escapes are
also checked against :func:`fnmatch.fnmatchcase`."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from functools import cache
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


class Malformed(Exception):
    """The pattern breaks the documented grammar: the function must fail."""


def _glob_tokens(pattern: str) -> list[tuple[str, Any]]:
    """``("lit", c)``, ``("any", None)``, ``("star", None)`` or ``("set", (negated, ranges))``."""
    tokens: list[tuple[str, Any]] = []
    chars = list(pattern)
    while chars:
        char = chars.pop(0)
        if char == "\\":
            if not chars:
                raise Malformed("trailing backslash")
            tokens.append(("lit", chars.pop(0)))
        elif char in "*?":
            tokens.append(("star" if char == "*" else "any", None))
        elif char == "[":
            tokens.append(("set", _glob_set(chars)))
        else:
            tokens.append(("lit", char))
    return tokens


def _glob_set(chars: list[str]) -> tuple[bool, list[tuple[str, str]]]:
    """Consume a class body (after ``[``) from ``chars``: negation flag and inclusive ranges."""
    negated = bool(chars) and chars[0] == "!"
    if negated:
        chars.pop(0)
    ranges: list[tuple[str, str]] = []

    def member() -> str:
        if not chars:
            raise Malformed("unterminated class")
        char = chars.pop(0)
        if char == "\\":
            if not chars:
                raise Malformed("unterminated class")
            char = chars.pop(0)
        return char

    while True:
        if not chars:
            raise Malformed("unterminated class")
        if chars[0] == "]" and ranges:
            chars.pop(0)
            return negated, ranges
        low = member()
        if len(chars) >= 2 and chars[0] == "-" and chars[1] != "]":
            chars.pop(0)
            high = member()
            if low > high:
                raise Malformed("reversed range")
            ranges.append((low, high))
        else:
            ranges.append((low, low))


def oracle_glob(text: str, pattern: str) -> bool | str:
    """The documented ``glob`` semantics, or ``ERROR``, computed without the code under test."""
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        return ERROR
    try:
        tokens = _glob_tokens(pattern)
    except Malformed:
        return ERROR

    @cache
    def match(t: int, p: int) -> bool:
        if p == len(tokens):
            return t == len(text)
        kind, value = tokens[p]
        if kind == "star":
            return match(t, p + 1) or (t < len(text) and match(t + 1, p))
        if t == len(text):
            return False
        char = text[t]
        if kind == "lit":
            ok = char == value
        elif kind == "any":
            ok = True
        else:
            negated, ranges = value
            ok = any(low <= char <= high for low, high in ranges) != negated
        return ok and match(t + 1, p + 1)

    return match(0, 0)


def _read(text: str, network: bool) -> tuple[int, int, int] | None:
    """``(version, value, prefix)`` of an address or network as ``ipaddress`` reads it."""
    try:
        parsed = ipaddress.ip_network(text, strict=False) if network else ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return parsed.version, int(parsed.network_address), parsed.prefixlen
    return parsed.version, int(parsed), 32 if parsed.version == 4 else 128


_MAPPED_PREFIX = 0xFFFF << 32  # ::ffff:0:0/96


def _as_ipv4(version: int, value: int, prefix: int) -> tuple[int, int, int]:
    """An IPv6 value inside ``::ffff:0:0/96`` (prefix of at least 96 bits) as the IPv4 one."""
    if version == 6 and prefix >= 96 and value >> 32 == _MAPPED_PREFIX >> 32:
        return 4, value & 0xFFFFFFFF, prefix - 96
    return version, value, prefix


def oracle_in_cidr(ip: str, cidr: str) -> bool | str:
    """The documented ``ip_in_cidr`` semantics by integer arithmetic, or ``ERROR``."""
    address, network = _read(ip, network=False), _read(cidr, network=True)
    if address is None or network is None:
        return ERROR
    (a_version, a_value, _), (n_version, n_value, prefix) = _as_ipv4(*address), _as_ipv4(*network)
    if a_version != n_version:
        return False
    bits = 32 if a_version == 4 else 128
    mask = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
    return (a_value & mask) == (n_value & mask)


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("abc", "a*c", True), ("a*b", "a\\*b", True), ("axb", "a\\*b", False), ("]", "[]a]", True),
        ("-", "[a-]", True), ("x", "[!]]", True), ("]", "[!]]", False), ("b", "[z-a]", ERROR),
        ("a", "[a", ERROR), ("a", "a\\", ERROR), ("ß", "[À-ÿ]", True), ("a\nb", "a?b", True),
        ("x\ud800", "*", ERROR), ("aba", "ab*ba", False),
    ],
)  # fmt: skip
def test_the_glob_oracle_follows_the_documented_rules(text: str, pattern: str, expected: bool | str) -> None:
    assert oracle_glob(text, pattern) == expected


@pytest.mark.parametrize(
    ("ip", "cidr", "expected"),
    [
        ("10.1.2.3", "10.9.9.9/8", True), ("11.0.0.0", "10.0.0.0/8", False),
        ("::ffff:10.1.2.3", "10.0.0.0/8", True), ("10.1.2.3", "::ffff:10.0.0.0/104", True),
        ("10.1.2.3", "::/0", False), ("2001:db8::1", "2001:db8::/32", True),
        ("2001:db9::1", "2001:db8::/32", False), ("", "10.0.0.0/8", ERROR),
        ("10.0.0.1", "10.0.0.0/33", ERROR),
    ],
)  # fmt: skip
def test_the_cidr_oracle_follows_the_documented_rules(ip: str, cidr: str, expected: bool | str) -> None:
    assert oracle_in_cidr(ip, cidr) == expected


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
    oracle = oracle_glob if forms is _GLOB_FORMS else oracle_in_cidr
    assert outcomes[0].value == oracle(a, b), (forms, a, b, outcomes[0])
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
