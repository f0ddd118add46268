"""What every simulated system needs at run time, started and stopped with its app.

A :class:`SystemRuntime` gives a system its own database, the run's clock and trace, an HTTP
client, a timer worker and -- for systems that sign messages -- its identity from the certification
authority and the trusted roots. Each app builds one in its lifespan; tests and the in-process
assembly hand it an HTTP transport that reaches the other apps without sockets.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
from cryptography import x509
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy import MetaData
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.routing import Match

from gateway_protocol import fastlane
from gateway_protocol.client import GatewayClient
from gateway_protocol.envelope import SyncResponse
from gateway_protocol.replay import ReplayModel
from reglaments import all_reglaments, get_reglament
from runtime.outbox import Outbox
from signatures.client import CertificationAuthorityUnavailable, enrol_system, fetch_chain, fetch_roots
from signatures.identity import Identity
from signatures.revocation import RevocationChecker
from signatures.validation import SignatureValidator
from simulation import bodies
from simulation.apidocs import serve_api_docs
from simulation.access import AccessDenied
from simulation.clock import SimulationModel, TimerWorker, VirtualClock
from simulation.credentials import RunCredentials
from simulation.database import STORE, Database
from simulation.definition import Step, check_operations
from simulation.engine import Engine, Operations
from simulation.hopclient import HopClient
from simulation.observability import configure_logging
from simulation.settings import Settings, get_settings, without
from simulation.topology import SYSTEMS
from simulation.trace import Tracer

log = logging.getLogger(__name__)


IN_PROCESS_POLL = 1.0
"""Seconds between a timer worker's looks for due timers when the systems run in one process."""


