"""The client certificate a TLS-terminating proxy forwarded (RFC 8705 §3, RFC 9440, SPEC §5.4).

Two forms are read: RFC 9440 ``Client-Cert: :<base64 DER>:`` and nginx's
``X-SSL-Client-Cert: <URL-encoded PEM>`` (``$ssl_client_escaped_cert``). Either is believed only
from a configured mTLS proxy address; from anyone else a certificate header is refused (fail
closed), since a client could otherwise claim any certificate. The thumbprint is recomputed from
the DER of the leaf: ``base64url(SHA-256(DER))``, never taken from a proxy-computed field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from opp.auth.network import peer_in
from opp.codes import ReasonCode
from opp.engine.request import IncomingRequest
from opp.errors import OppError
from opp.oauth.jwk_keys import b64url_encode
from opp.oauth.plan import MtlsPlan

__all__ = ["certificate_thumbprint", "forwarded_certificate"]

_MAX_HEADER = 16 * 1024


def certificate_thumbprint(der: bytes) -> str:
    """RFC 8705 §3.1 ``x5t#S256`` of a DER certificate."""
    return b64url_encode(hashlib.sha256(der).digest())


def _refuse(message: str) -> OppError:
    return OppError(ReasonCode.TOKEN_BINDING_MISMATCH, message)


def _der_of(value: str, pem: bool) -> bytes:
    if len(value) > _MAX_HEADER:
        raise _refuse("Client certificate header is too large.")
    try:
        if pem:
            certificate = x509.load_pem_x509_certificate(urllib.parse.unquote(value).encode("ascii"))
        else:
            text = value.strip()
            if len(text) < 3 or text[0] != ":" or text[-1] != ":":
                raise ValueError("not an sf-binary item")
            certificate = x509.load_der_x509_certificate(base64.b64decode(text[1:-1], validate=True))
    except (ValueError, UnicodeError, binascii.Error):
        raise _refuse("Client certificate header is malformed.") from None
    return certificate.public_bytes(Encoding.DER)


def forwarded_certificate(request: IncomingRequest, plan: MtlsPlan) -> str | None:
    """The ``x5t#S256`` of the forwarded client certificate, or None when none was forwarded.

    Raises:
        OppError: ``agent.token_binding_mismatch`` when a certificate header comes from a peer
            that is not a configured mTLS proxy, when several are sent, or when it is malformed.
    """
    if not plan.enabled:
        return None
    values = [(value, False) for value in request.client_cert] + [
        (value, True) for value in request.ssl_client_cert
    ]
    values = [(value, pem) for value, pem in values if value.strip()]
    if not values:
        return None
    if not peer_in(request.peer, plan.trusted_proxies):
        raise _refuse("Client certificate header from an untrusted peer.")
    if len(values) != 1:
        raise _refuse("Send exactly one client certificate.")
    value, pem = values[0]
    return certificate_thumbprint(_der_of(value, pem))
