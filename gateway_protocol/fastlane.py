"""A fast lane for the sync channel: ``POST <path>`` answered straight from the ASGI call.

Every message through a gateway is one HTTP request at each hop, and FastAPI's way to a route
(its middleware stack, routing, the endpoint's dependencies and response class) costs ~0.1 ms
of CPU a request on top of uvicorn: a tenth of what a gateway spends on a message. A router
that serves the sync channel marks its endpoint with :func:`serve_fast`; the system's app
(:func:`runtime.system_app`) then hands ``POST`` requests to exactly that path to the
handler before FastAPI sees them. The FastAPI route stays, for the API's documentation and for
anything else that reaches it; both call the same code, so the answers are the same.

A handler takes the request body and headers and gives the status and the JSON body as bytes.
An exception it raises is logged and answered ``500 Internal Server Error``, as Starlette's
error middleware answers it. Before the handler, the lane applies the rules of
:mod:`simulation.bodies` as the app applies them to its other routes: a body over the limit is
answered 413 unread, a body that is not JSON (the sync channel's envelope is) 415.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from simulation import bodies, jsoncodec

log = logging.getLogger(__name__)

FastHandler = Callable[[bytes, Headers], Awaitable[tuple[int, bytes]]]

MEDIA_TYPES = [bodies.JSON]
"""What a fast lane's body is: a JSON envelope."""

_ATTRIBUTE = "egov_fast_routes"


def serve_fast(router: APIRouter, path: str, handler: FastHandler) -> None:
    """Have ``POST path`` of the app that includes ``router`` answered by ``handler``."""
    routes: dict[str, FastHandler] = router.__dict__.setdefault(_ATTRIBUTE, {})
    routes[path] = handler


def fast_routes(router: Any) -> dict[str, FastHandler]:
    """The fast-lane handlers a router carries (none for most)."""
    return dict(getattr(router, _ATTRIBUTE, {}))


def render_json(content: Any) -> bytes:
    """Compact UTF-8 JSON of an answer, through orjson (ten times the stdlib's speed): the same
    values FastAPI's JSONResponse would give, floats in their shortest form."""
    return jsoncodec.dumps(content)


async def serve(handler: FastHandler, scope: Scope, receive: Receive, send: Send, *,
                max_body_bytes: int | None = None) -> None:
    length = bodies.declared_length(scope)
    if max_body_bytes is not None and length is not None and length > max_body_bytes:
        await bodies.answer(send, 413, bodies.too_large(max_body_bytes, length))
        return
    content_type = bodies.header(scope, b"content-type")
    if content_type is not None and bodies.has_body(scope):
        given = content_type.decode("latin-1")
        if not bodies.accepts(MEDIA_TYPES, given):
            await bodies.answer(send, 415, bodies.unsupported(MEDIA_TYPES, given))
            return
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        size += len(chunk)
        if max_body_bytes is not None and size > max_body_bytes:  # a streamed body: stop reading it
            await bodies.answer(send, 413, bodies.too_large(max_body_bytes))
            return
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    try:
        status, content = await handler(b"".join(chunks), Headers(scope=scope))
        content_type = b"application/json"
    except Exception:
        log.exception("%s %s failed", scope.get("method"), scope.get("path"))
        status, content, content_type = 500, b"Internal Server Error", b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(content)).encode("latin-1"))],
        }
    )
    await send({"type": "http.response.body", "body": content})
