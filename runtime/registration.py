"""Registering what comes to a provider through the gateway: checked data, one number per application.

Shared by the providers whose work is to register incoming documents ("Е-әкімдік", "Е-собес"):

- :func:`parse_data` checks a request's data against a pydantic model and refuses it with
  ``Provider.RequestInvalid``, naming every field that breaks a rule, and the rule;
- :data:`Iin` is a ЖСН field, checked by :func:`simulation.identifiers.validate_iin` (form, check
  digit, century digit, birth date);
- :class:`Registrar` gives an application its registration number ``<PREFIX>-<year>-<NNNNNN>``:
  one sequence per year of the run's virtual time (Kazakhstan time), gap-free however many
  registrations come at once, and only once per application -- the same application again gets
  its existing registration back; the same application id with other data is refused
  (``Provider.Refused``, naming the fields that differ).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ValidationError
from pydantic_core import PydanticCustomError
from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.exc import CompileError, IntegrityError

from gateway_protocol.errors import ErrorCode
from gateway_protocol.provider import ProviderError
from signatures.jws import canonical_json
from simulation.calendar import to_local
from simulation.clock import from_us, to_us
from simulation.database import Database
from simulation.identifiers import IdentifierError, validate_iin

DATA_FIELD = "requestData.data"
"""How a refusal names the request data as a whole (when it is not an object at all)."""

M = TypeVar("M", bound=BaseModel)


# ---- the request data ---------------------------------------------------------------------------


def _iin(value: str) -> str:
    try:
        return validate_iin(value, "iin")
    except IdentifierError as exc:
        raise PydanticCustomError(
            f"iin_{exc.code}",
            "{detail}",
            {
                "detail": exc.message.removeprefix(f"{exc.field}: "),
                "message_kk": exc.message_kk,
                "message_ru": exc.message_ru,
            },
        ) from None


Iin = Annotated[str, AfterValidator(_iin)]
"""A ЖСН: 12 digits, its check digit, century/gender digit and birth date right (rules
``iin_format``, ``iin_checksum``, ``iin_century``, ``iin_date``)."""


def field_path(loc: tuple[Any, ...]) -> str:
    """``("familyMembers", 1, "iin")`` -> ``familyMembers[1].iin``; the empty path is the data."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or DATA_FIELD


def refusal(problems: list[dict[str, Any]]) -> ProviderError:
    """``Provider.RequestInvalid`` for ``problems`` ({field, rule, message, …} each): the first one
    as ``field`` and ``rule``, all of them as ``fields``."""
    first = problems[0]
    return ProviderError(
        ErrorCode.PROVIDER_REQUEST_INVALID,
        "; ".join(f"{p['field']}: {p['message']} ({p['rule']})" for p in problems),
        data={"field": first["field"], "rule": first["rule"], "fields": problems},
    )


