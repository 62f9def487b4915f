"""Opaque credentials (SPEC §1, §5.1): format and hashing (``opp.oauth.credentials`` parses the header).

Tokens are ``op_`` (agent keys) or ``opa_`` (admin tokens) followed by base64url(32 random bytes)
without padding. Only ``SHA-256(token)`` in hex is stored; the plaintext is shown once.
"""

from __future__ import annotations

import hashlib
import re

__all__ = [
    "ADMIN_TOKEN_PREFIX",
    "AGENT_TOKEN_PREFIX",
    "hash_token",
    "is_opaque_token",
    "token_prefix",
]

AGENT_TOKEN_PREFIX = "op"
ADMIN_TOKEN_PREFIX = "opa"
_TOKEN_RE = re.compile(r"^(op|opa)_[A-Za-z0-9_-]{43}$")
_PREFIX_LEN = 12


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token: the only form in which it is stored or compared."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_opaque_token(token: str, prefix: str) -> bool:
    """Whether ``token`` has the shape of an opaque ``prefix_…`` credential (else: an OAuth token)."""
    match = _TOKEN_RE.match(token)
    return match is not None and match.group(1) == prefix


def token_prefix(token: str) -> str:
    """The first 12 characters, shown in listings so operators can tell keys apart."""
    return token[:_PREFIX_LEN]
