"""Conformance runners: check a running gateway against an OpenPort profile over HTTP.

``run_core_profile`` implements the reference core profile (``openport-v1-core``): required
endpoints, the response envelope, and the security minimums. ``opp conformance`` is its CLI.
"""

from opp.conformance.core import ProfileError, load_profile, run_core_profile
from opp.conformance.results import CheckResult
from opp.conformance.security import BoundaryProbe

__all__ = ["BoundaryProbe", "CheckResult", "ProfileError", "load_profile", "run_core_profile"]
