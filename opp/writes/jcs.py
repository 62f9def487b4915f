"""RFC 8785 (JSON Canonicalization Scheme) and the hashes built on it (SPEC §7.4, §7.5).

    "The canonicalization of JSON data [...] makes it possible to perform cryptographic
    operations on JSON data independent of the order of properties or whitespace."
    (RFC 8785 §1)

Serialisation is delegated to the ``rfc8785`` library: object keys sorted by their UTF-16 code
units, no whitespace, strings escaped minimally, numbers in the ECMAScript ``Number.toString``
form (``1e+21``, ``1e-7``, ``0.30000000000000004``, ``-0`` → ``0``).

Hashing uses :func:`canonical_bytes`, a fast path over ``msgspec`` for the values hashes usually
hold, byte-identical to the library (see its docstring) and falling back to it for the rest.

Only JSON values may be hashed: ``dict`` with string keys, ``list``/``tuple``, ``str``, ``int``,
``float``, ``bool`` and ``None``. Datetimes and other objects are rejected (callers convert them to
RFC 3339 strings first, see :func:`json_value`). RFC 8785 treats every number as an IEEE 754
double, so an integer beyond ±(2**53 - 1) is hashed as the double nearest to it, as a JavaScript
client would read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import rfc8785

__all__ = [
    "canonical_bytes",
    "canonical_json",
    "fingerprint",
    "impact_hash",
    "is_fast_path",
    "json_value",
    "sha256_hex",
    "witness_hash",
]

_MAX_SAFE_INTEGER = 2**53 - 1
_FIRST_SURROGATE = "\ud800"
_FIXED_FLOATS_FROM, _FIXED_FLOATS_TO = 1e-4, 1e16
"""Non-integral doubles in this range are written the same by msgspec and ECMAScript: shortest
round-trip digits in fixed notation (outside it either may switch to an exponent, and integral
doubles are ``3.0`` for one, ``3`` for the other)."""
_SORTED = msgspec.json.Encoder(order="sorted")


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 encoding of a JSON value.

    Raises:
        ValueError: ``value`` holds something that is not JSON (a datetime, bytes, a NaN, a
            non-string key…).
    """
    try:
        return rfc8785.dumps(_as_ieee_numbers(value))
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"not canonicalizable as JSON: {exc}") from None


def sha256_hex(value: Any) -> str:
    """``hex(SHA-256(canonical_json(value)))``, computed over :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


def impact_hash(action: str, payload: Mapping[str, Any], impact: Mapping[str, Any]) -> str:
    """``impactHash`` (SPEC §7.4): ``sha256_hex({"action", "payload", "impact"})``."""
    return sha256_hex({"action": action, "payload": payload, "impact": impact})


def witness_hash(witness: Mapping[str, Any] | None) -> str:
    """``stateWitnessHash`` (SPEC §7.4): ``sha256_hex(witness)``; a vanished resource hashes ``null``."""
    return sha256_hex(witness)


def fingerprint(action: str, payload: Mapping[str, Any]) -> str:
    """The idempotency fingerprint (SPEC §7.5): ``sha256_hex({"action", "payload"})``."""
    return sha256_hex({"action": action, "payload": payload})


def json_value(value: Any) -> Any:
    """``value`` as plain JSON: datetimes become RFC 3339 strings, dates ``YYYY-MM-DD``, Structs
    and dataclasses objects. Applied to what a backend returned, before hashing."""
    return msgspec.to_builtins(value)


def _as_ieee_numbers(value: Any) -> Any:
    """Integers outside the exactly representable range become the double RFC 8785 reads."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER else float(value)
    if isinstance(value, Mapping):
        return {key: _as_ieee_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_ieee_numbers(item) for item in value]
    return value


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
        if kind is float:
            if _FIXED_FLOATS_FROM <= abs(item) < _FIXED_FLOATS_TO and not item.is_integer():
                continue  # also False for NaN (every comparison is) and the infinities
            return False
        if not is_fast_path(item):
            return False
    return True


def is_fast_path(value: Any) -> bool:
    """True if sorted-key ``msgspec`` encoding of ``value`` is its RFC 8785 form: when it holds only

    - ``dict`` with ``str`` keys whose characters are all below U+D800 — there code-point order
      (msgspec's) equals the UTF-16 code-unit order JCS sorts by;
    - ``str`` (msgspec escapes exactly as JCS does: ``\\"``, ``\\\\``, ``\\b \\t \\n \\f \\r``
      and ``\\u00xx`` for other control characters, everything else as raw UTF-8);
    - ``int`` within ±(2**53 - 1), ``bool``, ``None``, ``list`` and ``tuple``;
    - ``float`` that is not integral, with 1e-4 ≤ |x| < 1e16 (amounts, ratios): there msgspec's
      shortest round-trip digits in fixed notation are ECMAScript's ``Number.prototype.toString``.

    Other floats (exponents, ``-0``, integral values) and larger integers (read as doubles) are not.
    """
    kind = type(value)
    if kind is dict:
        return _plain_keys(value) and _plain_items(value.values())
    if kind is list or kind is tuple:
        return _plain_items(value)
    scalar = kind is str or kind is int or kind is float or kind is bool or value is None
    return _plain_items((value,)) if scalar else False


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value, as :func:`canonical_json` returns them.

    :func:`canonical_json` is the reference: the ``rfc8785`` library, pure Python, about 240 µs for
    a 2 KB object. Audit events are hashed on every append and writes hash their payload, impact
    and witness, so this takes a shortcut for the values they usually hold: ``msgspec.json`` with
    sorted keys (:func:`is_fast_path` says when that is the JCS form), byte-identical to the
    reference (the hypothesis tests in ``tests/unit/audit/test_canonical.py``); anything else goes
    to the reference, which also raises the same ``ValueError`` for what is not JSON.

    Raises:
        ValueError: ``value`` is not JSON (a datetime, bytes, a NaN, a lone surrogate…).
    """
    if is_fast_path(value):
        try:
            return _SORTED.encode(value)
        except UnicodeEncodeError:
            pass  # a lone surrogate: the reference reports it
    return canonical_json(value)
