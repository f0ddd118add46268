"""JSON in and out on the message path: orjson where it can, the standard library where it cannot.

Every message is parsed and written several times at each hop (the envelope, the log record, the
replay store). orjson does that ten times faster than the ``json`` module, but refuses a few
things the ``json`` module takes: escaped lone surrogates when reading; non-string keys, integers
beyond 64 bits and lone surrogates when writing. For those the standard library answers, so what
is accepted, and what comes out, does not depend on the encoder: UTF-8 text with non-ASCII
characters as they are, no whitespace. One difference remains: orjson reads an integer beyond 64
bits as a float. Such a number has no RFC 8785 form (integers must stay within 53 bits), so no
signed message can carry one: a message that does fails its signature check either way.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["loads", "dumps", "dumps_text"]


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; ``ValueError`` when it is not JSON (as :func:`json.loads`)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON of plain data (dict, list, str, int, float, bool, None)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _fallback(value).encode("utf-8")


def dumps_text(value: Any) -> str:
    """:func:`dumps` as text."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:
        return _fallback(value)


def _fallback(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only its \u escape can be written
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text
