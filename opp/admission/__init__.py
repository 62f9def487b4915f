"""Admission control (SPEC §8): rate limits and quotas over the ``limits`` library.

``rate_limits:`` in ``gateway.yaml`` is compiled (``opp.compile.rate_limits``) into an
:class:`AdmissionPlan`; each worker counts calls with an :class:`Admission` and refuses with
429 ``agent.rate_limited`` plus ``Retry-After`` / ``RateLimit`` / ``RateLimit-Policy`` headers.
Counters live in ``memory://`` (one process), ``mmap:///PATH`` (:class:`MmapStorage`, shared by
the workers of a host; the default with several workers), ``sqlite:///PATH`` (:class:`SqliteStorage`,
the same, in SQLite) or ``redis://`` (shared by replicas). See ``docs/RATE_LIMITS.md``.
"""

from opp.admission.headers import rejection_headers, sf_string
from opp.admission.limiter import Admission, caller_values
from opp.admission.mmap_storage import MmapStorage
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
    "MmapStorage",
    "SqliteStorage",
    "Strategy",
    "caller_values",
    "rejection_headers",
    "sf_string",
    "shared_storage_uri",
]
