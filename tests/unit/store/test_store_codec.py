"""Row encoding: fixed-width sortable timestamps, typed JSON columns, exact round trips."""

from __future__ import annotations

import datetime as dt

import pytest

from opp.store import AdminTokenRecord, AppRecord
from opp.store.codec import RecordCodec, decode_timestamp, encode_timestamp

from .samples import T0, Samples

PARIS = dt.timezone(dt.timedelta(hours=2))
INSTANTS = [
    dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=PARIS),
    dt.datetime(2025, 1, 2, 3, 4, 5, 7, tzinfo=dt.UTC),
    dt.datetime(2025, 1, 2, 3, 4, 5, 10, tzinfo=dt.UTC),
]


def test_timestamps_are_fixed_width_utc_text() -> None:
    assert encode_timestamp(dt.datetime(2025, 1, 2, 5, 4, 5, tzinfo=PARIS)) == "2025-01-02T03:04:05.000000Z"
    assert {len(encode_timestamp(at)) for at in INSTANTS} == {27}


def test_lexical_order_of_timestamps_is_time_order() -> None:
    assert sorted(INSTANTS, key=encode_timestamp) == sorted(INSTANTS)


@pytest.mark.parametrize("at", INSTANTS)
def test_timestamps_round_trip_to_the_same_instant_in_utc(at: dt.datetime) -> None:
    decoded = decode_timestamp(encode_timestamp(at))
    assert decoded == at
    assert decoded.tzinfo is dt.UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        encode_timestamp(dt.datetime(2025, 1, 1))


def test_columns_follow_record_fields_and_json_columns_decode_to_their_types() -> None:
    codec = RecordCodec(AdminTokenRecord)
    token = AdminTokenRecord(
        id="adm_1", name="ops", roles=("admin",), token_hash="ab", token_prefix="opa_", created_at=T0
    )
    row = codec.encode(token)
    assert codec.columns == ("id", "name", "roles", "token_hash", "token_prefix", "created_at", "revoked_at")
    assert row == ("adm_1", "ops", '["admin"]', "ab", "opa_", "2025-01-02T03:04:05.678901Z", None)
    assert codec.decode(row) == token
    assert isinstance(codec.decode(row).roles, tuple)


def test_app_rows_round_trip(samples: Samples) -> None:
    codec = RecordCodec(AppRecord)
    app = samples.app(policy={"data": {"limits": {"max": 1.5, "ids": [1, "x", None]}}})
    assert codec.decode(codec.encode(app)) == app
    assert codec.qualified_columns("a").startswith("a.id, a.name, ")


@pytest.mark.parametrize(
    "at",
    [
        *INSTANTS,
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(0))),  # UTC, not dt.UTC itself
        dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5), "EST")),
    ],
)
def test_the_utc_shortcut_writes_what_the_general_conversion_writes(at: dt.datetime) -> None:
    general = at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    assert encode_timestamp(at) == general
    assert len(general) == 27
