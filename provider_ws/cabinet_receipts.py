"""What the personal cabinet sends back to the provider through the gateway
(``EPORTAL_CabinetReceipt``): the receipt that a stage's result reached the cabinet -- the
provider's next stage begins there -- and a document the citizen signed in the cabinet (the
privatization contract), kept with the case with the citizen's signature checked.

The message's ``kind`` says which: ``delivered`` or ``signed``. Which step follows is the
definition's: the walk is taken up where it was handed over to the workstation.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Column, Text, bindparam, insert, select
from sqlmodel import Field

from gateway_protocol.errors import ErrorCode
from gateway_protocol.provider import Incoming, ProviderError
from provider_ws.models import ProviderModel
from signatures.jws import canonical_json
from simulation.calendar import to_local
from simulation.clock import from_us, to_us
from simulation.engine import EngineError, describe

if TYPE_CHECKING:
    from provider_ws.service import ProviderWorkstation

CABINET_RECEIPT = "EPORTAL_CabinetReceipt"
"""The serviceId the cabinet sends its receipts and the citizen's signed documents to."""


class CitizenSignature(ProviderModel, table=True):
    """A result the citizen signed in the personal cabinet (a contract), as the provider keeps it."""

    __tablename__ = "provider_citizen_signatures"
    id: int | None = Field(default=None, primary_key=True)
    application_id: str = Field(index=True)
    stage: int | None = None
    document: str = Field(sa_column=Column(Text, nullable=False))
    signature: str = Field(sa_column=Column(Text, nullable=False))
    verdict: str = Field(description="the citizen's signature as checked on receipt (VALID, …)")
    signer_iin: str | None = None
    received_us: int = Field(sa_column=Column(BigInteger, nullable=False))


_SIGNED = CitizenSignature.__table__
_ADD_SIGNED = insert(_SIGNED)
_SIGNED_OF = select(_SIGNED).where(_SIGNED.c.application_id == bindparam("of_application")).order_by(_SIGNED.c.id)


def _invalid(message: str) -> ProviderError:
    return ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, message)


async def take_receipt(ws: ProviderWorkstation, request: Incoming) -> dict[str, Any]:
    """A receipt from the cabinet: the walk goes on (``delivered``), or the citizen's signed
    document is checked and kept (``signed``)."""
    data = request.data if isinstance(request.data, dict) else {}
    application_id, kind = str(data.get("applicationId") or ""), data.get("kind")
    if not application_id:
        raise _invalid("applicationId is required")
    from provider_ws.service import StaffError

    try:
        case = await ws.case(application_id)
    except StaffError:
        raise ProviderError(ErrorCode.PROVIDER_NOT_FOUND, f"no case {application_id}") from None
    if kind == "delivered":
        position = await ws.engine.position(application_id=application_id)
        if position is None or position.done or position.system != "provider_ws" or position.state != "handed-over":
            raise ProviderError(ErrorCode.PROVIDER_REFUSED,
                                f"{application_id}: no step of the workstation follows the delivery "
                                f"(the case stands at {describe(position)})")
        try:
            moved = await ws.engine.resume(application_id=application_id)
        except EngineError as exc:
            raise ProviderError(ErrorCode.PROVIDER_REFUSED, str(exc)) from None
        return {"applicationId": application_id, "received": "delivered", "position": describe(moved)}
    if kind == "signed":
        return await _keep_signed(ws, case, data)
    raise _invalid(f"kind must be delivered or signed, not {kind!r}")


async def _keep_signed(ws: ProviderWorkstation, case: Any, data: dict[str, Any]) -> dict[str, Any]:
    document, signature = data.get("document"), data.get("signature")
    if not isinstance(document, dict) or not isinstance(signature, str):
        raise _invalid("a signed document needs document and signature")
    if not case.result_document or canonical_json(json.loads(case.result_document)) != canonical_json(document):
        raise _invalid(f"{case.application_id}: the signed document is not the result the provider sent")
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("signature: not base64") from None
    now = await ws.runtime.now()
    checked = await ws.runtime.validator.cms(raw, canonical_json(document), at=now, usage="sign",
                                             iin=case.applicant_iin)
    if not checked.valid:
        raise _invalid(f"the citizen's signature is not accepted: {checked.verdict.code}: {checked.verdict.message}")
    row = dict(application_id=case.application_id, stage=document.get("stage"),
               document=json.dumps(document, ensure_ascii=False), signature=signature,
               verdict=checked.verdict.code, signer_iin=(checked.verdict.signer or {}).get("iin"),
               received_us=to_us(now))
    await ws.runtime.db.run(lambda connection: connection.execute(_ADD_SIGNED, row))
    return {"applicationId": case.application_id, "received": "signed", "verdict": checked.verdict.code,
            "receivedAt": to_local(now).isoformat()}


async def citizen_signatures(ws: ProviderWorkstation, application_id: str) -> list[dict[str, Any]]:
    """The documents the citizen signed for an application, as received."""
    rows = await ws.runtime.db.run(lambda connection: connection.execute(
        _SIGNED_OF, {"of_application": application_id}).mappings().all(), write=False)
    return [{"stage": r["stage"], "verdict": r["verdict"], "signerIin": r["signer_iin"],
             "receivedAt": to_local(from_us(r["received_us"])).isoformat(), "document": json.loads(r["document"])}
            for r in rows]
