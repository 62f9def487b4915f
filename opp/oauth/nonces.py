"""Stateless DPoP server nonces (RFC 9449 §8, §9; INTEROP §1.5).

A nonce is ``base64url(epoch || HMAC-SHA256(secret, label || epoch)[:16])`` where ``epoch`` counts
``lifetime_s`` periods since the Unix epoch. Nothing is stored: any worker or replica holding the
same secret issues and accepts the same nonces. A nonce is accepted during its own period and the
next one, so it stays valid for between one and two lifetimes. Nonces are unpredictable without the
secret (§8) and contain only ``[A-Za-z0-9_-]`` (a subset of NQCHAR, §8.1).
"""

from __future__ import annotations

import hashlib
import hmac

from opp.clock import Clock
from opp.oauth.jwk_keys import b64url_decode, b64url_encode

__all__ = ["MIN_SECRET_BYTES", "NonceSource"]

MIN_SECRET_BYTES = 16
_LABEL = b"opp dpop nonce v1\x00"
"""Domain separation: the shared secret may key other MACs too."""
_EPOCH_BYTES = 8
_MAC_BYTES = 16
_NONCE_CHARS = 32
"""24 bytes of base64url."""


class NonceSource:
    """Issues the current nonce and checks presented ones against the current and previous period."""

    def __init__(self, secret: bytes, lifetime_s: float, clock: Clock) -> None:
        """Args:
        secret: Shared by every worker and replica (kept in the store), at least 16 bytes.
        lifetime_s: Length of one nonce period in seconds.
        clock: Injected time.
        """
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the nonce secret needs at least {MIN_SECRET_BYTES} bytes")
        if lifetime_s <= 0:
            raise ValueError("the nonce lifetime must be positive")
        self._secret = secret
        self._lifetime_s = lifetime_s
        self._clock = clock
        self._issued: tuple[int, str] = (-1, "")

    def current(self) -> str:
        """The nonce of the current period (for ``DPoP-Nonce`` response headers)."""
        epoch = self._epoch()
        issued_epoch, nonce = self._issued
        if issued_epoch != epoch:
            nonce = b64url_encode(_epoch_bytes(epoch) + self._mac(epoch))
            self._issued = (epoch, nonce)
        return nonce

    def valid(self, nonce: str) -> bool:
        """True for a nonce of the current or the previous period; False for anything else."""
        if not isinstance(nonce, str) or len(nonce) != _NONCE_CHARS:
            return False
        try:
            raw = b64url_decode(nonce)
        except ValueError:
            return False
        epoch = int.from_bytes(raw[:_EPOCH_BYTES], "big")
        now = self._epoch()
        if epoch not in (now, now - 1):
            return False
        return hmac.compare_digest(raw[_EPOCH_BYTES:], self._mac(epoch))

    def _epoch(self) -> int:
        return int(self._clock.now().timestamp() // self._lifetime_s)

    def _mac(self, epoch: int) -> bytes:
        message = _LABEL + _epoch_bytes(epoch)
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


def _epoch_bytes(epoch: int) -> bytes:
    return epoch.to_bytes(_EPOCH_BYTES, "big")
