"""The gateway's HTTP endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlmodel import select

from gateway.models import MessageRecord
from gateway.service import GatewayService
from gateway_protocol.envelope import SYNC_PATH
from simulation.calendar import to_local
from simulation.clock import from_us
from simulation.runtime import Runtime


def build_router(service: GatewayService) -> APIRouter:
    router = APIRouter()

    @router.post(SYNC_PATH, tags=["ШЭП sync channel"], summary="SendMessage (sync channel)")
    async def send_message(request: Request) -> JSONResponse:
        reply = await service.handle(await request.body(), request.headers)
        return JSONResponse(reply.body, status_code=reply.status_code)

    @router.get("/v1/messages", tags=["message log"], summary="Messages this gateway took")
    async def messages(
        runtime: Runtime,
        correlation_id: str | None = Query(default=None, alias="correlationId"),
        message_id: str | None = Query(default=None, alias="messageId"),
        service_id: str | None = Query(default=None, alias="serviceId"),
        limit: int = Query(default=100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        query = select(MessageRecord).order_by(MessageRecord.id)
        if correlation_id:
            query = query.where(MessageRecord.correlation_id == correlation_id)
        if message_id:
            query = query.where(MessageRecord.message_id == message_id)
        if service_id:
            query = query.where(MessageRecord.service_id == service_id)
        async with runtime.db.session() as session:
            rows = (await session.exec(query.limit(limit))).all()
        return [
            {
                "messageId": r.message_id,
                "correlationId": r.correlation_id,
                "serviceId": r.service_id,
                "sender": r.sender_id,
                "routeId": r.route_id,
                "cameFrom": r.came_from,
                "recipient": r.recipient,
                "received": to_local(from_us(r.received_us)).isoformat(),
                "status": r.status,
                "errorCode": r.error_code,
                "errorDetail": r.error_detail,
            }
            for r in rows
        ]

    return router
