"""The gateway's HTTP endpoints: the two channels, the message log, administration, metrics.

Every number and every string they take has bounds, checked before anything reaches the
database: a query of the async channel that breaks one is answered ``Client.QueryInvalid``
naming the field; the other endpoints answer 422 ``invalid_request`` with the fields.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ValidationError

from gateway.config import ConfigRefused, GatewayConfig, Participant, Problem, Service
from gateway.messagelog import covering_checkpoints, evidence, verify_chain
from gateway.schemas import FaultRequest, NoticeQuery, SenderCredentials, StatusQuery
from gateway_protocol.envelope import SignedRequest
from gateway.service import CENTRAL, GatewayService
from gateway.texts import CONFIG_REFUSED
from gateway_protocol.envelope import ASYNC_PATH, IDENTIFIER_MAX, PRINTABLE, SYNC_PATH
from gateway_protocol.errors import CATALOGUE, ErrorCode, GatewayFault
from gateway_protocol.fastlane import render_json, serve_fast
from simulation.access import ADMIN, AUDIT
from simulation.calendar import to_local
from simulation.clock import from_us, to_us

Q = TypeVar("Q", bound=BaseModel)
MAX_LOG_ROWS = 10_000


def _fault(fault: GatewayFault, at: datetime) -> JSONResponse:
    return JSONResponse(fault.to_body(at), status_code=fault.http_status)


def _parse_query(model: type[Q], body: bytes) -> Q:
    """A query of the async channel, or ``Client.QueryInvalid`` naming each bad field."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]} for e in exc.errors()
        ]
        detail = "; ".join(f"{f['field']}: {f['problem']}" for f in fields)
        raise GatewayFault(ErrorCode.QUERY_INVALID, detail, data={"fields": fields}) from None


