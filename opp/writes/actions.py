"""The agent side of the write lifecycle: ``POST /preflight``, ``POST /actions`` (SPEC §7.2),
``GET /drafts/{id}`` and withdrawing a pending draft.

Decision order of ``POST /actions``: preflight handle → payload / action / input / scopes /
policy → idempotency (before any gating) → impact → State Witness (a differing client hash is a
409, no draft) → auto-execute gating (first failing check wins; a refusal is a *soft* denial:
HTTP 200 with a draft and ``autoExecuteDeniedCode``) → store the draft with its audit events →
execute when allowed. A refused execute request never has a side effect.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from opp.auth.principal import Principal
from opp.bounds import IDENTIFIER
from opp.codes import ReasonCode
from opp.compile.plan import ToolPlan
from opp.engine.auditing import AuditScope
from opp.engine.authorizer import Authorized, Authorizer
from opp.engine.request import IncomingRequest
from opp.errors import OppError
from opp.store.protocols import Store
from opp.store.write_records import DraftRecord, ExecutionRecord, IdempotencyRecord, PreflightRecord
from opp.tools.api import ToolCall
from opp.writes.events import WriteEvents
from opp.writes.execution import Executor
from opp.writes.gating import gate
from opp.writes.jcs import fingerprint, impact_hash, witness_hash
from opp.writes.requests import ActionBody, PreflightBody
from opp.writes.views import execution_view, public_draft_view
from opp.writes.windows import risk_class

__all__ = ["BodyReader", "WriteEngine"]

B = TypeVar("B", PreflightBody, ActionBody)
BodyReader = Callable[[], Awaitable[B]]
"""Reads and decodes the request body; called only once the caller is authenticated."""

_POLL_S = 0.02


class WriteEngine:
    def __init__(self, auth: Authorizer, store: Store) -> None:
        self.plan = auth.plan
        self._auth = auth
        self._store = store
        self._executor = Executor(auth, store)

    # -- shared steps -------------------------------------------------------------------------

    def _tool(self, action: str) -> ToolPlan:
        tool = self.plan.action(action)
        if tool is None:
            raise OppError(ReasonCode.ACTION_UNKNOWN, f"Unknown action '{action}'.")
        return tool

    async def _authorize(
        self,
        tool: ToolPlan,
        request: IncomingRequest,
        principal: Principal,
        payload: Any,
        scope: AuditScope,
        idempotency_key: str | None = None,
    ) -> Authorized:
        if not isinstance(payload, dict):
            raise OppError(ReasonCode.ACTION_INVALID, "payload (an object) or preflightId is required.")
        return await self._auth.authorize(
            tool,
            request,
            principal,
            payload,
            scope,
            invalid_input=ReasonCode.ACTION_INVALID,
            idempotency_key=idempotency_key,
        )

    async def _impact(self, tool: ToolPlan, allowed: Authorized) -> dict[str, Any] | None:
        if tool.impact is None:
            return None
        call = ToolCall(operation=tool.name, args=allowed.args, context=allowed.context)
        return await tool.impact.compute(allowed.args, allowed.resource, call)

    async def _witness(self, tool: ToolPlan, allowed: Authorized) -> dict[str, Any] | None:
        if tool.witness is None:
            return None
        call = ToolCall(operation=tool.name, args=allowed.args, context=allowed.context)
        return await tool.witness.compute(allowed.args, allowed.resource, call)

    def _events(self, request: IncomingRequest, scope: AuditScope) -> WriteEvents:
        principal = scope.principal.audit_view() if scope.principal else None
        return WriteEvents(self._auth.ids, self._auth.clock, request, ip=scope.ip, principal=principal)

    # -- POST /preflight ----------------------------------------------------------------------

    async def _admit_then_read(
        self, request: IncomingRequest, scope: AuditScope, read: BodyReader[B]
    ) -> tuple[Principal, B]:
        """Credential (and DPoP proof) first, then the body, then the tool's own DPoP mode.

        Whatever the body, an unauthenticated caller gets the 401 challenge; a body refused after
        authentication (malformed, unknown field, content type, size) is this request's audited
        failure.
        """
        principal = await self._auth.admit_before_body(request, scope)
        body = await read()
        scope.tool = body.action
        self._auth.enforce_tool_mode(principal, body.action)
        return principal, body

    async def preflight(self, request: IncomingRequest, read: BodyReader[PreflightBody]) -> dict[str, Any]:
        scope = self._auth.scope("agent.action.preflight", request, None)
        try:
            principal, body = await self._admit_then_read(request, scope, read)
            tool = self._tool(body.action)
            allowed = await self._authorize(tool, request, principal, body.payload, scope)
            impact = await self._impact(tool, allowed) or {}
            witness = await self._witness(tool, allowed)
            now = request.received_at
            record = PreflightRecord(
                id=self._auth.ids.new("pfl"),
                app_id=principal.app.id,
                key_id=principal.key_id,
                actor_user_id=principal.actor_user_id,
                action=tool.name,
                payload=allowed.args,
                impact=impact,
                impact_hash=impact_hash(tool.name, allowed.args, impact),
                state_witness=witness,
                state_witness_hash=witness_hash(witness) if witness is not None else None,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=self.plan.writes.preflight_ttl_s),
            )
            event = scope.event(preflight_id=record.id, impact_hash=record.impact_hash)
            await self._store.writes.create_preflight(record, [event])
        except OppError as error:
            scope.failure(error)
            raise
        return {
            "action": tool.name,
            "risk": tool.risk,
            "requiresConfirmation": tool.needs_confirmation,
            "impact": impact,
            "impactHash": record.impact_hash,
            "stateWitness": witness,
            "stateWitnessHash": record.state_witness_hash,
            "preflightId": record.id,
            "expiresAt": record.expires_at,
        }

    async def _load_preflight(
        self, preflight_id: str, principal: Principal, action: str, now: dt.datetime
    ) -> PreflightRecord:
        record = await self._store.writes.get_preflight(preflight_id)
        if (
            record is None
            or record.expires_at <= now
            or record.app_id != principal.app.id
            or record.key_id != principal.key_id
            or record.actor_user_id != principal.actor_user_id
        ):
            raise OppError(ReasonCode.PREFLIGHT_NOT_FOUND, "Unknown or expired preflightId.")
        if record.action != action:
            raise OppError(ReasonCode.PREFLIGHT_MISMATCH, "preflightId belongs to another action.")
        return record

    # -- POST /actions ------------------------------------------------------------------------

    async def submit(
        self, request: IncomingRequest, read: BodyReader[ActionBody], header_key: str | None
    ) -> dict[str, Any]:
        scope = self._auth.scope("agent.action.submit", request, None)
        try:
            principal, body = await self._admit_then_read(request, scope, read)
            return await self._submit(request, principal, body, header_key, scope)
        except OppError as error:
            scope.failure(error)
            raise

    async def _submit(
        self,
        request: IncomingRequest,
        principal: Principal,
        body: ActionBody,
        header_key: str | None,
        scope: AuditScope,
    ) -> dict[str, Any]:
        if header_key is not None:
            IDENTIFIER.check(header_key, "Idempotency-Key")
        now = request.received_at
        payload, witness_claim = body.payload, body.state_witness_hash
        bindings = (body.preflight_hash,) if body.preflight_hash else ()
        if body.preflight_id is not None:
            record = await self._load_preflight(body.preflight_id, principal, body.action, now)
            payload = record.payload if payload is None else payload
            bindings = (*bindings, record.impact_hash)
            witness_claim = witness_claim or record.state_witness_hash
        if payload is None:
            raise OppError(ReasonCode.ACTION_INVALID, "payload (an object) or preflightId is required.")
        tool = self._tool(body.action)
        key = body.idempotency_key or header_key
        allowed = await self._authorize(tool, request, principal, payload, scope, idempotency_key=key)
        wants_execute = body.execute and not body.force_draft
        print_ = fingerprint(tool.name, allowed.args)
        if key is not None:
            existing = await self._store.writes.get_idempotency(principal.app.id, key)
            if existing is not None and existing.expires_at > now:
                return await self._duplicate(existing, print_, request, scope)
        impact = await self._impact(tool, allowed)
        computed_hash = impact_hash(tool.name, allowed.args, impact or {})
        witness = await self._witness(tool, allowed)
        witness_digest = witness_hash(witness) if witness is not None else None
        if witness_claim is not None and witness_claim != witness_digest:
            raise OppError(
                ReasonCode.PRECONDITION_FAILED,
                "The resource changed since the preflight.",
                {"reason": "state_witness_mismatch"},
            )
        denied = (
            gate(
                tool,
                principal.app.auto_execute,
                now,
                justification=body.justification,
                idempotency_key=key,
                preflight_hashes=bindings,
                computed_hash=computed_hash,
            )
            if wants_execute
            else None
        )
        execute_now = wants_execute and denied is None
        draft = DraftRecord(
            id=self._auth.ids.new("drf"),
            app_id=principal.app.id,
            key_id=principal.key_id,
            actor_user_id=principal.actor_user_id,
            tenant=principal.tenant,
            action=tool.name,
            risk=tool.risk,
            payload=allowed.args,
            status="confirmed" if execute_now else "draft",
            requires_confirmation=tool.needs_confirmation,
            auto_execute_requested=wants_execute,
            request_id=body.request_id or request.request_id,
            idempotency_key=key,
            justification=body.justification,
            preflight=impact,
            preflight_hash=computed_hash,
            preflight_state_witness=witness,
            preflight_state_witness_hash=witness_digest,
            policy_snapshot={
                "scopes": sorted(principal.scopes),
                "requiredScopes": sorted(tool.required_scopes),
                "risk": tool.risk,
                "matched": list(scope.matched),
                "app_policy": allowed.context.app_policy,
                "auto_execute": principal.app.auto_execute,
            },
            approvals_required=tool.approvals,
            created_at=now,
            updated_at=now,
            expires_at=now + dt.timedelta(seconds=self.plan.writes.draft_ttl_s),
        )
        claim = (
            IdempotencyRecord(
                app_id=principal.app.id,
                key=key,
                fingerprint=print_,
                draft_id=draft.id,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=self.plan.writes.idempotency_retention_s),
            )
            if key is not None
            else None
        )
        execution = (
            ExecutionRecord(
                id=self._auth.ids.new("exe"),
                draft_id=draft.id,
                app_id=draft.app_id,
                idempotency_key=key,
                status="started",
                created_at=now,
            )
            if execute_now
            else None
        )
        events = self._events(request, scope)
        written = [
            events.for_draft(
                draft,
                "agent.action.draft.created",
                matched=scope.matched,
                details={"auto_execute_denied": denied.value if denied else None},
            )
        ]
        if wants_execute:
            written.append(
                events.for_draft(
                    draft,
                    "agent.action.auto_execute.requested",
                    details={"allowed": execute_now, "auto_execute_denied": denied.value if denied else None},
                )
            )
        taken = await self._store.writes.create_draft(draft, claim, execution, written)
        if taken is not None:
            return await self._duplicate(taken, print_, request, scope)
        if execution is None:
            return {
                "status": "draft",
                "draft": public_draft_view(draft),
                "autoExecuteDeniedCode": denied.value if denied else None,
                "review_path": f"/api/agent-admin/v1/drafts/{draft.id}",
            }
        window = principal.app.auto_execute.get(risk_class(tool.risk)) or {}
        context = msgspec.structs.replace(allowed.context, auto_execute_window=window)
        done = await self._executor.execute(
            tool, draft, execution, context, events, allowed.activation, scope
        )
        return {
            "status": "executed",
            "draft": {"id": draft.id, "status": "confirmed"},
            "execution": execution_view(done, now, self.plan.writes.execution_lease_s),
        }

    async def _duplicate(
        self, existing: IdempotencyRecord, print_: str, request: IncomingRequest, scope: AuditScope
    ) -> dict[str, Any]:
        """SPEC §7.5: conflict (422), in progress (bounded wait, then 409), or replay (200)."""
        if existing.fingerprint != print_:
            raise OppError(
                ReasonCode.IDEMPOTENCY_CONFLICT,
                "Idempotency key reused with a different request.",
                {"draftId": existing.draft_id},
            )
        lease = self.plan.writes.execution_lease_s
        deadline = asyncio.get_running_loop().time() + self.plan.writes.idempotency_wait_s
        while True:
            draft = await self._store.writes.get_draft(existing.draft_id)
            execution = await self._store.writes.latest_execution(existing.draft_id)
            if draft is None:
                raise OppError(
                    ReasonCode.IDEMPOTENCY_IN_PROGRESS, "The original request is still being recorded."
                )
            now = self._auth.clock.now()
            if execution is None or execution.status != "started":
                break
            stale = (now - execution.created_at).total_seconds() > lease
            if stale or asyncio.get_running_loop().time() >= deadline:
                raise OppError(
                    ReasonCode.IDEMPOTENCY_IN_PROGRESS,
                    "The original request is still executing.",
                    {
                        "draftId": draft.id,
                        "executionId": execution.id,
                        "state": "unknown" if stale else "started",
                    },
                )
            await asyncio.sleep(_POLL_S)
        events = self._events(request, scope)
        self._auth.audit.emit(
            events.for_draft(
                draft,
                "agent.action.idempotency_replay",
                code=ReasonCode.IDEMPOTENCY_REPLAY,
                execution_id=execution.id if execution else None,
            )
        )
        if execution is None:
            return {
                "status": "draft",
                "replayed": True,
                "code": ReasonCode.IDEMPOTENCY_REPLAY.value,
                "draft": public_draft_view(draft),
                "execution": None,
            }
        return {
            "status": "executed",
            "replayed": True,
            "code": ReasonCode.IDEMPOTENCY_REPLAY.value,
            "draft": {"id": draft.id, "status": draft.status},
            "execution": execution_view(execution, now, lease),
        }

    # -- GET /drafts/{id}, POST /drafts/{id}/withdraw -------------------------------------------

    async def _own_draft(
        self, request: IncomingRequest, draft_id: str, scope: AuditScope
    ) -> tuple[Principal, DraftRecord]:
        principal = await self._auth.admit(request, scope)
        draft = await self._store.writes.get_draft(draft_id)
        if draft is None or draft.app_id != principal.app.id:
            raise OppError(ReasonCode.DRAFT_NOT_FOUND, "Draft not found.")
        scope.draft_id, scope.tool = draft.id, draft.action
        return principal, draft

    async def get_draft(self, request: IncomingRequest, draft_id: str) -> dict[str, Any]:
        scope = self._auth.scope("agent.draft.read", request, None)
        try:
            _, draft = await self._own_draft(request, draft_id, scope)
        except OppError as error:
            scope.failure(error)
            raise
        scope.success()
        execution = await self._store.writes.latest_execution(draft.id)
        now = self._auth.clock.now()
        return {
            "draft": public_draft_view(draft),
            "execution": execution_view(execution, now, self.plan.writes.execution_lease_s),
        }

    async def withdraw(self, request: IncomingRequest, draft_id: str) -> dict[str, Any]:
        scope = self._auth.scope("agent.draft.withdraw", request, None)
        try:
            _, draft = await self._own_draft(request, draft_id, scope)
            now = self._auth.clock.now()
            event = self._events(request, scope).for_draft(draft, "agent.draft.withdraw")
            updated = await self._store.writes.transition_draft(
                draft.id,
                ("draft",),
                {"status": "canceled", "failure_code": "withdrawn", "updated_at": now},
                [event],
            )
            if updated is None:
                raise OppError(
                    ReasonCode.DRAFT_ALREADY_FINAL,
                    "Only a pending draft can be withdrawn.",
                    {"status": draft.status},
                )
        except OppError as error:
            scope.failure(error)
            raise
        return {"draft": public_draft_view(updated)}
