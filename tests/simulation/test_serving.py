"""Serving with uvicorn through CoalescingTransport: one write an answer, nothing lost or reordered."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
import uvicorn

from simulation.serving import CoalescingTransport, HttpProtocol


class Recorder:
    """Stands in for a socket transport: keeps what reaches it, call by call."""

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        if self.inner is not None:
            self.inner.write(data)

    def is_closing(self) -> bool:
        return self.closed if self.inner is None else self.inner.is_closing()

    def close(self) -> None:
        self.closed = True
        if self.inner is not None:
            self.inner.close()

    def abort(self) -> None:
        self.aborted = True

    def write_eof(self) -> None:
        self.writes.append(b"<eof>")

    def get_write_buffer_size(self) -> int:
        return 0

    def __getattr__(self, name: str) -> Any:
        if self.inner is None:
            raise AttributeError(name)
        return getattr(self.inner, name)


async def _one_round() -> None:
    await asyncio.sleep(0)


async def test_writes_of_one_round_reach_the_socket_as_one():
    recorder = Recorder()
    transport = CoalescingTransport(recorder, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(bytearray(b"{}"))
    transport.write(b"")
    assert recorder.writes == [] and transport.get_write_buffer_size() == 21
    await _one_round()
    assert recorder.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    transport.write(b"next")
    await _one_round()
    assert recorder.writes[1:] == [b"next"]


async def test_close_writes_what_is_pending_first_and_abort_drops_it():
    recorder = Recorder()
    transport = CoalescingTransport(recorder, asyncio.get_running_loop())
    transport.writelines([b"a", b"b"])
    transport.close()
    assert recorder.writes == [b"ab"] and recorder.closed
    await _one_round()  # the scheduled flush finds nothing left
    assert recorder.writes == [b"ab"]

    recorder = Recorder()
    transport = CoalescingTransport(recorder, asyncio.get_running_loop())
    transport.write(b"x")
    transport.write_eof()
    assert recorder.writes == [b"x", b"<eof>"]

    recorder = Recorder()
    transport = CoalescingTransport(recorder, asyncio.get_running_loop())
    transport.write(b"lost")
    transport.abort()
    await _one_round()
    assert recorder.writes == [] and recorder.aborted


async def test_nothing_is_written_to_a_transport_that_is_closing():
    recorder = Recorder()
    transport = CoalescingTransport(recorder, asyncio.get_running_loop())
    transport.write(b"late")
    recorder.closed = True
    await _one_round()
    assert recorder.writes == []
    with pytest.raises(AttributeError):
        transport.no_such_method  # noqa: B018 - the wrapped transport has none either


# ---- through uvicorn over a real socket ------------------------------------------------------

writes_by_connection: list[Recorder] = []


class RecordingProtocol(HttpProtocol):
    """HttpProtocol, with what reaches the socket recorded."""

    def connection_made(self, transport):  # type: ignore[override]
        recorder = Recorder(transport)
        writes_by_connection.append(recorder)
        super().connection_made(recorder)


async def app(scope, receive, send):
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/stream":  # a body in parts, with the loop running in between
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
        return
    answer = b'{"echo":"' + body + b'"}'
    await send({
        "type": "http.response.start", "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())],
    })
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture
async def served():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=RecordingProtocol, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    writes_by_connection.clear()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task


async def test_each_answer_is_one_write_on_a_kept_alive_connection(served):
    async with httpx.AsyncClient(base_url=served) as client:
        for n in range(3):
            reply = await client.post("/echo", content=f"m{n}".encode())
            assert reply.status_code == 200 and reply.json() == {"echo": f"m{n}"}
    (connection,) = writes_by_connection  # kept alive: one connection
    assert len(connection.writes) == 3
    assert all(w.startswith(b"HTTP/1.1 200 OK\r\n") and w.endswith(b'"}') for w in connection.writes)


async def test_a_streamed_answer_arrives_whole_and_in_order(served):
    async with httpx.AsyncClient(base_url=served) as client:
        reply = await client.get("/stream")
    assert reply.status_code == 200 and reply.text == "one,two,three"
    (connection,) = writes_by_connection
    # the head goes with the first part; each later part, and the end, once the loop has run
    head, *parts = connection.writes
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n4\r\none,\r\n")
    assert parts == [b"4\r\ntwo,\r\n", b"5\r\nthree\r\n", b"0\r\n\r\n"]


async def test_an_answer_before_close_is_written_before_the_connection_closes(served):
    async with httpx.AsyncClient(base_url=served, headers={"connection": "close"}) as client:
        first = await client.post("/echo", content=b"a")
        second = await client.post("/echo", content=b"b")
    assert (first.json(), second.json()) == ({"echo": "a"}, {"echo": "b"})
    assert len(writes_by_connection) == 2 and all(r.closed for r in writes_by_connection)
