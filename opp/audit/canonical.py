"""Fast RFC 8785 (JCS) canonical JSON for the audit chain.

:func:`opp.writes.jcs.canonical_json` is the reference: the ``rfc8785`` library, pure Python,
about 240 µs for a 2 KB object. Every audit event is hashed on the append path, so this module
takes a shortcut for the values audit events actually hold and falls back to the reference for
everything else. The two are byte-identical (proven by the hypothesis tests in
``tests/unit/audit/test_canonical.py``).

The shortcut is ``msgspec.json`` with sorted keys. It produces the JCS bytes exactly when the value
holds only:

- ``dict`` with ``str`` keys whose characters are all below U+D800 — there code-point order
  (msgspec's) equals the UTF-16 code-unit order JCS sorts by;
- ``str`` (msgspec escapes exactly as JCS does: ``\\"``, ``\\\\``, ``\\b \\t \\n \\f \\r`` and
  ``\\u00xx`` for other control characters, everything else as raw UTF-8);
- ``int`` within ±(2**53 - 1), ``bool``, ``None``, ``list`` and ``tuple``.

Floats (ECMAScript number formatting), larger integers (read as doubles, as in ``canonical_json``)
and anything else go to the reference implementation, which also raises the same ``ValueError``
for what is not JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from opp.writes.jcs import canonical_json

__all__ = ["canonical_bytes", "is_fast_path"]

_MAX_SAFE_INTEGER = 2**53 - 1
_FIRST_SURROGATE = "\ud800"
_SORTED = msgspec.json.Encoder(order="sorted")


def _plain_keys(value: dict[Any, Any]) -> bool:
    try:
        keys = "".join(value)  # one C call for all keys; TypeError if one is not a string
    except TypeError:
        return False
    return keys.isascii() or max(keys) < _FIRST_SURROGATE


def _plain_items(items: Iterable[Any]) -> bool:
    for item in items:
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if -_MAX_SAFE_INTEGER <= item <= _MAX_SAFE_INTEGER:
                continue
            return False
        if not is_fast_path(item):
            return False
    return True


def is_fast_path(value: Any) -> bool:
    """True if sorted-key ``msgspec`` encoding of ``value`` is its RFC 8785 form."""
    kind = type(value)
    if kind is dict:
        return _plain_keys(value) and _plain_items(value.values())
    if kind is list or kind is tuple:
        return _plain_items(value)
    return _plain_items((value,)) if kind is str or kind is int or kind is bool or value is None else False


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value, as :func:`canonical_json` returns them.

    Raises:
        ValueError: ``value`` is not JSON (a datetime, bytes, a NaN, a lone surrogate…).
    """
    if is_fast_path(value):
        try:
            return _SORTED.encode(value)
        except UnicodeEncodeError:
            pass  # a lone surrogate: the reference reports it
    return canonical_json(value)
