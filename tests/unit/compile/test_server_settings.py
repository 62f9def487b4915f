"""``server:``: values granian could not start with are config errors, positioned at the value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from opp.compile.plan import Plan
from opp.compile.server import ServerLimits, server_limits
from opp.config.diagnostics import Diagnostic
from tests.unit.compile.conftest import Edit, base


def test_defaults(compile_config: Callable[[dict[str, Any]], Plan]) -> None:
    plan = compile_config(base())
    assert server_limits(plan.config.server) == ServerLimits(
        shutdown_timeout_s=30,
        max_header_bytes=32768,
        max_url_bytes=8192,
        header_read_timeout_ms=10_000,
        keep_alive=True,
        max_concurrent_requests=256,
        backlog=1024,
    )


def test_a_fraction_of_a_second_rounds_up(compile_config: Callable[[dict[str, Any]], Plan]) -> None:
    document = base()
    document["server"] = {"shutdown_timeout": "1500ms"}
    assert server_limits(compile_config(document).config.server).shutdown_timeout_s == 2


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("shutdown_timeout", "0s", "1s and 1800s"),
        ("shutdown_timeout", "31m", "1s and 1800s"),
        ("header_read_timeout", "0ms", "1ms and 60s"),
        ("header_read_timeout", "61s", "1ms and 60s"),
        ("body_read_timeout", "2h", "1ms and 3600s"),
    ],
)
def test_out_of_range_is_reported_at_the_value(
    diagnostics: Callable[[Edit], list[Diagnostic]], field: str, value: str, allowed: str
) -> None:
    found = diagnostics(lambda document: document.update(server={field: value}))
    assert [(d.code, d.message) for d in found] == [
        ("server.out_of_range", f"server.{field} must be between {allowed}")
    ]
    assert found[0].line > 1


def test_the_url_limit_cannot_exceed_the_header_limit(
    diagnostics: Callable[[Edit], list[Diagnostic]],
) -> None:
    found = diagnostics(
        lambda document: document.update(server={"max_header_bytes": 8192, "max_url_bytes": 9000})
    )
    assert [(d.code, d.message) for d in found] == [
        ("server.out_of_range", "server.max_url_bytes must be at most server.max_header_bytes (8192)")
    ]