class SystemRuntime:
    def __init__(
        self,
        name: str,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if name not in SYSTEMS:
            raise KeyError(f"unknown system {name!r}")
        self.name = name
        self.settings = settings
        self.credentials = RunCredentials.of(settings)
        """The run's secrets: the roles' tokens, the systems' gateway passwords."""
        self.db = Database(settings, name)
        self.store = Database(settings, STORE)
        self.clock = VirtualClock(self.store, settings.clock_start, settings.run_id)
        self.tracer = Tracer(self.store, self.clock)
        self.http = httpx.AsyncClient(transport=transport, timeout=settings.request_timeout)
        self._transport = transport
        self._hops: HopClient | httpx.AsyncClient | None = None
        # In one process (a transport to the others given) the systems wake each other's timer
        # workers when they schedule a due timer or move time (VirtualClock.wake); the poll is only
        # a safety net there. Each in its own process, a worker learns of a move of time by polling.
        self.timers = TimerWorker(
            self.clock, name,
            settings.timer_poll_interval if transport is None else max(settings.timer_poll_interval, IN_PROCESS_POLL),
        )
        self._identity: Identity | None = None
        self._roots: list[x509.Certificate] = []
        self._validator: SignatureValidator | None = None
        self.ready = False
        self.outbox = Outbox(self)
        """Results and notices delivered through the gateway, retried in virtual time (:mod:`runtime.outbox`)."""

    # ---- identity -----------------------------------------------------------------------

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            raise RuntimeError(f"{self.name} has no identity (not started, or does not sign)")
        return self._identity

    @property
    def trusted_roots(self) -> list[x509.Certificate]:
        return self._roots

    @property
    def validator(self) -> SignatureValidator:
        """Verifies signatures with revocation and identity checks (see signatures.validation)."""
        if self._validator is None:
            raise RuntimeError(f"{self.name} does not verify signatures (not started, or does not sign)")
        return self._validator

    async def now(self) -> datetime:
        """The run's virtual time, read afresh (another process may have moved it)."""
        return await self.clock.now()

    def url_of(self, system: str) -> str:
        return self.settings.url_of(system)

    async def post_bytes(self, url: str, content: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST ``content`` and read the whole answer: (status, body).

        The gateways' hop to the next system, on their hot path. Over real sockets it goes through
        :class:`~simulation.hopclient.HopClient` (~0.04 ms of CPU a request, where aiohttp costs
        ~0.25 ms and httpx's AsyncClient over 1 ms); with an injected transport (in-process runs,
        tests) it goes through :attr:`http` and that transport -- or, where the transport offers a
        ``post_bytes`` of its own (:class:`egov_sim.inprocess.InProcessTransport`), straight to the
        app it reaches. Errors are httpx's either way:
        ``httpx.TimeoutException`` for a timeout, another ``httpx.TransportError`` for a
        connection that failed.
        """
        if self._transport is not None:
            direct = getattr(self._transport, "post_bytes", None)  # the in-process runs' transport
            if direct is not None:
                answered = await direct(url, content, headers)
                if answered is not None:
                    return answered
            response = await self.http.post(url, content=content, headers=headers)
            return response.status_code, response.content
        if self._hops is None:
            if without("hopclient"):  # httpx's client, for measuring what HopClient earns
                self._hops = httpx.AsyncClient(
                    timeout=self.settings.request_timeout,
                    limits=httpx.Limits(max_connections=256, max_keepalive_connections=256),
                )
            else:
                self._hops = HopClient(timeout=self.settings.request_timeout)
        if isinstance(self._hops, httpx.AsyncClient):
            response = await self._hops.post(url, content=content, headers=headers)
            return response.status_code, response.content
        return await self._hops.post(url, content, headers)

    def engine(self, operations: Operations, target: Any, *,
               works_by_hand: Callable[[Step], bool] = lambda step: False) -> Engine:
        """This system's reglament engine: it walks every definition's steps of this system with
        ``operations`` (the package's ``operations.py``) working on ``target`` (its service).

        Every definition is checked here against the operations: a step that asks this system
        for an operation it does not offer, or with parameters it does not take, stops the
        system's start with the file, the step and the rule."""
        for reglament in all_reglaments().values():
            check_operations(reglament, operations)
        self.outbox.listen()  # a walk's results and notices go out through the outbox
        return Engine(
            self.name, operations, target, tracer=self.tracer, clock=self.clock, timers=self.timers,
            store=self.store, reglaments=get_reglament, works_by_hand=works_by_hand,
        )

    def gateway(self, via: str = "gateway") -> GatewayClient:
        """A client that sends this system's signed requests through the gateway ``via``."""
        return GatewayClient(
            self.http,
            self.url_of(via),
            sender_id=self.name,
            password=self.credentials.password_of(self.name),
            identity=self.identity,
            clock=self,
            trusted_roots=self._roots,
            post=self.post_bytes,
        )

    async def deliver(
        self,
        service_id: str,
        data: Any,
        *,
        correlation_id: str | None = None,
        route_id: str | None = None,
        via: str = "gateway",
        properties: dict[str, str] | None = None,
    ) -> SyncResponse | None:
        """Deliver a result or a notice through the gateway ``via``, tried again in virtual time
        while the way is down (:meth:`runtime.outbox.Outbox.deliver`): the response of a first
        attempt that went through, else None; a refusal raises its GatewayFault."""
        return await self.outbox.deliver(service_id, data, correlation_id=correlation_id, route_id=route_id,
                                         via=via, properties=properties)

    # ---- life cycle ---------------------------------------------------------------------

    async def start(self, tables: Iterable[MetaData], *, signs: bool = True) -> None:
        await self.store.create_tables([SimulationModel.metadata])
        await self.clock.ensure_started()
        self.clock.open_reader()
        await self.db.create_tables([*tables, *([ReplayModel.metadata] if signs else [])])
        if signs:
            signatures_url = self.url_of("signatures")
            wait = self.settings.ca_wait
            self._roots = await fetch_roots(self.http, signatures_url, wait=wait)
            published = await fetch_chain(self.http, signatures_url, wait=wait)
            self._validator = SignatureValidator(
                trusted_roots=self._roots,
                issuing_cas=[c for c in published if c not in self._roots],
                revocation=RevocationChecker(
                    self.http,
                    policy=self.settings.revocation_policy,
                    freshness=timedelta(seconds=self.settings.ocsp_freshness),
                    post=self.post_bytes,
                ),
                policy=self.settings.revocation_policy,
            )
            self._identity = await enrol_system(
                self.http,
                signatures_url,
                self.name,
                key_file=self.settings.data_dir.expanduser().resolve() / "keys" / f"{self.name}.p12",
                roots=self._roots,
                at=await self.clock.now(),
                ca=self.settings.system_key_ca,
                wait=wait,
                admin_token=self.credentials.admin_token,  # a first enrolment; a renewal signs with the old key
            )

    async def stop(self) -> None:
        self.ready = False
        await self.timers.stop()
        await self.http.aclose()
        await self.clock.close_reader()  # after the work that reads the clock has stopped
        if isinstance(self._hops, httpx.AsyncClient):
            await self._hops.aclose()
        elif self._hops is not None:
            await self._hops.close()
            self._hops = None
        await self.db.dispose()
        await self.store.dispose()


def system_app(
    name: str,
    *,
    tables: Iterable[MetaData],
    routers: Callable[[SystemRuntime], Iterable[Any]],
    settings: Settings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    signs: bool = True,
    on_start: Callable[[SystemRuntime], Awaitable[None]] | None = None,
    on_stop: Callable[[SystemRuntime], Awaitable[None]] | None = None,
    description: str = "",
) -> FastAPI:
    """Build the FastAPI app of one simulated system around its runtime.

    Without ``settings`` (uvicorn running the factory: the process is this system's own) the
    settings come from the environment and the process's logging is set up for the system."""
    if settings is None:
        settings = get_settings()
        configure_logging(name, settings.log_format, settings.log_level, replica=settings.replica)
    system = SYSTEMS[name]
    runtime = SystemRuntime(name, settings, transport)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await runtime.start(tables, signs=signs)
        except CertificationAuthorityUnavailable as exc:  # one line for uvicorn, not a traceback
            app.state.startup_failure = f"{name} could not start: {exc}"
            raise
        if on_start is not None:
            try:
                await on_start(runtime)
            except StartupRefused as exc:  # one line too, the runtime stopped
                app.state.startup_failure = f"{name} could not start: {exc}"
                await runtime.stop()
                raise
        runtime.timers.start()
        runtime.ready = True
        try:
            yield
        finally:
            runtime.ready = False
            if on_stop is not None:
                await on_stop(runtime)
            await runtime.stop()

    app = _SystemApp(
        title=f"{system.title_en} ({system.title_kk})",
        description=description or system.title_ru,
        lifespan=lifespan,
        docs_url=None,  # served by simulation.apidocs, without a CDN
        redoc_url=None,
        max_body_bytes=settings.max_body_bytes,
    )
    serve_api_docs(app)
    app.state.runtime = runtime
    app.state.credentials = runtime.credentials

    @app.get("/health", tags=["operations"], summary="Liveness and readiness")
    async def health() -> JSONResponse:
        body = {"system": name, "ready": runtime.ready}
        if settings.replica:  # one of several processes of this system (docs/scaling.md)
            body["replica"] = settings.replica
        return JSONResponse(body, status_code=200 if runtime.ready else 503)

    @app.exception_handler(AccessDenied)
    async def access_denied(_: Request, exc: AccessDenied) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(DataError)
    async def unstorable(_: Request, exc: DataError) -> JSONResponse:
        # what the database cannot hold (a NUL inside a JSON text, a number beyond a column's
        # range) is the request's fault, named as the database names it -- not a 500
        problem = str(getattr(exc, "orig", exc)).splitlines()[0]
        return JSONResponse(
            {
                "error": "invalid_request",
                "message": f"The request is not valid: a value cannot be stored ({problem})",
                "message_kk": "Сұрау дұрыс емес: мәнді сақтау мүмкін емес",
                "message_ru": "Запрос некорректен: значение невозможно сохранить",
                "fields": [{"field": "body", "problem": problem}],
            },
            status_code=422,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # the database refused or dropped the connection (PostgreSQL's connection limit, a
        # restart), or SQLite's lock stayed taken past the busy timeout: the system is there but
        # cannot work now -- a 503 that says so, not a 500
        problem = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        log.warning("%s %s: the database is unavailable: %s", request.method, request.url.path, problem)
        return JSONResponse(
            {
                "error": "storage_unavailable",
                "message": f"{name} cannot reach its database now; try again shortly ({problem})",
                "message_kk": "Жүйенің дерекқоры қазір қолжетімсіз; сәлден соң қайталап көріңіз",
                "message_ru": "База данных системы сейчас недоступна; повторите попытку немного позже",
            },
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {
                "error": "invalid_request",
                "message": "The request is not valid",
                "message_kk": "Сұрау дұрыс емес",
                "message_ru": "Запрос некорректен",
                "fields": [
                    {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "problem": e["msg"]}
                    for e in exc.errors()
                ],
            },
            status_code=422,
        )

    fast = not without("fastlane")  # else FastAPI answers the sync channel's route too
    for router in routers(runtime):
        app.include_router(router)
        if fast:
            app.fast_routes.update(fastlane.fast_routes(router))
    return app


class _SystemApp(FastAPI):
    """A system's app: FastAPI, with a fast lane for the sync channel (:mod:`gateway_protocol.fastlane`),
    and the body rules of :mod:`simulation.bodies` (size 413, type 415) applied before any route."""

    def __init__(self, *, max_body_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_routes: dict[str, fastlane.FastHandler] = {}
        self.max_body_bytes = max_body_bytes
        self._bodies: list[tuple[Any, list[str]]] | None = None
        """The routes that declare a body, with its media types (gathered on first need)."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, self._startup_failure_in_one_line(send))
            return
        if scope["type"] == "http" and (field := bodies.nul_field(scope)) is not None:
            await bodies.answer(send, 422, bodies.nul_refused(field))
            return
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.fast_routes.get(scope["path"])
            if handler is not None:
                await fastlane.serve(handler, scope, receive, send, max_body_bytes=self.max_body_bytes)
                return
        if scope["type"] == "http" and bodies.has_body(scope):
            receive = await self._checked_body(scope, receive, send)
            if receive is None:
                return
        await super().__call__(scope, receive, send)

    async def _checked_body(self, scope, receive, send):
        """``receive`` for a request whose body keeps the rules; None when it was answered here
        (413, 415) or its client went away."""
        limit = self.max_body_bytes
        length = bodies.declared_length(scope)
        if length is not None and length > limit:
            await bodies.answer(send, 413, bodies.too_large(limit, length))
            return None
        content_type = bodies.header(scope, b"content-type")
        if content_type is not None:
            given = content_type.decode("latin-1")
            if not bodies.is_json(given):
                declared = self._declared_body(scope)
                if not bodies.accepts(declared, given):
                    await bodies.answer(send, 415, bodies.unsupported(declared, given))
                    return None
        if length is not None:
            return receive  # the server delivers no more than the Content-Length
        try:  # streamed: read up to the limit before the route sees any of it
            messages = await bodies.read_capped(receive, limit)
        except bodies.TooLarge:
            await bodies.answer(send, 413, bodies.too_large(limit))
            return None
        return None if messages is None else bodies.replay(messages, receive)

    def _declared_body(self, scope) -> list[str]:
        """The media types the body of the route ``scope`` reaches is declared to take: its
        FastAPI body parameter's, and those its ``openapi_extra`` documents; none for a route
        that declares no body (or no route)."""
        if self._bodies is None:
            self._bodies = []
            for context in iter_route_contexts(self.routes):
                route = context.original_route
                declared = []
                body_field = getattr(route, "body_field", None)
                if body_field is not None:
                    declared.append(getattr(body_field.field_info, "media_type", bodies.JSON))
                extra = getattr(route, "openapi_extra", None) or {}
                declared.extend(kind for kind in extra.get("requestBody", {}).get("content", {})
                                if kind not in declared)
                if declared:
                    self._bodies.append((context, declared))
        for context, declared in self._bodies:
            match, _ = context.matches(scope)
            if match == Match.FULL:
                return declared
        return []

    def _startup_failure_in_one_line(self, send):
        async def send_one_line(message) -> None:
            failure = getattr(self.state, "startup_failure", None)
            if message["type"] == "lifespan.startup.failed" and failure:
                message = {**message, "message": failure}
            await send(message)

        return send_one_line


class StartupRefused(RuntimeError):
    """A system's start refused for a reason its operator must fix (a setting): said in one
    line by uvicorn, without a traceback."""


async def get_runtime(request: Request) -> SystemRuntime:
    """The app's runtime. A coroutine, so that FastAPI calls it in place: a plain function
    dependency runs on a worker thread (a thread hop and two wake-ups of the event loop at every
    request that names it)."""
    return request.app.state.runtime


Runtime = Annotated[SystemRuntime, Depends(get_runtime)]
"""The calling app's runtime, as an endpoint dependency."""
