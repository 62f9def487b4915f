"""Admission control (SPEC §8): rate limits and quotas over the ``limits`` library.

``rate_limits:`` in ``gateway.yaml`` is compiled (``opp.compile.rate_limits``) into an
:class:`AdmissionPlan`; each worker counts calls with an :class:`Admission` and refuses with
429 ``agent.rate_limited`` plus ``Retry-After`` / ``RateLimit`` / ``RateLimit-Policy`` headers.
Counters live in ``memory://`` (one process), ``sqlite:///PATH`` (:class:`SqliteStorage`, shared by
the workers of a host) or ``redis://`` (shared by replicas). See ``docs/RATE_LIMITS.md``.
"""

from opp.admission.headers import rejection_headers, sf_string
from opp.admission.limiter import Admission, caller_values
from opp.admission.plan import (
    DEFAULT_STORAGE,
    AdmissionPlan,
    Dimension,
    LimitRule,
    Strategy,
    shared_storage_uri,
)
from opp.admission.sqlite_storage import SqliteStorage

__all__ = [
    "DEFAULT_STORAGE",
    "Admission",
    "AdmissionPlan",
    "Dimension",
    "LimitRule",
    "SqliteStorage",
    "Strategy",
    "caller_values",
    "rejection_headers",
    "sf_string",
    "shared_storage_uri",
]
