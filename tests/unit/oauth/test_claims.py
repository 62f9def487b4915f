"""Token claims → scopes, app, tenant and admin roles (SPEC §5.2, ``oauth.claims`` / ``oauth.admin``)."""

from __future__ import annotations

from typing import Any

import pytest

from opp.oauth.claims import ClaimMapper, claim_value, claim_values
from opp.oauth.plan import OAuthPlan

KNOWN = frozenset({"ledger.read", "ledger.write", "ledger.admin", "reports.read"})


def mapper(**settings: Any) -> ClaimMapper:
    defaults: dict[str, Any] = {"enabled": True, "known_scopes": KNOWN}
    return ClaimMapper(OAuthPlan(**{**defaults, **settings}))


# -- scopes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("ledger.read ledger.write", {"ledger.read", "ledger.write"}),
        ("  ledger.read\tunknown.scope  openid ", {"ledger.read"}),
        (["ledger.read", "reports.read", 7, None, {"x": 1}], {"ledger.read", "reports.read"}),
        ("", set()),
        (42, set()),
        ({"ledger.read": True}, set()),
        (None, set()),
    ],
)
def test_scope_claim_filtered_to_known_scopes(scope: Any, expected: set[str]) -> None:
    claims = {} if scope is None else {"scope": scope}
    assert mapper().scopes(claims) == frozenset(expected)


def test_scope_claim_renamed_or_disabled() -> None:
    claims = {"scope": "ledger.read", "scp": ["ledger.write"]}
    assert mapper(scope_claim="scp").scopes(claims) == {"ledger.write"}
    assert mapper(scope_claim=None).scopes(claims) == frozenset()


def test_claim_values_mapped_to_scopes() -> None:
    plan_mappings = {
        "roles": {
            "accountant": frozenset({"ledger.read", "ledger.write"}),
            "auditor": frozenset({"reports.read"}),
        },
        "groups": {"admins": frozenset({"ledger.admin"})},
    }
    claims = {
        "scope": "ledger.read",
        "roles": ["accountant", "auditor", "janitor", 3],
        "groups": "staff admins",
    }
    assert mapper(claim_scopes=plan_mappings).scopes(claims) == KNOWN


def test_nested_and_dotted_claim_names() -> None:
    mappings = {
        "realm_access.roles": {"writer": frozenset({"ledger.write"})},
        "https://example.com/roles": {"reader": frozenset({"ledger.read"})},
    }
    claims = {"realm_access": {"roles": ["writer"]}, "https://example.com/roles": "reader"}
    assert mapper(claim_scopes=mappings).scopes(claims) == {"ledger.read", "ledger.write"}


@pytest.mark.parametrize(
    "claims",
    [
        {"realm_access": ["writer"]},
        {"realm_access": {"roles": {"writer": True}}},
        {"realm_access": "roles"},
        {"realm_access": {"other": ["writer"]}},
        {},
    ],
)
def test_nested_claim_junk_grants_nothing(claims: dict[str, Any]) -> None:
    mappings = {"realm_access.roles": {"writer": frozenset({"ledger.write"})}}
    assert mapper(claim_scopes=mappings, scope_claim=None).scopes(claims) == frozenset()


def test_exact_key_wins_over_the_nested_path() -> None:
    claims = {"a.b": "exact", "a": {"b": "nested"}}
    assert claim_value(claims, "a.b") == "exact"
    assert claim_values({"a": {"b": "x y"}}, "a.b") == ("x", "y")
    assert claim_value({"a": {"b": None}}, "a.b.c") is None


# -- app and tenant ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"client_id": "app_1"}, "app_1"),
        ({"client_id": ""}, None),
        ({"client_id": 5}, None),
        ({"client_id": ["app_1"]}, None),
        ({}, None),
    ],
)
def test_app_id_from_client_id(claims: dict[str, Any], expected: str | None) -> None:
    assert mapper().app_id(claims) == expected


def test_app_id_from_a_custom_nested_claim() -> None:
    claims = {"client_id": "idp-client", "ext": {"opp_app": "app_9"}}
    assert mapper(app_claim="ext.opp_app").app_id(claims) == "app_9"


def test_tenant() -> None:
    claims = {"tid": "tenant-a", "org": {"id": "tenant-b"}, "num": 7}
    assert mapper().tenant(claims) is None
    assert mapper(tenant_claim="tid").tenant(claims) == "tenant-a"
    assert mapper(tenant_claim="org.id").tenant(claims) == "tenant-b"
    assert mapper(tenant_claim="num").tenant(claims) is None
    assert mapper(tenant_claim="absent").tenant(claims) is None


# -- admin roles -------------------------------------------------------------------------------


def test_admin_roles_mapped_from_claim_values() -> None:
    roles = {"opp-admins": "admin", "finance-approvers": "approver"}
    claims = {"roles": ["opp-admins", "finance-approvers", "other", 1], "groups": "opp-admins"}
    assert mapper(admin_roles=roles).admin_roles(claims) == {"admin", "approver"}
    assert mapper(admin_roles=roles, admin_role_claim="groups").admin_roles(claims) == {"admin"}
    assert mapper().admin_roles(claims) == frozenset()
    assert mapper(admin_roles=roles).admin_roles({"roles": "other opp-admins"}) == {"admin"}
    assert mapper(admin_roles=roles).admin_roles({"roles": {"opp-admins": 1}}) == frozenset()
