"""Integration apps and their keys: create, key, revoke, restore, delete, policy (SPEC §1, §10).

Shared by the admin plane, ``opp token`` and first-start bootstrap. Apps declared in
``gateway.yaml`` (GitOps) are synchronised into the store at startup and are read-only here except
for the kill switch (revoke/restore), which must always work.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from opp.auth.network import parse_networks
from opp.auth.tokens import AGENT_TOKEN_PREFIX, hash_token, token_prefix
from opp.clock import Clock, IdFactory, new_token
from opp.codes import ReasonCode
from opp.compile.plan import Plan
from opp.config.schema import AppConfig
from opp.errors import OppError, ValidationFailed
from opp.store.protocols import Store
from opp.store.records import AppRecord, KeyRecord

__all__ = ["IntegrationService", "NewApp"]


class NewApp:
    """Validated input for creating an app."""

    def __init__(
        self,
        *,
        name: str,
        scope: str,
        scopes: list[str],
        description: str = "",
        org_id: str | None = None,
        user_id: str | None = None,
        service_user_id: str | None = None,
        policy: dict[str, Any] | None = None,
        created_by: str | None = None,
        app_id: str | None = None,
    ) -> None:
        self.name, self.scope, self.scopes, self.description = name, scope, scopes, description
        self.org_id, self.user_id, self.service_user_id = org_id, user_id, service_user_id
        self.policy, self.created_by, self.app_id = policy or {}, created_by, app_id


def _not_found(what: str) -> OppError:
    return OppError(ReasonCode.NOT_FOUND, f"{what} not found.")


def _invalid(path: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"code": "invalid", "path": path, "message": message}])


class IntegrationService:
    def __init__(self, plan: Plan, store: Store, clock: Clock, ids: IdFactory) -> None:
        self._plan = plan
        self._store = store
        self._clock = clock
        self._ids = ids

    def normalise_policy(self, policy: dict[str, Any]) -> dict[str, Any]:
        """Validate ``{network: {allowed_ips}, data: {...}}``, filling the data schema's defaults."""
        unknown = set(policy) - {"network", "data"}
        if unknown:
            raise _invalid("policy", f"Unknown policy sections: {sorted(unknown)}.")
        network = policy.get("network") or {}
        if not isinstance(network, dict) or set(network) - {"allowed_ips"}:
            raise _invalid("policy.network", "Expected {allowed_ips: [CIDR, …]}.")
        allowed = network.get("allowed_ips") or []
        if not isinstance(allowed, list) or not all(isinstance(c, str) for c in allowed):
            raise _invalid("policy.network.allowed_ips", "Expected a list of CIDRs.")
        try:
            parse_networks(tuple(allowed))
        except ValueError as exc:
            raise _invalid("policy.network.allowed_ips", f"Invalid CIDR: {exc}.") from None
        data = policy.get("data") or {}
        if not isinstance(data, dict):
            raise _invalid("policy.data", "Expected an object.")
        return {"network": {"allowed_ips": allowed}, "data": self._plan.validate_app_policy(data)}

    def _check_scopes(self, scopes: list[str]) -> None:
        unknown = [s for s in scopes if s not in self._plan.scopes]
        if unknown:
            raise _invalid("scopes", f"Unknown scopes: {unknown}.")

    async def create_app(self, new: NewApp) -> tuple[AppRecord, KeyRecord, str]:
        """Create an app and its first key ("Default key"); the token is returned once."""
        self._check_scopes(new.scopes)
        if new.scope == "workspace" and not new.org_id:
            raise _invalid("org_id", "A workspace app needs org_id.")
        if new.scope == "personal" and not (new.user_id or new.created_by):
            raise _invalid("user_id", "A personal app needs user_id.")
        now = self._clock.now()
        app = AppRecord(
            id=new.app_id or self._ids.new("app"),
            name=new.name,
            description=new.description,
            scope=new.scope,  # type: ignore[arg-type]
            org_id=new.org_id,
            user_id=new.user_id,
            service_user_id=new.service_user_id,
            scopes=tuple(new.scopes),
            policy=self.normalise_policy(new.policy),
            created_by=new.created_by,
            source="runtime",
            created_at=now,
            updated_at=now,
        )
        try:
            await self._store.apps.create(app)
        except KeyError:
            raise _invalid("id", f"App {app.id} already exists.") from None
        key, token = await self.add_key(app.id, "Default key")
        return app, key, token

    async def add_key(
        self, app_id: str, name: str, expires_at: dt.datetime | None = None
    ) -> tuple[KeyRecord, str]:
        app = await self._store.apps.get(app_id)
        if app is None:
            raise _not_found("App")
        if expires_at is not None and expires_at <= self._clock.now():
            raise _invalid("expires_at", "expires_at must be in the future.")
        token = new_token(AGENT_TOKEN_PREFIX)
        key = KeyRecord(
            id=self._ids.new("key"),
            app_id=app_id,
            name=name,
            token_prefix=token_prefix(token),
            token_hash=hash_token(token),
            expires_at=expires_at,
            created_at=self._clock.now(),
        )
        await self._store.keys.create(key)
        return key, token

    async def get_app(self, app_id: str) -> AppRecord:
        app = await self._store.apps.get(app_id)
        if app is None:
            raise _not_found("App")
        return app

    async def revoke_app(self, app_id: str) -> tuple[AppRecord, int]:
        """Kill switch: the app and every key stop working on the next request."""
        await self.get_app(app_id)
        now = self._clock.now()
        await self._store.apps.set_status(app_id, "revoked", now)
        count = await self._store.keys.revoke_all_for_app(app_id, now)
        return await self.get_app(app_id), count

    async def restore_app(self, app_id: str) -> AppRecord:
        """Reactivate the app; its keys stay revoked (issue a new key)."""
        await self.get_app(app_id)
        await self._store.apps.set_status(app_id, "active", self._clock.now())
        return await self.get_app(app_id)

    async def delete_app(self, app_id: str) -> None:
        app = await self.get_app(app_id)
        if app.source == "config":
            raise _invalid("id", "App is declared in gateway.yaml; remove it there.")
        if app.status != "revoked":
            raise _invalid("status", "Only revoked apps can be deleted; revoke it first.")
        await self._store.apps.delete(app_id)

    async def revoke_key(self, key_id: str) -> KeyRecord:
        key = await self._store.keys.get(key_id)
        if key is None:
            raise _not_found("Key")
        await self._store.keys.revoke(key_id, self._clock.now())
        revoked = await self._store.keys.get(key_id)
        assert revoked is not None
        return revoked

    async def set_policy(self, app_id: str, policy: dict[str, Any]) -> AppRecord:
        app = await self.get_app(app_id)
        if app.source == "config":
            raise _invalid("id", "App is declared in gateway.yaml; change its policy there.")
        await self._store.apps.set_policy(app_id, self.normalise_policy(policy), self._clock.now())
        return await self.get_app(app_id)

    def _declared_record(
        self, declared: AppConfig, now: dt.datetime, *, source: str, created_by: str | None = None
    ) -> AppRecord:
        policy = {"network": {"allowed_ips": list(declared.network.allowed_ips)}, "data": declared.data}
        return AppRecord(
            id=declared.id,
            name=declared.name,
            description=declared.description,
            scope=declared.scope,
            org_id=declared.org_id,
            user_id=declared.user_id,
            service_user_id=declared.service_user_id,
            scopes=declared.scopes,
            policy=self.normalise_policy(policy),
            source=source,  # type: ignore[arg-type]
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )

    def declared_app(self, app_id: str) -> AppRecord | None:
        """The record a declared (or bootstrap) app gets when stored, without storing it."""
        bootstrap = self._plan.config.bootstrap.bootstrap_app
        if bootstrap is not None and bootstrap.id == app_id:
            return self._declared_record(bootstrap, self._clock.now(), source="runtime")
        for declared in self._plan.declared_apps:
            if declared.id == app_id:
                return self._declared_record(declared, self._clock.now(), source="config")
        return None

    async def sync_declared(self, apps: tuple[AppConfig, ...]) -> None:
        """Upsert apps and keys declared in config (keeps status and revocations)."""
        now = self._clock.now()
        for declared in apps:
            await self._store.apps.upsert_declared(self._declared_record(declared, now, source="config"))
            for key in declared.keys:
                expires = dt.datetime.fromisoformat(key.expires_at) if key.expires_at else None
                if expires is not None and expires.tzinfo is None:
                    expires = expires.replace(tzinfo=dt.UTC)
                await self._store.keys.upsert_declared(
                    KeyRecord(
                        id=key.id,
                        app_id=declared.id,
                        name=key.name,
                        token_prefix="(declared)",
                        token_hash=key.token_sha256,
                        expires_at=expires,
                        created_at=now,
                    )
                )

    async def bootstrap(self) -> AppRecord | None:
        """On first start with an empty store, create the configured bootstrap app (no key yet).

        None when there is nothing to do, including when another replica starting at the same
        moment on the same store created the app first (its insert won; this one's is refused).
        """
        declared = self._plan.config.bootstrap.bootstrap_app
        if declared is None or await self._store.apps.count() > 0:
            return None
        app = self._declared_record(declared, self._clock.now(), source="runtime", created_by="opp-bootstrap")
        try:
            await self._store.apps.create(app)
        except KeyError:
            return None
        return app
