"""The fast canonicaliser is byte-identical to RFC 8785 (the ``rfc8785`` library via ``canonical_json``)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from opp.audit.chain import stored_value
from opp.store.records import AuditEvent
from opp.writes.jcs import canonical_bytes, canonical_json, is_fast_path

SAFE = 2**53 - 1

# Keys and strings over all of Unicode except lone surrogates (not encodable as UTF-8), with
# ASCII, control characters, BMP-above-surrogates and astral characters all likely.
_chars = st.characters(exclude_categories=["Cs"])
_special = st.sampled_from(
    ["", "a", "\x00", "\x1f", "\x7f", '"', "\\", "\u2028", "\ue000", "\uffff", "😀", "é"]
)
keys = st.one_of(st.text(_chars, max_size=8), _special, st.text(st.sampled_from("ab_\ue000😀é"), max_size=4))
strings = st.one_of(st.text(_chars, max_size=20), _special)
safe_ints = st.integers(-SAFE, SAFE)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    safe_ints,
    st.integers(),  # big ints: read as doubles by canonical_json
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e21, 1e-7, 0.1 + 0.2, 5e-324, 1.7976931348623157e308, 2.0**53]),
    strings,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)
event_like = st.fixed_dictionaries(
    {
        "id": strings,
        "action": strings,
        "seq": safe_ints,
        "details": st.dictionaries(keys, json_values, max_size=6),
    },
    optional={
        "principal": st.dictionaries(keys, strings, max_size=3),
        "latency": st.floats(allow_nan=False, allow_infinity=False),
    },
)
# Only values the fast path takes, so the shortcut itself (not the fallback) is what is compared.
fixed_floats = st.one_of(
    st.floats(min_value=1e-4, max_value=1e16, exclude_max=True),
    st.floats(min_value=-1e16, max_value=-1e-4, exclude_min=True),
    st.decimals(min_value=-(10**9), max_value=10**9, places=2).map(float),  # money-like amounts
).filter(lambda x: 1e-4 <= abs(x) < 1e16 and not x.is_integer())
fast_scalars = st.one_of(st.none(), st.booleans(), safe_ints, strings, fixed_floats)
fast_values = st.recursive(
    fast_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(keys.filter(lambda k: k.isascii() or max(k) < "\ud800"), inner),
    ),
    max_leaves=25,
)


@settings(max_examples=600, deadline=None)
@given(json_values)
def test_any_json_value_canonicalises_as_the_reference(value: Any) -> None:
    assert canonical_bytes(value) == canonical_json(value)


@settings(max_examples=400, deadline=None)
@given(event_like)
def test_event_like_objects_canonicalise_as_the_reference(value: dict[str, Any]) -> None:
    assert canonical_bytes(value) == canonical_json(value)


@settings(max_examples=600, deadline=None)
@given(fast_values)
def test_the_fast_path_is_rfc8785_itself(value: Any) -> None:
    assert is_fast_path(value)
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(st.sampled_from("a\ue000\uffff😀𝄞"), min_size=1, max_size=3), safe_ints, min_size=2
    )
)
def test_keys_beyond_the_surrogate_range_are_sorted_by_utf16_code_units(value: dict[str, int]) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


def test_a_typical_audit_event_takes_the_fast_path() -> None:
    event = AuditEvent(
        id="aud_1",
        action="agent.ledger.list.read",
        status="success",
        code="common.success",
        created_at=dt.datetime(2025, 1, 2, tzinfo=dt.UTC),
        principal={"sub": "user_1", "client_id": "app_1"},
        policy={"matched": ["allow-read"]},
        details={"args": {"page": 1, "ledgerId": "l1"}, "redacted": []},
        seq=1,
        prev_hash="0" * 64,
    )
    value = stored_value(event)
    assert is_fast_path(value)
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=2000, deadline=None)
@given(fixed_floats)
def test_fixed_notation_floats_are_written_as_ecmascript_writes_them(value: float) -> None:
    assert is_fast_path(value)
    assert canonical_bytes(value) == rfc8785.dumps(value) == canonical_json(value)


@pytest.mark.parametrize(
    "value",
    [
        3.0, -0.0, 0.0, 1e16, 1e21, 9.9e-5, 5e-324, 2.0**53, math.nan, math.inf,
        2**60, {"é\U0001f600": 1}, {1: "x"}, [dt.datetime(2025, 1, 1)], b"x", {"a": {"b": 3.0}},
    ],
)  # fmt: skip
def test_other_floats_big_ints_astral_keys_and_non_json_leave_the_fast_path(value: Any) -> None:
    assert not is_fast_path(value)


@pytest.mark.parametrize("value", [1.5, 0.1 + 0.2, 1e-4, 123456789.25, {"amount": 3.5}])
def test_amounts_take_the_fast_path(value: Any) -> None:
    assert is_fast_path(value)
    assert canonical_bytes(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [math.nan, {"a": math.inf}, {"a": "\ud800"}, {1: "x"}, dt.date(2025, 1, 1)])
def test_what_is_not_json_fails_like_the_reference(value: Any) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)
    with pytest.raises(ValueError):
        canonical_bytes(value)
