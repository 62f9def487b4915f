"""RFC 8785 (JSON Canonicalization Scheme) and the hashes built on it (SPEC §7.4, §7.5).

    "The canonicalization of JSON data [...] makes it possible to perform cryptographic
    operations on JSON data independent of the order of properties or whitespace."
    (RFC 8785 §1)

Serialisation is delegated to the ``rfc8785`` library: object keys sorted by their UTF-16 code
units, no whitespace, strings escaped minimally, numbers in the ECMAScript ``Number.toString``
form (``1e+21``, ``1e-7``, ``0.30000000000000004``, ``-0`` → ``0``).

Only JSON values may be hashed: ``dict`` with string keys, ``list``/``tuple``, ``str``, ``int``,
``float``, ``bool`` and ``None``. Datetimes and other objects are rejected (callers convert them to
RFC 3339 strings first, see :func:`json_value`). RFC 8785 treats every number as an IEEE 754
double, so an integer beyond ±(2**53 - 1) is hashed as the double nearest to it, as a JavaScript
client would read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import msgspec
import rfc8785

__all__ = [
    "canonical_json",
    "fingerprint",
    "impact_hash",
    "json_value",
    "sha256_hex",
    "witness_hash",
]

_MAX_SAFE_INTEGER = 2**53 - 1


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
    """``hex(SHA-256(canonical_json(value)))``."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


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
