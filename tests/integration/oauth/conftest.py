"""An in-process gateway with OAuth enabled: the root gateway.yaml plus an ``oauth:`` section.

The test is the authorization server: it holds the issuer's signing keys (ES256 and RS256; their
public JWKS is written next to the config) and mints RFC 9068 access tokens and DPoP proofs with
joserfc, every time taken from the gateway's :class:`FrozenClock`.

:class:`ClientShim` wraps the app to do what the in-process client cannot: present the request
from a chosen socket peer (``scope["client"]``, as a TLS-terminating proxy would be) and send a
header line twice (httpx folds repeated headers into one comma-joined line).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from joserfc.jwk import ECKey, Key, RSAKey
from litestar.enums import ScopeType
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from opp.clock import FrozenClock, IdFactory
from opp.compile import compile_file
from opp.http.app import create_app
from opp.http.runtime import Runtime
from opp.store.memory import MemoryStore
from opp.store.records import AuditEvent, AuditQuery
from tests.integration.conftest import ROOT, _admin_token
from tests.support.jose_tools import (
    DROP,
    ec_key,
    make_proof,
    mint_access_token,
    rsa_key,
    thumbprint,
    write_jwks,
)

__all__ = [
    "ADMIN",
    "AGENT",
    "DEMO_APP",
    "DEMO_SCOPES",
    "ISSUER",
    "LEDGERS",
    "MANIFEST",
    "PUBLIC_URL",
    "RESOURCE",
    "ClientShim",
    "GatewayFactory",
    "OAuthGateway",
    "challenges",
    "expect_ok",
    "expect_refused",
]

PUBLIC_URL = "http://127.0.0.1:8080"
"""``gateway.public_url`` of the root gateway.yaml: the DPoP ``htu`` base."""
RESOURCE = PUBLIC_URL + "/"
ISSUER = "https://idp.test"
AGENT = "/api/agent/v1"
ADMIN = "/api/agent-admin/v1"
DEMO_APP = "app_demo"
DEMO_SCOPES = "ledger.read transaction.read transaction.write transaction.delete transaction.export"
MANIFEST = AGENT + "/manifest"
LEDGERS = AGENT + "/ledgers"


class ClientShim:
    """ASGI wrapper around the gateway: sets the socket peer and appends raw header lines."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.peer: str | None = None
        """Reported as ``scope["client"]`` host (None: the test client's ``testclient``)."""
        self.extra_headers: list[tuple[str, str]] = []
        """Header lines appended verbatim to the next HTTP request only."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            changed: dict[str, Any] = dict(scope)
            if self.peer is not None:
                changed["client"] = (self.peer, 50000)
            if self.extra_headers:
                extra = [(name.lower().encode(), value.encode()) for name, value in self.extra_headers]
                changed["headers"] = [*scope["headers"], *extra]
                self.extra_headers = []
            scope = changed  # type: ignore[assignment]
        await self.app(scope, receive, send)


@dataclass
class OAuthGateway:
    """One running in-process gateway and the authorization server the test plays."""

    client: AsyncTestClient[Any]
    runtime: Runtime
    clock: FrozenClock
    shim: ClientShim
    issuer_key: ECKey
    """Signs access tokens (ES256, kid ``es-1``); in the JWKS file."""
    issuer_rsa_key: RSAKey
    """Signs access tokens with RS256 (kid ``rsa-1``); in the JWKS file."""
    agent_key: ECKey
    """The agent's DPoP key; default tokens carry its thumbprint in ``cnf.jkt``."""
    opaque: str
    """An opaque ``op_`` key of the demo app."""
    admin: str
    """An opaque admin token (role admin)."""
    minted: list[str] = field(default_factory=list)
    """Every access token and proof handed out, to search the audit trail for."""

    @property
    def now(self) -> float:
        return self.clock.now().timestamp()

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """RFC 9068 claims for the demo app, DPoP-bound to :attr:`agent_key` (``DROP`` removes one)."""
        now = int(self.now)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": RESOURCE,
            "sub": "agent-1",
            "client_id": DEMO_APP,
            "scope": DEMO_SCOPES,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": f"at-{len(self.minted)}",
            "cnf": {"jkt": thumbprint(self.agent_key)},
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not DROP}

    def token(self, *, key: Key | None = None, alg: str = "ES256", typ: Any = "at+jwt", **claims: Any) -> str:
        """An access token signed by the issuer (``key`` to sign with another key)."""
        signer = key or (self.issuer_rsa_key if alg.startswith(("RS", "PS")) else self.issuer_key)
        minted = mint_access_token(signer, self.claims(**claims), alg=alg, typ=typ)
        self.minted.append(minted)
        return minted

    def bearer_token(self, **claims: Any) -> str:
        """An unbound access token (no ``cnf``)."""
        return self.token(cnf=DROP, **claims)

    def proof(
        self, method: str, path: str, token: str | None, *, key: Key | None = None, **options: Any
    ) -> str:
        """A DPoP proof for ``method`` ``PUBLIC_URL + path`` now (see :func:`make_proof` for options)."""
        options.setdefault("htu", PUBLIC_URL + path)
        options.setdefault("iat", self.now)
        proof = make_proof(key or self.agent_key, htm=method, access_token=token, **options)
        self.minted.append(proof)
        return proof

    def dpop(self, method: str, path: str, token: str, **options: Any) -> dict[str, str]:
        """``Authorization: DPoP <token>`` and a fresh proof."""
        return {"Authorization": f"DPoP {token}", "DPoP": self.proof(method, path, token, **options)}

    async def get(self, path: str, headers: Mapping[str, str] | None = None, **params: str) -> Any:
        return await self.client.get(path, headers=dict(headers or {}), params=params or None)

    async def events(self) -> list[AuditEvent]:
        await self.runtime.audit.flush()
        return list(await self.runtime.store.audit.list(AuditQuery(limit=200)))

    async def audit_text(self) -> str:
        """Every audit event as JSON, one per line (to search for leaked secrets)."""
        return "\n".join(msgspec.json.encode(event).decode() for event in await self.events())


