"""The gateway's HTTP endpoints: the two channels, the message log, administration, metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from gateway.config import Participant, Service
from gateway.faults import FaultRequest
from gateway.messagelog import evidence, verify_chain
from gateway.service import GatewayService
from gateway_protocol.envelope import ASYNC_PATH, SYNC_PATH
from gateway_protocol.errors import CATALOGUE, ErrorCode, GatewayFault
from gateway_protocol.fastlane import render_json, serve_fast
from simulation.calendar import to_local
from simulation.clock import from_us, to_us


class SenderCredentials(BaseModel):
    senderId: str
    password: str


class StatusQuery(SenderCredentials):
    messageIds: list[str] = Field(min_length=1, max_length=1000)


class NoticeQuery(SenderCredentials):
    after: int = Field(default=0, ge=0, description="the last notice already seen")


def _fault(fault: GatewayFault, at: datetime) -> JSONResponse:
    return JSONResponse(fault.to_body(at), status_code=fault.http_status)


def build_router(gateway: GatewayService) -> APIRouter:
    router = APIRouter()
    runtime = gateway.runtime

    def check_sender(credentials: SenderCredentials) -> None:
        expected = gateway.config.password_of(credentials.senderId)
        if expected is None:
            raise GatewayFault(ErrorCode.UNKNOWN_SENDER, credentials.senderId)
        if expected != credentials.password:
            raise GatewayFault(ErrorCode.AUTHENTICATION_FAILED, credentials.senderId)

    # ---- channels -------------------------------------------------------------------------

    async def sync(body: bytes, headers: Any) -> tuple[int, bytes]:
        reply = await gateway.sync(body, headers)
        # the provider's verified answer is passed on as it came
        return reply.status_code, reply.raw if reply.raw is not None else render_json(reply.body)

    @router.post(SYNC_PATH, tags=["ШЭП sync channel"], summary="SendMessage (sync channel)")
    async def send_message(request: Request) -> Response:
        status, content = await sync(await request.body(), request.headers)
        return Response(content, status_code=status, media_type="application/json")

    serve_fast(router, SYNC_PATH, sync)

    @router.post(ASYNC_PATH + "/sendMessage", tags=["ШЭП async channel"], summary="sendMessage: store and forward")
    async def send_async(request: Request) -> JSONResponse:
        reply = await gateway.async_channel.send(await request.body(), request.headers)
        return JSONResponse(reply.body, status_code=reply.status_code)

    @router.post(ASYNC_PATH + "/getMessageStatus", tags=["ШЭП async channel"], summary="Delivery states of messages")
    async def message_status(query: StatusQuery):
        try:
            check_sender(query)
        except GatewayFault as fault:
            return _fault(fault, await runtime.now())
        return {"messages": await gateway.async_channel.status(query.senderId, query.messageIds)}

    @router.post(ASYNC_PATH + "/getDeliveryNotifications", tags=["ШЭП async channel"],
                 summary="Delivery notifications: messages that reached a final state")
    async def notices(query: NoticeQuery):
        try:
            check_sender(query)
        except GatewayFault as fault:
            return _fault(fault, await runtime.now())
        return {"notifications": await gateway.async_channel.notices(query.senderId, query.after)}

    # ---- the message log ------------------------------------------------------------------

    @router.get("/v1/messages", tags=["message log"], summary="Logged messages: by correlationId, messageId, serviceId, time")
    async def messages(
        correlation_id: str | None = Query(default=None, alias="correlationId"),
        message_id: str | None = Query(default=None, alias="messageId"),
        service_id: str | None = Query(default=None, alias="serviceId"),
        since: datetime | None = Query(default=None, description="virtual time, ISO 8601 with offset"),
        until: datetime | None = Query(default=None),
        kind: str | None = Query(default="request", description="request, response, or all"),
        limit: int = Query(default=100, ge=1, le=10_000),
    ) -> list[dict[str, Any]]:
        rows = await gateway.log.query(
            correlation_id=correlation_id, message_id=message_id, service_id=service_id,
            since_us=to_us(since) if since and since.tzinfo else None,
            until_us=to_us(until) if until and until.tzinfo else None, limit=limit if kind == "all" else limit * 2,
        )
        rows = [r for r in rows if kind in (None, "all", r.kind)][:limit]
        return [
            {
                "seq": r.seq, "kind": r.kind, "channel": r.channel,
                "messageId": r.message_id, "correlationId": r.correlation_id, "serviceId": r.service_id,
                "sender": r.sender_id, "cameFrom": r.came_from, "recipient": r.recipient,
                "at": to_local(from_us(r.at_us)).isoformat(), "status": r.status,
                "statusCode": r.status_code, "errorCode": r.error_code,
            }
            for r in rows
        ]

    @router.get("/v1/messages/verify", tags=["message log"], summary="Check the log's hash chain")
    async def verify() -> dict[str, Any]:
        await gateway.log.flush()
        return (await verify_chain(runtime.db)).as_dict()

    @router.get("/v1/messages/evidence", tags=["message log"], summary="All logged messages of one correlationId")
    async def export(correlation_id: str = Query(alias="correlationId")) -> dict[str, Any]:
        rows = await gateway.log.query(correlation_id=correlation_id, limit=100_000)
        return evidence(rows, runtime.name)

    # ---- administration -------------------------------------------------------------------

    @router.get("/admin/config", tags=["administration"], summary="Participants, services, regions")
    async def config() -> dict[str, Any]:
        data = gateway.config.model_dump(exclude_none=True)
        for participant in data["participants"].values():
            participant.pop("password", None)
        return data

    def _save(change) -> JSONResponse | dict[str, Any]:
        try:
            updated = gateway.config.model_copy(deep=True)
            change(updated)
            gateway.store.save(updated)
        except (ValueError, KeyError) as exc:
            return JSONResponse({"error": "invalid_request", "message": str(exc)}, status_code=422)
        return {"saved": True}

    @router.put("/admin/participants/{sender_id}", tags=["administration"], summary="Register or change a participant")
    async def put_participant(sender_id: str, participant: Participant):
        return _save(lambda c: c.participants.__setitem__(sender_id, participant))

    @router.delete("/admin/participants/{sender_id}", tags=["administration"], summary="Remove a participant")
    async def delete_participant(sender_id: str):
        return _save(lambda c: c.participants.pop(sender_id))

    @router.put("/admin/services/{service_id}", tags=["administration"], summary="Register or change a service")
    async def put_service(service_id: str, service: Service):
        return _save(lambda c: c.services.__setitem__(service_id, service))

    @router.delete("/admin/services/{service_id}", tags=["administration"], summary="Remove a service")
    async def delete_service(service_id: str):
        return _save(lambda c: c.services.pop(service_id))

    @router.get("/admin/faults", tags=["fault switches"], summary="Faults in force")
    async def faults() -> dict[str, Any]:
        return {k: v.model_dump() for k, v in gateway.faults.all().items()}

    @router.put("/admin/faults/{service_id}", tags=["fault switches"], summary="Make a service's target unreachable, slow or failing")
    async def set_fault(service_id: str, fault: FaultRequest):
        if service_id not in gateway.config.services:
            return JSONResponse(
                {"error": "invalid_request", "fields": [{"field": "service_id", "problem": f"unknown service {service_id!r}"}]},
                status_code=422,
            )
        return (await gateway.faults.set(service_id, fault)).model_dump()

    @router.delete("/admin/faults/{service_id}", tags=["fault switches"], summary="Clear one service's fault")
    async def clear_fault(service_id: str):
        return {"cleared": await gateway.faults.clear(service_id)}

    @router.delete("/admin/faults", tags=["fault switches"], summary="Clear every fault")
    async def clear_faults():
        return {"cleared": await gateway.faults.clear()}

    @router.post("/admin/async/{sender_id}/{message_id}/stop", tags=["ШЭП async channel"], summary="Stop delivering a message")
    async def stop(sender_id: str, message_id: str):
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
