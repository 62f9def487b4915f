"""opp's own CEL functions: shell-style ``glob`` and IP-in-CIDR matching.

This module is the single implementation of their semantics; both engines call it (the compiled
evaluator from :mod:`opp.policy.compiled.library`, cel-python through :mod:`opp.policy.celpython`),
so they cannot disagree. Failures raise :class:`PolicyEvalError` (the rule fails and callers deny).

**glob(text, pattern)** matches the *whole* of ``text``, case-sensitively, character by character
(Unicode code points):

- ``*`` any sequence of characters, including the empty one and including ``/`` and newlines;
- ``?`` exactly one character;
- ``[abc]`` one of the listed characters, ``[a-z]`` one in the code-point range (both ends
  included), ``[!a-z]`` one *not* listed; ``]`` right after ``[`` or ``[!`` is a member, ``-`` first
  or last is a member, ``\\`` inside a class escapes the next character; ``^`` has no special meaning;
- ``\\`` escapes the next character outside a class too (``\\*`` is a literal ``*``);
- every other character stands for itself; ``/`` and a leading ``.`` are not special.

An unterminated class, a range whose start is after its end and a trailing lone ``\\`` are
malformed: an evaluation error. So is a ``text`` holding a lone surrogate. A pattern is prepared
once per distinct pattern (LRU cache): only literals and ``*`` → string methods (``==``,
``startswith``, ``find``…); anything else → an RE2 expression (linear-time matching).

**ip_in_cidr(ip, cidr)** is whether the address ``ip`` lies in the network ``cidr`` (IPv4 or IPv6,
as Python's :mod:`ipaddress` writes them; host bits may be set, ``10.1.2.3/8`` is ``10.0.0.0/8``;
a bare address is a single-address network). An IPv4-mapped IPv6 address (``::ffff:10.1.2.3``) is
the IPv4 address, and a network inside ``::ffff:0:0/96`` with a prefix of at least 96 bits is the
corresponding IPv4 network. Otherwise an IPv4 address is never in an IPv6 network, nor the reverse.
An unparsable ``ip`` (including ``""``, an unknown client address) or ``cidr`` is an evaluation
error.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache

import re2

from opp.policy.api import PolicyEvalError

__all__ = ["glob_match", "glob_regex", "ip_in_cidr"]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _literal(char: str) -> str:
    """``char`` as an RE2 literal, valid inside and outside a class."""
    return char if char.isascii() and char.isalnum() else f"\\x{{{ord(char):x}}}"


def _class(pattern: str, start: int) -> tuple[str, int]:
    """The RE2 class for the glob class opening at ``pattern[start]`` and the index after it."""
    index, negated = start + 1, False
    if pattern.startswith("!", index):
        index, negated = index + 1, True
    members: list[str] = []
    first = index
    while True:
        if index >= len(pattern):
            raise PolicyEvalError(f"invalid glob pattern {pattern!r}: unterminated '['")
        char = pattern[index]
        if char == "]" and index > first:
            break
        if char == "\\":
            index += 1
            if index >= len(pattern):
                raise PolicyEvalError(f"invalid glob pattern {pattern!r}: unterminated '['")
            char = pattern[index]
        index += 1
        if pattern.startswith("-", index) and index + 1 < len(pattern) and pattern[index + 1] != "]":
            low, (high, index) = char, _range_end(pattern, index + 1)
            if ord(low) > ord(high):
                raise PolicyEvalError(f"invalid glob pattern {pattern!r}: range {low}-{high} is reversed")
            members.append(f"{_literal(low)}-{_literal(high)}")
        else:
            members.append(_literal(char))
    return f"[{'^' if negated else ''}{''.join(members)}]", index + 1


def _range_end(pattern: str, index: int) -> tuple[str, int]:
    """The (possibly escaped) character ending a range at ``pattern[index]``, and the index after."""
    if pattern[index] == "\\":
        index += 1
        if index >= len(pattern):
            raise PolicyEvalError(f"invalid glob pattern {pattern!r}: unterminated '['")
    return pattern[index], index + 1


def glob_regex(pattern: str) -> str:
    """The RE2 expression (for a full match) equivalent to a glob ``pattern``.

    Raises:
        PolicyEvalError: the pattern is malformed.
    """
    parts, index = ["(?s)"], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            if parts[-1] != ".*":  # a run of stars is one star
                parts.append(".*")
            index += 1
        elif char == "?":
            parts.append(".")
            index += 1
        elif char == "[":
            expression, index = _class(pattern, index)
            parts.append(expression)
        elif char == "\\":
            if index + 1 >= len(pattern):
                raise PolicyEvalError(f"invalid glob pattern {pattern!r}: trailing '\\'")
            parts.append(_literal(pattern[index + 1]))
            index += 2
        else:
            parts.append(_literal(char))
            index += 1
    return "".join(parts)


def _literal_runs(pattern: str) -> list[str] | None:
    """The literal runs between the stars of a pattern made only of literals and ``*``, else None."""
    runs: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char in "?[" or (char == "\\" and index + 1 >= len(pattern)):
            return None  # a wildcard, or malformed: the RE2 path matches or reports it
        if char == "*":
            runs.append("".join(current))
            current = []
        else:
            index += char == "\\"
            current.append(pattern[index])
        index += 1
    return [*runs, "".join(current)]


def _star_matcher(runs: list[str]) -> Callable[[str], bool]:
    """Match ``head*mid*…*tail`` with string methods: greedy leftmost search is exact for ``*``."""
    if len(runs) == 1:
        only = runs[0]
        return lambda text: text == only
    head, *middle, tail = runs
    minimum = sum(map(len, runs))

    def match(text: str) -> bool:
        if len(text) < minimum or not text.startswith(head) or not text.endswith(tail):
            return False
        position, end = len(head), len(text) - len(tail)
        for run in middle:
            found = text.find(run, position, end)
            if found < 0:
                return False
            position = found + len(run)
        return True

    return match


@lru_cache(maxsize=256)
def _compiled_glob(pattern: str) -> Callable[[str], bool]:
    runs = _literal_runs(pattern)
    if runs is not None:
        return _star_matcher(runs)
    try:
        expression = re2.compile(glob_regex(pattern), _OPTIONS)
    except re2.error as exc:  # e.g. a character RE2 cannot represent
        raise PolicyEvalError(f"invalid glob pattern {pattern!r}: {exc}") from exc
    return lambda text: expression.fullmatch(text) is not None


def glob_match(text: str, pattern: str) -> bool:
    """Whether the glob ``pattern`` matches all of ``text`` (see the module docstring).

    Patterns made of literals and ``*`` only are matched with string methods, others with RE2.

    Raises:
        PolicyEvalError: the pattern is malformed, or ``text`` holds a lone surrogate.
    """
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            raise PolicyEvalError("glob() text is not valid Unicode") from exc
    return _compiled_glob(pattern)(text)


@lru_cache(maxsize=4096)
def _address(text: str) -> IpAddress | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=1024)
def _network(text: str) -> IpNetwork | None:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None  # inside ::ffff:0:0/96
        return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def ip_in_cidr(ip: str, cidr: str) -> bool:
    """Whether address ``ip`` is inside network ``cidr`` (see the module docstring).

    Raises:
        PolicyEvalError: ``ip`` is not an IP address or ``cidr`` not an IP network.
    """
    address, network = _address(ip), _network(cidr)
    if address is None:
        raise PolicyEvalError(f"invalid IP address {ip[:64]!r}")
    if network is None:
        raise PolicyEvalError(f"invalid CIDR {cidr[:64]!r}")
    return address.version == network.version and address in network
