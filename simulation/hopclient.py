"""The HTTP client of the hop from one system to the next: POST a message, read the whole answer.

A gateway makes one such call for every message it passes on, so the client's own cost is on the
gateway's hot path. General-purpose clients cost far more than the hop needs: httpx's AsyncClient
~1.2 ms of CPU a request, aiohttp's ~0.25 ms (request and response objects, payload registry,
timers, tracing hooks). This one does only what the hop needs, in ~0.04 ms: HTTP/1.1 over
keep-alive connections kept per host, the request written in one piece, the answer parsed by
httptools (the C parser uvicorn uses: Content-Length and chunked bodies, keep-alive rules).

Errors are httpx's, as for the other clients of the simulation: ``httpx.ConnectError`` when no
connection can be made, ``httpx.ReadTimeout`` when no complete answer comes within the timeout,
``httpx.RemoteProtocolError`` for an answer that is not HTTP or a connection closed mid-answer.

A connection taken from the pool may have been closed by the server just before it is used
(an idle keep-alive connection timing out). When such a connection breaks before a single byte
of the answer arrives, the request is sent once more on a new connection: the messages of the
ШЭП protocol are safe to send twice (a repeated messageId is answered with the first answer and
processed once).
"""

from __future__ import annotations

import asyncio
from collections import deque
from urllib.parse import urlsplit

import httptools
import httpx

__all__ = ["HopClient"]


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    __slots__ = (
        "host_port", "transport", "parser", "waiter", "chunks", "status", "closed", "received", "complete", "keep_alive",
    )

    def __init__(self, host_port: tuple[str, int]) -> None:
        self.host_port = host_port
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[None] | None = None
        self.chunks: list[bytes] = []
        self.status = 0
        self.closed = False
        self.received = False
        self.complete = False
        self.keep_alive = False

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"the answer is not HTTP/1.1 ({exc})"))
            self.close()

    def eof_received(self) -> bool | None:
        try:  # an answer without a length ends with the connection
            self.parser.feed_data(b"")
        except httptools.HttpParserError:
            pass
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete:
            self._fail(_Broken(self.received, exc))

    # -- httptools callbacks

    def on_message_begin(self) -> None:
        self.chunks = []

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:  # an interim answer: the real one follows
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # only known until the parser resets
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- helpers

    def _fail(self, exc: Exception) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def reusable(self) -> bool:
        return not self.closed and self.keep_alive


class _Broken(Exception):
    """The connection ended before the whole answer came."""

    def __init__(self, received: bool, cause: Exception | None) -> None:
        super().__init__(str(cause) if cause else "the server closed the connection")
        self.received = received


