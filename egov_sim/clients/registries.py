"""The registries, which accept only the gateway: ask them through it, as a system does.

>>> gbdfl = RegistriesClient(sender)          # a GatewaySender, or any object with send()
>>> person = await gbdfl.person("900515401230")  # None: ЖТ МДҚ knows nobody by that ЖСН

What a tester reads of them directly is the auditor's (:class:`RegistriesAuditClient`); the
records a tester gives them, the administrator's (:class:`RegistriesAdminClient`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from egov_sim.clients._base import Answer, BaseClient, ClientError, params
from gateway_protocol.envelope import SyncResponse

GBDFL = "GBDFL_UniversalServiceSync"
ENIS = "ENIS_PowerOfAttorneyCheck"
NOT_FOUND = "Provider.NotFound"


class Sender(Protocol):
    async def send(self, service_id: str, data: Any, *, correlation_id: str | None = None) -> SyncResponse: ...


class PersonAnswer(Answer):
    """ЖТ МДҚ's answer: ``result`` and the ``person`` (the real system's field names)."""

    result: dict[str, Any]
    person: dict[str, Any]


class PowerOfAttorneyAnswer(Answer):
    """БНАЖ's answer: is the power of attorney valid for this service today."""

    result: dict[str, Any]
    number: str
    status: Literal["valid", "expired", "revoked", "not_found", "out_of_scope"]
    powerOfAttorney: dict[str, Any] | None = None


class RegistriesClient:
    """The registries through the gateway, with a sender's identity (see :class:`GatewaySender`)."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    async def ask(self, service_id: str, data: dict[str, Any], *, correlation_id: str | None = None) -> Any:
        """A registry's answer data; a refusal (``Provider.NotFound`` included) raises ClientError."""
        from gateway_protocol.errors import GatewayFault

        try:
            reply = await self.sender.send(service_id, data, correlation_id=correlation_id)
        except GatewayFault as fault:  # a gateway_protocol.client.GatewayClient as the sender
            spec = fault.spec
            raise ClientError(fault.http_status, fault.code, f"{spec.en}: {fault.detail}", message_kk=spec.kk,
                              message_ru=spec.ru, body=fault.data, system="registries") from None
        return reply.responseData.data

    async def person(self, iin: str, *, correlation_id: str | None = None) -> PersonAnswer | None:
        """ЖТ МДҚ: the person with ``iin``; None when the registry knows nobody by it."""
        try:
            return PersonAnswer.model_validate(await self.ask(GBDFL, {"iin": iin}, correlation_id=correlation_id))
        except ClientError as refusal:
            if refusal.code == NOT_FOUND:
                return None
            raise

    async def power_of_attorney(self, number: str, *, principal_iin: str, attorney_iin: str,
                                service_id: str | None = None, correlation_id: str | None = None) -> PowerOfAttorneyAnswer:
        """БНАЖ: the power of attorney ``number`` given by the principal to the attorney."""
        data = {"number": number, "principalIin": principal_iin, "attorneyIin": attorney_iin, "serviceId": service_id}
        answer = await self.ask(ENIS, {k: v for k, v in data.items() if v is not None}, correlation_id=correlation_id)
        return PowerOfAttorneyAnswer.model_validate(answer)


class AccessRecord(Answer):
    registry: str
    serviceId: str
    requester: str
    iin: str | None = None
    outcome: str


class RegistriesAuditClient(BaseClient):
    """What a tester reads of the registries directly (the auditor's): who accessed whose data."""

    system = "registries"

    async def access_log(self, iin: str | None = None, limit: int = 100) -> list[AccessRecord]:
        return await self.json("GET", "/api/access-log", list[AccessRecord], params=params(iin=iin, limit=limit))

    async def population(self) -> dict[str, Any]:
        return await self.json("GET", "/api/population")


class RegistriesAdminClient(BaseClient):
    """What a tester changes in the registries directly (the administrator's token)."""

    system = "registries"

    async def give_records(self, records: Mapping[str, Any]) -> dict[str, int]:
        """Give the registries records by section, as their fixture file has them (``persons``,
        ``powers_of_attorney``, ``addresses``, ``properties``, ``incomes``, ``tenancies``: JSON
        ready; :func:`egov_sim.given.give_records` checks and converts a scenario's): each added,
        or replacing the record of its ЖСН / number. How many records each section took; a
        refusal (``records_invalid`` naming every bad record and field; then nothing is taken)
        raises :class:`ClientError`."""
        answer = await self.json("PUT", "/api/admin/records", json=dict(records))
        return dict(answer["taken"])
