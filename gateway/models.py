"""The gateway's own tables."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class GatewayModel(SQLModel, registry=registry()):
    pass


class MessageRecord(GatewayModel, table=True):
    """One message the gateway took: what it was, where it went, how it ended."""

    __tablename__ = "gateway_messages"
    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(index=True)
    correlation_id: str | None = Field(default=None, index=True)
    service_id: str = Field(index=True)
    sender_id: str
    route_id: str | None = None
    came_from: str = Field(description="the participant, or the gateway that forwarded it")
    recipient: str | None = None
    received_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(description="DELIVERED, REFUSED (by this gateway) or NOT_DELIVERED")
    error_code: str | None = None
    error_detail: str | None = Field(default=None, sa_column=Column(Text))
    request: str = Field(sa_column=Column(Text, nullable=False))
    """The request as received, signature included (the sender's password masked)."""
