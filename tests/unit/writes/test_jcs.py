"""RFC 8785 canonical JSON and the hashes of SPEC §7.4 / §7.5, against known vectors."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import struct
from typing import Any

import pytest

from opp.writes.jcs import canonical_json, fingerprint, impact_hash, json_value, sha256_hex, witness_hash

# RFC 8785 §3.2.2: the sample input and its canonical form.
RFC_3_2_2_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC_3_2_2_OUTPUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
)

# RFC 8785 §3.2.3: property sorting by UTF-16 code units (the emoji's surrogates sort before U+FB33).
RFC_3_2_3_INPUT = r"""{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"""
RFC_3_2_3_ORDER = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_rfc8785_section_3_2_2_sample() -> None:
    assert canonical_json(json.loads(RFC_3_2_2_INPUT)).decode() == RFC_3_2_2_OUTPUT


def test_rfc8785_section_3_2_3_sorting() -> None:
    canonical = canonical_json(json.loads(RFC_3_2_3_INPUT))
    assert list(json.loads(canonical)) == RFC_3_2_3_ORDER
    assert canonical.startswith(b'{"\\r":"Carriage Return","1":"One","\xc2\x80":"Control"')


def test_keys_sorted_by_utf16_code_units() -> None:
    assert canonical_json({"€": 1, "\r": 2, "1": 3}) == b'{"\\r":2,"1":3,"\xe2\x82\xac":1}'


# RFC 8785 Appendix B: IEEE 754 bit patterns and their serialisation.
@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        ("0000000000000000", "0"),
        ("8000000000000000", "0"),
        ("0000000000000001", "5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"),
        ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"),
        ("4430000000000000", "295147905179352830000"),
        ("4415af1d78b58c40", "100000000000000000000"),
        ("c340000000000000", "-9007199254740992"),
        ("0010000000000000", "2.2250738585072014e-308"),
        ("41b3de4355555553", "333333333.3333332"),
    ],
)
def test_rfc8785_appendix_b_numbers(bits: str, expected: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonical_json(number).decode() == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e21, b"1e+21"),
        (1e-7, b"1e-7"),
        (0.1 + 0.2, b"0.30000000000000004"),
        (-0.0, b"0"),
        (12.0, b"12"),
        (1200, b"1200"),
        (-7, b"-7"),
        (2**53 - 1, b"9007199254740991"),
        (2**60, b"1152921504606847000"),
        (True, b"true"),
        (None, b"null"),
    ],
)
def test_numbers_and_literals(value: Any, expected: bytes) -> None:
    assert canonical_json(value) == expected


def test_nested_objects_are_sorted_at_every_level_and_key_order_is_irrelevant() -> None:
    first = {"b": {"z": [1, {"y": 2, "x": 1}], "a": None}, "a": "é"}
    second = {"a": "é", "b": {"a": None, "z": [1, {"x": 1, "y": 2}]}}
    expected = b'{"a":"\xc3\xa9","b":{"a":null,"z":[1,{"x":1,"y":2}]}}'
    assert canonical_json(first) == canonical_json(second) == expected
    assert sha256_hex(first) == sha256_hex(second) == hashlib.sha256(expected).hexdigest()


def test_list_order_matters() -> None:
    assert sha256_hex([1, 2]) != sha256_hex([2, 1])


@pytest.mark.parametrize(
    "value",
    [dt.datetime(2025, 1, 1, tzinfo=dt.UTC), b"bytes", float("nan"), float("inf"), {1: "x"}, {"a": {1, 2}}],
)
def test_non_json_values_are_rejected(value: Any) -> None:
    with pytest.raises(ValueError, match="not canonicalizable"):
        canonical_json(value)


def test_json_value_converts_datetimes_before_hashing() -> None:
    value = {"at": dt.datetime(2025, 3, 15, 1, 2, 3, tzinfo=dt.UTC), "on": dt.date(2025, 3, 15)}
    assert canonical_json(json_value(value)) == b'{"at":"2025-03-15T01:02:03Z","on":"2025-03-15"}'


IMPACT = {
    "summary": "Delete transaction txn_1 (income 1200 USD)",
    "transactionId": "txn_1",
    "amount": 1200,
    "currency": "USD",
}
IMPACT_CANONICAL = (
    b'{"action":"transaction.delete","impact":{"amount":1200,"currency":"USD",'
    b'"summary":"Delete transaction txn_1 (income 1200 USD)","transactionId":"txn_1"},'
    b'"payload":{"transactionId":"txn_1"}}'
)


def test_impact_hash_of_a_fixed_impact() -> None:
    digest = impact_hash("transaction.delete", {"transactionId": "txn_1"}, IMPACT)
    assert digest == hashlib.sha256(IMPACT_CANONICAL).hexdigest()
    assert digest == "c6a7c0fdebc294bc8de013c2834573ef62cad81d6ec8f8dc62a56f79ba45679d"


def test_fingerprint_and_witness_hash() -> None:
    payload = {"ledgerId": "ledger_main", "amount": 12.5}
    assert (
        fingerprint("transaction.create", payload)
        == hashlib.sha256(
            b'{"action":"transaction.create","payload":{"amount":12.5,"ledgerId":"ledger_main"}}'
        ).hexdigest()
    )
    assert fingerprint("transaction.create", payload) != fingerprint("transaction.update", payload)
    witness = {"resource": "transaction", "id": "txn_1", "fields": {"amount": 1200}}
    assert (
        witness_hash(witness)
        == hashlib.sha256(b'{"fields":{"amount":1200},"id":"txn_1","resource":"transaction"}').hexdigest()
    )
    assert witness_hash(None) == hashlib.sha256(b"null").hexdigest()
