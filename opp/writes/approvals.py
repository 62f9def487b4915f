"""The human side of the write lifecycle (SPEC §7.7): listing, approving and rejecting drafts.

* Approver role required (``approver`` or ``admin``); the approver may not be the draft's actor
  or the app's creator (no self-approval) → ``403 agent.approval_forbidden``.
* A tool may require N distinct approvals (``approvals:``); each approver votes once.
* When the quorum is reached the draft is re-authorised against the app *as it is now* (revoked
  app, removed scope or a policy that now denies → the draft fails, nothing runs). Fail closed: a
  draft whose key was revoked (or expired) after it was made fails too, unless the operator set
  ``writes.approve_drafts_of_revoked_keys``. Then it is moved to
  ``confirmed`` by compare-and-set — of two concurrent approvals exactly one executes — and run
  through the same :class:`Executor` as auto-execution (State Witness first).
* Pending drafts past ``writes.draft_ttl`` are ``expired`` and cannot be approved.
"""

from __future__ import annotations

from typing import Any

from opp.admin.auth import AdminIdentity
from opp.admin.step_up import require_step_up
from opp.auth.principal import Principal
from opp.clock import Clock
from opp.codes import ReasonCode
from opp.engine.auditing import AuditScope
from opp.engine.authorizer import Authorizer
from opp.engine.request import IncomingRequest
from opp.errors import OppError
from opp.store.protocols import Store
from opp.store.write_records import ApprovalRecord, DraftQuery, DraftRecord, ExecutionRecord
from opp.tools.api import ToolCall
from opp.writes.events import WriteEvents
from opp.writes.execution import Executor
from opp.writes.jcs import witness_hash
from opp.writes.views import admin_draft_view, execution_view

__all__ = ["ApprovalService"]


def _witness_matches(draft: DraftRecord, applies: bool, current: dict[str, Any] | None) -> bool | None:
    """None when no witness applies; False when the resource is gone or its state changed."""
    if not applies:
        return None
    return current is not None and witness_hash(current) == draft.preflight_state_witness_hash


