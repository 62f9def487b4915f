"""``WWW-Authenticate`` challenges (RFC 6750 §3, RFC 9449 §7.1, RFC 9728 §5.1, RFC 9470 §3).

Only failures carry a challenge, never a success (oauth4webapi throws on any response with a
parseable ``WWW-Authenticate``). The scheme the client used carries the ``error``; with no
credential, no scheme does. Descriptions are fixed server strings, quoted and escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from opp.codes import ReasonCode
from opp.oauth.plan import DpopMode, OAuthPlan

__all__ = ["Scheme", "challenge_header", "oauth_error_of", "step_up_challenge"]

Scheme = str
"""``bearer`` or ``dpop`` (lower case), or ``""`` when the client's scheme is unknown."""

_ERRORS: dict[ReasonCode, str] = {
    ReasonCode.TOKEN_INVALID: "invalid_token",
    ReasonCode.TOKEN_EXPIRED: "invalid_token",
    ReasonCode.TOKEN_BINDING_MISMATCH: "invalid_token",
    ReasonCode.DPOP_INVALID: "invalid_dpop_proof",
    ReasonCode.DPOP_NONCE_REQUIRED: "use_dpop_nonce",
    ReasonCode.SCOPE_DENIED: "insufficient_scope",
}
_DPOP_ONLY = {"invalid_dpop_proof", "use_dpop_nonce"}


def oauth_error_of(code: ReasonCode) -> str | None:
    """The RFC 6750 / 9449 ``error`` value for an OPP reason code (None: no challenge error)."""
    return _ERRORS.get(code)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _params(pairs: Sequence[tuple[str, str | None]]) -> str:
    return ", ".join(f"{name}={_quote(value)}" for name, value in pairs if value is not None)


def challenge_header(
    plan: OAuthPlan,
    mode: DpopMode,
    *,
    scheme: Scheme,
    error: str | None,
    description: str | None,
    scope: str | None = None,
) -> str:
    """The ``WWW-Authenticate`` value for a refused agent request.

    Args:
        plan: OAuth settings (``resource_metadata``, DPoP ``algs``). With OAuth disabled, a plain
            ``Bearer realm="opp"`` challenge is built (opaque keys are bearer credentials).
        mode: The route's DPoP mode: ``required`` offers DPoP only, ``disabled`` Bearer only.
        scheme: The scheme the client tried; it alone carries ``error``. ``""``: none did, unless
            ``error`` is ``invalid_request`` (ambiguous request: every scheme carries it).
        error: RFC 6750 / 9449 error code, or None (no credential).
        description: ``error_description`` (fixed server text).
        scope: Scopes the operation needs (``insufficient_scope``).
    """
    if not plan.enabled:
        return "Bearer " + _params([("realm", "opp"), ("error", error), ("error_description", description)])
    offered = {"required": ("dpop",), "allowed": ("bearer", "dpop"), "disabled": ("bearer",)}[mode]
    if error in _DPOP_ONLY:
        offered = ("dpop",)
    elif scheme and scheme not in offered:
        offered = (scheme, *offered)
    challenges = []
    for name in offered:
        carries = error is not None and (name == scheme or (not scheme and error == "invalid_request"))
        pairs: list[tuple[str, str | None]] = [("realm", "opp")]
        if name == "dpop":
            pairs.append(("algs", " ".join(plan.dpop.algorithms)))
        if carries:
            pairs += [("error", error), ("error_description", description), ("scope", scope)]
        pairs.append(("resource_metadata", plan.metadata_url))
        challenges.append(("DPoP " if name == "dpop" else "Bearer ") + _params(pairs))
    return ", ".join(challenges)


def step_up_challenge(max_age_s: float | None, acr: Sequence[str], description: str) -> str:
    """RFC 9470 §3: ``Bearer error="insufficient_user_authentication"`` with ``max_age`` / ``acr_values``."""
    pairs: list[tuple[str, str | None]] = [
        ("realm", "opp"),
        ("error", "insufficient_user_authentication"),
        ("error_description", description),
        ("max_age", str(int(max_age_s)) if max_age_s is not None else None),
        ("acr_values", " ".join(sorted(acr)) or None),
    ]
    return "Bearer " + _params(pairs)
