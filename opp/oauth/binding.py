"""Proof of possession for an access token (SPEC §4 step 4, §5.3, §5.4; RFC 9449 §7, RFC 8705 §3).

The downgrade matrix (INTEROP §1.7): a DPoP-bound token needs the DPoP scheme and a valid proof
whose key thumbprint equals ``cnf.jkt``; a certificate-bound token needs the Bearer scheme and a
forwarded certificate whose thumbprint equals ``cnf.x5t#S256``; an unbound token may not use the
DPoP scheme or carry a proof; a route whose DPoP mode is ``required`` refuses everything but a
DPoP-bound token, and ``disabled`` refuses DPoP.
"""

from __future__ import annotations

import hmac

from opp.codes import ReasonCode
from opp.engine.request import IncomingRequest
from opp.errors import OppError
from opp.oauth.access_tokens import TokenInfo
from opp.oauth.credentials import Credential
from opp.oauth.dpop import DpopVerifier
from opp.oauth.mtls import forwarded_certificate
from opp.oauth.plan import DpopMode, OAuthPlan

__all__ = ["check_binding", "refuse_unbound"]


def _mismatch(message: str) -> OppError:
    return OppError(ReasonCode.TOKEN_BINDING_MISMATCH, message)


def refuse_unbound(credential: Credential, request: IncomingRequest, mode: DpopMode) -> None:
    """Checks for a credential with no ``cnf`` (an unbound JWT, or an opaque key)."""
    if credential.scheme == "dpop":
        raise OppError(ReasonCode.TOKEN_INVALID, "The DPoP scheme needs a DPoP-bound access token.")
    if request.dpop:
        raise OppError(ReasonCode.TOKEN_INVALID, "A DPoP proof was sent with an unbound bearer credential.")
    if mode == "required":
        raise OppError(ReasonCode.TOKEN_INVALID, "This route requires a DPoP-bound access token.")


def check_binding(
    info: TokenInfo,
    credential: Credential,
    request: IncomingRequest,
    mode: DpopMode,
    plan: OAuthPlan,
    dpop: DpopVerifier,
) -> dict[str, str]:
    """The verified binding (``{"jkt": …}``, ``{"x5t#S256": …}`` or ``{}``), else an ``OppError``.

    A certificate header from a peer that is not an mTLS proxy is refused whatever the token.
    """
    presented = forwarded_certificate(request, plan.mtls)
    if info.jkt is not None:
        if credential.scheme != "dpop":
            raise _mismatch("A DPoP-bound access token must be sent with the DPoP scheme.")
        if mode == "disabled":
            raise OppError(ReasonCode.DPOP_INVALID, "DPoP is disabled on this route.")
        proof = dpop.verify(
            request.dpop,
            method=request.method,
            htu=plan.public_url + request.raw_path,
            access_token=credential.token,
        )
        if not hmac.compare_digest(proof.jkt, info.jkt):
            raise _mismatch("The DPoP proof key does not match the token binding.")
        return {"jkt": info.jkt}
    if info.x5t is not None:
        if credential.scheme != "bearer" or request.dpop:
            raise OppError(ReasonCode.TOKEN_INVALID, "A certificate-bound token uses the Bearer scheme.")
        if mode == "required":
            raise OppError(ReasonCode.TOKEN_INVALID, "This route requires a DPoP-bound access token.")
        if presented is None or not hmac.compare_digest(presented, info.x5t):
            raise _mismatch("The client certificate does not match the token binding.")
        return {"x5t#S256": info.x5t}
    refuse_unbound(credential, request, mode)
    return {}
