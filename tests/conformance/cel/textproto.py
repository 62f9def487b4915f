"""A small reader for the protobuf text format, enough for the CEL conformance data files.

A message is read into a :class:`Message`: field name → list of values (every field may repeat).
A value is a nested :class:`Message`, ``bytes`` (a quoted string, escapes decoded; adjacent
strings are concatenated) or ``str`` (a bare token: number, ``true``, enum name). Extension or Any
field names such as ``[type.googleapis.com/google.protobuf.Duration]`` keep their brackets.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["Message", "parse_textproto", "read_textproto"]

Value = "Message | bytes | str"


class Message(dict[str, list[object]]):
    """Fields by name, each a list of values in file order."""

    def one(self, name: str, default: object = None) -> object:
        """The last value of field ``name``, or ``default`` when absent."""
        values = self.get(name)
        return values[-1] if values else default

    def text(self, name: str, default: str = "") -> str:
        """Field ``name`` as text (a quoted string decoded as UTF-8, or a bare token)."""
        value = self.one(name)
        if value is None:
            return default
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    def messages(self, name: str) -> list[Message]:
        """Every value of field ``name`` that is a message."""
        return [value for value in self.get(name, []) if isinstance(value, Message)]


_TOKEN = re.compile(
    r"""\s+|\#[^\n]*|(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
    r"""|(?P<name>\[[^\]]*\]|[-+.\w]+)|(?P<punct>[{}:<>,;\[\]])""",
)
_SIMPLE_ESCAPES = {
    "n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11, "\\": 92, "'": 39, '"': 34, "?": 63,
}  # fmt: skip


def _tokens(text: str) -> list[tuple[str, str | bytes]]:
    found: list[tuple[str, str | bytes]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"unexpected character {text[position]!r} at offset {position}")
        position = match.end()
        kind = match.lastgroup
        if kind == "string":
            found.append(("string", _unescape(match.group(kind)[1:-1])))
        elif kind is not None:
            found.append((kind, match.group(kind)))
    return found


def _unescape(body: str) -> bytes:
    out = bytearray()
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out += char.encode("utf-8")
            index += 1
            continue
        code = body[index + 1]
        if code in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[code])
            index += 2
        elif code in "xX":
            digits = re.match(r"[0-9a-fA-F]{1,2}", body[index + 2 :])
            assert digits is not None
            out.append(int(digits.group(), 16))
            index += 2 + len(digits.group())
        elif code in "uU":
            width = 4 if code == "u" else 8
            out += chr(int(body[index + 2 : index + 2 + width], 16)).encode("utf-8")
            index += 2 + width
        else:
            digits = re.match(r"[0-7]{1,3}", body[index + 1 :])
            if digits is None:
                raise ValueError(f"unknown escape \\{code}")
            out.append(int(digits.group(), 8))
            index += 1 + len(digits.group())
    return bytes(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, str | bytes] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str | bytes]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def message(self, closing: str | None) -> Message:
        message = Message()
        while True:
            token = self.peek()
            if token is None or (token[0] == "punct" and token[1] == closing):
                if closing is not None:
                    self.take()
                return message
            if token[0] == "punct" and token[1] in ",;":
                self.take()
                continue
            kind, name = self.take()
            if kind != "name":
                raise ValueError(f"expected a field name, got {name!r}")
            message.setdefault(str(name), []).append(self.field_value())

    def field_value(self) -> object:
        token = self.take()
        if token == ("punct", ":"):
            token = self.take()
        if token[0] == "punct" and token[1] in "{<":
            return self.message("}" if token[1] == "{" else ">")
        if token[0] == "string":
            data = bytes(token[1]) if isinstance(token[1], bytes) else b""
            while (following := self.peek()) is not None and following[0] == "string":
                data += bytes(self.take()[1])  # type: ignore[arg-type]
            return data
        if token == ("punct", "["):
            items: list[object] = []
            while self.peek() != ("punct", "]"):
                if self.peek() == ("punct", ","):
                    self.take()
                    continue
                items.append(self.field_value_bare())
            self.take()
            return items
        return str(token[1])

    def field_value_bare(self) -> object:
        self.tokens.insert(self.index, ("punct", ":"))
        return self.field_value()


def parse_textproto(text: str) -> Message:
    """Parse a whole text-format message."""
    return _Parser(text).message(None)


def read_textproto(path: Path) -> Message:
    """Parse the text-format file at ``path``."""
    return parse_textproto(path.read_text(encoding="utf-8"))
