"""JSON and text log lines, with and without a request id."""

from __future__ import annotations

import json
import logging
import sys

from opp.observability.context import REQUEST_ID
from opp.observability.logs import JsonFormatter, TextFormatter, granian_log_config


def _record(
    message: str = "hello %s", *args: object, exc: bool = False, **extra: object
) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            info = sys.exc_info()
    record = logging.LogRecord("opp.test", logging.WARNING, __file__, 1, message, args or ("world",), info)
    record.created = 1_700_000_000.123
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def test_a_json_line_outside_a_request_has_no_request_id() -> None:
    entry = json.loads(JsonFormatter().format(_record()))

    assert entry == {
        "time": "2023-11-14T22:13:20.123Z",
        "level": "warning",
        "logger": "opp.test",
        "message": "hello world",
        "pid": entry["pid"],
    }


def test_a_json_line_inside_a_request_carries_its_id_extras_and_exception() -> None:
    token = REQUEST_ID.set("req_abc")
    try:
        line = JsonFormatter().format(_record(exc=True, tool="ledger.list"))
    finally:
        REQUEST_ID.reset(token)

    entry = json.loads(line)
    assert entry["request_id"] == "req_abc" and entry["tool"] == "ledger.list"
    assert entry["exception"].startswith("Traceback") and "ValueError: boom" in entry["exception"]
    assert "\n" not in line


def test_a_text_line_tags_the_request_id() -> None:
    token = REQUEST_ID.set("req_abc")
    try:
        line = TextFormatter().format(_record())
    finally:
        REQUEST_ID.reset(token)

    assert line == "2023-11-14T22:13:20.123Z WARNING opp.test [req_abc] hello world"
    assert TextFormatter().format(_record()) == "2023-11-14T22:13:20.123Z WARNING opp.test hello world"


def test_granian_loggers_get_the_same_formatter() -> None:
    config = granian_log_config("json")

    assert config["formatters"]["opp"]["()"] == "opp.observability.logs.JsonFormatter"
    assert set(config["loggers"]) == {"_granian", "granian.access"}
    assert granian_log_config("text")["formatters"]["opp"]["()"].endswith("TextFormatter")
