"""The admin plane over HTTP, as the end-to-end tests use it (every call must succeed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["ADMIN_PREFIX", "AdminPlane", "CreatedApp"]

ADMIN_PREFIX = "/api/agent-admin/v1"


@dataclass(frozen=True)
class CreatedApp:
    """An app created through the admin plane, with its first key's id and plaintext token."""

    app_id: str
    key_id: str
    token: str


class AdminPlane:
    """Thin client of ``/api/agent-admin/v1`` authenticated with an admin token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self._headers = {"Authorization": f"Bearer {token}"}

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.request(
            method, f"{self.base_url}{ADMIN_PREFIX}{path}", json=body, headers=self._headers, timeout=10.0
        )
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
        envelope: dict[str, Any] = response.json()
        assert envelope["ok"] is True
        data: dict[str, Any] = envelope["data"]
        return data

    def create_app(
        self, name: str, scopes: tuple[str, ...] = ("ledger.read",), org_id: str = "org_demo"
    ) -> CreatedApp:
        """``POST /apps`` for a workspace app; returns its ids and its first token."""
        data = self._call(
            "POST", "/apps", {"name": name, "scope": "workspace", "org_id": org_id, "scopes": list(scopes)}
        )
        return CreatedApp(app_id=data["app"]["id"], key_id=data["key"]["id"], token=data["token"])

    def set_allowed_ips(self, app_id: str, cidrs: list[str]) -> None:
        """``PATCH /apps/{id}/policy`` with a network allowlist and default data policy."""
        self._call("PATCH", f"/apps/{app_id}/policy", {"network": {"allowed_ips": cidrs}, "data": {}})

    def revoke_key(self, key_id: str) -> None:
        """``POST /keys/{id}/revoke``."""
        self._call("POST", f"/keys/{key_id}/revoke")

    def revoke_app(self, app_id: str) -> None:
        """``POST /apps/{id}/revoke`` (kill switch: the app and all its keys)."""
        self._call("POST", f"/apps/{app_id}/revoke")

    def open_writes_window(self, app_id: str = "app_demo", hours: float = 1.0) -> None:
        """``PATCH /apps/{id}/auto-execute``: every action auto-executes for ``hours``."""
        expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat()
        self._call(
            "PATCH",
            f"/apps/{app_id}/auto-execute",
            {"writes": {"enabled": True, "expires_at": expires, "allowed_actions": None}},
        )
