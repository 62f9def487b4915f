"""``oauth:`` compiled: every duration in seconds, every path resolved, the dev server's issuer added."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from opp.store.redis import RedisTarget

__all__ = [
    "DEV_ISSUER_KEYS",
    "JWKS_PATH",
    "METADATA_PATH",
    "PRM_PATH",
    "TOKEN_PATH",
    "DevServerPlan",
    "DpopMode",
    "DpopPlan",
    "IntrospectionPlan",
    "IssuerPlan",
    "MtlsPlan",
    "OAuthPlan",
    "StepUpPlan",
]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DpopMode = Literal["required", "allowed", "disabled"]

PRM_PATH = "/.well-known/oauth-protected-resource"
"""RFC 9728 protected resource metadata (for the resource identifier ``public_url/``)."""
METADATA_PATH = "/.well-known/oauth-authorization-server"
"""RFC 8414 metadata of the development authorization server."""
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a route, not a secret
JWKS_PATH = "/oauth/jwks"
DEV_ISSUER_KEYS = "store"
"""``IssuerPlan.jwks_source`` of the development server: keys read from the store, not fetched."""


@dataclass(frozen=True, slots=True)
class IntrospectionPlan:
    endpoint: str | None
    """None: discover ``introspection_endpoint`` from the issuer's metadata."""
    client_id: str
    client_secret: str
    cache_max_s: float


@dataclass(frozen=True, slots=True)
class IssuerPlan:
    issuer: str
    jwks_uri: str | None
    """None with ``jwks_path`` None and ``jwks_source`` None: discover from the issuer's metadata."""
    jwks_path: str | None
    """Absolute path of a JWKS file."""
    algorithms: frozenset[str]
    introspection: IntrospectionPlan | None
    jwks_cache_s: float = 300.0
    jwks_refresh_cooldown_s: float = 60.0
    jwks_source: str | None = None
    """``DEV_ISSUER_KEYS`` for the built-in development server."""


@dataclass(frozen=True, slots=True)
class DpopPlan:
    mode: DpopMode = "allowed"
    algorithms: tuple[str, ...] = ("ES256", "ES384", "EdDSA", "Ed25519", "PS256", "RS256")
    max_age_s: float = 60.0
    max_future_s: float = 5.0
    nonce: bool = False
    nonce_lifetime_s: float = 300.0
    replay_storage_uri: str = "memory://"
    """A ``limits`` storage URI; with :attr:`replay_redis`, that server's URL without credentials."""
    replay_redis: RedisTarget | None = None
    """The ``redis:`` section's server, when the replay cache lives there."""


@dataclass(frozen=True, slots=True)
class MtlsPlan:
    enabled: bool = False
    trusted_proxies: tuple[IpNetwork, ...] = ()


@dataclass(frozen=True, slots=True)
class StepUpPlan:
    max_age_s: float | None = None
    acr: frozenset[str] = frozenset()

    @property
    def enabled(self) -> bool:
        return self.max_age_s is not None or bool(self.acr)


@dataclass(frozen=True, slots=True)
class DevServerPlan:
    enabled: bool = False
    token_ttl_s: float = 600.0
    require_dpop: bool = True


@dataclass(frozen=True, slots=True)
class OAuthPlan:
    """Everything the OAuth layer needs. ``enabled`` False: only opaque keys are accepted."""

    enabled: bool = False
    public_url: str = "http://127.0.0.1:8080"
    """Scheme, host, port and path prefix clients use (no trailing slash): DPoP ``htu`` base."""
    resource: str = "http://127.0.0.1:8080/"
    """This gateway's resource identifier: the required ``aud`` of access tokens."""
    issuers: tuple[IssuerPlan, ...] = ()
    leeway_s: float = 30.0
    scope_claim: str | None = "scope"
    claim_scopes: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    """claim name → claim value → OPP scopes."""
    app_claim: str = "client_id"
    tenant_claim: str | None = None
    known_scopes: frozenset[str] = frozenset()
    dpop: DpopPlan = field(default_factory=DpopPlan)
    mtls: MtlsPlan = field(default_factory=MtlsPlan)
    admin_role_claim: str = "roles"
    admin_roles: Mapping[str, str] = field(default_factory=dict)
    """claim value → admin role."""
    admin_name_claim: str = "sub"
    step_up: StepUpPlan = field(default_factory=StepUpPlan)
    dev_server: DevServerPlan = field(default_factory=DevServerPlan)

    @property
    def metadata_url(self) -> str:
        """Where RFC 9728 metadata is served: sent as ``resource_metadata`` in every challenge."""
        return self.public_url + PRM_PATH

    @property
    def dev_issuer(self) -> str:
        """The development server's issuer identifier (``public_url``)."""
        return self.public_url

    def issuer(self, name: str) -> IssuerPlan | None:
        for issuer in self.issuers:
            if issuer.issuer == name:
                return issuer
        return None
