"""The ``Authorization`` header, parsed once: which scheme, which token (SPEC §4 step 1).

Exactly one header, one scheme (``Bearer`` or ``DPoP``, case-insensitive per RFC 9110), one
``token68`` credential, nothing in the query string. Anything else is ambiguous and refused
before any cryptography.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from opp.codes import ReasonCode
from opp.engine.request import IncomingRequest
from opp.errors import OppError

__all__ = ["Credential", "MalformedCredential", "parse_credential"]

_TOKEN68 = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
_MAX_TOKEN = 16 * 1024


class Credential(NamedTuple):
    scheme: str
    """``bearer`` or ``dpop``."""
    token: str


class MalformedCredential(OppError):
    """401 ``agent.token_invalid`` with ``error="invalid_request"`` (or no error when absent)."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(ReasonCode.TOKEN_INVALID, message)
        self.missing = missing


def parse_credential(request: IncomingRequest) -> Credential:
    """The one credential of ``request``.

    Raises:
        MalformedCredential: none, several, a token in the query, an unknown scheme, a bad token.
    """
    if request.credential_in_query:
        raise MalformedCredential("Credentials are not accepted in the query string.")
    if not request.authorization:
        raise MalformedCredential("Missing credential.", missing=True)
    if len(request.authorization) != 1:
        raise MalformedCredential("Send exactly one Authorization header.")
    scheme, _, token = request.authorization[0].strip().partition(" ")
    token = token.strip()
    scheme = scheme.lower()
    if scheme not in ("bearer", "dpop"):
        raise MalformedCredential("Unsupported authorization scheme: use Bearer or DPoP.")
    if not token or len(token) > _MAX_TOKEN or _TOKEN68.match(token) is None:
        raise MalformedCredential("Malformed credential.")
    return Credential(scheme, token)
