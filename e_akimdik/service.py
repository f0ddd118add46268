"""``EAKIMDIK_DocumentRegistration``: an application's documents registered in "Е-әкімдік".

The request data (field names as the answer gives them back):

- ``applicationId`` -- the application whose documents are registered (1-64 letters, digits,
  ``.``, ``_``, ``:``, ``-``; the portal's and the State Corporation's ids are UUIDs);
- ``reglament`` -- the reglament it is served under: one whose documents the akimat registers in
  "Е-әкімдік" (:func:`served_reglaments`);
- ``applicantIin`` -- the applicant's ЖСН, check digit and all;
- ``documentKind`` -- what is registered, as the reglament's item 4 names the ground of the
  procedure: ``application`` (the application on the form of the Standard's appendix 1, filed at
  the State Corporation) or ``electronic-request`` (the request as an electronic document
  certified with the applicant's ЭЦҚ, filed on the portal);
- ``title`` -- a short title of the documents (at most 200 characters);
- ``executor`` -- optional: the responsible executor who registers them.

The answer: ``registrationNumber`` (``EAK-<year>-<NNNNNN>``, the akimat's per-year sequence),
``registeredAt`` (the run's virtual time), ``alreadyRegistered`` and a ``message`` in Kazakh,
Russian and English, and ``registered``: what was registered, with the reglament's and the
document kind's names. The same application sent again (the same data) gets its registration back
with ``alreadyRegistered: true``; with other data it is refused (``Provider.Refused``).
"""

from __future__ import annotations

from typing import Any

from e_akimdik.models import DocumentRegistration, YearCounter
from e_akimdik.schemas import SERVICE_ID, RegistrationRequest, served_reglaments
from e_akimdik.texts import DOCUMENT_KINDS, already_registered, registered_now
from gateway_protocol.provider import Incoming
from runtime.registration import Registered, Registrar, parse_data
from runtime import SystemRuntime

PREFIX = "EAK"


def coded(code: str, names: dict[str, str]) -> dict[str, str]:
    return {"code": code, **names}


def registration_view(row: dict[str, Any]) -> dict[str, Any]:
    """A registration as testers and callers see it."""
    registered = Registered(row, created=False)
    return {
        "registrationNumber": registered.number,
        "registeredAt": registered.at.isoformat(),
        "applicationId": row["application_id"],
        "reglament": coded(row["reglament"], served_reglaments().get(row["reglament"], {})),
        "applicantIin": row["applicant_iin"],
        "documentKind": coded(row["document_kind"], DOCUMENT_KINDS[row["document_kind"]]),
        "title": row["title"],
        "executor": row["executor"],
        "registeredBy": row["sender_id"],
        "correlationId": row["correlation_id"],
    }


class EAkimdik:
    def __init__(self, runtime: SystemRuntime) -> None:
        self.runtime = runtime
        self.registrar = Registrar(
            runtime.db,
            registrations=DocumentRegistration.__table__,  # type: ignore[attr-defined]
            counters=YearCounter.__table__,  # type: ignore[attr-defined]
            prefix=PREFIX,
        )

    async def register(self, request: Incoming) -> dict[str, Any]:
        data = parse_data(RegistrationRequest, request.data)
        registered = await self.registrar.register(
            data.application_id,
            data.model_dump(mode="json", by_alias=True, exclude_none=True),
            await self.runtime.now(),
            {
                "reglament": data.reglament,
                "applicant_iin": data.applicant_iin,
                "document_kind": data.document_kind,
                "title": data.title,
                "executor": data.executor,
                "sender_id": request.info.sender.senderId,
                "correlation_id": request.info.correlationId or request.info.messageId,
            },
        )
        view = registration_view(registered.row)
        number, day = registered.number, f"{registered.at:%d.%m.%Y %H:%M}"
        message = registered_now(number) if registered.created else already_registered(number, day)
        return {
            "registrationNumber": number,
            "registeredAt": view["registeredAt"],
            "alreadyRegistered": not registered.created,
            "message": message,
            "registered": {k: v for k, v in view.items() if k not in ("registrationNumber", "registeredAt")},
        }
