"""Every system in one process: real apps, real HTTP requests, no sockets.

Each app gets the same :class:`InProcessTransport`, which hands a request to the app whose URL
(from the settings) it is addressed to. Nothing listens on a port, so runs can go side by side.
A request to an address that is none of the run's systems (an outside provider a tester
registered at the gateway: docs/outside-systems.md) goes over the network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI

from simulation.access import TOKEN_HEADER
from simulation.credentials import RunCredentials
from simulation.settings import Settings, without
from simulation.topology import START_ORDER, SYSTEMS

Interceptor = Callable[[httpx.Request], Awaitable[httpx.Request | None] | httpx.Request | None]
"""Sees (and may replace) a request in transit, as a tester's man in the middle."""



class InProcessTransport(httpx.AsyncBaseTransport):
    def __init__(self, settings: Settings, extra: tuple[str, ...] = ()) -> None:
        """``extra``: test doubles to start as well, e.g. ("echo",)."""
        self.settings = settings
        self.systems = (*START_ORDER, *extra)
        self._routes: dict[tuple[str, int], httpx.ASGITransport] = {}
        self.interceptors: list[Interceptor] = []
        self._network: httpx.AsyncHTTPTransport | None = None
        self._addresses: set[tuple[str, int]] | None = None
        self._direct = not without("inprocesshops")  # else every hop goes through httpx's ASGI transport
        self._targets: dict[str, tuple[tuple[str, int], bytes, str, bytes, bytes]] = {}
        """(address, Host header, path, raw path, query) of each URL posted to, parsed once."""

    def mount(self, system: str, app: FastAPI) -> None:
        url = httpx.URL(self.settings.url_of(system))
        self._routes[(url.host, url.port or 80)] = httpx.ASGITransport(app=app)

    def unmount(self, system: str) -> None:
        url = httpx.URL(self.settings.url_of(system))
        self._routes.pop((url.host, url.port or 80), None)

    async def post_bytes(self, url: str, content: bytes, headers: dict[str, str]) -> tuple[int, bytes] | None:
        """POST ``content`` to a system of this run and read its whole answer: (status, body); None
        where only :meth:`handle_async_request` may carry it (an interceptor is set, a tester put a
        wrapper of their own in its place on this transport, or ``url`` is not an app started here:
        another address, or a transport a test put in a system's place).

        The systems' hops to one another (a gateway passing a message on, a system sending through
        its gateway) come here: straight into the app, as httpx's ASGI transport would call it,
        without building an ``httpx.Request`` and ``Response`` around it -- those cost more than the
        hop itself (docs/performance.md, "Whole applications"). An error of the app is raised here
        as the ASGI transport raises it.
        """
        if self.interceptors or not self._direct or "handle_async_request" in vars(self):
            return None  # (a tester who wrapped this transport's handle_async_request sees every hop)
        target = self._targets.get(url)
        if target is None:
            parts = urlsplit(url)
            address = (parts.hostname or "", parts.port or 80)
            host = parts.netloc.encode("ascii")
            target = (address, host, parts.path or "/", (parts.path or "/").encode("ascii"), parts.query.encode("ascii"))
            if len(self._targets) < 1024:
                self._targets[url] = target
        address, host, path, raw_path, query = target
        route = self._routes.get(address)
        if not isinstance(route, httpx.ASGITransport):  # not started here, or a tester's stand-in
            return None
        app = route.app
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "headers": [(b"host", host), (b"content-length", str(len(content)).encode("ascii")),
                        *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items())],
            "scheme": "http", "path": path, "raw_path": raw_path, "query_string": query,
            "server": address, "client": ("127.0.0.1", 123), "root_path": "",
        }
        answer = _Answer()
        await app(scope, answer.receive_from(content), answer.send)
        if answer.status is None or not answer.complete.is_set():
            raise httpx.RemoteProtocolError(f"{url}: the app ended without a whole answer")
        return answer.status, b"".join(answer.body)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for intercept in self.interceptors:
            replaced = intercept(request)
            if hasattr(replaced, "__await__"):
                replaced = await replaced  # type: ignore[misc]
            if replaced is not None:
                request = replaced  # type: ignore[assignment]
        address = (request.url.host, request.url.port or 80)
        target = self._routes.get(address)
        if target is not None:
            return await target.handle_async_request(request)
        if address in self._simulated():
            raise httpx.ConnectError(f"no system listens at {request.url.host}:{request.url.port}")
        # Outside the simulation (an outside provider a tester registered, the system under
        # test): over the network, as the systems of ``egov-sim up`` reach it.
        if self._network is None:
            self._network = httpx.AsyncHTTPTransport()
        return await self._network.handle_async_request(request)

    def _simulated(self) -> set[tuple[str, int]]:
        """Where the run's systems listen, started here or not: never reached over the network."""
        if self._addresses is None:
            urls = (httpx.URL(self.settings.url_of(system)) for system in SYSTEMS)
            self._addresses = {(url.host, url.port or 80) for url in urls}
        return self._addresses

    async def close_network(self) -> None:
        """Close the connections to outside addresses (when the run ends: every client of the
        run shares this transport, and closing one of them must not cut another's request)."""
        if self._network is not None:
            network, self._network = self._network, None
            await network.aclose()


