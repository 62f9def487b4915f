"""``opp conformance``: check any running OPP gateway against the layered conformance profiles.

    opp conformance --base-url URL --profile core|authz|writes|state-witness|abuse|dpop|admin-plane|
        audit-completeness|all|FILE.yaml [--profile ...] --token T [--admin-token A]
        [--approver-token P] [--auditor-token R] [--oauth-client-id ID --oauth-client-secret S]
        [--json FILE] [--junit FILE] [--baseline FILE] [--require-all] [--verbose]

Checks whose credentials were not given are skipped (failures with ``--require-all``). Exit status:
0 when every check passed (or failed as the baseline expects), 1 on an unexpected failure, 2 on a
usage, profile or baseline error. See docs/CONFORMANCE.md.

The reference runtime's JSON profile (``--profile openport-v1-profile.json``) still runs the
original core runner (``--format text|json``; ``--token`` required).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from opp.conformance import BoundaryProbe, ProfileError, load_profile, run_core_profile
from opp.conformance.model import PROFILE_NAMES, load_named_profiles
from opp.conformance.reports import (
    apply_baseline,
    exit_status,
    json_report,
    junit_xml,
    load_baseline,
    summary,
)
from opp.conformance.runner import Credentials, run_profiles

__all__ = ["HELP", "add_arguments", "run"]

HELP = "Check a running OPP gateway against the layered conformance profiles (docs/CONFORMANCE.md)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the base URL, profiles, credentials and report options."""
    parser.add_argument("--base-url", required=True, help="gateway origin, e.g. http://127.0.0.1:8080")
    parser.add_argument(
        "--profile",
        action="append",
        help=f"{', '.join(PROFILE_NAMES)}, all, or a profile file (repeatable; default: all)",
    )
    parser.add_argument("--token", help="an agent token (an app with every scope of the demo)")
    parser.add_argument("--admin-token", help="an admin-plane token with the admin role")
    parser.add_argument(
        "--approver-token", help="an admin-plane token with the approver role (another person)"
    )
    parser.add_argument("--auditor-token", help="an admin-plane token with the auditor role")
    parser.add_argument("--oauth-client-id", help="dpop: an OAuth client (default: an app the check creates)")
    parser.add_argument("--oauth-client-secret", help="dpop: that client's secret")
    parser.add_argument("--json", dest="json_file", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--junit", metavar="FILE", help="write the results as JUnit XML")
    parser.add_argument(
        "--baseline", metavar="FILE", help="expected failures: {expected_failures: [{id, reason}]}"
    )
    parser.add_argument("--require-all", action="store_true", help="a skipped check counts as a failure")
    parser.add_argument("--verbose", action="store_true", help="print every step of every check")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="reference JSON profile only"
    )
    parser.add_argument(
        "--foreign-ledger",
        default=BoundaryProbe().foreign_ledger_id,
        help="reference JSON profile only: a ledger of another tenant (default: %(default)s)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default: 10)")


def run(args: argparse.Namespace) -> int:
    """Run the profiles; print and write the reports; the exit status described above."""
    names: list[str] = args.profile or ["all"]
    if len(names) == 1 and names[0].endswith(".json"):
        return _run_reference(args, names[0])
    if bool(args.oauth_client_id) != bool(args.oauth_client_secret):
        print("opp conformance: give both --oauth-client-id and --oauth-client-secret", file=sys.stderr)
        return 2
    try:
        profiles = load_named_profiles(names)
        baseline = load_baseline(args.baseline) if args.baseline else {}
    except ProfileError as error:
        print(f"opp conformance: {error}", file=sys.stderr)
        return 2
    credentials = Credentials(
        agent=args.token,
        admin=args.admin_token,
        approver=args.approver_token,
        auditor=args.auditor_token,
        oauth_client_id=args.oauth_client_id,
        oauth_client_secret=args.oauth_client_secret,
    )
    outcomes = apply_baseline(
        run_profiles(args.base_url, profiles, credentials, timeout=args.timeout), baseline
    )
    print(summary(outcomes, verbose=args.verbose))
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(json_report(outcomes, args.base_url), indent=2) + "\n")
    if args.junit:
        Path(args.junit).write_text(junit_xml(outcomes), encoding="utf-8")
    return exit_status(outcomes, require_all=args.require_all)


def _run_reference(args: argparse.Namespace, path: str) -> int:
    """The reference runtime's JSON core profile, as before the layered profiles."""
    if not args.token:
        print("opp conformance: the reference JSON profile needs --token", file=sys.stderr)
        return 2
    try:
        profile = load_profile(path)
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
    profile_id = str(profile.get("id", path))
    if args.format == "json":
        document = {"profile": profile_id, "passed": passed, "checks": [r.as_dict() for r in results]}
        print(json.dumps(document, indent=2))
    else:
        for result in results:
            print(result.line())
        failed = sum(not result.passed for result in results)
        print(f"{profile_id}: {len(results)} checks, {failed} failed", file=sys.stderr)
    return 0 if passed else 1
