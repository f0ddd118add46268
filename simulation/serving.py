"""How a system's app is served over real sockets: uvicorn, with each answer written in one piece.

uvicorn's HTTP/1.1 protocol writes an answer's status line and headers, then its body, as two
writes to the socket. Each write to a socket with an empty buffer is a ``send`` system call
and, on loopback, wakes the peer: a client reads the headers, goes back to waiting, and is
woken again for the body. On the gateways' path every hop pays that twice a message.
:class:`HttpProtocol` is uvicorn's own protocol with its transport behind
:class:`CoalescingTransport`, which gathers the writes made while the event loop runs one
round of callbacks and hands them to the socket together, right after that round: one system
call and one wake-up per answer, the same bytes in the same order.

``egov-sim up`` (and so the benchmarks) serve every system this way; ``uvicorn --factory …``
run by hand serves with uvicorn's own protocol, which answers the same.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["CoalescingTransport", "HttpProtocol"]


class CoalescingTransport:
    """A transport whose writes in one round of the event loop reach the socket as one write.

    Everything but writing and closing is the wrapped transport's. A close (or ``write_eof``)
    first writes what is pending, so nothing written before it is lost; an abort drops it, as
    an abort drops the transport's own buffer."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Hand what is pending to the socket now."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(chunk) for chunk in self._pending)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
