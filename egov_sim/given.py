"""What a scenario gives the world before it runs: records in the registries, citizens' certificates.

- :class:`GivenRecords` is the shape of ``given: {registries: {...}}``: the sections and field
  names of the registries' fixture file (persons with their families, powers of attorney,
  address histories, dwellings, incomes and the unemployed registration, communal tenancies),
  checked as the registries check them (:mod:`registries.records`).
- :func:`give_records` hands them to a running registries system
  (:meth:`egov_sim.clients.registries.RegistriesAdminClient.give_records`, ``PUT
  /api/admin/records``, the admin token): each added, or replacing the record of its ЖСН / number.
- :class:`GivenRefused` is the :class:`egov_sim.clients.ClientError` of what a system refused (its
  ``status``, ``code``, texts and ``fields``; ``problems`` and ``answer`` as before).
- :func:`give_certificate` obtains a person's key storage from the certification authority as
  the scenario wants it: ``valid``, ``revoked``, ``expired`` or ``wrong-iin`` (issued in the
  person's name to another ЖСН).

Example (the in-process world of :class:`egov_sim.inprocess.Simulation`)::

    async with sim.client("registries") as registries:
        await give_records(registries, {"persons": [person], "properties": [dwelling]})
    async with sim.client("signatures") as ca:
        key = await give_certificate(ca, person, "revoked")
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from egov_sim.clients import ClientError
from egov_sim.clients.registries import RegistriesAdminClient
from registries.records import Records, RecordsRefused, check_records
from signatures.identity import Identity
from simulation.identifiers import iin_birth_date, iin_gender, make_iin, validate_iin

__all__ = ["CertificateKind", "GivenRecords", "GivenRefused", "Person", "give_certificate", "give_records"]

GivenRecords = Records
"""``given.registries`` of a scenario: the registries' records by section (see :mod:`registries.records`)."""

CertificateKind = Literal["valid", "revoked", "expired", "wrong-iin"]
KINDS: tuple[str, ...] = ("valid", "revoked", "expired", "wrong-iin")

class GivenRefused(ClientError):
    """A system refused what was given (or did not answer: ``status`` 0): its ``status``, ``code``,
    texts and answer (``body``); ``problems`` names each bad record and field."""

    @property
    def answer(self) -> Any:
        return self.body

    @property
    def problems(self) -> list[dict[str, Any]]:
        return self.fields

    @classmethod
    def of_error(cls, error: ClientError) -> GivenRefused:
        return cls(error.status, error.code, error.message, message_kk=error.message_kk, message_ru=error.message_ru,
                   fields=error.fields, body=error.body, system=error.system)


@dataclass(frozen=True)
class Person:
    """Whom a certificate is for: the subject fields the CA puts in it."""

    iin: str
    surname: str
    name: str
    patronymic: str | None = None


def _records(records: Records | Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(records, Records):
        try:
            records = check_records(dict(records))
        except RecordsRefused as refused:  # the same problems the registries would name, before any call
            problems = [p.as_dict() for p in refused.problems]
            raise GivenRefused(422, "records_invalid", f"The records are not taken: {refused}", fields=problems,
                               body={"error": "records_invalid", "fields": problems}, system="registries") from None
    return {section: documents for section, documents in records.documents().items() if documents}


async def give_records(registries_client: httpx.AsyncClient, records: Records | Mapping[str, Any]) -> dict[str, Any]:
    """Give the registries ``records`` (a :class:`GivenRecords` or a mapping of its sections, as
    a scenario file's YAML reads: its dates may be dates) through ``registries_client`` -- a client
    addressed to the registries carrying the admin token (``sim.client("registries")``). How many
    records each section took; :class:`GivenRefused` naming every bad record and field (then
    nothing is taken)."""
    body = _records(records)
    try:
        return await RegistriesAdminClient(registries_client).give_records(body)
    except ClientError as error:
        raise GivenRefused.of_error(error) from None


def _person(person: Person | Mapping[str, Any] | Any) -> Person:
    """A :class:`Person`, a citizen (:class:`egov_sim.citizen.Citizen`) or a ГБД ФЛ person record."""
    if isinstance(person, Person):
        return person
    if isinstance(person, Mapping):
        get = person.get
    else:
        def get(field: str) -> Any:
            return getattr(person, field, None)
    iin, surname, name = get("iin"), get("surname"), get("name")
    if not (isinstance(iin, str) and isinstance(surname, str) and isinstance(name, str)):
        raise ValueError("a certificate's person has an iin, a surname and a name")
    return Person(validate_iin(iin, "iin"), surname, name, get("patronymic"))


def other_iin(iin: str) -> str:
    """A valid ЖСН of the same birth date and gender as ``iin``, but another."""
    serial = int(iin[7:11])
    for step in range(1, 10_000):
        candidate = make_iin(iin_birth_date(iin), iin_gender(iin), (serial + step) % 10_000)
        if candidate != iin:
            return candidate
    raise ValueError(f"no other ЖСН beside {iin}")  # pragma: no cover - 10,000 serials a day


async def give_certificate(
    ca_client: httpx.AsyncClient, person: Person | Mapping[str, Any] | Any, kind: CertificateKind = "valid",
    *, usage: Literal["sign", "auth"] = "sign",
) -> Identity:
    """A key storage for ``person`` from the CA (``ca_client``: addressed to signatures, with the
    admin token), as ``kind`` says:

    - ``valid``: a certificate in force;
    - ``revoked``: revoked at once (key compromise; the gateways are told);
    - ``expired``: one whose validity ended before the run's present;
    - ``wrong-iin``: valid, in the person's name, but for another ЖСН (of the same birth date and
      gender): what signs with it proves somebody else.
    """
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is none of {', '.join(KINDS)}")
    subject = _person(person)
    iin = other_iin(subject.iin) if kind == "wrong-iin" else subject.iin
    reply = await ca_client.post("/v1/certificates/person", json={
        "iin": iin, "surname": subject.surname, "name": subject.name, "patronymic": subject.patronymic,
        "usage": usage, "validity": "expired" if kind == "expired" else "valid",
    })
    if reply.status_code != 200:
        raise GivenRefused.of(reply, "signatures")
    body = reply.json()
    identity = Identity.from_pkcs12(base64.b64decode(body["pkcs12"]), body["password"].encode())
    if kind == "revoked":
        revoked = await ca_client.post(f"/v1/certificates/{body['serial']}/revoke", json={"reason": "keyCompromise"})
        if revoked.status_code != 200:
            raise GivenRefused.of(revoked, "signatures")
    return identity
