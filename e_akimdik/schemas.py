"""The request data of ``EAKIMDIK_DocumentRegistration``, and the reglaments whose documents may
be registered (a request naming another is refused, naming its field)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from reglaments import all_reglaments
from runtime.registration import Iin

SERVICE_ID = "EAKIMDIK_DocumentRegistration"


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
