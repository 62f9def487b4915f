"""The layered conformance profiles as data: load ``profiles/<name>.yaml`` into checks and steps.

A profile file is a mapping ``{profile, description, checks: [check…]}``; every check has ``id``,
``layer`` (the profile's name), ``spec`` (a SPEC section), ``title``, optional ``asserts`` (what it
proves, in words) and ``steps``. The step vocabulary is documented in docs/CONFORMANCE.md (generated
from :data:`STEP_KEYS` and the profiles by :mod:`opp.conformance.docs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from opp.conformance.core import ProfileError

__all__ = [
    "CREDENTIALS",
    "PROFILE_NAMES",
    "Check",
    "Profile",
    "Step",
    "load_named_profiles",
    "load_profile_file",
]

PROFILE_NAMES = (
    "core",
    "authz",
    "writes",
    "state-witness",
    "abuse",
    "dpop",
    "admin-plane",
    "audit-completeness",
)
"""The built-in profiles, in the order ``--profile all`` runs them."""

CREDENTIALS = ("agent", "none", "admin", "approver", "auditor")
"""Credential names a step's ``auth`` may give; anything else is a mapping (``token``/``basic``)."""

STEP_KEYS = {
    "name": "a tag for the step: its `X-Request-Id` is `<run>-<check>-<name>`, readable as `{req.<name>}`",
    "auth": "`agent` (default), `none`, `admin`, `approver`, `auditor`, `{token: T, scheme: Bearer|DPoP}` "
    "or `{basic: [user, password]}`",
    "method": "HTTP method",
    "path": "path on the gateway, with `{variables}`",
    "query": "query parameters",
    "json": "JSON body",
    "body": "raw body: text, `{padded_bytes: N}` or `{nested_depth: N}` "
    "(with `content_type`, default `application/json`)",
    "content_type": "the `Content-Type` of `body`",
    "form": "form-encoded body",
    "headers": "extra request headers",
    "dpop": "attach a DPoP proof: `{key: K, htm?, htu?, bind_token?: true, save?: P, reuse?: P}`",
    "repeat": "`{until_status: S, max: N}`: resend until the status is S (at most N times)",
    "skip_if_set": "skip the step when this variable was given on the command line",
    "expect": "`{status, code, headers: {name: true|false|text}, fields: {path: matcher}, "
    "capture: {var: path}}`",
    "audit": "instead of a request: `{request: name, app?: id, events: [{action, status?, code?}]}` — "
    "exactly these audit events carry that request id (`events: []`: none); `none_of: [action…]`: "
    "none of these does",
    "wait": "instead of a request: sleep this many seconds",
}
EXPECT_KEYS = frozenset({"status", "code", "headers", "fields", "capture"})
_CHECK_KEYS = frozenset({"id", "layer", "spec", "title", "asserts", "steps"})


@dataclass(frozen=True, slots=True)
class Step:
    """One request (or audit query) of a check, kept as the profile spells it."""

    raw: dict[str, Any]

    @property
    def name(self) -> str | None:
        value = self.raw.get("name")
        return str(value) if value is not None else None

    @property
    def auth(self) -> Any:
        return self.raw.get("auth", "agent")

    @property
    def expect(self) -> dict[str, Any]:
        value = self.raw.get("expect") or {}
        return dict(value)

    def credentials(self) -> set[str]:
        """The named credentials the step needs (audit queries need an auditor or admin: ``audit``)."""
        if "audit" in self.raw:
            return {"audit"}
        if "wait" in self.raw:
            return set()
        if isinstance(self.auth, str) and self.auth != "none":
            return {self.auth}
        return set()


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    layer: str
    spec: str
    title: str
    asserts: str
    steps: tuple[Step, ...]

    def credentials(self, preset: set[str]) -> set[str]:
        """Credentials the check needs, leaving out steps skipped because a variable was given."""
        needed: set[str] = set()
        for step in self.steps:
            if step.raw.get("skip_if_set") in preset:
                continue
            needed |= step.credentials()
        return needed


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    description: str
    checks: tuple[Check, ...]


