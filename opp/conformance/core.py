"""Run the OpenPort v1 core conformance profile against a running gateway over HTTP.

The profile (``openport-v1-profile.json``) is data: its required endpoints, envelope rules and
security minimums drive the checks. Every check runs and reports; none is skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from opp.conformance.endpoints import check_endpoint, check_envelope
from opp.conformance.probe import Prober
from opp.conformance.results import CheckResult
from opp.conformance.security import BoundaryProbe, check_security_minimum
from opp.conformance.writes import WriteProbe, check_writes

__all__ = ["ProfileError", "load_profile", "run_core_profile"]

_REQUIRED_KEYS = ("requiredEndpoints", "envelope", "securityMinimums")


class ProfileError(ValueError):
    """The profile file is missing, not JSON, or lacks a section the runner needs."""


def load_profile(path: str | Path) -> dict[str, Any]:
    """Read and sanity-check a conformance profile.

    Raises:
        ProfileError: when the file cannot be read or lacks ``requiredEndpoints``, ``envelope``
            (with ``success`` and ``error``) or ``securityMinimums``.
    """
    try:
        profile = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ProfileError(f"cannot read profile {path}: {error}") from None
    if not isinstance(profile, dict):
        raise ProfileError(f"profile {path} is not a JSON object")
    missing = [key for key in _REQUIRED_KEYS if key not in profile]
    envelope = profile.get("envelope")
    if isinstance(envelope, dict):
        missing += [f"envelope.{kind}" for kind in ("success", "error") if kind not in envelope]
    if missing:
        raise ProfileError(f"profile {path} lacks {', '.join(missing)}")
    return profile


def run_core_profile(
    base_url: str,
    token: str,
    profile: dict[str, Any],
    *,
    boundary: BoundaryProbe | None = None,
    writes: WriteProbe | None = None,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> list[CheckResult]:
    """Check the gateway at ``base_url`` against ``profile`` with the agent ``token``.

    Args:
        base_url: The gateway's origin, e.g. ``http://127.0.0.1:8080``.
        token: An agent credential of an app whose tenant does not own the boundary resource.
        profile: The parsed profile (see :func:`load_profile`).
        boundary: The foreign-tenant resource the boundary check reaches for.
        writes: The actions the write-lifecycle checks use (preflight, draft, read back).
        timeout: Seconds per request.
        transport: An httpx transport to use instead of the network (for tests of the runner).

    Returns:
        One result per required endpoint, per security minimum, then one per envelope kind
        (judged over every response observed by the other checks).
    """
    probe = boundary or BoundaryProbe()
    with httpx.Client(base_url=base_url, timeout=timeout, transport=transport) as client:
        prober = Prober(client, token)
        results = [check_endpoint(prober, endpoint) for endpoint in profile["requiredEndpoints"]]
        results += [check_security_minimum(prober, str(text), probe) for text in profile["securityMinimums"]]
        results += check_writes(prober, writes or WriteProbe())
    envelope = profile["envelope"]
    results += [check_envelope(kind, envelope[kind], prober.observations) for kind in ("success", "error")]
    return results
