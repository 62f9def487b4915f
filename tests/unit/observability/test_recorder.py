"""The recorder's buckets line up with prometheus-client's, and flushing moves exact counts."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from opp.observability.exposition import flush, render
from opp.observability.metrics import POLICY_BUCKETS, MetricsRecorder


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_observations_land_in_the_bucket_prometheus_would_choose() -> None:
    recorder = MetricsRecorder()
    tool = "unit.recorder.buckets"
    for seconds in (POLICY_BUCKETS[0], POLICY_BUCKETS[0] * 1.5, 99.0):  # on a bound, between, above all
        recorder.policy(tool, seconds)

    flush(recorder)
    samples = _samples(render())

    def bucket(le: str) -> float:
        return samples[("opp_policy_evaluation_seconds_bucket", (("le", le), ("tool", tool)))]

    assert bucket("5e-06") == 1  # cumulative: the observation equal to the bound counts in it
    assert bucket("1e-05") == 2
    assert bucket("0.01") == 2
    assert bucket("+Inf") == 3
    assert samples[("opp_policy_evaluation_seconds_count", (("tool", tool),))] == 3
    assert abs(samples[("opp_policy_evaluation_seconds_sum", (("tool", tool),))] - 99.0000125) < 1e-9


def test_a_drained_recorder_starts_afresh() -> None:
    recorder = MetricsRecorder()
    recorder.request("/r", "t", "common.success", 200, 0.001)
    recorder.request("/r", "t", "common.success", 200, 0.002)

    first = recorder.drain()
    second = recorder.drain()

    assert first.requests == {("/r", "t", "common.success", 200): 2}
    assert first.durations[("/r", "t")].counts[2] == 1  # 0.002 s is in the 0.0025 s bucket
    assert second.requests == {} and second.durations == {}
