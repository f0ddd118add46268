"""The rules every system applies to a request before any endpoint sees it.

- **No NUL** in the path or a query parameter: a text with the character 0x00 is answered ``422``
  naming where it is (PostgreSQL's text columns cannot hold it, and no identifier has it).

- **Size** (``max_body_bytes``): a body declared longer than the limit (``Content-Length``), or a
  streamed one that grows past it, is answered ``413`` naming the limit and its setting -- before
  the body is read whole, so neither the endpoint nor a log ever holds it.
- **Type**: an endpoint declares the media types its body takes (FastAPI's request body, or the
  ``requestBody`` of ``openapi_extra`` for an endpoint that reads its body itself). A body sent
  with a ``Content-Type`` that is none of them is answered ``415`` naming the types expected.
  Every JSON type (``application/json``, ``application/*+json``, with or without a charset) is
  as good as another. An endpoint that declares no body keeps taking what it is sent (the CA's
  OCSP responder reads ``application/ocsp-request`` itself), and a body without a
  ``Content-Type`` is read as JSON, as FastAPI reads it.

:class:`runtime.system._SystemApp` applies both at the ASGI call, for FastAPI's routes and for
the sync channel's fast lane (:mod:`gateway_protocol.fastlane`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from simulation import jsoncodec

JSON = "application/json"
SETTING = "EGOV_SIM_MAX_BODY_BYTES"

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def header(scope: dict[str, Any], name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower case) of an ASGI request."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def nul_field(scope: dict[str, Any]) -> str | None:
    """Where the request line carries a NUL character: ``path``, or the query parameter's name."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return name.replace("\x00", "\\x00") or "query"
        return "query"
    return None


def nul_refused(field: str) -> dict[str, Any]:
    """The answer to a NUL character in the request line (422)."""
    return {
        "error": "invalid_request",
        "message": "The request is not valid: a text may not contain the NUL character (0x00)",
        "message_kk": "Сұрау дұрыс емес: мәтінде NUL (0x00) таңбасы болмауы керек",
        "message_ru": "Запрос некорректен: текст не может содержать символ NUL (0x00)",
        "fields": [{"field": field, "problem": "contains the NUL character (0x00)"}],
    }


def declared_length(scope: dict[str, Any]) -> int | None:
    """The request's ``Content-Length``; None when it has none or an unreadable one (the server
    itself refuses an unreadable one)."""
    value = header(scope, b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def has_body(scope: dict[str, Any]) -> bool:
    length = declared_length(scope)
    if length is not None:
        return length > 0
    return header(scope, b"transfer-encoding") is not None


def media_type(content_type: str) -> str:
    """``type/subtype`` of a Content-Type, lower case, without its parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    kind = media_type(content_type)
    return kind == JSON or (kind.startswith("application/") and kind.endswith("+json"))


def accepts(declared: Iterable[str], content_type: str) -> bool:
    """Whether a body of ``content_type`` suits an endpoint that declares ``declared``."""
    declared = [media_type(kind) for kind in declared]
    if not declared:
        return True
    if is_json(content_type) and any(is_json(kind) for kind in declared):
        return True
    return media_type(content_type) in declared


def too_large(limit: int, length: int | None = None) -> dict[str, Any]:
    """The answer to a body over ``limit`` bytes (413)."""
    return {
        "error": "body_too_large",
        "message": f"The request body is larger than the {limit} bytes a request may have "
                   f"(setting {SETTING})",
        "message_kk": f"Сұраудың денесі рұқсат етілген {limit} байттан үлкен ({SETTING} баптауы)",
        "message_ru": f"Тело запроса больше допустимых {limit} байт (настройка {SETTING})",
        "limit": limit,
        "setting": SETTING,
        **({"contentLength": length} if length is not None else {}),
    }


def unsupported(expected: list[str], content_type: str) -> dict[str, Any]:
    """The answer to a body of a type the endpoint does not take (415)."""
    wanted = " or ".join(expected)
    return {
        "error": "unsupported_media_type",
        "message": f"This endpoint takes a body of type {wanted}, not {content_type}",
        "message_kk": f"Бұл әрекет {wanted} түріндегі денені қабылдайды, {content_type} емес",
        "message_ru": f"Этот метод принимает тело типа {wanted}, а не {content_type}",
        "expected": expected,
        "contentType": content_type,
    }


async def answer(send: Send, status: int, body: dict[str, Any]) -> None:
    """Send a JSON answer straight from the ASGI call."""
    content = jsoncodec.dumps(body)
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", JSON.encode()), (b"content-length", str(len(content)).encode("latin-1"))],
    })
    await send({"type": "http.response.body", "body": content})


class TooLarge(Exception):
    """A streamed body grew past the limit."""


async def read_capped(receive: Receive, limit: int) -> list[dict[str, Any]] | None:
    """Every ``http.request`` message of a body up to ``limit`` bytes; None when the client went
    away first. Raises :class:`TooLarge` as soon as the body passes ``limit``, unread beyond."""
    messages: list[dict[str, Any]] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        size += len(message.get("body", b""))
        if size > limit:
            raise TooLarge(size)
        messages.append(message)
        if not message.get("more_body", False):
            return messages


def replay(messages: list[dict[str, Any]], receive: Receive) -> Receive:
    """A ``receive`` that hands out ``messages`` first, then asks ``receive``."""
    pending = list(messages)

    async def again() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        return await receive()

    return again
