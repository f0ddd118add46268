"""The in-process transport's direct hop (InProcessTransport.post_bytes): the request reaches the
app as over HTTP, the whole answer comes back, and where a tester's interceptor watches the
traffic the hop leaves it to the httpx path, which the interceptor sees."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from egov_sim.inprocess import InProcessTransport


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        return {
            "body": (await request.body()).decode(),
            "query": request.url.query,
            "host": request.headers["host"],
            "hop": request.headers.get("x-hop"),
            "type": request.headers.get("content-type"),
            "length": request.headers.get("content-length"),
        }

    @app.post("/chunks")
    async def chunks() -> StreamingResponse:
        async def parts():
            for part in (b"one,", b"two,", b"three"):
                yield part

        return StreamingResponse(parts(), media_type="text/plain", status_code=202)

    @app.post("/broken")
    async def broken() -> dict:
        raise RuntimeError("the app failed")

    return app


@pytest.fixture
def transport(settings) -> InProcessTransport:
    transport = InProcessTransport(settings)
    transport.mount("gateway", _app())
    return transport


async def test_the_request_reaches_the_app_as_over_http(transport, settings):
    url = settings.url_of("gateway")
    status, body = await transport.post_bytes(
        f"{url}/echo?x=1", b'{"a": "\xd0\xb0"}', {"Content-Type": "application/json", "X-Hop": "gateway-almaty"}
    )
    assert status == 200
    seen = httpx.Response(status, content=body).json()
    assert seen["body"] == '{"a": "а"}'
    assert seen["query"] == "x=1"
    assert seen["host"] == httpx.URL(url).netloc.decode()
    assert seen["type"] == "application/json"
    assert seen["length"] == str(len(b'{"a": "\xd0\xb0"}'))
    assert seen["hop"] == "gateway-almaty"


async def test_an_answer_in_several_parts_comes_back_whole(transport, settings):
    assert await transport.post_bytes(settings.url_of("gateway") + "/chunks", b"", {}) == (202, b"one,two,three")


async def test_the_apps_error_is_raised_as_the_asgi_transport_raises_it(transport, settings):
    with pytest.raises(RuntimeError, match="the app failed"):
        await transport.post_bytes(settings.url_of("gateway") + "/broken", b"", {})


async def test_an_address_not_started_here_is_left_to_the_httpx_path(transport, settings):
    assert await transport.post_bytes(settings.url_of("portal") + "/echo", b"", {}) is None


async def test_a_transport_put_in_a_systems_place_answers_instead(transport, settings):
    stand_in = httpx.MockTransport(lambda request: httpx.Response(418, content=b"stand-in"))
    url = httpx.URL(settings.url_of("gateway"))
    transport._routes[(url.host, url.port)] = stand_in
    assert await transport.post_bytes(settings.url_of("gateway") + "/echo", b"", {}) is None


async def test_an_interceptor_sees_every_hop(transport, settings):
    seen: list[bytes] = []

    def intercept(request: httpx.Request) -> None:
        seen.append(request.content)

    transport.interceptors.append(intercept)
    url = settings.url_of("gateway") + "/echo"
    assert await transport.post_bytes(url, b"watched", {}) is None
    async with httpx.AsyncClient(transport=transport) as client:
        answer = await client.post(url, content=b"watched")
    assert answer.json()["body"] == "watched"
    assert seen == [b"watched"]


async def test_a_wrapper_a_tester_put_on_the_transport_sees_every_hop(transport, settings, monkeypatch):
    forward = transport.handle_async_request
    seen: list[bytes] = []

    async def wrapped(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return await forward(request)

    monkeypatch.setattr(transport, "handle_async_request", wrapped)
    assert await transport.post_bytes(settings.url_of("gateway") + "/echo", b"watched", {}) is None
    monkeypatch.undo()
    assert await transport.post_bytes(settings.url_of("gateway") + "/echo", b"direct", {}) is not None


async def test_turned_off_for_measuring_every_hop_goes_the_httpx_way(settings, monkeypatch):
    monkeypatch.setenv("EGOV_SIM_WITHOUT", "inprocesshops")
    transport = InProcessTransport(settings)
    transport.mount("gateway", _app())
    assert await transport.post_bytes(settings.url_of("gateway") + "/echo", b"", {}) is None