class HopClient:
    """POST to systems over kept-alive HTTP/1.1 connections (see the module's doc).

    At most ``max_per_host`` connections to one host and port are open at a time; a request
    that finds them all busy waits for one (within its timeout)."""

    def __init__(self, *, timeout: float, max_per_host: int = 256) -> None:
        self.timeout = timeout
        self.max_per_host = max_per_host
        self._idle: dict[tuple[str, int], deque[_Connection]] = {}
        self._open: dict[tuple[str, int], int] = {}
        self._waiters: dict[tuple[str, int], deque[asyncio.Future[_Connection | None]]] = {}
        self._targets: dict[str, tuple[str, int, bytes]] = {}
        self._closed = False

    async def post(self, url: str, content: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """(status, body) of the answer to ``POST url``."""
        if self._closed:
            raise RuntimeError("the client is closed")
        host, port, head = self._target(url)
        request = b"".join(
            (head, *(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items()),
             b"Content-Length: ", str(len(content)).encode("ascii"), b"\r\n\r\n", content)
        )
        deadline = asyncio.get_running_loop().time() + self.timeout
        connection, reused = await self._connection((host, port), deadline)
        try:
            return await self._exchange(connection, request, deadline)
        except _Broken as broken:
            if not (reused and not broken.received):
                raise httpx.RemoteProtocolError(f"{host}:{port} closed the connection mid-answer ({broken})") from None
        # a kept-alive connection the server had just closed: once more, on a new one
        connection, _ = await self._connection((host, port), deadline, fresh=True)
        try:
            return await self._exchange(connection, request, deadline)
        except _Broken as broken:
            raise httpx.RemoteProtocolError(f"{host}:{port} closed the connection ({broken})") from None

    async def _exchange(self, connection: _Connection, request: bytes, deadline: float) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        waiter = connection.waiter = loop.create_future()
        connection.complete = connection.received = False
        timer = loop.call_at(deadline, _time_out, waiter, "no complete answer within the timeout")
        try:
            connection.transport.write(request)  # type: ignore[union-attr]
            await waiter
        except BaseException:
            self._discard(connection)
            raise
        finally:
            timer.cancel()
            connection.waiter = None
        status, body = connection.status, b"".join(connection.chunks)
        connection.chunks = []
        self._release(connection)
        return status, body

    async def _connection(
        self, key: tuple[str, int], deadline: float, fresh: bool = False
    ) -> tuple[_Connection, bool]:
        """A connection to ``key`` for one request, and whether it was used before."""
        idle = self._idle.get(key)
        while idle and not fresh:
            connection = idle.pop()
            if not connection.closed:
                return connection, True
            self._gone(key)
        loop = asyncio.get_running_loop()
        if self._open.get(key, 0) >= self.max_per_host:
            waiter: asyncio.Future[_Connection | None] = loop.create_future()
            self._waiters.setdefault(key, deque()).append(waiter)
            timer = loop.call_at(
                deadline, _time_out, waiter,
                f"all {self.max_per_host} connections to {key[0]}:{key[1]} stayed busy", httpx.PoolTimeout,
            )
            try:
                handed = await waiter
            finally:
                timer.cancel()
            if handed is not None:
                return handed, True
            # else a connection closed and its place was handed to us
        else:
            self._open[key] = self._open.get(key, 0) + 1
        host, port = key
        try:
            async with asyncio.timeout_at(deadline):
                _, connection = await loop.create_connection(lambda: _Connection(key), host, port)
        except TimeoutError:
            self._gone(key)
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} within {self.timeout:g} s") from None
        except OSError as exc:
            self._gone(key)
            raise httpx.ConnectError(f"{host}:{port}: {exc.strerror or exc}") from None
        except BaseException:
            self._gone(key)
            raise
        return connection, False

    def _release(self, connection: _Connection) -> None:
        """A connection whose answer was read: to the next waiting request, the pool, or closed."""
        key = connection.host_port
        if self._closed or not connection.reusable():
            self._discard(connection)
            return
        waiters = self._waiters.get(key)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.setdefault(key, deque()).append(connection)

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._gone(connection.host_port)

    def _gone(self, key: tuple[str, int]) -> None:
        """One connection to ``key`` fewer: its place goes to a waiting request, if any."""
        waiters = self._waiters.get(key)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place stays counted, for the waiter to open
                return
        self._open[key] -= 1

    def _target(self, url: str) -> tuple[str, int, bytes]:
        known = self._targets.get(url)
        if known is None:
            parts = urlsplit(url)
            if parts.scheme != "http" or not parts.hostname:
                raise httpx.UnsupportedProtocol(f"the hop client speaks plain http://, not {url!r}")
            port = parts.port or 80
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            head = f"POST {target} HTTP/1.1\r\nHost: {parts.hostname}:{port}\r\n".encode("latin-1")
            known = self._targets[url] = (parts.hostname, port, head)
        return known

    async def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle.clear()
        for waiters in self._waiters.values():
            while waiters:
                _time_out(waiters.popleft(), "the client was closed", httpx.PoolTimeout)


def _time_out(waiter: asyncio.Future, message: str, error: type[Exception] = httpx.ReadTimeout) -> None:
    if not waiter.done():
        waiter.set_exception(error(message))
