"""Fuzz every route of the gateway's own OpenAPI document (SPEC §11 ``abuse``).

At least 2,000 generated requests per run (derandomized: the same requests every run; each test
on its own fresh gateway, so their order does not matter), with no
credential, broken and unknown credentials, the agent key, and admin and auditor tokens. Every
response: no 5xx, the OPP envelope, a status and body the document declares, and no state
change when the request is rejected. See docs/EXPLAIN.md ("Fuzzing") for the design.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from .checks import send_and_check
from .conftest import FuzzGateway
from .operations import Operation
from .strategies import requests

FUZZ_SETTINGS = settings(
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
RUNS = {"anonymous": 500, "agent": 800, "admin": 800}
"""Requests per test: 2,100 per run together, each test asserting its own share."""


def _fuzz_operation(
    gateway: FuzzGateway, operation: Operation, modes: Sequence[str], examples: int, seed: int
) -> None:
    @settings(FUZZ_SETTINGS, max_examples=examples)
    @hypothesis_seed(seed)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        send_and_check(gateway, data.draw(requests([operation], gateway.pools, modes)))

    run()


def _fuzz(gateway: FuzzGateway, admin: bool | None, modes: Sequence[str], examples: int, seed: int) -> None:
    """About ``examples`` requests, shared evenly by the admin operations (True), the others
    (False) or all (None): one Hypothesis run per operation, so every route gets its share."""
    chosen = [op for op in gateway.operations if admin is None or op.admin == admin]
    per_operation = -(-examples // len(chosen))
    start = gateway.sent
    for number, operation in enumerate(chosen):
        _fuzz_operation(gateway, operation, modes, per_operation, seed * 1000 + number)
    assert gateway.sent - start >= examples


def _report(gateway: FuzzGateway, name: str, operations: set[str]) -> None:
    """Every route of the run got requests; the count is printed (and recorded for the report)."""
    assert set(gateway.by_operation) == operations
    statuses = dict(sorted(gateway.statuses.items()))
    print(f"fuzz {name}: {gateway.sent} requests, statuses {statuses}")


def _ids(gateway: FuzzGateway, admin: bool | None) -> set[str]:
    return {op.operation_id for op in gateway.operations if admin is None or op.admin == admin}


def test_fuzz_without_valid_credentials(fuzz_gateway: FuzzGateway) -> None:
    _fuzz(fuzz_gateway, None, ("none", "malformed", "unknown"), RUNS["anonymous"], seed=1)
    _report(fuzz_gateway, "anonymous", _ids(fuzz_gateway, None))


def test_fuzz_agent_plane_with_the_agent_key(fuzz_gateway: FuzzGateway) -> None:
    _fuzz(fuzz_gateway, False, ("agent", "agent", "agent", "admin", "none"), RUNS["agent"], seed=2)
    _report(fuzz_gateway, "agent", _ids(fuzz_gateway, False))
    assert fuzz_gateway.statuses[200] > 0  # valid requests got through, not only rejections


def test_fuzz_admin_plane_with_admin_tokens(fuzz_gateway: FuzzGateway) -> None:
    _fuzz(fuzz_gateway, True, ("admin", "admin", "auditor", "agent"), RUNS["admin"], seed=3)
    _report(fuzz_gateway, "admin", _ids(fuzz_gateway, True))
    assert fuzz_gateway.statuses[200] > 0