def _merge(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in recursively (a non-mapping value replaces)."""
    merged = dict(base)
    for name, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(name), dict):
            merged[name] = _merge(merged[name], value)
        else:
            merged[name] = value
    return merged


def oauth_config(
    directory: Path,
    oauth: Mapping[str, Any],
    gateway: Mapping[str, Any],
    tools: Mapping[str, Mapping[str, Any]],
) -> Path:
    """The root gateway.yaml with the test ``oauth:`` section (merged with ``oauth``) in ``directory``."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
    config["oauth"] = _merge(
        {
            "enabled": True,
            "issuers": [{"issuer": ISSUER, "jwks_file": "jwks.json", "algorithms": ["ES256", "RS256"]}],
            "claims": {"scope": "scope", "app": "client_id"},
            "dpop": {"mode": "allowed"},
            "admin": {"claim": "roles", "roles": {"opp-approver": "approver", "opp-admin": "admin"}},
            "step_up": {"max_age": "5m"},
        },
        oauth,
    )
    config["gateway"] = _merge(config["gateway"], gateway)
    config["tools"] = [_merge(tool, tools.get(tool["name"], {})) for tool in config["tools"]]
    target = directory / "gateway.yaml"
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


GatewayFactory = Callable[..., AbstractAsyncContextManager[OAuthGateway]]
"""``make_gateway(oauth={...}, gateway={...}, tools={name: {...}})``."""


@pytest.fixture
def make_gateway(tmp_path: Path) -> GatewayFactory:
    """Start gateways with config changes merged into the test ``oauth:`` / ``gateway:`` / tools."""
    counter = iter(range(1000))

    @asynccontextmanager
    async def start(
        oauth: Mapping[str, Any] | None = None,
        gateway: Mapping[str, Any] | None = None,
        tools: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> AsyncIterator[OAuthGateway]:
        directory = tmp_path / f"gw{next(counter)}"
        directory.mkdir()
        issuer_key, issuer_rsa_key = ec_key("es-1"), rsa_key("rsa-1")
        write_jwks(directory / "jwks.json", issuer_key, issuer_rsa_key)
        plan = compile_file(str(oauth_config(directory, oauth or {}, gateway or {}, tools or {})))
        clock = FrozenClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
        runtime = Runtime(plan, store=MemoryStore(), clock=clock, ids=IdFactory())
        shim = ClientShim(create_app(plan, runtime))
        async with AsyncTestClient(app=shim) as client:
            await runtime.integrations.bootstrap()
            _, opaque = await runtime.integrations.add_key(DEMO_APP, "test key")
            yield OAuthGateway(
                client=client,
                runtime=runtime,
                clock=clock,
                shim=shim,
                issuer_key=issuer_key,
                issuer_rsa_key=issuer_rsa_key,
                agent_key=ec_key(),
                opaque=opaque,
                admin=await _admin_token(runtime, "admin"),
            )

    return start


@pytest.fixture
async def oauth_gateway(make_gateway: GatewayFactory) -> AsyncIterator[OAuthGateway]:
    """The default OAuth gateway: DPoP ``allowed``, no nonces, no mTLS, step-up max_age 5m."""
    async with make_gateway() as gateway:
        yield gateway


_CHALLENGE_ITEM = re.compile(
    r'\s*(?:([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)|([A-Za-z0-9_.-]+))\s*,?'
)


def challenges(header: str) -> list[tuple[str, dict[str, str]]]:
    """``WWW-Authenticate`` parsed into ``[(scheme lower-cased, {param: value})]`` (RFC 9110 §11.6.1)."""
    parsed: list[tuple[str, dict[str, str]]] = []
    position = 0
    while position < len(header):
        match = _CHALLENGE_ITEM.match(header, position)
        assert match is not None and match.end() > position, f"unparsable challenge: {header!r}"
        position = match.end()
        name, value, scheme = match.groups()
        if scheme is not None:
            parsed.append((scheme.lower(), {}))
        else:
            assert parsed, f"parameter before any scheme: {header!r}"
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            parsed[-1][1][name.lower()] = value
    return parsed


def expect_ok(response: Any) -> dict[str, Any]:
    """A 200 success envelope with no ``WWW-Authenticate`` (INTEROP §0.11); returns ``data``."""
    assert response.status_code == 200, response.text
    assert "www-authenticate" not in response.headers
    body: dict[str, Any] = response.json()
    assert body["ok"] is True and body["code"] == "common.success"
    return dict(body["data"])


def expect_refused(
    response: Any, status: int, code: str, error: str | None, *, scheme: str | None = None
) -> list[tuple[str, dict[str, str]]]:
    """An error envelope with ``status`` / ``code`` and a challenge whose only ``error`` is ``error``.

    ``error`` None: a challenge without any error parameter. ``scheme``: the challenge that must
    carry the error (``bearer`` or ``dpop``). Every challenge names the metadata document.
    """
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False and body["code"] == code, body
    assert "www-authenticate" in response.headers, "a refusal must carry a challenge"
    parsed = challenges(response.headers["www-authenticate"])
    errors = {scheme_name: params["error"] for scheme_name, params in parsed if "error" in params}
    if error is None:
        assert errors == {}, parsed
    else:
        assert set(errors.values()) == {error}, parsed
        if scheme is not None:
            assert scheme in errors, parsed
    for _, params in parsed:
        assert params.get("resource_metadata") == PUBLIC_URL + "/.well-known/oauth-protected-resource", parsed
    return parsed
