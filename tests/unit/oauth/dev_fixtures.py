"""Shared pieces of the development authorization server tests: plan, seeded store, DPoP client."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.jwk import ECKey, KeySet

from opp.auth.tokens import hash_token, token_prefix
from opp.clock import FrozenClock, IdFactory, new_token
from opp.oauth.dev_server import DevAuthorizationServer
from opp.oauth.dpop import DpopVerifier
from opp.oauth.nonces import NonceSource
from opp.oauth.plan import (
    DEV_ISSUER_KEYS,
    TOKEN_PATH,
    DevServerPlan,
    DpopPlan,
    IssuerPlan,
    OAuthPlan,
)
from opp.oauth.replay import ReplayCache
from opp.oauth.signing_keys import OAuthKeyRing
from opp.store.memory import MemoryStore
from opp.store.records import AppRecord, KeyRecord

__all__ = [
    "APP_SCOPES",
    "NOW",
    "PUBLIC_URL",
    "RESOURCE",
    "TOKEN_URL",
    "Client",
    "DevParts",
    "DpopClient",
    "basic",
    "build_dev_server",
    "decode_token",
    "dev_plan",
    "seed_client",
]

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
PUBLIC_URL = "https://gw.example"
RESOURCE = PUBLIC_URL + "/"
TOKEN_URL = PUBLIC_URL + TOKEN_PATH
APP_SCOPES = ("ledger.read", "transaction.write")


def dev_plan(
    *,
    require_dpop: bool = True,
    mode: str = "allowed",
    nonce: bool = False,
    enabled: bool = True,
    dev_enabled: bool = True,
    **plan_fields: Any,
) -> OAuthPlan:
    """An OAuth plan with the development server on ``PUBLIC_URL`` (as ``compile_oauth`` builds it)."""
    issuers = plan_fields.pop("issuers", ())
    dev_issuer = IssuerPlan(
        issuer=PUBLIC_URL,
        jwks_uri=None,
        jwks_path=None,
        algorithms=frozenset({"ES256"}),
        introspection=None,
        jwks_source=DEV_ISSUER_KEYS,
    )
    return OAuthPlan(
        enabled=enabled,
        public_url=PUBLIC_URL,
        resource=RESOURCE,
        issuers=(*issuers, dev_issuer) if dev_enabled else tuple(issuers),
        known_scopes=frozenset({*APP_SCOPES, "admin.read"}),
        dpop=DpopPlan(mode=mode, nonce=nonce),  # type: ignore[arg-type]
        dev_server=DevServerPlan(enabled=dev_enabled, token_ttl_s=600.0, require_dpop=require_dpop),
        **plan_fields,
    )


@dataclass
class Client:
    """An integration app acting as an OAuth client, with one agent key as its secret."""

    app: AppRecord
    key: KeyRecord
    secret: str

    @property
    def client_id(self) -> str:
        return self.app.id


async def seed_client(
    store: MemoryStore,
    *,
    app_id: str = "app_client",
    scopes: tuple[str, ...] = APP_SCOPES,
    status: str = "active",
    revoked: bool = False,
    expires_at: dt.datetime | None = None,
) -> Client:
    """An app (created if missing) and a fresh agent key for it, written to ``store``."""
    app = await store.apps.get(app_id)
    if app is None:
        app = AppRecord(
            id=app_id,
            name=app_id,
            scope="workspace",
            org_id="org_1",
            status=status,  # type: ignore[arg-type]
            scopes=scopes,
            created_at=NOW,
            updated_at=NOW,
        )
        await store.apps.create(app)
    secret = new_token()
    key = KeyRecord(
        id=f"key_{secrets.token_hex(6)}",
        app_id=app_id,
        name="OAuth client secret",
        token_prefix=token_prefix(secret),
        token_hash=hash_token(secret),
        expires_at=expires_at,
        revoked_at=NOW if revoked else None,
        created_at=NOW,
    )
    await store.keys.create(key)
    return Client(app, key, secret)


def basic(client_id: str, secret: str) -> str:
    """``Authorization: Basic`` per RFC 6749 §2.3.1 (each part form-urlencoded first)."""
    pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


class DpopClient:
    """A DPoP key pair making proofs with joserfc (independent of the gateway's own code)."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", auto_kid=False)
        self.jkt = self.key.thumbprint()

    def proof(
        self,
        htu: str = TOKEN_URL,
        *,
        method: str = "POST",
        nonce: str | None = None,
        iat: dt.datetime = NOW,
        typ: str = "dpop+jwt",
    ) -> str:
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(12),
            "htm": method,
            "htu": htu,
            "iat": int(iat.timestamp()),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        header = {"typ": typ, "alg": "ES256", "jwk": dict(self.key.as_dict(private=False))}
        return jws.serialize_compact(header, json.dumps(claims).encode(), self.key, algorithms=["ES256"])


@dataclass
class DevParts:
    """A development server built from real components on a memory store."""

    server: DevAuthorizationServer
    store: MemoryStore
    keys: OAuthKeyRing
    dpop: DpopVerifier
    clock: FrozenClock
    plan: OAuthPlan


async def build_dev_server(plan: OAuthPlan | None = None, store: MemoryStore | None = None) -> DevParts:
    plan = plan or dev_plan()
    store = store or MemoryStore()
    clock = FrozenClock(NOW)
    ids = IdFactory()
    keys = OAuthKeyRing(store, clock, ids)
    nonces = (
        NonceSource(await keys.nonce_secret(), plan.dpop.nonce_lifetime_s, clock) if plan.dpop.nonce else None
    )
    verifier = DpopVerifier(plan.dpop, clock, ReplayCache("memory://"), nonces)
    server = DevAuthorizationServer(plan, store, keys, verifier, clock, ids)
    return DevParts(server, store, keys, verifier, clock, plan)


def decode_token(token: str, jwks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, claims)`` of an access token, its ES256 signature checked against ``jwks``."""
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES256"])  # type: ignore[arg-type]
    return dict(decoded.header), dict(decoded.claims)
