"""The closed catalogue of OPP reason codes (SPEC §3).

Every code the gateway can emit is declared here exactly once, with the HTTP status it maps to and
a one-line description. Domain packages raise :class:`opp.errors.OppError` with one of these codes;
only ``opp.http`` turns the code into a status and an envelope.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = ["CodeInfo", "ReasonCode"]


class CodeInfo(NamedTuple):
    status: int
    description: str


class ReasonCode(enum.StrEnum):
    """A stable, dotted reason code. ``info`` gives its HTTP status and meaning."""

    SUCCESS = "common.success"
    VALIDATION = "common.validation"
    NOT_FOUND_ROUTE = "common.not_found"
    METHOD_NOT_ALLOWED = "common.method_not_allowed"
    PAYLOAD_TOO_LARGE = "common.payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "common.unsupported_media_type"
    JSON_TOO_DEEP = "common.json_too_deep"
    BODY_MALFORMED = "common.body_malformed"
    STRING_TOO_LONG = "common.string_too_long"
    STRING_INVALID = "common.string_invalid"
    REQUEST_TIMEOUT = "common.request_timeout"
    URI_TOO_LONG = "common.uri_too_long"
    INTERNAL_ERROR = "common.internal_error"
    TOKEN_INVALID = "agent.token_invalid"
    TOKEN_EXPIRED = "agent.token_expired"
    FORBIDDEN = "agent.forbidden"
    SCOPE_DENIED = "agent.scope_denied"
    POLICY_DENIED = "agent.policy_denied"
    ACTION_UNKNOWN = "agent.action_unknown"
    ACTION_INVALID = "agent.action_invalid"
    NOT_FOUND = "agent.not_found"
    DRAFT_NOT_FOUND = "agent.draft_not_found"
    RATE_LIMITED = "agent.rate_limited"
    UPSTREAM_UNAVAILABLE = "agent.upstream_unavailable"
    EXECUTION_FAILED = "agent.execution_failed"
    UNAVAILABLE = "agent.unavailable"
    SHARED_STATE_UNAVAILABLE = "agent.shared_state_unavailable"
    DRAFT_ALREADY_FINAL = "agent.draft_already_final"
    PREFLIGHT_REQUIRED = "agent.preflight_required"
    PREFLIGHT_MISMATCH = "agent.preflight_mismatch"
    PREFLIGHT_NOT_FOUND = "agent.preflight_not_found"
    PRECONDITION_FAILED = "agent.precondition_failed"
    IDEMPOTENCY_REQUIRED = "agent.idempotency_required"
    IDEMPOTENCY_REPLAY = "agent.idempotency_replay"
    IDEMPOTENCY_CONFLICT = "agent.idempotency_conflict"
    IDEMPOTENCY_IN_PROGRESS = "agent.idempotency_in_progress"
    AUTO_EXECUTE_DISABLED = "agent.auto_execute_disabled"
    AUTO_EXECUTE_DENIED = "agent.auto_execute_denied"
    AUTO_EXECUTE_EXPIRED = "agent.auto_execute_expired"
    CONFIRMATION_REQUIRED = "agent.confirmation_required"
    APPROVAL_FORBIDDEN = "agent.approval_forbidden"
    DPOP_INVALID = "agent.dpop_invalid"
    DPOP_NONCE_REQUIRED = "agent.dpop_nonce_required"
    TOKEN_BINDING_MISMATCH = "agent.token_binding_mismatch"
    STEP_UP_REQUIRED = "agent.step_up_required"
    STEP_UP_INVALID = "agent.step_up_invalid"
    ADMIN_UNAUTHORIZED = "admin.unauthorized"
    ADMIN_FORBIDDEN = "admin.forbidden"
    CONSOLE_SIGN_IN_REQUIRED = "console.sign_in_required"
    CONSOLE_SIGN_IN_FAILED = "console.sign_in_failed"
    CONSOLE_CSRF_INVALID = "console.csrf_invalid"

    @property
    def info(self) -> CodeInfo:
        return _CATALOGUE[self]

    @property
    def status(self) -> int:
        return _CATALOGUE[self].status


_CATALOGUE: dict[ReasonCode, CodeInfo] = {
    ReasonCode.SUCCESS: CodeInfo(200, "Success."),
    ReasonCode.VALIDATION: CodeInfo(400, "Body or query fails its schema; malformed JSON; admin misuse."),
    ReasonCode.NOT_FOUND_ROUTE: CodeInfo(404, "No route matches the request path."),
    ReasonCode.METHOD_NOT_ALLOWED: CodeInfo(405, "The route exists but not for this HTTP method."),
    ReasonCode.PAYLOAD_TOO_LARGE: CodeInfo(413, "The request body exceeds gateway.max_body_bytes."),
    ReasonCode.UNSUPPORTED_MEDIA_TYPE: CodeInfo(415, "A JSON body was sent without a JSON content type."),
    ReasonCode.JSON_TOO_DEEP: CodeInfo(
        400,
        "The JSON body nests arrays/objects deeper than gateway.max_json_depth (checked before decoding).",
    ),
    ReasonCode.BODY_MALFORMED: CodeInfo(
        400, "The request body could not be read: malformed chunked framing, or it ended early."
    ),
    ReasonCode.STRING_TOO_LONG: CodeInfo(
        400, "A stored or logged client string is longer than its bound (docs/INPUT_LIMITS.md)."
    ),
    ReasonCode.STRING_INVALID: CodeInfo(
        400, "A stored or logged client string has characters outside its set (docs/INPUT_LIMITS.md)."
    ),
    ReasonCode.REQUEST_TIMEOUT: CodeInfo(
        408, "The request body did not arrive within server.body_read_timeout; the connection is closed."
    ),
    ReasonCode.URI_TOO_LONG: CodeInfo(
        414, "The request target (path and query) is longer than server.max_url_bytes."
    ),
    ReasonCode.INTERNAL_ERROR: CodeInfo(500, "Unexpected error; the message is fixed and sanitised."),
    ReasonCode.TOKEN_INVALID: CodeInfo(
        401,
        "Credential missing, malformed, unknown or revoked; app missing or revoked; "
        "JWT signature/iss/aud/typ wrong; inactive introspected token.",
    ),
    ReasonCode.TOKEN_EXPIRED: CodeInfo(401, "The key or the JWT access token has expired."),
    ReasonCode.FORBIDDEN: CodeInfo(403, "App misconfigured: no resolvable actor, workspace app without org."),
    ReasonCode.SCOPE_DENIED: CodeInfo(403, "The tool's requiredScopes are not all granted."),
    ReasonCode.POLICY_DENIED: CodeInfo(403, "Network, tenant, ABAC or data-window denial."),
    ReasonCode.ACTION_UNKNOWN: CodeInfo(400, "The action is not in the registry."),
    ReasonCode.ACTION_INVALID: CodeInfo(
        400, "Bad tool input: inverted date range, rejected by a policy check."
    ),
    ReasonCode.NOT_FOUND: CodeInfo(404, "App, key or resource not found."),
    ReasonCode.DRAFT_NOT_FOUND: CodeInfo(404, "Unknown draft, or another app's draft."),
    ReasonCode.RATE_LIMITED: CodeInfo(429, "Admission control refused the request."),
    ReasonCode.UPSTREAM_UNAVAILABLE: CodeInfo(502, "The tool backend is unreachable or timed out."),
    ReasonCode.EXECUTION_FAILED: CodeInfo(502, "The tool backend reported a failure."),
    ReasonCode.UNAVAILABLE: CodeInfo(503, "A store the gateway depends on is unavailable; fail closed."),
    ReasonCode.SHARED_STATE_UNAVAILABLE: CodeInfo(
        503, "Redis (rate-limit counters, DPoP replay cache) is unreachable; nothing is admitted unchecked."
    ),
    ReasonCode.DRAFT_ALREADY_FINAL: CodeInfo(
        400, "Approve, reject, withdraw or execute on a draft that is no longer pending."
    ),
    ReasonCode.PREFLIGHT_REQUIRED: CodeInfo(
        200, "Soft denial: high-risk auto-execute without preflightHash."
    ),
    ReasonCode.PREFLIGHT_MISMATCH: CodeInfo(
        400,
        "preflightId for another action (400); as a soft denial at any risk tier, the recomputed impact "
        "hash differs from a preflightHash or preflightId sent.",
    ),
    ReasonCode.PREFLIGHT_NOT_FOUND: CodeInfo(
        400, "preflightId unknown, expired, or bound to another app/key/actor."
    ),
    ReasonCode.PRECONDITION_FAILED: CodeInfo(
        409, "State Witness mismatch or unsupported; fails closed with no side effect (details.reason)."
    ),
    ReasonCode.IDEMPOTENCY_REQUIRED: CodeInfo(
        200, "Soft denial: high-risk auto-execute without an idempotency key."
    ),
    ReasonCode.IDEMPOTENCY_REPLAY: CodeInfo(200, "Duplicate execute: the original execution is returned."),
    ReasonCode.IDEMPOTENCY_CONFLICT: CodeInfo(
        422, "Idempotency key reused with a different action or payload."
    ),
    ReasonCode.IDEMPOTENCY_IN_PROGRESS: CodeInfo(409, "The same idempotency key is still executing."),
    ReasonCode.AUTO_EXECUTE_DISABLED: CodeInfo(200, "Soft denial: the app's auto-execute window is off."),
    ReasonCode.AUTO_EXECUTE_DENIED: CodeInfo(200, "Soft denial: the window does not allow this action."),
    ReasonCode.AUTO_EXECUTE_EXPIRED: CodeInfo(
        200, "Soft denial: the window has expired (or its expiry is unreadable)."
    ),
    ReasonCode.CONFIRMATION_REQUIRED: CodeInfo(
        200, "Soft denial: the tool is declared requires_confirmation; a human approves the draft."
    ),
    ReasonCode.APPROVAL_FORBIDDEN: CodeInfo(
        403, "This approver may not approve this draft (self-approval, already voted)."
    ),
    ReasonCode.DPOP_INVALID: CodeInfo(
        401, 'A DPoP proof fails a check (WWW-Authenticate: DPoP error="invalid_dpop_proof").'
    ),
    ReasonCode.DPOP_NONCE_REQUIRED: CodeInfo(
        401, 'A server nonce is required or stale (error="use_dpop_nonce" and a DPoP-Nonce header).'
    ),
    ReasonCode.TOKEN_BINDING_MISMATCH: CodeInfo(
        401,
        "cnf.jkt / cnf.x5t#S256 does not match the presented proof key or client certificate; "
        "a bound token sent without its proof.",
    ),
    ReasonCode.STEP_UP_REQUIRED: CodeInfo(
        401, "Approving this draft needs a recent authentication (auth_time / acr), RFC 9470."
    ),
    ReasonCode.STEP_UP_INVALID: CodeInfo(401, "The step-up credential is unusable (malformed auth_time)."),
    ReasonCode.ADMIN_UNAUTHORIZED: CodeInfo(401, "Admin credential missing, malformed or unknown."),
    ReasonCode.ADMIN_FORBIDDEN: CodeInfo(403, "The admin credential lacks the role this route needs."),
    ReasonCode.CONSOLE_SIGN_IN_REQUIRED: CodeInfo(401, "The console page needs a signed-in session."),
    ReasonCode.CONSOLE_SIGN_IN_FAILED: CodeInfo(
        401, "A console sign-in link or OpenID Connect login is unknown, expired, used or refused."
    ),
    ReasonCode.CONSOLE_CSRF_INVALID: CodeInfo(
        403, "A console form was posted without its session's CSRF token, or from another origin."
    ),
}

assert set(_CATALOGUE) == set(ReasonCode), "every reason code needs a catalogue entry"