class ApprovalService:
    def __init__(self, auth: Authorizer, store: Store) -> None:
        self.plan = auth.plan
        self._auth = auth
        self._store = store
        self._executor = Executor(auth, store)

    @property
    def clock(self) -> Clock:
        return self._auth.clock

    def _events(self, request: IncomingRequest, identity: AdminIdentity | None) -> WriteEvents:
        name = identity.name if identity else "opp-expiry"
        return WriteEvents(
            self._auth.ids,
            self._auth.clock,
            request,
            ip=request.peer,
            performed_by=name,
            principal={"kind": "admin", "name": name},
        )

    async def expire_due(self, request: IncomingRequest) -> list[DraftRecord]:
        """Move every pending draft past its TTL to ``expired`` (audited ``agent.draft.expire``)."""
        events = self._events(request, None)
        return await self._store.writes.expire_drafts(
            self._auth.clock.now(), lambda draft: [events.for_draft(draft, "agent.draft.expire")]
        )

    async def list(self, query: DraftQuery, request: IncomingRequest) -> list[dict[str, Any]]:
        await self.expire_due(request)
        return [admin_draft_view(d) for d in await self._store.writes.list_drafts(query)]

    async def _draft(self, draft_id: str) -> DraftRecord:
        draft = await self._store.writes.get_draft(draft_id)
        if draft is None:
            raise OppError(ReasonCode.DRAFT_NOT_FOUND, "Draft not found.")
        return draft

    async def get(self, draft_id: str, request: IncomingRequest) -> dict[str, Any]:
        await self.expire_due(request)
        draft = await self._draft(draft_id)
        execution = await self._store.writes.latest_execution(draft.id)
        approvals = await self._store.writes.list_approvals(draft.id)
        applies, current = await self.witness_now(draft, request)
        return {
            "draft": admin_draft_view(draft),
            "approvals": [
                {"approver": a.approver, "decision": a.decision, "note": a.note, "created_at": a.created_at}
                for a in approvals
            ],
            "witnessMatchesNow": _witness_matches(draft, applies, current),
            "witnessNow": current,
            "execution": execution_view(
                execution, self._auth.clock.now(), self.plan.writes.execution_lease_s
            ),
        }

    async def witness_now(
        self, draft: DraftRecord, request: IncomingRequest
    ) -> tuple[bool, dict[str, Any] | None]:
        """``(applies, witness)``: the draft's State Witness recomputed against the state now.

        ``applies`` is False when the tool has no witness, none was captured or the app is gone;
        ``witness`` is None when the resource no longer exists (which matches no captured witness).
        """
        tool = self.plan.action(draft.action)
        if tool is None or tool.witness is None or draft.preflight_state_witness_hash is None:
            return False, None
        app = await self._store.apps.get(draft.app_id)
        if app is None:
            return False, None
        context = self._auth.context(request, Principal.of_app(app, None))
        resource = await self._auth.lookup(tool, draft.payload, context)
        current = await tool.witness.compute(
            draft.payload, resource, ToolCall(operation=tool.name, args=draft.payload, context=context)
        )
        return True, current

    async def _pending(self, draft_id: str, request: IncomingRequest) -> DraftRecord:
        draft = await self._draft(draft_id)
        if draft.status == "draft" and draft.expires_at <= self._auth.clock.now():
            await self.expire_due(request)
            draft = await self._draft(draft_id)
        if draft.status != "draft":
            raise OppError(
                ReasonCode.DRAFT_ALREADY_FINAL, f"Draft is {draft.status}.", {"status": draft.status}
            )
        return draft

    async def reject(
        self, draft_id: str, identity: AdminIdentity, note: str | None, request: IncomingRequest
    ) -> dict[str, Any]:
        draft = await self._pending(draft_id, request)
        now = self._auth.clock.now()
        event = self._events(request, identity).for_draft(draft, "agent.draft.reject", details={"note": note})
        updated = await self._store.writes.transition_draft(
            draft.id,
            ("draft",),
            {"status": "canceled", "failure_code": "rejected", "note": note, "updated_at": now},
            [event],
        )
        if updated is None:
            raise OppError(ReasonCode.DRAFT_ALREADY_FINAL, "Draft is no longer pending.")
        return {"ok": True, "draft": admin_draft_view(updated)}

    async def approve(
        self,
        draft_id: str,
        identity: AdminIdentity,
        note: str | None,
        request: IncomingRequest,
        scope: AuditScope,
    ) -> dict[str, Any]:
        draft = await self._pending(draft_id, request)
        if draft.risk == "high":
            require_step_up(identity, self._auth.plan.oauth.step_up, self._auth.clock.now())
        app = await self._store.apps.get(draft.app_id)
        if identity.name in (draft.actor_user_id, app.created_by if app else None):
            raise OppError(
                ReasonCode.APPROVAL_FORBIDDEN, "You may not approve a draft of your own app or agent."
            )
        events = self._events(request, identity)
        now = self._auth.clock.now()
        vote = ApprovalRecord(
            draft_id=draft.id, approver=identity.name, decision="approve", note=note, created_at=now
        )
        try:
            count = await self._store.writes.add_approval(
                vote, [events.for_draft(draft, "agent.draft.approve", details={"note": note})]
            )
        except KeyError:
            raise OppError(ReasonCode.APPROVAL_FORBIDDEN, "You have already voted on this draft.") from None
        if count < draft.approvals_required:
            return {
                "draftStatus": draft.status,
                "draft": admin_draft_view(draft),
                "approvals": count,
                "required": draft.approvals_required,
                "execution": None,
            }
        return await self._execute(draft, app, identity, request, events, scope)

    async def _refuse_revoked_key(self, draft: DraftRecord) -> None:
        """The key that made ``draft`` must still be valid (``writes.approve_drafts_of_revoked_keys``
        lifts this); drafts made with an OAuth token have no key and rest on the app alone."""
        if draft.key_id is None or self.plan.writes.approve_drafts_of_revoked_keys:
            return
        key = await self._store.keys.get(draft.key_id)
        now = self._auth.clock.now()
        expired = key is not None and key.expires_at is not None and key.expires_at <= now
        if key is None or key.revoked_at is not None or expired:
            raise OppError(
                ReasonCode.FORBIDDEN,
                "The key that made this draft was revoked or has expired since.",
                {"reason": "key_revoked"},
            )

    async def _execute(
        self,
        draft: DraftRecord,
        app: Any,
        identity: AdminIdentity,
        request: IncomingRequest,
        events: WriteEvents,
        scope: AuditScope,
    ) -> dict[str, Any]:
        tool = self.plan.action(draft.action)
        now = self._auth.clock.now()
        try:
            if tool is None or app is None or app.status != "active":
                raise OppError(
                    ReasonCode.FORBIDDEN, "The draft's app or action no longer exists or is revoked."
                )
            await self._refuse_revoked_key(draft)
            principal = Principal.of_app(app, None)
            allowed = await self._auth.authorize(
                tool,
                request,
                principal,
                draft.payload,
                scope,
                invalid_input=ReasonCode.ACTION_INVALID,
                idempotency_key=draft.idempotency_key,
                admission=False,  # an approver executes: the agent's rate limits were counted at submit
            )
        except OppError as refused:
            await self._store.writes.transition_draft(
                draft.id,
                ("draft",),
                {"status": "failed", "failure_code": refused.code.value, "updated_at": now},
                [events.for_draft(draft, "agent.action.execute", status="denied", code=refused.code)],
            )
            raise
        execution = ExecutionRecord(
            id=self._auth.ids.new("exe"),
            draft_id=draft.id,
            app_id=draft.app_id,
            idempotency_key=draft.idempotency_key,
            status="started",
            created_at=now,
        )
        started = await self._store.writes.start_execution(
            draft.id,
            ("draft",),
            {"status": "confirmed", "confirmed_by_user_id": identity.name, "updated_at": now},
            execution,
            [],
        )
        if not started:
            raise OppError(ReasonCode.DRAFT_ALREADY_FINAL, "Draft is no longer pending.")
        done = await self._executor.execute(
            tool, draft, execution, allowed.context, events, allowed.activation, scope
        )
        final = await self._draft(draft.id)
        return {
            "draftStatus": final.status,
            "draft": admin_draft_view(final),
            "execution": execution_view(done, self._auth.clock.now(), self.plan.writes.execution_lease_s),
        }
