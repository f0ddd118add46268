"""Booking the State Corporation's electronic queue on the portal (seed 004, item 11: the
applicant may "book" the queue through the portal). The portal asks the front office's system
through ЭҮШ (``GK_EQueueBooking``) and shows the ticket it gives, or why the slot cannot be had."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from gateway_protocol.errors import ErrorCode, GatewayFault

if TYPE_CHECKING:
    from portal.models import PortalSession
    from portal.service import Portal


class Booking(BaseModel):
    reglament: str = Field(min_length=1, description="the service the visit is for")
    at: str = Field(description="the slot: date and time with the offset, e.g. 2026-11-03T10:15:00+05:00")


async def book(portal: Portal, session: PortalSession, body: Booking) -> dict[str, Any]:
    """The logged-in citizen books a slot: the ticket, or PortalError naming the field."""
    from portal.service import PortalError

    try:
        reply = await portal.runtime.gateway().send(
            "GK_EQueueBooking", {"reglament": body.reglament, "iin": session.iin, "at": body.at})
    except GatewayFault as fault:
        data = fault.data if isinstance(fault.data, dict) else {}
        status = 409 if fault.code == ErrorCode.PROVIDER_REFUSED else 422
        message = {"kk": str(data.get("message_kk") or fault.detail), "ru": str(data.get("message_ru") or fault.detail),
                   "en": fault.detail or fault.spec.en}
        raise PortalError(status, "booking_refused", message, field=data.get("field"), gateway_error=fault.code) from None
    return reply.responseData.data
