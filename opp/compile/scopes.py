"""Scopes: every scope a tool requires or an app is granted must be declared under ``scopes``."""

from __future__ import annotations

from collections.abc import Mapping

from opp.compile.report import Reporter
from opp.config.diagnostics import did_you_mean
from opp.config.source_map import JsonPath

__all__ = ["check_scopes"]


def check_scopes(
    names: tuple[str, ...], path: JsonPath, declared: Mapping[str, str], report: Reporter
) -> None:
    """Report ``scope.unknown`` for each of ``names`` (written as the list at ``path``) not declared."""
    for position, name in enumerate(names):
        if name not in declared:
            report.error(
                (*path, position),
                "scope.unknown",
                f"scope '{name}' is not declared",
                did_you_mean(name, declared) or "declare it under scopes: with a description",
            )
