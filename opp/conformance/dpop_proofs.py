"""DPoP proofs (RFC 9449 §4.2) made by the runner with its own P-256 keys, through joserfc only."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey

__all__ = ["ProofKeys", "access_token_hash"]


def access_token_hash(token: str) -> str:
    """``ath``: base64url(SHA-256(token)) without padding."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class ProofKeys:
    """Named ES256 keys, made on first use, and the proofs saved for a later replay."""

    def __init__(self) -> None:
        self._keys: dict[str, ECKey] = {}
        self.saved: dict[str, str] = {}

    def proof(self, key_name: str, *, htm: str, htu: str, access_token: str | None = None) -> str:
        """A fresh proof (new ``jti``, ``iat`` now) signed by the key ``key_name``."""
        key = self._keys.get(key_name)
        if key is None:
            key = self._keys[key_name] = ECKey.generate_key("P-256")
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": htm,
            "htu": htu,
            "iat": int(time.time()),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": dict(key.as_dict(private=False))}
        return jws.serialize_compact(header, json.dumps(claims).encode(), key, algorithms=["ES256"])
