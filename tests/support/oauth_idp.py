"""A small, real authorization server on loopback for token-validation tests.

:func:`running_idp` starts :class:`LoopbackIdp` in a thread on ``127.0.0.1`` with an ephemeral port
and always stops it. It serves:

* ``GET /jwks``: the public halves of :attr:`LoopbackIdp.keys` (plus :attr:`LoopbackIdp.extra_jwks`);
* ``GET /.well-known/oauth-authorization-server`` and ``/.well-known/openid-configuration``: RFC 8414
  metadata (``issuer`` overridable with :attr:`LoopbackIdp.metadata_issuer`, either document can be
  switched off with :attr:`LoopbackIdp.metadata_paths`);
* ``POST /introspect``: RFC 7662 with HTTP Basic client authentication; answers come from
  :attr:`LoopbackIdp.introspection` (unknown tokens are inactive).

Every request is counted per path (:meth:`LoopbackIdp.count`); :attr:`LoopbackIdp.overrides` makes a
path answer a fixed status and body. Keys rotate with :meth:`LoopbackIdp.add_key` /
:meth:`LoopbackIdp.remove_key`; :meth:`LoopbackIdp.mint` signs access tokens.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwk
from joserfc.jwk import KeyParameters
from joserfc.jws import JWSRegistry

from opp.oauth.plan import IntrospectionPlan, IssuerPlan, OAuthPlan

__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "NOW",
    "RESOURCE",
    "LoopbackIdp",
    "Override",
    "b64url",
    "issuer_plan",
    "make_key",
    "oauth_plan",
    "running_idp",
]

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
RESOURCE = "https://gateway.example/"
CLIENT_ID = "opp-gateway"
CLIENT_SECRET = "introspection secret/with+specials"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_key(alg: str, kid: str | None) -> jwk.Key:
    """A fresh private key for ``alg`` (RSA 2048, EC on the alg's curve, Ed25519)."""
    parameters: KeyParameters = {"use": "sig"}
    if kid is not None:
        parameters["kid"] = kid
    if alg.startswith(("RS", "PS")):
        return jwk.RSAKey.generate_key(2048, parameters=parameters)
    if alg.startswith("ES"):
        curve = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
        return jwk.ECKey.generate_key(curve, parameters=parameters)
    return jwk.OKPKey.generate_key("Ed25519", parameters=parameters)


def _default_alg(key: jwk.Key) -> str:
    if isinstance(key, jwk.ECKey):
        return {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[key.curve_name]
    return "RS256" if isinstance(key, jwk.RSAKey) else "EdDSA"


@dataclass(frozen=True)
class Override:
    """A fixed answer for one path."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


class LoopbackIdp:
    """State of the loopback authorization server (see the module docstring)."""

    def __init__(self) -> None:
        self.keys: list[tuple[jwk.Key, str]] = []
        """(private key, alg) pairs; the first is the default signer."""
        self.extra_jwks: list[dict[str, Any]] = []
        """Raw members appended to the served JWKS (junk, private or symmetric keys for tests)."""
        self.introspection: dict[str, dict[str, Any]] = {}
        self.metadata_issuer: str | None = None
        self.metadata_paths = {"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"}
        self.overrides: dict[str, Override] = {}
        self.introspection_forms: list[dict[str, list[str]]] = []
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def jwks_uri(self) -> str:
        return self.url + "/jwks"

    @property
    def introspection_endpoint(self) -> str:
        return self.url + "/introspect"

    def count(self, path: str) -> int:
        """How many requests ``path`` received."""
        with self._lock:
            return self._counts[path]

    def add_key(self, alg: str = "ES256", kid: str | None = "k1", *, first: bool = False) -> jwk.Key:
        """Publish a new signing key (``first``: make it the default signer)."""
        key = make_key(alg, kid)
        with self._lock:
            self.keys.insert(0 if first else len(self.keys), (key, alg))
        return key

    def remove_key(self, kid: str) -> None:
        with self._lock:
            self.keys = [(key, alg) for key, alg in self.keys if key.kid != kid]

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            public = [key.as_dict(private=False) for key, _ in self.keys]
        return {"keys": [*public, *self.extra_jwks]}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Valid RFC 9068 claims at :data:`NOW` (``None`` values remove a claim)."""
        now = int(NOW.timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": RESOURCE,
            "sub": "user-1",
            "client_id": "app_1",
            "iat": now,
            "exp": now + 600,
            "jti": "jti-1",
            "scope": "ledger.read",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def mint(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        key: jwk.Key | None = None,
        alg: str | None = None,
        header: Mapping[str, Any] | None = None,
        payload: str | None = None,
    ) -> str:
        """A signed access token (default: :meth:`claims`, the first key and alg, ``typ: at+jwt``, its kid).

        ``header`` members override the defaults (a ``None`` value removes one) and are signed as
        given, however wrong; ``payload`` replaces the JSON of ``claims`` with raw text.
        """
        if key is None:
            key, default_alg = self.keys[0]
            alg = alg or default_alg
        alg = alg or _default_alg(key)
        protected: dict[str, Any] = {"alg": alg, "typ": "at+jwt"}
        if key.kid is not None:
            protected["kid"] = key.kid
        protected.update(header or {})
        protected = {name: value for name, value in protected.items() if value is not None}
        if payload is None:
            payload = json.dumps(self.claims() if claims is None else dict(claims))
        signing_input = f"{b64url(json.dumps(protected).encode())}.{b64url(payload.encode())}"
        signature = JWSRegistry.algorithms[alg].sign(signing_input.encode(), key)
        return f"{signing_input}.{b64url(signature)}"

    # --- server -------------------------------------------------------------------------------

    def start(self) -> None:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                path = idp._record(self.path)
                if self._overridden(path):
                    return
                if path == "/jwks":
                    self._json(200, idp.jwks())
                elif path in idp.metadata_paths:
                    self._json(200, idp._metadata())
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                path = idp._record(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                if self._overridden(path):
                    return
                if path != "/introspect":
                    self._json(404, {"error": "not_found"})
                    return
                expected = (
                    "Basic "
                    + base64.b64encode(
                        f"{urllib.parse.quote_plus(CLIENT_ID)}:{urllib.parse.quote_plus(CLIENT_SECRET)}".encode()
                    ).decode()
                )
                if self.headers.get("Authorization") != expected:
                    self._json(401, {"error": "invalid_client"})
                    return
                form = urllib.parse.parse_qs(body)
                with idp._lock:
                    idp.introspection_forms.append(form)
                token = form.get("token", [""])[0]
                self._json(200, idp.introspection.get(token, {"active": False}))

            def _overridden(self, path: str) -> bool:
                override = idp.overrides.get(path)
                if override is None:
                    return False
                self.send_response(override.status)
                for name, value in override.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(override.body)))
                self.end_headers()
                self.wfile.write(override.body)
                return True

            def _json(self, status: int, document: Any) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="oauth-idp", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (the port then refuses connections): "the IdP is down"."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _record(self, raw_path: str) -> str:
        path = urllib.parse.urlsplit(raw_path).path
        with self._lock:
            self._counts[path] += 1
        return path

    def _metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.metadata_issuer or self.issuer,
            "jwks_uri": self.jwks_uri,
            "introspection_endpoint": self.introspection_endpoint,
            "token_endpoint": self.url + "/token",
        }


@contextmanager
def running_idp(alg: str | None = "ES256", kid: str | None = "k1") -> Iterator[LoopbackIdp]:
    """A started :class:`LoopbackIdp` with one key (none when ``alg`` is None), stopped afterwards."""
    idp = LoopbackIdp()
    if alg is not None:
        idp.add_key(alg, kid)
    idp.start()
    try:
        yield idp
    finally:
        idp.stop()


def oauth_plan(
    *issuers: IssuerPlan,
    leeway_s: float = 30.0,
    **settings: Any,
) -> OAuthPlan:
    """An enabled :class:`OAuthPlan` for :data:`RESOURCE` trusting ``issuers``."""
    return OAuthPlan(enabled=True, resource=RESOURCE, issuers=issuers, leeway_s=leeway_s, **settings)


def issuer_plan(
    issuer: str,
    *,
    jwks_uri: str | None = None,
    jwks_path: str | None = None,
    algorithms: frozenset[str] = frozenset({"ES256", "ES384", "RS256", "PS256", "EdDSA", "Ed25519"}),
    introspection_endpoint: str | None = None,
    introspect: bool = False,
    cache_max_s: float = 60.0,
    jwks_cache_s: float = 300.0,
    jwks_refresh_cooldown_s: float = 60.0,
    jwks_source: str | None = None,
) -> IssuerPlan:
    """An :class:`IssuerPlan`; ``introspect`` adds introspection (endpoint discovered when None)."""
    introspection = (
        IntrospectionPlan(
            endpoint=introspection_endpoint,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            cache_max_s=cache_max_s,
        )
        if introspect
        else None
    )
    return IssuerPlan(
        issuer=issuer,
        jwks_uri=jwks_uri,
        jwks_path=jwks_path,
        algorithms=algorithms,
        introspection=introspection,
        jwks_cache_s=jwks_cache_s,
        jwks_refresh_cooldown_s=jwks_refresh_cooldown_s,
        jwks_source=jwks_source,
    )
