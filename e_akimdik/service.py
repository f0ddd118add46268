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

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from e_akimdik.models import DocumentRegistration, YearCounter
from gateway_protocol.provider import Incoming
from reglaments import all_reglaments
from runtime.registration import Iin, Registered, Registrar, parse_data
from runtime import SystemRuntime

SERVICE_ID = "EAKIMDIK_DocumentRegistration"
PREFIX = "EAK"
SYSTEM_NAME = {"kk": "«Е-әкімдік» ақпараттық жүйесі", "ru": "информационная система «Е-акимат»",
               "en": "the Е-әкімдік information system"}

def served_reglaments() -> dict[str, dict[str, str]]:
    """The reglaments whose documents the akimat registers in "Е-әкімдік", by id, with their
    names: those whose definition has a step that sends this service (a staff procedure that
    registers the documents here, as seed 003's procedure 4 does)."""
    return {
        reglament.id: {"nameKz": reglament.title.kk, "nameRu": reglament.title.ru, "nameEn": reglament.title.en}
        for reglament in all_reglaments().values()
        if any(params.get("service_id") == SERVICE_ID
               for channel in reglament.channels.values() for step in channel.steps for _, params in step.calls)
    }

DOCUMENT_KINDS: dict[str, dict[str, str]] = {
    # shared/seeds/003…, section 2, item 4: the ground of the procedure on each channel.
    "application": {
        "nameKz": "Стандарттың 1-қосымшасына сәйкес нысан бойынша өтініш",
        "nameRu": "Заявление по форме согласно приложению 1 к Стандарту",
        "nameEn": "Application on the form of the Standard's appendix 1 (State Corporation)",
    },
    "electronic-request": {
        "nameKz": "Көрсетілетін қызметті алушының ЭЦҚ-мен куәландырылған электрондық құжат нысанындағы сұраныс",
        "nameRu": "Запрос в форме электронного документа, удостоверенного ЭЦП услугополучателя",
        "nameEn": "Request as an electronic document certified with the applicant's ЭЦҚ (portal)",
    },
}
"""What can be registered, by code."""


def _served_reglament(value: str) -> str:
    served = served_reglaments()
    if value not in served:
        raise PydanticCustomError(
            "reglament_not_registered_here",
            "'{value}' is not a reglament whose documents are registered in Е-әкімдік; these are: {known}",
            {"value": value, "known": ", ".join(sorted(served)) or "none"},
        )
    return value


class RegistrationRequest(BaseModel):
    """The request data of ``EAKIMDIK_DocumentRegistration``."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, str_strip_whitespace=True)

    application_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    reglament: Annotated[str, AfterValidator(_served_reglament)]
    applicant_iin: Iin
    document_kind: Literal["application", "electronic-request"]
    title: str = Field(min_length=1, max_length=200)
    executor: str | None = Field(default=None, min_length=1, max_length=200)


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
        if registered.created:
            message = {
                "kk": f"Құжаттар «Е-әкімдік» ақпараттық жүйесінде {number} нөмірімен тіркелді",
                "ru": f"Документы зарегистрированы в информационной системе «Е-акимат» под номером {number}",
                "en": f"The documents are registered in the Е-әкімдік information system under number {number}",
            }
        else:
            message = {
                "kk": f"Бұл өтініштің құжаттары бұрын тіркелген: {number}, {day}; жаңа нөмір берілмеді",
                "ru": f"Документы этого заявления уже зарегистрированы: {number} от {day}; новый номер не присвоен",
                "en": f"This application's documents are already registered: {number} of {day}; no new number is given",
            }
        return {
            "registrationNumber": number,
            "registeredAt": view["registeredAt"],
            "alreadyRegistered": not registered.created,
            "message": message,
            "registered": {k: v for k, v in view.items() if k not in ("registrationNumber", "registeredAt")},
        }
