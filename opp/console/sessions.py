"""Console sign-in and sessions: one-time links, OIDC logins, idle and absolute timeouts.

The browser holds an opaque random value in an ``HttpOnly; SameSite=Strict`` cookie; the store holds
only its SHA-256 (:class:`~opp.store.console_records.ConsoleSessionRecord`), so every worker and
replica sees the same sessions and a leaked database does not sign anyone in. A session ends
``console.session_idle`` after its last request or ``console.session_max`` after sign-in, whichever
comes first. Each session has its own CSRF token, required by every form that changes state.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from opp.admin.auth import AdminIdentity
from opp.auth.tokens import hash_token
from opp.clock import Clock
from opp.codes import ReasonCode
from opp.console.settings import ConsoleSettings
from opp.errors import OppError
from opp.store.console_records import ConsoleGrantRecord, ConsoleSessionRecord
from opp.store.protocols import Store

__all__ = ["LINK_PATH", "ROLES", "ConsoleSessions", "safe_next"]

LINK_PATH = "/console/auth/link"
ROLES = ("admin", "approver", "auditor")


def safe_next(path: str | None) -> str:
    """``path`` when it is a console page on this origin, else ``/console`` (no open redirect)."""
    if not path or not path.startswith("/console") or path.startswith("//") or "\\" in path:
        return "/console"
    return path


class ConsoleSessions:
    def __init__(self, store: Store, clock: Clock, settings: ConsoleSettings) -> None:
        self._store = store
        self._clock = clock
        self.settings = settings

    async def issue_link(self, name: str, roles: tuple[str, ...], next_path: str | None = None) -> str:
        """A one-time sign-in URL for ``name`` with ``roles``, valid for ``console.link_ttl``."""
        unknown = [r for r in roles if r not in ROLES]
        if not roles or unknown or not name.strip():
            raise OppError(ReasonCode.VALIDATION, f"A name and roles among {', '.join(ROLES)} are needed.")
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        await self._store.console.create_grant(
            ConsoleGrantRecord(
                id=hash_token(token),
                kind="link",
                name=name.strip(),
                roles=roles,
                next_path=safe_next(next_path),
                created_at=now,
                expires_at=now + dt.timedelta(seconds=self.settings.link_ttl_s),
            )
        )
        return f"{self.settings.public_url}{LINK_PATH}?token={token}"

    async def redeem_link(self, token: str) -> tuple[str, ConsoleSessionRecord, str]:
        """Use a sign-in link once: ``(cookie value, session, next path)``."""
        grant = (
            await self._store.console.redeem_grant(hash_token(token), self._clock.now()) if token else None
        )
        if grant is None or grant.kind != "link" or grant.name is None:
            raise OppError(
                ReasonCode.CONSOLE_SIGN_IN_FAILED,
                "This sign-in link is unknown, expired or already used; ask for a new one "
                "(opp console-link).",
            )
        cookie, session = await self.open(grant.name, grant.roles, "link", None)
        return cookie, session, grant.next_path

    async def open(
        self,
        name: str,
        roles: tuple[str, ...],
        method: str,
        acr: str | None,
        auth_time: dt.datetime | None = None,
    ) -> tuple[str, ConsoleSessionRecord]:
        """Start a session; returns the cookie value (shown once) and the record."""
        cookie = secrets.token_urlsafe(32)
        now = self._clock.now()
        session = ConsoleSessionRecord(
            id=hash_token(cookie),
            name=name,
            roles=roles,
            method=method,  # type: ignore[arg-type]
            csrf=secrets.token_urlsafe(32),
            auth_time=auth_time or now,
            acr=acr,
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(seconds=self.settings.max_s),
        )
        await self._store.console.create_session(session)
        return cookie, session

    async def resolve(self, cookie: str | None) -> ConsoleSessionRecord | None:
        """The live session of this cookie (and mark it active), or None."""
        if not cookie:
            return None
        session = await self._store.console.get_session(hash_token(cookie))
        now = self._clock.now()
        if session is None or session.ended_at is not None or session.expires_at <= now:
            return None
        if (now - session.last_seen_at).total_seconds() > self.settings.idle_s:
            await self._store.console.end_session(session.id, now)
            return None
        await self._store.console.touch_session(session.id, now)
        return session

    async def end(self, session: ConsoleSessionRecord) -> None:
        await self._store.console.end_session(session.id, self._clock.now())

    @staticmethod
    def csrf_ok(session: ConsoleSessionRecord, supplied: str | None) -> bool:
        return supplied is not None and hmac.compare_digest(session.csrf.encode(), supplied.encode())

    @staticmethod
    def identity(session: ConsoleSessionRecord) -> AdminIdentity:
        """The admin-plane identity of a session: the same role rules as an admin token."""
        return AdminIdentity(
            name=session.name,
            roles=frozenset(session.roles),
            kind="console",
            auth_time=int(session.auth_time.timestamp()),
            acr=session.acr,
        )
