"""Apps, their keys and networks, admin credentials: the identities ``gateway.yaml`` declares."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator

from opp.auth.tokens import ADMIN_TOKEN_PREFIX, hash_token, is_opaque_token
from opp.compile.plan import AdminCredentialPlan, IpNetwork
from opp.compile.report import Reporter
from opp.compile.scopes import check_scopes
from opp.config.schema import AdminConfig, AppConfig
from opp.config.source_map import JsonPath

__all__ = ["check_apps", "compile_admin_credentials", "parse_networks"]

_CIDR_HINT = "write an address or a CIDR, e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32"


def parse_networks(texts: tuple[str, ...], path: JsonPath, report: Reporter) -> tuple[IpNetwork, ...]:
    """Parse CIDRs (host bits allowed); ``network.bad_cidr`` for each one that is not."""
    networks: list[IpNetwork] = []
    for position, text in enumerate(texts):
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            report.error((*path, position), "network.bad_cidr", f"'{text}' is not an IP network", _CIDR_HINT)
    return tuple(networks)


def check_apps(
    apps: Iterable[tuple[JsonPath, AppConfig]],
    scopes: Mapping[str, str],
    policy_validator: Draft202012Validator | None,
    report: Reporter,
) -> None:
    """Check declared apps (and the bootstrap app): ids, tenancy, scopes, networks, data, keys."""
    app_ids: dict[str, JsonPath] = {}
    key_ids: dict[str, JsonPath] = {}
    key_hashes: dict[str, JsonPath] = {}
    for path, app in apps:
        _first_use(app.id, (*path, "id"), app_ids, report, code="app.duplicate", what=f"app id '{app.id}'")
        _check_tenancy(path, app, report)
        check_scopes(app.scopes, (*path, "scopes"), scopes, report)
        parse_networks(app.network.allowed_ips, (*path, "network", "allowed_ips"), report)
        if policy_validator is not None:
            _check_data(path, app.data, policy_validator, report)
        for index, key in enumerate(app.keys):
            key_path = (*path, "keys", index)
            _first_use(
                key.id, (*key_path, "id"), key_ids, report, code="key.duplicate", what=f"key id '{key.id}'"
            )
            _first_use(
                key.token_sha256,
                (*key_path, "token_sha256"),
                key_hashes,
                report,
                code="key.duplicate",
                what="key token hash",
            )
            if key.expires_at is not None and not _is_timestamp(key.expires_at):
                report.error(
                    (*key_path, "expires_at"),
                    "key.bad_expiry",
                    f"expires_at '{key.expires_at}' is not an ISO-8601 timestamp with a time zone",
                    "e.g. 2030-01-01T00:00:00Z",
                )


BOOTSTRAP_ADMIN = "bootstrap"
"""Actor name of the admin token read from ``admin.bootstrap_token_env``."""
_BOOTSTRAP_PATH: JsonPath = ("admin", "bootstrap_token_env")


def compile_admin_credentials(
    admin: AdminConfig, report: Reporter, environ: Mapping[str, str]
) -> dict[str, AdminCredentialPlan]:
    """Admin credentials keyed by token hash; ``admin.duplicate_token`` for a repeated hash."""
    seen: dict[str, JsonPath] = {}
    plans: dict[str, AdminCredentialPlan] = {}
    for index, credential in enumerate(admin.credentials):
        path = ("admin", "credentials", index, "token_sha256")
        if _first_use(
            credential.token_sha256, path, seen, report, code="admin.duplicate_token", what="admin token hash"
        ):
            plans[credential.token_sha256] = AdminCredentialPlan(
                name=credential.name, roles=frozenset(credential.roles), token_sha256=credential.token_sha256
            )
    if admin.bootstrap_token_env is not None:
        digest = _bootstrap_token_hash(admin.bootstrap_token_env, report, environ)
        if digest and _first_use(
            digest, _BOOTSTRAP_PATH, seen, report, code="admin.duplicate_token", what="admin token hash"
        ):
            plans[digest] = AdminCredentialPlan(
                name=BOOTSTRAP_ADMIN, roles=frozenset({"admin"}), token_sha256=digest
            )
    return plans


def _bootstrap_token_hash(variable: str, report: Reporter, environ: Mapping[str, str]) -> str | None:
    """SHA-256 of the token in ``variable``; a diagnostic (never the value) when unset or malformed."""
    path = _BOOTSTRAP_PATH
    token = environ.get(variable, "").strip()
    if not token:
        report.error(
            path,
            "admin.bootstrap_token_missing",
            f"environment variable {variable} is not set",
            "set it to an admin token (opa_ + 43 base64url characters), e.g. from a Secret",
        )
        return None
    if not is_opaque_token(token, ADMIN_TOKEN_PREFIX):
        report.error(
            path,
            "admin.bootstrap_token_malformed",
            f"environment variable {variable} does not hold an admin token",
            "an admin token is opa_ followed by 43 base64url characters",
        )
        return None
    return hash_token(token)


def _first_use(
    value: str, path: JsonPath, seen: dict[str, JsonPath], report: Reporter, *, code: str, what: str
) -> bool:
    """Record ``value``; report ``code`` (and return False) when it was already used."""
    if value not in seen:
        seen[value] = path
        return True
    line = report.line_of(seen[value])
    report.error(path, code, f"{what} is used twice", f"first used at line {line}; each must be unique")
    return False


def _check_tenancy(path: JsonPath, app: AppConfig, report: Reporter) -> None:
    target = (*path, "scope") if report.source_map.has((*path, "scope")) else path
    if app.scope == "workspace" and not app.org_id:
        report.error(
            target,
            "app.workspace_without_org",
            f"workspace app '{app.id}' has no org_id",
            "add org_id: the workspace (tenant) the app acts in",
        )
    if app.scope == "personal" and not app.user_id:
        report.error(
            target,
            "app.personal_without_user",
            f"personal app '{app.id}' has no user_id",
            "add user_id: the user the app acts for",
        )


def _check_data(
    path: JsonPath, data: Mapping[str, Any], validator: Draft202012Validator, report: Reporter
) -> None:
    data_path = (*path, "data")
    for error in validator.iter_errors(dict(data)):
        report.error(
            (*data_path, *error.absolute_path),
            "app.policy_invalid",
            f"app data does not match app_policy_schema: {error.message}",
            "see app_policy_schema for the allowed attributes",
        )


def _is_timestamp(text: str) -> bool:
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return parsed.tzinfo is not None
