"""Interleaved rounds: every case once per round, the median over rounds reported.

This VM's speed drifts by tens of percent within minutes, so one pass over the cases compares
runs made at different speeds. ``--rounds N`` runs the whole sequence of cases N times — bare,
governed, … then bare, governed, … again — so each case is measured close in time to every other
in each round; each figure is then the median over the rounds, and a ratio to ``bare`` is the
median of the rounds' ratios (each taken within its own round), not a ratio of medians.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

__all__ = ["Results", "median_ratio", "medians", "rounds_note", "rps_by_round", "run_rounds", "summary"]

Results = dict[str, dict[str, float]]
"""Case name → figures (``rps``, ``p50_ms``, ``p99_ms``, …) of one round."""


def run_rounds(rounds: int, measure: Callable[[], Results]) -> list[Results]:
    """The results of ``measure`` run ``rounds`` times in a row, one per round."""
    if rounds < 1:
        raise ValueError("--rounds must be at least 1")
    return [measure() for _ in range(rounds)]


def medians(each: list[Results]) -> Results:
    """Per case, the median of each of its figures over the rounds."""
    return {
        name: {key: statistics.median(result[name][key] for result in each) for key in figures}
        for name, figures in each[0].items()
    }


def median_ratio(each: list[Results], name: str, base: str = "bare") -> float:
    """The median over the rounds of ``name``'s req/s over ``base``'s in the same round."""
    return statistics.median(result[name]["rps"] / result[base]["rps"] for result in each)


def rps_by_round(each: list[Results]) -> dict[str, list[int]]:
    """Each case's req/s in every round, for the JSON beside the medians."""
    return {name: [round(result[name]["rps"]) for result in each] for name in each[0]}


def rounds_note(each: list[Results]) -> str:
    """What the header line adds when the figures are medians."""
    if len(each) == 1:
        return ""
    return f", {len(each)} interleaved rounds (medians; each round's req/s in the JSON)"


def summary(args: argparse.Namespace, each: list[Results]) -> dict[str, object]:
    """The JSON a benchmark writes: its load, the medians and, over several rounds, each round's req/s."""
    written: dict[str, object] = {
        "server": "granian",
        "workers": args.workers,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": len(each),
        "results": medians(each),
    }
    if len(each) > 1:
        written["rps_by_round"] = rps_by_round(each)
    return written
