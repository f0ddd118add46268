"""The hop client against small raw servers on 127.0.0.1: framing, keep-alive, limits, failures."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from simulation.hopclient import HopClient


class Server:
    """A raw asyncio server whose answer to each request is decided by ``respond``."""

    def __init__(self, respond) -> None:
        self.respond = respond
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> "Server":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/bip/sync/v10"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if not await self.respond(len(self.requests), body, writer):
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def answer(body: bytes, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 " + status.encode() + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body


async def echo(n: int, body: bytes, writer) -> bool:
    writer.write(answer(body))
    await writer.drain()
    return True


async def test_posts_and_keeps_the_connection_alive():
    async with Server(echo) as server:
        client = HopClient(timeout=5)
        for n in range(5):
            status, body = await client.post(server.url, f"message {n}".encode(), {"Content-Type": "application/json"})
            assert (status, body) == (200, f"message {n}".encode())
        await client.close()
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /bip/sync/v10 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"Content-Type: application/json\r\n" in first and b"Content-Length: 9\r\n" in first


async def test_reads_chunked_answers_and_interim_ones():
    async def respond(n, body, writer) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        writer.write(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        await writer.drain()
        return True

    async with Server(respond) as server:
        client = HopClient(timeout=5)
        assert await client.post(server.url, b"x", {}) == (201, b"abcde")
        assert await client.post(server.url, b"y", {}) == (201, b"abcde")
        await client.close()
    assert server.connections == 1


async def test_an_answer_that_says_close_is_not_reused():
    async def respond(n, body, writer) -> bool:
        writer.write(answer(b"ok", extra=b"Connection: close\r\n"))
        await writer.drain()
        return False

    async with Server(respond) as server:
        client = HopClient(timeout=5)
        assert await client.post(server.url, b"1", {}) == (200, b"ok")
        assert await client.post(server.url, b"2", {}) == (200, b"ok")
        await client.close()
    assert server.connections == 2


async def test_a_kept_alive_connection_closed_by_the_server_is_retried_once_on_a_new_one():
    async def respond(n, body, writer) -> bool:
        if n == 2:  # the server drops the kept-alive connection without answering
            return False
        writer.write(answer(body))
        await writer.drain()
        return True

    async with Server(respond) as server:
        client = HopClient(timeout=5)
        assert await client.post(server.url, b"first", {}) == (200, b"first")
        assert await client.post(server.url, b"second", {}) == (200, b"second")
        await client.close()
    assert server.connections == 2
    assert [r.rsplit(b"\r\n\r\n", 1)[1] for r in server.requests] == [b"first", b"second", b"second"]


async def test_a_new_connection_closed_before_the_answer_is_an_error_not_a_retry():
    async def respond(n, body, writer) -> bool:
        return False

    async with Server(respond) as server:
        client = HopClient(timeout=5)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(server.url, b"x", {})
        await client.close()
    assert len(server.requests) == 1


async def test_an_answer_cut_short_is_an_error():
    async def respond(n, body, writer) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        return False

    async with Server(respond) as server:
        client = HopClient(timeout=5)
        with pytest.raises(httpx.RemoteProtocolError, match="mid-answer"):
            await client.post(server.url, b"x", {})
        await client.close()
    assert len(server.requests) == 1


async def test_an_answer_that_is_not_http():
    async def respond(n, body, writer) -> bool:
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        return True

    async with Server(respond) as server:
        client = HopClient(timeout=5)
        with pytest.raises(httpx.RemoteProtocolError, match="not HTTP"):
            await client.post(server.url, b"x", {})
        await client.close()


async def test_no_answer_within_the_timeout():
    async def respond(n, body, writer) -> bool:
        await asyncio.sleep(3)
        return True

    async with Server(respond) as server:
        client = HopClient(timeout=0.3)
        with pytest.raises(httpx.ReadTimeout):
            await client.post(server.url, b"x", {})
        await client.close()


async def test_nobody_listening():
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    client = HopClient(timeout=2)
    with pytest.raises(httpx.ConnectError):
        await client.post(f"http://127.0.0.1:{port}/x", b"x", {})
    await client.close()


async def test_only_plain_http():
    client = HopClient(timeout=2)
    with pytest.raises(httpx.UnsupportedProtocol):
        await client.post("https://example.org/x", b"x", {})


async def test_at_most_max_per_host_connections_and_the_others_wait_their_turn():
    in_flight = 0
    most = 0

    async def respond(n, body, writer) -> bool:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        writer.write(answer(body))
        await writer.drain()
        return True

    async with Server(respond) as server:
        client = HopClient(timeout=10, max_per_host=3)
        answers = await asyncio.gather(*(client.post(server.url, str(n).encode(), {}) for n in range(30)))
        await client.close()
    assert sorted(int(body) for _, body in answers) == list(range(30))
    assert server.connections == 3 and most == 3


async def test_waiting_for_a_busy_pool_times_out():
    async def respond(n, body, writer) -> bool:
        await asyncio.sleep(5)
        writer.write(answer(body))
        await writer.drain()
        return True

    async with Server(respond) as server:
        # Each request's deadline is taken when it starts. The one holding the only place gets the
        # much longer one: with close deadlines its own timeout could free the place just before the
        # waiter's ran out (on a busy machine), and the waiter would then time out reading instead.
        client = HopClient(timeout=3, max_per_host=1)
        holder = asyncio.create_task(client.post(server.url, b"a", {}))
        await asyncio.sleep(0)  # the holder takes the place
        client.timeout = 0.3
        waiter = asyncio.create_task(client.post(server.url, b"b", {}))
        results = await asyncio.gather(holder, waiter, return_exceptions=True)
        await client.close()
    assert [type(r) for r in results] == [httpx.ReadTimeout, httpx.PoolTimeout]


async def test_a_failed_connection_gives_its_place_back():
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    client = HopClient(timeout=2, max_per_host=1)
    for _ in range(3):  # each failure frees the one place; none waits for a pool timeout
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{port}/x", b"x", {})
    await client.close()