def _fail(where: str, problem: str) -> ProfileError:
    return ProfileError(f"{where}: {problem}")


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict):
        raise _fail(where, "a step must be a mapping")
    unknown = set(raw) - set(STEP_KEYS)
    if unknown:
        raise _fail(where, f"unknown step keys {sorted(unknown)}")
    if "audit" not in raw and "wait" not in raw and not ({"method", "path"} <= set(raw)):
        raise _fail(where, "a request step needs method and path")
    auth = raw.get("auth", "agent")
    if isinstance(auth, str) and auth not in CREDENTIALS:
        raise _fail(where, f"unknown credential {auth!r} (one of {', '.join(CREDENTIALS)} or a mapping)")
    expect = raw.get("expect") or {}
    if not isinstance(expect, dict) or set(expect) - EXPECT_KEYS:
        raise _fail(where, f"expect takes only {sorted(EXPECT_KEYS)}")
    return Step(raw)


def _check(raw: Any, layer: str, where: str) -> Check:
    if not isinstance(raw, dict):
        raise _fail(where, "a check must be a mapping")
    missing = [key for key in ("id", "layer", "spec", "title", "steps") if not raw.get(key)]
    if missing:
        raise _fail(where, f"check lacks {', '.join(missing)}")
    if set(raw) - _CHECK_KEYS:
        raise _fail(where, f"unknown check keys {sorted(set(raw) - _CHECK_KEYS)}")
    check_id = str(raw["id"])
    if raw["layer"] != layer or not check_id.startswith(f"{layer}."):
        raise _fail(where, f"check {check_id} must have layer {layer} and an id starting {layer}.")
    steps = raw["steps"]
    if not isinstance(steps, list):
        raise _fail(where, "steps must be a list")
    return Check(
        id=check_id,
        layer=layer,
        spec=str(raw["spec"]),
        title=str(raw["title"]),
        asserts=str(raw.get("asserts", "")).strip(),
        steps=tuple(_step(step, f"{where} {check_id} step {n}") for n, step in enumerate(steps, 1)),
    )


def parse_profile(document: Any, where: str) -> Profile:
    """Validate a parsed profile document.

    Raises:
        ProfileError: a missing or unknown key, a check of another layer, a duplicate id.
    """
    if not isinstance(document, dict) or not isinstance(document.get("checks"), list):
        raise _fail(where, "a profile is a mapping with profile and checks")
    name = str(document.get("profile") or "")
    if not name:
        raise _fail(where, "the profile has no name")
    checks = tuple(_check(raw, name, where) for raw in document["checks"])
    ids = [check.id for check in checks]
    if len(set(ids)) != len(ids):
        raise _fail(where, "duplicate check ids")
    return Profile(name, str(document.get("description", "")).strip(), checks)


def load_profile_file(path: str | Path) -> Profile:
    """Read a profile from a YAML file.

    Raises:
        ProfileError: the file cannot be read, is not YAML, or is not a valid profile.
    """
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ProfileError(f"cannot read profile {path}: {error}") from None
    return parse_profile(document, str(path))


def load_named_profiles(names: list[str]) -> list[Profile]:
    """The profiles ``names`` (built-in names, ``all``, or paths to YAML files), without duplicates.

    Raises:
        ProfileError: an unknown name or an invalid file.
    """
    wanted: list[str] = []
    for name in names:
        for item in PROFILE_NAMES if name == "all" else (name,):
            if item not in wanted:
                wanted.append(item)
    profiles = []
    folder = resources.files("opp.conformance") / "profiles"
    for item in wanted:
        if item in PROFILE_NAMES:
            text = (folder / f"{item}.yaml").read_text(encoding="utf-8")
            profiles.append(parse_profile(yaml.safe_load(text), f"profiles/{item}.yaml"))
        elif Path(item).is_file():
            profiles.append(load_profile_file(item))
        else:
            raise ProfileError(
                f"unknown profile {item!r} (one of {', '.join(PROFILE_NAMES)}, all, or a file)"
            )
    return profiles
