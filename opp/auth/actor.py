"""Actor and tenant resolution for integration apps (SPEC §1).

A workspace app acts as ``service_user_id`` (default ``svc_<org_id>``) in tenant ``org_id``; a
personal app acts as ``user_id`` (else ``created_by``). No resolvable actor, or a workspace app
without ``org_id``, is ``403 agent.forbidden``.
"""

from __future__ import annotations

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.store.records import AppRecord

__all__ = ["resolve_actor"]


def resolve_actor(app: AppRecord) -> tuple[str, str | None]:
    """Return ``(actor_user_id, tenant)`` for an app, or raise ``agent.forbidden``."""
    if app.scope == "workspace":
        if not app.org_id:
            raise OppError(ReasonCode.FORBIDDEN, "Workspace app has no organisation.")
        return app.service_user_id or f"svc_{app.org_id}", app.org_id
    actor = app.user_id or app.created_by
    if not actor:
        raise OppError(ReasonCode.FORBIDDEN, "App has no resolvable actor.")
    return actor, app.org_id
