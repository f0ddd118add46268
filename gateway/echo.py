"""An echo provider: a test double to put behind the gateway.

It answers every request with the data it got, signed as any provider answers, and counts what
it processed by messageId -- so a tester sees whether a message arrived, and arrived once. It
takes requests from any gateway and, unlike a real provider, also straight from a caller (the
gateway benchmark's baseline). Services: ``ECHO_Central`` (through ЭҮШ) and ``ECHO_Regional``
(through ЭҮШ and the Almaty ЭҮӨШ).
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from sqlalchemy import func
from sqlmodel import Field, SQLModel, select
from sqlalchemy.orm import registry

from gateway_protocol.groupcommit import GroupCommit
from gateway_protocol.provider import Incoming, provider_router
from runtime import Runtime, system_app
from simulation.access import AUDIT
from simulation.settings import Settings
from simulation.topology import SYSTEMS


class EchoModel(SQLModel, registry=registry()):
    pass


class Processed(EchoModel, table=True):
    __tablename__ = "echo_processed"
    id: int | None = Field(default=None, primary_key=True)
    sender_id: str
    message_id: str = Field(index=True)


router = APIRouter(prefix="/api", tags=["echo"], dependencies=[AUDIT])


@router.get("/processed", summary="Messages processed, with how many times each")
async def processed(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.db.session() as session:
        rows = (
            await session.exec(
                select(Processed.message_id, func.count()).group_by(Processed.message_id).order_by(Processed.message_id)
            )
        ).all()
    return [{"messageId": m, "times": n} for m, n in rows]


def create_app(settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    def routers(runtime):
        writer = GroupCommit.of(runtime.db)  # each message still waits for its row's commit

        async def echo(request: Incoming) -> Any:
            await writer.insert(
                Processed.__table__, {"sender_id": request.info.sender.senderId, "message_id": request.info.messageId}
            )
            return {"echo": request.data}

        gateways = {name for name in SYSTEMS if name.startswith("gateway")}
        return [
            provider_router(
                lambda: runtime, {"ECHO_Central": echo, "ECHO_Regional": echo},
                accept_from=gateways, accept_direct=True,
            ),
            router,
        ]

    return system_app("echo", tables=[EchoModel.metadata], routers=routers, settings=settings, transport=transport)