class _Answer:
    """What an app sends back for one request of :meth:`InProcessTransport.post_bytes`."""

    __slots__ = ("status", "body", "complete", "_sent")

    def __init__(self) -> None:
        self.status: int | None = None
        self.body: list[bytes] = []
        self.complete = asyncio.Event()
        self._sent = False

    def receive_from(self, content: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
        async def receive() -> dict[str, Any]:
            if not self._sent:  # the whole body at once, then nothing until the answer is out
                self._sent = True
                return {"type": "http.request", "body": content, "more_body": False}
            await self.complete.wait()
            return {"type": "http.disconnect"}

        return receive

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            if body:
                self.body.append(body)
            if not message.get("more_body", False):
                self.complete.set()


def create(system: str, settings: Settings, transport: httpx.AsyncBaseTransport | None) -> FastAPI:
    module, factory = SYSTEMS[system].app.split(":")
    return getattr(import_module(module), factory)(settings=settings, transport=transport)


class Simulation:
    """All systems of one run, started in one process (an async context manager)."""

    def __init__(self, settings: Settings, extra: tuple[str, ...] = (), *, from_template: bool = True) -> None:
        """``extra``: test doubles to start as well, e.g. ("echo",). ``from_template``: a fresh
        world may be a copy of its kind's template when EGOV_SIM_WORLD_TEMPLATES is set
        (:mod:`egov_sim.templates`)."""
        self.settings = settings
        self.from_template = from_template
        self.systems = (*START_ORDER, *extra)
        self.transport = InProcessTransport(settings)
        self.apps: dict[str, FastAPI] = {}
        self._stack = AsyncExitStack()
        self._lifespans: dict[str, AsyncExitStack] = {}

    async def __aenter__(self) -> Simulation:
        if self.from_template:
            from egov_sim import templates

            await templates.prepare(self.settings)
        try:
            for system in self.systems:
                self._lifespans[system] = await self._stack.enter_async_context(AsyncExitStack())
                await self._start(system)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def _start(self, system: str) -> None:
        app = create(system, self.settings, self.transport)
        self.apps[system] = app
        self.transport.mount(system, app)
        await self._lifespans[system].enter_async_context(app.router.lifespan_context(app))

    async def restart(self, system: str) -> None:
        """Stop ``system``'s app (its lifespan's shutdown, as a clean stop) and start a fresh one on
        the same settings and data: whatever it knows afterwards comes from its database. The
        others run on; requests to it meanwhile find nothing listening (``httpx.ConnectError``)."""
        if system not in self._lifespans:
            raise KeyError(f"{system!r} is not a system of this run: {', '.join(self.systems)}")
        self.transport.unmount(system)
        await self._lifespans[system].aclose()
        await self._start(system)

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._stack.aclose()
        finally:
            await self.transport.close_network()

    @property
    def credentials(self) -> RunCredentials:
        """The run's secrets, read from its data directory as the CLI reads them."""
        return RunCredentials.of(self.settings)

    def client(self, system: str, *, role: str | None = "admin", **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client addressed to one system, as an outside caller would use it: the tester,
        with the run's ``role`` token (admin by default; ``role=None``: a caller without one)."""
        headers = dict(kwargs.pop("headers", None) or {})
        if role is not None:
            headers.setdefault(TOKEN_HEADER, self.credentials.token(role))
        return httpx.AsyncClient(
            transport=self.transport, base_url=self.settings.url_of(system), timeout=60, headers=headers, **kwargs
        )

    def runtime(self, system: str):
        return self.apps[system].state.runtime
