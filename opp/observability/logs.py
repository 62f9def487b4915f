"""Structured logs: one JSON object per line (or a readable text line), carrying the request id.

``observability.log_format`` selects the format. :func:`configure_logging` installs it on the
``opp`` logger hierarchy (stderr); :func:`granian_log_config` gives granian's own loggers (server
lifecycle and access lines, on stdout) the same format. Extra fields passed with
``logger.info(..., extra={"tool": "ledger.list"})`` become top-level JSON keys.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from typing import Any, Literal

import msgspec

from opp.observability.context import current_request_id

__all__ = ["JsonFormatter", "LogFormat", "TextFormatter", "configure_logging", "granian_log_config"]

LogFormat = Literal["json", "text"]

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_encoder = msgspec.json.Encoder(enc_hook=str)
_HANDLER_NAME = "opp-observability"


def _timestamp(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "pid", "request_id"?, "exception"?, **extra}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process or os.getpid(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id is not None:
            entry["request_id"] = request_id
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and name not in entry and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encoder.encode(entry).decode()


class TextFormatter(logging.Formatter):
    """``TIME LEVEL logger [request-id] message`` (the request id only inside a request)."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or current_request_id()
        tag = f" [{request_id}]" if request_id else ""
        line = f"{_timestamp(record)} {record.levelname} {record.name}{tag} {record.getMessage()}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def _formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(log_format: LogFormat, level: str = "info") -> None:
    """Send the ``opp`` loggers to stderr in ``log_format`` at ``level`` (idempotent)."""
    logger = logging.getLogger("opp")
    for handler in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(_formatter(log_format))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


def granian_log_config(log_format: LogFormat) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for granian's loggers in ``log_format`` (stdout)."""
    factory = f"{__name__}.{'JsonFormatter' if log_format == 'json' else 'TextFormatter'}"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"opp": {"()": factory}},
        "handlers": {
            "console": {"formatter": "opp", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
            "access": {"formatter": "opp", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
