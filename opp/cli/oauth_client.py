"""``opp token --oauth``: an OAuth client of the gateway's development authorization server.

For development only, like the server it talks to. Each integration app gets a client file
``<store dir>/oauth-clients/<app id>.json`` (mode 0600, created on first use) holding the client
secret (an agent key minted for the app) and a private ES256 DPoP key. A token request uses
``client_secret_basic``, a fresh DPoP proof for the token endpoint's URL and the gateway's
``resource``; a server nonce challenge (400 ``use_dpop_nonce``) is answered once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
from joserfc import jws
from joserfc.jwk import ECKey

from opp.clock import Clock, SystemClock
from opp.compile.plan import Plan
from opp.oauth.dpop import access_token_hash
from opp.oauth.jwks import basic_auth
from opp.oauth.plan import TOKEN_PATH

__all__ = [
    "CLIENTS_DIR",
    "ClientFile",
    "OAuthClientError",
    "client_file_path",
    "dpop_proof",
    "load_or_create_client",
    "request_token",
]

CLIENTS_DIR = "oauth-clients"
_SAFE_APP_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$")
_TIMEOUT_S = 10.0


class OAuthClientError(Exception):
    """The client could not get a token; the message is safe to print (no secret, no token)."""


class ClientFile(msgspec.Struct, frozen=True, kw_only=True):
    """The content of one client file."""

    client_id: str
    client_secret: str
    dpop_jwk: dict[str, Any]
    """The private ES256 key whose thumbprint the tokens are bound to."""


def client_file_path(plan: Plan, app_id: str) -> Path:
    """``<store dir>/oauth-clients/<app_id>.json``; app ids that are not plain file names are refused."""
    if not _SAFE_APP_ID.match(app_id):
        raise OAuthClientError(f"app id {app_id!r} cannot name a client file")
    return Path(plan.store_path).parent / CLIENTS_DIR / f"{app_id}.json"


def read_client_file(path: Path, app_id: str | None = None) -> ClientFile:
    """A client file written by ``opp token --oauth`` (owner-only), for ``app_id`` when given."""
    return _read(path, app_id)


def _read(path: Path, app_id: str | None) -> ClientFile:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise OAuthClientError(f"client file {path} is accessible by other users; chmod 600 it")
    try:
        client = msgspec.json.decode(path.read_bytes(), type=ClientFile)
        ECKey.import_key(client.dpop_jwk)
    except (msgspec.DecodeError, ValueError, TypeError):
        raise OAuthClientError(f"client file {path} is unreadable; delete it to start over") from None
    if app_id is not None and client.client_id != app_id:
        raise OAuthClientError(f"client file {path} belongs to {client.client_id!r}, not {app_id!r}")
    return client


async def load_or_create_client(
    path: Path, app_id: str, mint_secret: Callable[[], Awaitable[str]]
) -> ClientFile:
    """The client of ``app_id`` saved at ``path``, created on first use with a secret from ``mint_secret``."""
    if path.exists():
        return _read(path, app_id)
    client = ClientFile(
        client_id=app_id,
        client_secret=await mint_secret(),
        dpop_jwk=dict(ECKey.generate_key("P-256", auto_kid=False).as_dict(private=True)),
    )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another `opp token --oauth` created it meanwhile
        return _read(path, app_id)
    with os.fdopen(descriptor, "wb") as file:
        file.write(msgspec.json.encode(client))
    return client


def dpop_proof(
    key: ECKey,
    *,
    method: str,
    htu: str,
    now: dt.datetime,
    nonce: str | None = None,
    access_token: str | None = None,
) -> str:
    """An RFC 9449 §4.2 proof: ``typ`` ``dpop+jwt``, ES256, the public ``jwk``, a fresh ``jti``
    (and ``ath`` when it accompanies ``access_token``)."""
    claims: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16),
        "htm": method,
        "htu": htu,
        "iat": int(now.timestamp()),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": dict(key.as_dict(private=False))}
    return jws.serialize_compact(header, json.dumps(claims).encode(), key, algorithms=["ES256"])


def _error_description(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for member in ("error_description", "message", "error"):
            if isinstance(body.get(member), str):
                return str(body[member])
    return f"token request failed with HTTP {response.status_code}"


def request_token(
    client_path: str,
    base_url: str,
    resource: str,
    scope: str | None,
    *,
    clock: Clock | None = None,
) -> str:
    """A DPoP-bound access token for the client saved at ``client_path`` from ``base_url``'s token endpoint.

    Raises:
        OAuthClientError: The server refused (its ``error_description``) or could not be reached.
    """
    path = Path(client_path)
    client = msgspec.json.decode(path.read_bytes(), type=ClientFile)
    key = ECKey.import_key(client.dpop_jwk)
    url = base_url.rstrip("/") + TOKEN_PATH
    form = {"grant_type": "client_credentials", "resource": resource}
    if scope:
        form["scope"] = scope
    now = (clock or SystemClock()).now
    nonce: str | None = None
    with httpx.Client(timeout=_TIMEOUT_S, trust_env=False) as http:
        for attempt in range(2):
            headers = {
                "Authorization": basic_auth(client.client_id, client.client_secret),
                "DPoP": dpop_proof(key, method="POST", htu=url, now=now(), nonce=nonce),
                "Accept": "application/json",
            }
            try:
                response = http.post(url, data=form, headers=headers)
            except httpx.HTTPError as exc:
                raise OAuthClientError(f"cannot reach {url}: {type(exc).__name__}") from None
            challenge = response.headers.get("DPoP-Nonce")
            if response.status_code == 400 and challenge and attempt == 0 and _is_nonce_error(response):
                nonce = challenge
                continue
            break
    if response.status_code != 200:
        raise OAuthClientError(_error_description(response))
    token = response.json().get("access_token")
    if not isinstance(token, str):
        raise OAuthClientError("the token response has no access_token")
    return token


def _is_nonce_error(response: httpx.Response) -> bool:
    try:
        return bool(response.json().get("error") == "use_dpop_nonce")
    except (ValueError, AttributeError):
        return False
