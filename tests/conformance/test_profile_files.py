"""The built-in profile files validate, and the loader refuses malformed ones."""

from __future__ import annotations

from typing import Any

import pytest

from opp.conformance import ProfileError
from opp.conformance.model import CREDENTIALS, PROFILE_NAMES, load_named_profiles, parse_profile


def test_every_profile_loads_with_its_checks_in_its_layer() -> None:
    profiles = load_named_profiles(["all"])
    assert [profile.name for profile in profiles] == list(PROFILE_NAMES)
    ids = [check.id for profile in profiles for check in profile.checks]
    assert len(ids) == len(set(ids)), "check ids are unique across profiles"
    for profile in profiles:
        assert profile.description and profile.checks
        for check in profile.checks:
            assert check.layer == profile.name and check.id.startswith(f"{profile.name}.")
            assert check.spec.startswith("§") and check.title and check.steps
            for step in check.steps:
                assert isinstance(step.auth, dict) or step.auth in CREDENTIALS


def test_every_request_step_states_an_expected_status() -> None:
    for profile in load_named_profiles(["all"]):
        for check in profile.checks:
            for step in check.steps:
                if "method" in step.raw:
                    assert "status" in step.expect, f"{check.id}: {step.raw['method']} {step.raw['path']}"


def _document(**check: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "demo.one",
        "layer": "demo",
        "spec": "§3",
        "title": "t",
        "steps": [{"method": "GET", "path": "/x", "expect": {"status": 200}}],
    }
    return {"profile": "demo", "checks": [{**base, **check}]}


def test_a_valid_document_parses() -> None:
    profile = parse_profile(_document(), "demo.yaml")
    assert profile.checks[0].credentials(set()) == {"agent"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"spec": None}, "lacks spec"),
        ({"layer": "other"}, "must have layer demo"),
        ({"id": "other.one"}, "must have layer demo"),
        ({"steps": [{"method": "GET"}]}, "needs method and path"),
        ({"steps": [{"method": "GET", "path": "/x", "auth": "root"}]}, "unknown credential"),
        ({"steps": [{"method": "GET", "path": "/x", "expect": {"stauts": 200}}]}, "expect takes only"),
        ({"steps": [{"method": "GET", "path": "/x", "sleep": 1}]}, "unknown step keys"),
        ({"extra": 1}, "unknown check keys"),
    ],
)
def test_a_malformed_check_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_profile(_document(**change), "demo.yaml")


def test_an_unknown_profile_name_is_refused() -> None:
    with pytest.raises(ProfileError, match="unknown profile"):
        load_named_profiles(["core", "no-such-profile"])
