"""Send requests to the gateway under test and keep every answer for the envelope checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Observation", "Prober"]


@dataclass(frozen=True, slots=True)
class Observation:
    """One request and what came back.

    Attributes:
        label: The request, e.g. ``GET /api/agent/v1/manifest (no credential)``.
        status: The HTTP status, or ``None`` when no response arrived.
        body: The decoded JSON body (``None`` when there was none or it was not JSON).
        problem: Why the exchange failed (transport error, non-JSON body), else ``None``.
    """

    label: str
    status: int | None
    body: Any
    problem: str | None

    @property
    def code(self) -> str | None:
        """The envelope's reason code, when the body has one."""
        if isinstance(self.body, dict) and isinstance(self.body.get("code"), str):
            return str(self.body["code"])
        return None

    def summary(self) -> str:
        """A short account for check details: ``HTTP 404 common.not_found``."""
        if self.status is None:
            return f"no response ({self.problem})"
        text = f"HTTP {self.status}"
        if self.code is not None:
            text += f" {self.code}"
        if self.problem is not None:
            text += f" ({self.problem})"
        return text


class Prober:
    """Sends requests with (or without) the agent token and records each :class:`Observation`."""

    def __init__(self, client: httpx.Client, token: str) -> None:
        self._client = client
        self._token = token
        self.observations: list[Observation] = []

    def send(
        self,
        method: str,
        path: str,
        *,
        authenticated: bool = True,
        params: dict[str, str] | None = None,
        json_body: Any = None,
    ) -> Observation:
        """Send one request; a transport failure is recorded, not raised."""
        headers = {"Authorization": f"Bearer {self._token}"} if authenticated else {}
        label = f"{method} {path}" + ("" if authenticated else " (no credential)")
        if params:
            label += "?" + "&".join(f"{name}={value}" for name, value in params.items())
        try:
            response = self._client.request(method, path, headers=headers, params=params, json=json_body)
        except httpx.HTTPError as error:
            observation = Observation(label, None, None, f"{type(error).__name__}: {error}")
        else:
            observation = _decode(label, response)
        self.observations.append(observation)
        return observation


def _decode(label: str, response: httpx.Response) -> Observation:
    try:
        body = response.json()
    except ValueError:
        return Observation(label, response.status_code, None, "body is not JSON")
    return Observation(label, response.status_code, body, None)
