"""One check for a refusal: the status, the envelope's code (and message), and the challenge.

A 401 must name the scheme it expects (RFC 6750 §3) and say ``invalid_token`` when a credential was
presented but is not valid; a 403 or 4xx that is not about the credential carries no challenge.
"""

from __future__ import annotations

from typing import Any

from tests.integration.oauth.conftest import challenges

__all__ = ["NO_CHALLENGE", "refused"]

NO_CHALLENGE = "no challenge"


def refused(
    response: Any, status: int, code: str, *, message: str | None = None, challenge: str | None = NO_CHALLENGE
) -> dict[str, Any]:
    """Assert an error envelope; ``challenge``: the ``error`` of the Bearer challenge (the opaque
    tokens' scheme), ``None`` for a challenge without one (no credential sent), :data:`NO_CHALLENGE`
    for no ``WWW-Authenticate`` at all.

    Returns:
        The envelope.
    """
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["ok"] is False and body["code"] == code, body
    if message is not None:
        assert body["message"] == message, body
    header = response.headers.get("www-authenticate")
    if challenge == NO_CHALLENGE:
        assert header is None, header
        return body
    assert header is not None, "a 401 must carry a challenge"
    parsed = challenges(header)
    bearer = [params for scheme, params in parsed if scheme == "bearer"]
    assert len(bearer) == 1 and {scheme for scheme, _ in parsed} <= {"bearer", "dpop"}, parsed
    assert bearer[0].get("error") == challenge, parsed
    assert all(params.get("error") in (None, challenge) for _, params in parsed), parsed
    return body
