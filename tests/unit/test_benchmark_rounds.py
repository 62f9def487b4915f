"""The benchmarks' interleaved rounds: medians per figure, ratios taken within each round."""

from __future__ import annotations

import argparse

import pytest

from benchmarks.rounds import median_ratio, medians, rounds_note, rps_by_round, run_rounds, summary


def _round(bare: float, governed: float) -> dict[str, dict[str, float]]:
    return {"bare": {"rps": bare, "p99_ms": bare / 1000}, "governed": {"rps": governed, "p99_ms": 1.0}}


def test_each_figure_is_the_median_of_the_rounds() -> None:
    each = [_round(10_000, 5_000), _round(20_000, 6_000), _round(12_000, 9_000)]
    assert medians(each) == {
        "bare": {"rps": 12_000, "p99_ms": 12.0},
        "governed": {"rps": 6_000, "p99_ms": 1.0},
    }
    assert rps_by_round(each) == {"bare": [10_000, 20_000, 12_000], "governed": [5_000, 6_000, 9_000]}


def test_a_ratio_is_the_median_of_each_rounds_own_ratio() -> None:
    # Ratios 0.5, 0.3, 0.75: their median is 0.5; the ratio of the medians (6,000 / 12,000) would also
    # be 0.5 here, so a fourth round separates the two: ratios 0.3, 0.5, 0.75, 0.8 → 0.625.
    each = [_round(10_000, 5_000), _round(20_000, 6_000), _round(12_000, 9_000), _round(10_000, 8_000)]
    assert median_ratio(each, "governed") == pytest.approx(0.625)
    assert medians(each)["governed"]["rps"] / medians(each)["bare"]["rps"] == pytest.approx(7_000 / 11_000)


def test_rounds_run_in_order_and_at_least_once() -> None:
    calls: list[int] = []

    def measure() -> dict[str, dict[str, float]]:
        calls.append(len(calls))
        return _round(1.0, float(len(calls)))

    assert [r["governed"]["rps"] for r in run_rounds(3, measure)] == [1.0, 2.0, 3.0]
    assert calls == [0, 1, 2]
    with pytest.raises(ValueError, match="at least 1"):
        run_rounds(0, measure)


def test_one_round_reads_as_before() -> None:
    assert rounds_note([_round(1.0, 1.0)]) == ""
    assert "3 interleaved rounds" in rounds_note([_round(1.0, 1.0)] * 3)


def test_the_json_holds_the_medians_and_each_round_only_when_there_are_several() -> None:
    args = argparse.Namespace(workers=2, connections=64, duration=10)
    one = summary(args, [_round(10.0, 5.0)])
    assert one["rounds"] == 1 and "rps_by_round" not in one
    several = summary(args, [_round(10.0, 5.0), _round(30.0, 9.0), _round(20.0, 7.0)])
    assert several["results"] == medians([_round(10.0, 5.0), _round(30.0, 9.0), _round(20.0, 7.0)])
    assert several["rps_by_round"] == {"bare": [10, 30, 20], "governed": [5, 9, 7]}
