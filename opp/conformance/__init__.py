"""Conformance runners: check a running gateway against OpenPort profiles over HTTP.

* Layered profiles (SPEC §11) as data in ``opp/conformance/profiles/*.yaml``:
  :func:`load_named_profiles` reads them, :func:`run_profiles` runs them against any OPP gateway
  with only its URL and :class:`Credentials`. ``opp conformance`` is the CLI; docs/CONFORMANCE.md
  is generated from the profiles.
* ``run_core_profile`` runs the reference runtime's JSON core profile (``openport-v1-core``).
"""

from opp.conformance.core import ProfileError, load_profile, run_core_profile
from opp.conformance.model import load_named_profiles
from opp.conformance.outcomes import CheckOutcome
from opp.conformance.results import CheckResult
from opp.conformance.runner import Credentials, run_profiles
from opp.conformance.security import BoundaryProbe

__all__ = [
    "BoundaryProbe",
    "CheckOutcome",
    "CheckResult",
    "Credentials",
    "ProfileError",
    "load_named_profiles",
    "load_profile",
    "run_core_profile",
    "run_profiles",
]
