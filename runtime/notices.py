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

from sqlalchemy import Connection, Insert, Select, Table, bindparam, insert
from sqlalchemy import select as core_select

from gateway_protocol.errors import ErrorCode
from gateway_protocol.provider import Incoming, ProviderError
from runtime.system import SystemRuntime
from signatures.jws import canonical_json
from simulation.calendar import to_local
from simulation.clock import from_us, to_us


# Every view of an application (the cabinet, the front office) reads its notices, and every notice
# is looked for before it is kept: the statements are built once for each system's table (an ORM
# statement built at each call costs several times a prebuilt one).
@lru_cache(maxsize=None)
def _notices_of(table: Table) -> Select:
    """An application's notices in ``table``, oldest first: a statement built once a table."""
    return core_select(table).where(table.c.application_id == bindparam("of_application")).order_by(table.c.id)


@lru_cache(maxsize=None)
def _application(table: Table) -> Select:
    """Whether ``table`` holds the application ``at_id`` (by its primary key)."""
    (key,) = table.primary_key.columns
    return core_select(key).where(key == bindparam("at_id"))


@lru_cache(maxsize=None)
def _same_signature(table: Table) -> Select:
    """An application's notices in ``table`` with one signature."""
    return core_select(table.c.id, table.c.document).where(
        table.c.application_id == bindparam("of_application"), table.c.signature == bindparam("with_signature"))


@lru_cache(maxsize=None)
def _add(table: Table) -> Insert:
    """A new notice in ``table``, its id returned."""
    return insert(table).returning(table.c.id)


async def keep_notice(runtime: SystemRuntime, request: Incoming, *, applications: type, notices: type) -> dict[str, Any]:
    """Store the notice a provider sent for one of this system's ``applications``."""
    data = request.data if isinstance(request.data, dict) else {}
    application_id = str(data.get("applicationId", ""))
    document, signature = data.get("document"), data.get("signature")
    if not isinstance(document, dict) or not isinstance(signature, str):
        raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, "document and signature are required")
    received_us = to_us(await runtime.now())
    applications_table, table = applications.__table__, notices.__table__
    values = {"application_id": application_id, "kind": str(data.get("kind") or document.get("type") or "notice"),
              "document": json.dumps(document, ensure_ascii=False), "signature": signature,
              "received_us": received_us}

    def keep(connection: Connection) -> tuple[int, bool] | None:
        """The notice's id and whether it was kept already; None for an unknown application."""
        if connection.execute(_application(applications_table), {"at_id": application_id}).first() is None:
            return None
        kept = connection.execute(_same_signature(table), {"of_application": application_id,
                                                           "with_signature": signature}).all()
        for earlier in kept:  # the same notice again: its sender tried again after an answer was lost
            if json.loads(earlier.document) == document:
                return earlier.id, True
        return connection.execute(_add(table), values).scalar_one(), False

    found = await runtime.db.run(keep)
    if found is None:
        raise ProviderError(ErrorCode.PROVIDER_NOT_FOUND, f"no application {application_id}")
    notice_id, already = found
    if already:
        return {"applicationId": application_id, "notice": notice_id, "delivered": True, "already": True}
    return {"applicationId": application_id, "notice": notice_id, "delivered": True}


async def notices_of(runtime: SystemRuntime, notices: Any, application_id: str) -> list[dict[str, Any]]:
    """An application's notices, oldest first, each with its signature's verdict now."""
    statement, params = _notices_of(notices.__table__), {"of_application": application_id}
    rows = await runtime.db.run(lambda connection: connection.execute(statement, params).all(), write=False)
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
