"""Signed notices outside a reglament's numbered steps (the decision to provide housing), as the
systems an applicant deals with keep them: the personal cabinet, the front office.

Each system has its own table (``document``, ``signature``, ``kind``, ``application_id``,
``received_us``); these functions take the notice from the gateway message and show it with its
signature checked now.
"""

from __future__ import annotations

import base64
import binascii
import json
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Table, bindparam
from sqlalchemy import select as core_select
from sqlmodel import select

from gateway_protocol.errors import ErrorCode
from gateway_protocol.provider import Incoming, ProviderError
from runtime.system import SystemRuntime
from signatures.jws import canonical_json
from simulation.calendar import to_local
from simulation.clock import from_us, to_us


# Every view of an application (the cabinet, the front office) reads its notices: the statement is
# built once for each system's table (an ORM statement built at each call costs several times a
# prebuilt one).
@lru_cache(maxsize=None)
def _notices_of(table: Table) -> Select:
    """An application's notices in ``table``, oldest first: a statement built once a table."""
    return core_select(table).where(table.c.application_id == bindparam("of_application")).order_by(table.c.id)


async def keep_notice(runtime: SystemRuntime, request: Incoming, *, applications: type, notices: type) -> dict[str, Any]:
    """Store the notice a provider sent for one of this system's ``applications``."""
    data = request.data if isinstance(request.data, dict) else {}
    application_id = str(data.get("applicationId", ""))
    document, signature = data.get("document"), data.get("signature")
    if not isinstance(document, dict) or not isinstance(signature, str):
        raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, "document and signature are required")
    async with runtime.db.session() as session:
        if await session.get(applications, application_id) is None:
            raise ProviderError(ErrorCode.PROVIDER_NOT_FOUND, f"no application {application_id}")
        kept = (await session.exec(select(notices).where(notices.application_id == application_id,
                                                         notices.signature == signature))).all()
        for earlier in kept:  # the same notice again: its sender tried again after an answer was lost
            if json.loads(earlier.document) == document:
                return {"applicationId": application_id, "notice": earlier.id, "delivered": True, "already": True}
        notice = notices(
            application_id=application_id, kind=str(data.get("kind") or document.get("type") or "notice"),
            document=json.dumps(document, ensure_ascii=False), signature=signature,
            received_us=to_us(await runtime.now()),
        )
        session.add(notice)
        await session.commit()
        await session.refresh(notice)
    return {"applicationId": application_id, "notice": notice.id, "delivered": True}


async def notices_of(runtime: SystemRuntime, notices: Any, application_id: str) -> list[dict[str, Any]]:
    """An application's notices, oldest first, each with its signature's verdict now."""
    async with runtime.db.session() as session:
        rows = (await session.exec(_notices_of(notices.__table__), params={"of_application": application_id})).all()
    shown = []
    for notice in rows:
        document = json.loads(notice.document)
        try:
            signature = base64.b64decode(notice.signature, validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        checked = await runtime.validator.cms(signature, canonical_json(document), at=await runtime.now(), usage="sign")
        shown.append({"id": notice.id, "kind": notice.kind, "receivedAt": to_local(from_us(notice.received_us)).isoformat(),
                      "document": document, "signature": notice.signature, "verdict": checked.verdict.to_dict()})
    return shown