def _documented(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of an endpoint that reads its body itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _refused(problems: list[Problem], status_code: int = 422) -> JSONResponse:
    return JSONResponse(
        {
            "error": "invalid_request" if status_code == 422 else "not_found",
            "message": "The configuration change is refused: " + "; ".join(str(p) for p in problems),
            "message_kk": CONFIG_REFUSED["kk"],
            "message_ru": CONFIG_REFUSED["ru"],
            "fields": [p.as_dict() for p in problems],
        },
        status_code=status_code,
    )


def _name() -> Any:
    """A path segment naming a participant, a service or a message."""
    return Path(max_length=IDENTIFIER_MAX, pattern=PRINTABLE)


def _unknown(field: str, problem: str) -> JSONResponse:
    return JSONResponse({"error": "invalid_request", "fields": [{"field": field, "problem": problem}]}, status_code=422)


def _fault_targets(config: GatewayConfig) -> set[str]:
    """The systems a fault may be set on: every service's target system, regional gateways and
    their providers included."""
    targets = {CENTRAL} | {s.system for s in config.services.values() if s.system}
    for region in config.regions.values():
        targets.add(region.gateway)
        targets.update(region.services.values())
    return targets


def build_router(gateway: GatewayService) -> APIRouter:
    router = APIRouter()
    runtime = gateway.runtime

    def check_sender(credentials: SenderCredentials) -> None:
        gateway.check_sender(credentials.senderId, credentials.password)

    # ---- channels -------------------------------------------------------------------------

    async def sync(body: bytes, headers: Any) -> tuple[int, bytes]:
        reply = await gateway.sync(body, headers)
        # the provider's verified answer is passed on as it came
        return reply.status_code, reply.raw if reply.raw is not None else render_json(reply.body)

    @router.post(SYNC_PATH, tags=["ШЭП sync channel"], summary="SendMessage (sync channel)",
                 openapi_extra=_documented(SignedRequest))
    async def send_message(request: Request) -> Response:
        status, content = await sync(await request.body(), request.headers)
        return Response(content, status_code=status, media_type="application/json")

    serve_fast(router, SYNC_PATH, sync)

    @router.post(ASYNC_PATH + "/sendMessage", tags=["ШЭП async channel"], summary="sendMessage: store and forward",
                 openapi_extra=_documented(SignedRequest))
    async def send_async(request: Request) -> JSONResponse:
        reply = await gateway.async_channel.send(await request.body(), request.headers)
        return JSONResponse(reply.body, status_code=reply.status_code)

    @router.post(ASYNC_PATH + "/getMessageStatus", tags=["ШЭП async channel"], summary="Delivery states of messages",
                 openapi_extra=_documented(StatusQuery))
    async def message_status(request: Request):
        try:
            query = _parse_query(StatusQuery, await request.body())
            check_sender(query)
        except GatewayFault as fault:
            return _fault(fault, await runtime.now())
        return {"messages": await gateway.async_channel.status(query.senderId, query.messageIds)}

    @router.post(ASYNC_PATH + "/getDeliveryNotifications", tags=["ШЭП async channel"],
                 summary="Delivery notifications: messages that reached a final state",
                 openapi_extra=_documented(NoticeQuery))
    async def notices(request: Request):
        try:
            query = _parse_query(NoticeQuery, await request.body())
            check_sender(query)
        except GatewayFault as fault:
            return _fault(fault, await runtime.now())
        return {"notifications": await gateway.async_channel.notices(query.senderId, query.after)}

    # ---- the message log ------------------------------------------------------------------

    @router.get("/v1/messages", dependencies=[AUDIT], tags=["message log"], summary="Logged messages: by correlationId, messageId, serviceId, time")
    async def messages(
        correlation_id: str | None = Query(default=None, alias="correlationId", max_length=IDENTIFIER_MAX, pattern=PRINTABLE),
        message_id: str | None = Query(default=None, alias="messageId", max_length=IDENTIFIER_MAX, pattern=PRINTABLE),
        service_id: str | None = Query(default=None, alias="serviceId", max_length=IDENTIFIER_MAX, pattern=PRINTABLE),
        since: AwareDatetime | None = Query(default=None, description="virtual time, ISO 8601 with offset"),
        until: AwareDatetime | None = Query(default=None, description="virtual time, ISO 8601 with offset"),
        kind: Literal["request", "response", "all"] = Query(default="request"),
        limit: int = Query(default=100, ge=1, le=MAX_LOG_ROWS),
    ) -> list[dict[str, Any]]:
        rows = await gateway.log.query(
            correlation_id=correlation_id, message_id=message_id, service_id=service_id,
            since_us=to_us(since) if since else None,
            until_us=to_us(until) if until else None, limit=limit if kind == "all" else limit * 2,
        )
        rows = [r for r in rows if kind in ("all", r.kind)][:limit]
        return [
            {
                **({"chain": r.chain} if r.chain else {}), "seq": r.seq, "kind": r.kind, "channel": r.channel,
                "messageId": r.message_id, "correlationId": r.correlation_id, "serviceId": r.service_id,
                "sender": r.sender_id, "cameFrom": r.came_from, "recipient": r.recipient,
                "at": to_local(from_us(r.at_us)).isoformat(), "status": r.status,
                "statusCode": r.status_code, "errorCode": r.error_code,
            }
            for r in rows
        ]

    @router.get("/v1/messages/verify", dependencies=[AUDIT], tags=["message log"], summary="Check the log's hash chain")
    async def verify() -> dict[str, Any]:
        await gateway.log.flush()
        report = (await verify_chain(runtime.db, trusted_roots=runtime.trusted_roots, gateway=runtime.name)).as_dict()
        if gateway.log.anchor_problem:
            report["anchorProblem"] = gateway.log.anchor_problem
        return report

    @router.get("/v1/messages/evidence", dependencies=[AUDIT], tags=["message log"], summary="All logged messages of one correlationId")
    async def export(
        correlation_id: str = Query(alias="correlationId", min_length=1, max_length=IDENTIFIER_MAX, pattern=PRINTABLE),
    ) -> dict[str, Any]:
        rows = await gateway.log.query(correlation_id=correlation_id, limit=100_000)
        return evidence(rows, runtime.name, await covering_checkpoints(runtime.db, rows))

    # ---- administration -------------------------------------------------------------------

    @router.get("/admin/config", dependencies=[AUDIT], tags=["administration"], summary="Participants, services, regions")
    async def config() -> dict[str, Any]:
        data = gateway.config.model_dump(exclude_none=True)
        for participant in data["participants"].values():
            participant.pop("password", None)
        return data

    def _save(change: Callable[[GatewayConfig], None]) -> JSONResponse | dict[str, Any]:
        updated = gateway.config.model_copy(deep=True)
        change(updated)
        try:
            gateway.store.save(updated)
        except ConfigRefused as refused:
            return _refused(refused.problems)
        return {"saved": True}

    @router.put("/admin/participants/{sender_id}", dependencies=[ADMIN], tags=["administration"], summary="Register or change a participant")
    async def put_participant(participant: Participant, sender_id: str = _name()):
        return _save(lambda c: c.participants.__setitem__(sender_id, participant))

    @router.delete("/admin/participants/{sender_id}", dependencies=[ADMIN], tags=["administration"], summary="Remove a participant")
    async def delete_participant(sender_id: str = _name()):
        if sender_id not in gateway.config.participants:
            return _refused([Problem("sender_id", f"no participant {sender_id!r}")], 404)
        return _save(lambda c: c.participants.pop(sender_id))

    @router.put("/admin/services/{service_id}", dependencies=[ADMIN], tags=["administration"], summary="Register or change a service")
    async def put_service(service: Service, service_id: str = _name()):
        return _save(lambda c: c.services.__setitem__(service_id, service))

    @router.delete("/admin/services/{service_id}", dependencies=[ADMIN], tags=["administration"], summary="Remove a service")
    async def delete_service(service_id: str = _name()):
        if service_id not in gateway.config.services:
            return _refused([Problem("service_id", f"no service {service_id!r}")], 404)
        return _save(lambda c: c.services.pop(service_id))

    @router.get("/admin/faults", dependencies=[AUDIT], tags=["fault switches"], summary="Faults in force")
    async def faults() -> dict[str, Any]:
        """By serviceId for a service's fault, ``system:<name>`` for a system's."""
        await gateway.faults.refresh()  # a replica: the rules the others set too
        return gateway.faults.all()

    @router.put("/admin/faults/systems/{system}", dependencies=[ADMIN], tags=["fault switches"],
                summary="Make every service whose target is this system down, slow, failing, reset or malformed")
    async def set_system_fault(fault: FaultRequest, system: str = _name()):
        if system not in _fault_targets(gateway.config):
            return _unknown("system", f"unknown system {system!r}: not a target of any service")
        return await gateway.faults.set_rule("system", system, fault)

    @router.delete("/admin/faults/systems/{system}", dependencies=[ADMIN], tags=["fault switches"], summary="Clear one system's fault")
    async def clear_system_fault(system: str = _name()):
        return {"cleared": await gateway.faults.clear_rule("system", system)}

    @router.put("/admin/faults/{service_id}", dependencies=[ADMIN], tags=["fault switches"], summary="Make a service's target down, slow, failing, reset or malformed")
    async def set_fault(fault: FaultRequest, service_id: str = _name()):
        if service_id not in gateway.config.services:
            return _unknown("service_id", f"unknown service {service_id!r}")
        return await gateway.faults.set(service_id, fault)

    @router.delete("/admin/faults/{service_id}", dependencies=[ADMIN], tags=["fault switches"], summary="Clear one service's fault")
    async def clear_fault(service_id: str = _name()):
        return {"cleared": await gateway.faults.clear(service_id)}

    @router.delete("/admin/faults", dependencies=[ADMIN], tags=["fault switches"], summary="Clear every fault (services' and systems')")
    async def clear_faults():
        return {"cleared": await gateway.faults.clear()}

    @router.post("/admin/async/{sender_id}/{message_id}/stop", dependencies=[ADMIN], tags=["ШЭП async channel"], summary="Stop delivering a message")
    async def stop(sender_id: str = _name(), message_id: str = _name()):
        described = await gateway.async_channel.stop_delivery(sender_id, message_id)
        if described is None:
            return _fault(GatewayFault(ErrorCode.UNKNOWN_MESSAGE, message_id), await runtime.now())
        return described

    @router.get("/v1/errors", tags=["operations"], summary="The error catalogue")
    async def errors() -> list[dict[str, Any]]:
        return [
            {"code": code.value, "httpStatus": spec.http_status, "side": spec.side.value,
             "kk": spec.kk, "ru": spec.ru, "en": spec.en}
            for code, spec in CATALOGUE.items()
        ]

    @router.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        body, content_type = gateway.metrics.render()
        return Response(body, media_type=content_type)

    return router