def parse_data(model: type[M], data: Any) -> M:
    """The request data as ``model``, or ``Provider.RequestInvalid`` naming each broken rule."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            context = error.get("ctx") or {}
            problem = {"field": field_path(error["loc"]), "rule": error["type"], "message": error["msg"]}
            for language in ("message_kk", "message_ru"):
                if language in context:
                    problem[language] = str(context[language])
            problems.append(problem)
        raise refusal(problems) from None


def checked_iin_query(value: str | None, name: str) -> str | None:
    """A ЖСН given as query parameter ``name``, checked: a wrong one is answered 422 with the
    parameter and the rule, as every system answers an invalid request."""
    if value is None:
        return None
    try:
        return validate_iin(value, name)
    except IdentifierError as exc:
        raise RequestValidationError(
            [{"loc": ("query", name), "msg": exc.message, "type": f"iin_{exc.code}"}]
        ) from None


NOT_FOUND = {
    "application": ("Өтініш табылмады", "Заявление не найдено", "No registration of application"),
    "registration": ("Тіркеу нөмірі табылмады", "Регистрационный номер не найден", "No registration numbered"),
}


def not_found(what: str, key: str) -> JSONResponse:
    """404 for a read API: nothing registered under ``key``."""
    kk, ru, en = NOT_FOUND[what]
    return JSONResponse(
        {"error": "not_found", "message": f"{en} {key}", "message_kk": f"{kk}: {key}",
         "message_ru": f"{ru}: {key}", what: key},
        status_code=404,
    )


def add_lookups(
    router: APIRouter, registrar: Registrar, view: Callable[[dict[str, Any]], dict[str, Any]], *,
    by_application: str, by_number: str,
) -> None:
    """The read API's two look-ups of one registration, by application id and by number (each
    with ``summary`` text of its system), answered with ``view`` of the row or a 404."""

    @router.get("/by-application/{application_id}", summary=by_application)
    async def find_by_application(application_id: str) -> Any:
        row = await registrar.find(application_id=application_id)
        return not_found("application", application_id) if row is None else view(row)

    @router.get("/{number}", summary=by_number)
    async def find_by_number(number: str) -> Any:
        row = await registrar.find(number=number)
        return not_found("registration", number) if row is None else view(row)


def fingerprint(request: dict[str, Any]) -> str:
    """SHA-256 of the RFC 8785 canonical JSON: equal requests, equal fingerprints."""
    return hashlib.sha256(canonical_json(request)).hexdigest()


# ---- the registration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    """A registration as stored, and whether this request made it (False: it was there already)."""

    row: dict[str, Any]
    created: bool

    @property
    def number(self) -> str:
        return self.row["registration_number"]

    @property
    def at(self) -> datetime:
        return to_local(from_us(self.row["registered_us"]))

    @property
    def request(self) -> dict[str, Any]:
        return json.loads(self.row["request"])


class Registrar:
    """Registration numbers of one provider, one per application.

    ``registrations`` needs the columns ``registration_number`` (primary key), ``year``,
    ``sequence``, ``application_id`` (unique), ``fingerprint``, ``request`` (the request data as
    JSON) and ``registered_us``; any other column comes from ``columns`` of :meth:`register`.
    ``counters`` holds the last number given in each year: ``year`` (primary key), ``last_number``.

    A number is taken and its registration written in one transaction, the counter's row first:
    concurrent registrations queue on that row (its lock on PostgreSQL, the write lock on SQLite),
    and a registration that fails (the same application registered meanwhile) gives its number
    back with the rollback. So each year's numbers run 1, 2, 3… with no gap and no repeat, however
    many processes share the database. Within one process registrations take their turn before
    they take a connection, since they would queue on that row anyway: a burst of them holds one
    database connection, not one each.
    """

    def __init__(self, db: Database, *, registrations: Table, counters: Table, prefix: str) -> None:
        self.db = db
        self.registrations = registrations
        self.counters = counters
        self.prefix = prefix
        self._turn = asyncio.Lock()
        # built once: every registration and every look-up runs them
        every = select(registrations)
        by_application = registrations.c.application_id == bindparam("of_application")
        by_number = registrations.c.registration_number == bindparam("of_number")
        self._find = {(False, False): every, (True, False): every.where(by_application),
                      (False, True): every.where(by_number), (True, True): every.where(by_application, by_number)}
        at_year = counters.c.year == bindparam("of_year")
        self._year_open = select(counters.c.year).where(at_year)
        self._open = insert(counters)
        self._next = (update(counters).where(at_year).values(last_number=counters.c.last_number + 1)
                      .returning(counters.c.last_number))
        self._add = insert(registrations)

    def number(self, year: int, sequence: int) -> str:
        return f"{self.prefix}-{year}-{sequence:06d}"

    async def find(self, *, application_id: str | None = None, number: str | None = None) -> dict[str, Any] | None:
        query = self._find[application_id is not None, number is not None]
        params = {"of_application": application_id, "of_number": number}
        row = await self.db.run(lambda connection: connection.execute(query, params).mappings().first(), write=False)
        return dict(row) if row is not None else None

    async def all(self, *, year: int | None = None, **equal: Any) -> list[dict[str, Any]]:
        """Registrations in the order they were given, optionally of one year and with columns
        equal to the given values."""
        table = self.registrations
        query = select(table).order_by(table.c.year, table.c.sequence)
        if year is not None:
            query = query.where(table.c.year == year)
        for column, value in equal.items():
            if value is not None:
                query = query.where(table.c[column] == value)
        rows = await self.db.run(lambda connection: connection.execute(query).mappings().all(), write=False)
        return [dict(row) for row in rows]

    async def register(
        self, application_id: str, request: dict[str, Any], at: datetime, columns: dict[str, Any]
    ) -> Registered:
        """Register ``application_id`` at virtual time ``at``, or return its registration.

        ``request`` is the request data (stored, and compared when the application comes again);
        ``columns`` the provider's own columns. The same application with other data is refused
        with ``Provider.Refused``.
        """
        print_ = fingerprint(request)
        async with self._turn:
            for _ in range(3):
                existing = await self.find(application_id=application_id)
                if existing is not None:
                    self._same_or_refuse(existing, request, print_)
                    return Registered(existing, created=False)
                created = await self._insert(application_id, request, print_, at, columns)
                if created is not None:
                    return Registered(created, created=True)
        raise RuntimeError(f"could not register application {application_id}")

    async def _insert(
        self, application_id: str, request: dict[str, Any], print_: str, at: datetime, columns: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The new registration's row; None if the application was registered meanwhile (by
        another process: read it then)."""
        unknown = set(columns).difference(self.registrations.c.keys())
        if unknown:  # a prebuilt INSERT run with parameters would drop them without a word
            raise CompileError(f"Unconsumed column names: {', '.join(sorted(unknown))}")
        year = to_local(at).year
        await self._open_year(year)
        stored = json.dumps(request, ensure_ascii=False, sort_keys=True)

        def take(connection: Connection) -> dict[str, Any]:
            sequence = connection.execute(self._next, {"of_year": year}).scalar_one()
            row = {
                **columns,
                "registration_number": self.number(year, sequence),
                "year": year,
                "sequence": sequence,
                "application_id": application_id,
                "fingerprint": print_,
                "request": stored,
                "registered_us": to_us(at),
            }
            connection.execute(self._add, row)
            return row

        try:
            return await self.db.run(take)
        except IntegrityError:
            return None

    async def _open_year(self, year: int) -> None:
        known = await self.db.run(lambda connection: connection.execute(self._year_open, {"of_year": year}).first(),
                                  write=False)
        if known is not None:
            return
        try:
            await self.db.run(lambda connection: connection.execute(self._open, {"year": year, "last_number": 0}))
        except IntegrityError:
            pass  # opened meanwhile by a concurrent registration

    def _same_or_refuse(self, existing: dict[str, Any], request: dict[str, Any], print_: str) -> None:
        if existing["fingerprint"] == print_:
            return
        stored = json.loads(existing["request"])
        differing = sorted(key for key in set(stored) | set(request) if stored.get(key) != request.get(key))
        number = existing["registration_number"]
        raise ProviderError(
            ErrorCode.PROVIDER_REFUSED,
            f"application {existing['application_id']} is already registered as {number} with other "
            f"data in {', '.join(differing)}",
            data={
                "field": differing[0] if differing else "applicationId",
                "rule": "registered_with_other_data",
                "fields": differing,
                "registrationNumber": number,
            },
        )
