"""``opp conformance``: check a running gateway against the OpenPort core conformance profile.

Text output is one line per check, then a count on stderr::

    PASS endpoint:GET /api/agent/v1/manifest: HTTP 200 common.success
    FAIL endpoint:POST /api/agent/v1/actions: HTTP 404 common.not_found: no such route

``--format json`` prints ``{"profile", "passed", "checks": [{id, description, passed, detail}]}``.
Exit status: 0 when every check passes, 1 when any fails, 2 when the profile cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys

from opp.conformance import BoundaryProbe, ProfileError, load_profile, run_core_profile

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Check a running gateway against the OpenPort core conformance profile."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``--base-url``, ``--token``, ``--profile``, ``--format`` and the probe options."""
    parser.add_argument("--base-url", required=True, help="gateway origin, e.g. http://127.0.0.1:8080")
    parser.add_argument("--token", required=True, help="an agent token of the app under test")
    parser.add_argument("--profile", required=True, help="path to openport-v1-profile.json")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument(
        "--foreign-ledger",
        default=BoundaryProbe().foreign_ledger_id,
        help="a ledger of another tenant, for the boundary check (default: %(default)s)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default: 10)")


def run(args: argparse.Namespace) -> int:
    """Run the profile; print the results; 0 when all pass, 1 when any fails, 2 on a bad profile."""
    try:
        profile = load_profile(args.profile)
    except ProfileError as error:
        print(f"opp conformance: {error}", file=sys.stderr)
        return 2
    results = run_core_profile(
        args.base_url,
        args.token,
        profile,
        boundary=BoundaryProbe(foreign_ledger_id=args.foreign_ledger),
        timeout=args.timeout,
    )
    passed = all(result.passed for result in results)
    profile_id = str(profile.get("id", args.profile))
    if args.format == "json":
        document = {"profile": profile_id, "passed": passed, "checks": [r.as_dict() for r in results]}
        print(json.dumps(document, indent=2))
    else:
        for result in results:
            print(result.line())
        failed = sum(not result.passed for result in results)
        print(f"{profile_id}: {len(results)} checks, {failed} failed", file=sys.stderr)
    return 0 if passed else 1
