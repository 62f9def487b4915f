"""``oauth:`` → :class:`~opp.oauth.plan.OAuthPlan`: URLs, files, secrets and scope names checked."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from opp.compile.apps import parse_networks
from opp.compile.plan import IpNetwork
from opp.compile.report import Reporter
from opp.config.diagnostics import did_you_mean
from opp.config.durations import parse_duration
from opp.config.schema import GatewayConfig, IntrospectionConfig, IssuerConfig, OAuthConfig
from opp.config.source_map import JsonPath
from opp.oauth.plan import (
    DEV_ISSUER_KEYS,
    DevServerPlan,
    DpopPlan,
    IntrospectionPlan,
    IssuerPlan,
    MtlsPlan,
    OAuthPlan,
    StepUpPlan,
)

__all__ = ["BIND_URL_ENV", "DEFAULT_PUBLIC_URL", "compile_oauth", "public_url_of"]

BIND_URL_ENV = "OPP_BIND_URL"
"""Set by ``opp serve`` to the URL it binds; the public URL when ``gateway.public_url`` is unset."""
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"

_SECTION: JsonPath = ("oauth",)
_URL_HINT = "write an absolute http(s) URL, e.g. https://idp.example.com"


def public_url_of(config: GatewayConfig, environ: Mapping[str, str]) -> str:
    """``gateway.public_url`` if set, else the address ``opp serve`` binds, else the default."""
    url = config.gateway.public_url or environ.get(BIND_URL_ENV) or DEFAULT_PUBLIC_URL
    return url.rstrip("/")


def compile_oauth(
    config: GatewayConfig,
    base_dir: str,
    trusted_proxies: tuple[IpNetwork, ...],
    report: Reporter,
    environ: Mapping[str, str] = os.environ,
) -> OAuthPlan:
    """Compile ``oauth`` (diagnostics go to ``report``; the result is only used without any)."""
    oauth = config.oauth
    public_url = public_url_of(config, environ)
    _check_url(public_url, ("gateway", "public_url"), report)
    resource = oauth.resource or public_url + "/"
    if oauth.resource is not None:
        _check_url(oauth.resource, (*_SECTION, "resource"), report)
    issuers = [_issuer(index, spec, base_dir, report, environ) for index, spec in enumerate(oauth.issuers)]
    if oauth.enabled and not oauth.issuers and not oauth.dev_server.enabled:
        report.error(
            (*_SECTION, "enabled"),
            "oauth.no_issuer",
            "OAuth is enabled but no issuer is trusted",
            "add oauth.issuers or enable oauth.dev_server (development only)",
        )
    if oauth.dev_server.enabled:
        if any(spec.issuer == public_url for spec in oauth.issuers):
            report.error(
                (*_SECTION, "dev_server", "enabled"),
                "oauth.issuer_conflict",
                f"the development server's issuer {public_url} is also declared in oauth.issuers",
                "remove that issuer or disable oauth.dev_server",
            )
        issuers.append(
            IssuerPlan(
                issuer=public_url,
                jwks_uri=None,
                jwks_path=None,
                algorithms=frozenset({"ES256"}),
                introspection=None,
                jwks_source=DEV_ISSUER_KEYS,
            )
        )
    known = frozenset(config.scopes)
    claim_scopes = _claim_scopes(oauth, known, report)
    mtls_proxies = parse_networks(oauth.mtls.trusted_proxies, (*_SECTION, "mtls", "trusted_proxies"), report)
    return OAuthPlan(
        enabled=oauth.enabled,
        public_url=public_url,
        resource=resource,
        issuers=tuple(issuer for issuer in issuers if issuer is not None),
        leeway_s=parse_duration(oauth.leeway),
        scope_claim=oauth.claims.scope,
        claim_scopes=claim_scopes,
        app_claim=oauth.claims.app,
        tenant_claim=oauth.claims.tenant,
        known_scopes=known,
        dpop=DpopPlan(
            mode=oauth.dpop.mode,
            algorithms=tuple(dict.fromkeys(oauth.dpop.algorithms)),
            max_age_s=parse_duration(oauth.dpop.max_age),
            max_future_s=parse_duration(oauth.dpop.max_future),
            nonce=oauth.dpop.nonce,
            nonce_lifetime_s=max(parse_duration(oauth.dpop.nonce_lifetime), 1.0),
            replay_storage_uri=oauth.dpop.replay_storage or "memory://",
        ),
        mtls=MtlsPlan(enabled=oauth.mtls.enabled, trusted_proxies=mtls_proxies or trusted_proxies),
        admin_role_claim=oauth.admin.claim,
        admin_roles=dict(oauth.admin.roles),
        admin_name_claim=oauth.admin.name_claim,
        step_up=StepUpPlan(
            max_age_s=parse_duration(oauth.step_up.max_age) if oauth.step_up.max_age else None,
            acr=frozenset(oauth.step_up.acr),
        ),
        dev_server=DevServerPlan(
            enabled=oauth.enabled and oauth.dev_server.enabled,
            token_ttl_s=parse_duration(oauth.dev_server.token_ttl),
            require_dpop=oauth.dev_server.require_dpop,
        ),
    )


def _check_url(url: str, path: JsonPath, report: Reporter) -> bool:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        report.error(path, "oauth.bad_url", f"'{url}' is not an absolute http(s) URL", _URL_HINT)
        return False
    return True


def _issuer(
    index: int, spec: IssuerConfig, base_dir: str, report: Reporter, environ: Mapping[str, str]
) -> IssuerPlan | None:
    path = (*_SECTION, "issuers", index)
    ok = _check_url(spec.issuer, (*path, "issuer"), report)
    if spec.jwks_uri is not None:
        ok = _check_url(spec.jwks_uri, (*path, "jwks_uri"), report) and ok
    if spec.jwks_uri is not None and spec.jwks_file is not None:
        report.error(
            (*path, "jwks_file"), "oauth.jwks_ambiguous", "set jwks_uri or jwks_file, not both", None
        )
        ok = False
    jwks_path = None
    if spec.jwks_file is not None:
        jwks_path = str(Path(base_dir, spec.jwks_file).resolve())
        if not Path(jwks_path).is_file():
            report.error(
                (*path, "jwks_file"),
                "oauth.jwks_file_missing",
                f"JWKS file '{spec.jwks_file}' does not exist",
                f"the path is relative to {base_dir}",
            )
            ok = False
    introspection = _introspection(spec.introspection, (*path, "introspection"), report, environ)
    if not ok:
        return None
    return IssuerPlan(
        issuer=spec.issuer,
        jwks_uri=spec.jwks_uri,
        jwks_path=jwks_path,
        algorithms=frozenset(spec.algorithms),
        introspection=introspection,
        jwks_cache_s=parse_duration(spec.jwks_cache),
        jwks_refresh_cooldown_s=parse_duration(spec.jwks_refresh_cooldown),
    )


def _introspection(
    spec: IntrospectionConfig | None, path: JsonPath, report: Reporter, environ: Mapping[str, str]
) -> IntrospectionPlan | None:
    if spec is None:
        return None
    if spec.endpoint is not None:
        _check_url(spec.endpoint, (*path, "endpoint"), report)
    secret = environ.get(spec.client_secret_env)
    if not secret:
        report.error(
            (*path, "client_secret_env"),
            "oauth.secret_missing",
            f"environment variable {spec.client_secret_env} is not set",
            "export the introspection client secret in that variable before starting opp",
        )
        return None
    return IntrospectionPlan(
        endpoint=spec.endpoint,
        client_id=spec.client_id,
        client_secret=secret,
        cache_max_s=parse_duration(spec.cache_max),
    )


def _claim_scopes(
    oauth: OAuthConfig, known: frozenset[str], report: Reporter
) -> dict[str, dict[str, frozenset[str]]]:
    mapped: dict[str, dict[str, frozenset[str]]] = {}
    for index, mapping in enumerate(oauth.claims.mappings):
        values = mapped.setdefault(mapping.claim, {})
        for value, scopes in mapping.values.items():
            for position, scope in enumerate(scopes):
                if scope not in known:
                    report.error(
                        (*_SECTION, "claims", "mappings", index, "values", value, position),
                        "oauth.unknown_scope",
                        f"claim value '{value}' maps to unknown scope '{scope}'",
                        did_you_mean(scope, known) or "declare it under scopes:",
                    )
            values[value] = values.get(value, frozenset()) | frozenset(scopes)
    return mapped
