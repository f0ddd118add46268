"""The portal's part of a reglament: log-in, the signed request, the cabinet."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, NoReturn, TypeVar

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from sqlalchemy import Connection, Update, bindparam, delete, func, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError

from gateway_protocol.errors import ErrorCode, GatewayFault
from gateway_protocol.provider import Incoming, ProviderError
from portal.models import (
    Account, Application, CabinetNotice, LoginGuard, PortalSession, RegistrationChallenge, StatusEvent,
)
from portal.cabinet import keep_stage_result, stages_view
from portal.operations import OPERATIONS, SIGNED_REQUEST
from portal.schemas import Credentials, FilledForm, NewAccount, RequestDocument, SignedApplication
from portal.texts import (
    AUTH_REFUSED, CHALLENGE_UNKNOWN, CHALLENGE_USED, CHALLENGES_OUTSTANDING, IDENTITY_NOT_PROVEN, NOT_AN_INDIVIDUAL, STATUS,
    account_locked, challenge_expired,
)
from reglaments import Reglament, get_reglament
from signatures.certificates import EKU_AUTH
from signatures.jws import canonical_json
from signatures.ncalayer import BASICS, SIGN_EKU
from signatures.verdicts import Verdict
from simulation.calendar import to_local
from simulation.clock import from_us, to_us
from simulation.identifiers import IdentifierError, validate_iin
from runtime import SystemRuntime
from runtime.notices import keep_notice, notices_of

SYSTEM = "portal"
_ITERATIONS = 100_000
_SHA256 = SHA256()

# The statements of the portal's hot paths, built once: they run for every application (its
# log-in, request, statuses and cabinet views), and an ORM statement built at each call costs
# several times a prebuilt one (docs/performance.md, "Whole applications").
_APPLICATIONS = Application.__table__
_HISTORY = StatusEvent.__table__
_SESSIONS = PortalSession.__table__
_GUARDS = LoginGuard.__table__
_CHALLENGES = RegistrationChallenge.__table__
_AT_APPLICATION = _APPLICATIONS.c.id == bindparam("at_id")
_APPLICATION = core_select(_APPLICATIONS).where(_AT_APPLICATION)
_REQUEST = core_select(_APPLICATIONS.c.request_document, _APPLICATIONS.c.request_signature).where(_AT_APPLICATION)
_REGISTERED = update(_APPLICATIONS).where(_AT_APPLICATION).values(
    registration_number=bindparam("new_number"), due_us=bindparam("new_due_us"))
_RESULT = update(_APPLICATIONS).where(_AT_APPLICATION).values(
    result_document=bindparam("new_document"), result_signature=bindparam("new_signature"))
_STATUS = update(_APPLICATIONS).where(_AT_APPLICATION).values(status=bindparam("new_status"))
_STATUS_REFUSED = update(_APPLICATIONS).where(_AT_APPLICATION).values(
    status=bindparam("new_status"), refusal=bindparam("new_refusal"))
_HISTORY_OF = (core_select(_HISTORY).where(_HISTORY.c.application_id == bindparam("of_application"))
               .order_by(_HISTORY.c.id))
_ADD_STATUS_EVENT = insert(_HISTORY)
_SESSION = core_select(_SESSIONS).where(_SESSIONS.c.id == bindparam("at_id"))
_ADD_SESSION = insert(_SESSIONS)
_LOCKED_UNTIL = core_select(_GUARDS.c.locked_until_us).where(_GUARDS.c.iin == bindparam("of_iin"))
_AT_CHALLENGE = _CHALLENGES.c.nonce == bindparam("at_nonce")
_CHALLENGE = core_select(_CHALLENGES.c.expires_us).where(_AT_CHALLENGE)
_TAKE_CHALLENGE = update(_CHALLENGES).where(_AT_CHALLENGE, _CHALLENGES.c.used_us.is_(None)).values(
    used_us=bindparam("now_us"), used_by_iin=bindparam("by_iin"))
_CHALLENGE_SIGNER = update(_CHALLENGES).where(_AT_CHALLENGE).values(certificate_serial=bindparam("serial"))
_UNREGISTERED = _CHALLENGES.c.certificate_serial.is_(None)
_FORGET_CHALLENGES = delete(_CHALLENGES).where(_UNREGISTERED, _CHALLENGES.c.expires_us < bindparam("before_us"))
_OPEN_CHALLENGES = core_select(func.count()).select_from(_CHALLENGES).where(
    _UNREGISTERED, _CHALLENGES.c.expires_us >= bindparam("now_us"))
_ADD_CHALLENGE = insert(_CHALLENGES)
_ACCOUNTS = Account.__table__
_ACCOUNT = core_select(_ACCOUNTS).where(_ACCOUNTS.c.iin == bindparam("at_iin"))
_ADD_ACCOUNT = insert(_ACCOUNTS)
_AT_GUARD = _GUARDS.c.iin == bindparam("at_iin")
_GUARD_CLEARED = update(_GUARDS).where(_AT_GUARD).values(failures=0, locked_until_us=None)
_GUARD_FAILED = update(_GUARDS).where(_AT_GUARD).values(failures=_GUARDS.c.failures + 1)
_ADD_GUARD = insert(_GUARDS)
_GUARD_LOCKED = update(_GUARDS).where(_AT_GUARD, _GUARDS.c.failures >= bindparam("attempts")).values(
    failures=0, locked_until_us=bindparam("lock_us"))
_ADD_APPLICATION = insert(_APPLICATIONS)
_APPLICATIONS_OF = (core_select(_APPLICATIONS.c.id).where(_APPLICATIONS.c.iin == bindparam("of_iin"))
                    .order_by(_APPLICATIONS.c.submitted_us))


T = TypeVar("T")

HASHING_THREADS = max(1, (os.cpu_count() or 2) - 1)
"""Threads the portal hashes passwords on: every core but one, which stays the event loop's."""
_hashing: ThreadPoolExecutor | None = None
"""The hashing threads, made at the first hash of the process."""


def _forget_hashing_threads() -> None:
    """A process forked from one that hashed -- ``egov-sim up`` forks its systems -- has none of its
    parent's threads: it makes its own."""
    global _hashing
    _hashing = None


os.register_at_fork(after_in_child=_forget_hashing_threads)


async def _on_hashing_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` on a thread of the portal's own for PBKDF2 (cryptography lets go of the
    GIL meanwhile). Not the loop's default executor: its threads, as many as cores and four more,
    would all hash at once when many log in together and push the event loop's thread -- every
    other system, in one process -- off its core."""
    global _hashing
    if _hashing is None:
        _hashing = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="portal-pbkdf2")
    return await asyncio.get_running_loop().run_in_executor(_hashing, function, *args)


def _pbkdf2_sha256(password: str, salt: bytes, iterations: int) -> bytes:
    """PBKDF2-HMAC-SHA256, 32 bytes (what ``hashlib.pbkdf2_hmac("sha256", ...)`` gives), by
    cryptography's OpenSSL: twice as fast as hashlib's here (the OpenSSL Python was built with is
    older: 46-48 ms against 22-25 ms for 100,000 rounds on the fifth round's VM), and it lets go
    of the GIL too."""
    return PBKDF2HMAC(_SHA256, 32, salt, iterations).derive(password.encode())


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _pbkdf2_sha256(password, salt, _ITERATIONS)
    return f"pbkdf2_sha256${_ITERATIONS}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    _, iterations, salt, digest = stored.split("$")
    candidate = _pbkdf2_sha256(password, bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(candidate.hex(), digest)


def decode_signature(value: str) -> bytes:
    """A CMS signature as the portal receives it: base64 of DER (b"" if it is not base64, which
    the verification then reports as malformed)."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def verdict_reason(verdict: Verdict) -> dict[str, str]:
    """Why a signature is not accepted, in three languages, with when and why for a revocation."""
    extra = ""
    revocation = verdict.revocation or {}
    if verdict.code == "REVOKED":
        extra = f" ({revocation.get('revoked_at')}, {revocation.get('reason') or 'unspecified'})"
    return {
        "kk": verdict.message_kk + extra,
        "ru": verdict.message_ru + extra,
        "en": verdict.message,
    }


MAX_OPEN_CHALLENGES = 10_000
"""Registration challenges that may wait for their signature at once (the simulator's own bound:
challenges are handed out to anyone, so their number must not grow without end)."""


class PortalError(Exception):
    """A refusal to show the citizen: HTTP status, machine code, three-language message."""

    def __init__(self, status: int, code: str, message: dict[str, str], **extra: Any) -> None:
        super().__init__(message["en"])
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def body(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": self.message["en"],
            "message_kk": self.message["kk"],
            "message_ru": self.message["ru"],
            **self.extra,
        }


@dataclass
class LoginResult:
    session_id: str
    iin: str


class Portal:
    def __init__(self, runtime: SystemRuntime) -> None:
        self.runtime = runtime
        self.engine = runtime.engine(OPERATIONS, self)

    @staticmethod
    def channel_of(reglament: Reglament) -> str:
        """The reglament's channel that starts on the portal (its name is the definition's)."""
        name = reglament.channel_starting_at(SYSTEM)
        if name is None:
            raise PortalError(
                422, "invalid_request",
                {"kk": "Бұл қызмет порталда көрсетілмейді", "ru": "Эта услуга не оказывается на портале",
                 "en": f"{reglament.id} has no channel on the portal"},
                field="reglament",
            )
        return name

    # ---- registration and log-in ------------------------------------------------------------

    async def registration_challenge(self) -> dict[str, Any]:
        """A one-time text for the citizen to sign with their AUTH key (egov.kz's registration with
        an ЭЦҚ): valid ``portal_challenge_minutes`` of virtual time, taken by one registration."""
        now = await self.runtime.now()
        expires = now + timedelta(minutes=self.runtime.settings.portal_challenge_minutes)
        nonce = secrets.token_urlsafe(32)
        lifetime = expires - now

        def hand_out(connection: Connection) -> bool:
            """Whether the challenge is kept (False: too many wait already)."""
            # anyone may ask, so what they leave is bounded: a challenge that registered nobody is
            # forgotten a lifetime after it expired (till then a late use is told "expired"), and
            # no more than MAX_OPEN_CHALLENGES wait at once
            connection.execute(_FORGET_CHALLENGES, {"before_us": to_us(now - lifetime)})
            if connection.execute(_OPEN_CHALLENGES, {"now_us": to_us(now)}).scalar_one() >= MAX_OPEN_CHALLENGES:
                return False  # the forgetting is committed all the same
            connection.execute(_ADD_CHALLENGE, {"nonce": nonce, "issued_us": to_us(now), "expires_us": to_us(expires)})
            return True

        if not await self.runtime.db.run(hand_out):
            raise PortalError(429, "too_many_challenges", CHALLENGES_OUTSTANDING, field="challenge")
        data = base64.b64encode(nonce.encode()).decode()
        return {
            "challenge": nonce,
            "expiresAt": to_local(expires).isoformat(),
            "dataToSign": data,
            "ncalayer": _ncalayer_request(data, EKU_AUTH.dotted_string),
            "submit": {
                "method": "POST", "path": "/api/accounts",
                "body": {"iin": "<ЖСН>", "password": "<8 or more characters>", "challenge": nonce,
                         "signature": "<NCALayer's body.result[0]>"},
            },
        }

    async def register_account(self, body: NewAccount) -> dict[str, Any]:
        """Register ``body.iin`` once it is proven: the challenge, unused and in time, signed with a
        valid, unrevoked AUTH key of an individual whose certificate names that ЖСН."""
        now = await self.runtime.now()
        now_us = to_us(now)

        def take(connection: Connection) -> tuple[int, bool] | None:
            """The challenge's expiry and whether this registration took it; None if there is none."""
            challenge = connection.execute(_CHALLENGE, {"at_nonce": body.challenge}).first()
            if challenge is None:
                return None
            taken = connection.execute(  # one registration takes it, whatever becomes of it
                _TAKE_CHALLENGE, {"at_nonce": body.challenge, "now_us": now_us, "by_iin": body.iin})
            return challenge.expires_us, taken.rowcount == 1

        found = await self.runtime.db.run(take)
        if found is None:
            raise PortalError(422, "challenge_refused", CHALLENGE_UNKNOWN, field="challenge")
        expires_us, taken = found
        if not taken:
            raise PortalError(422, "challenge_refused", CHALLENGE_USED, field="challenge")
        if expires_us < now_us:
            expired = to_local(from_us(expires_us)).isoformat(timespec="minutes")
            raise PortalError(422, "challenge_refused", challenge_expired(expired), field="challenge")
        checked = await self.runtime.validator.cms(
            decode_signature(body.signature), body.challenge.encode(), at=now, usage="auth", iin=body.iin,
        )
        if not checked.valid:
            reason = verdict_reason(checked.verdict)
            raise PortalError(
                403, "identity_not_proven",
                {k: f"{IDENTITY_NOT_PROVEN[k]}: {reason[k]}" for k in ("kk", "ru", "en")},
                field="signature", verdict=str(checked.verdict.code),
            )
        signer = checked.verdict.signer or {}
        if signer.get("profile") != "individual":
            raise PortalError(
                403, "identity_not_proven",
                {k: f"{IDENTITY_NOT_PROVEN[k]}: {NOT_AN_INDIVIDUAL[k]}" for k in ("kk", "ru", "en")},
                field="signature", verdict="NOT_AN_INDIVIDUAL",
            )
        password_hash = await _on_hashing_thread(hash_password, body.password)  # see check_password's call
        account = {"iin": body.iin, "password_hash": password_hash, "created_us": now_us}
        try:
            await self.runtime.db.run(lambda connection: connection.execute(_ADD_ACCOUNT, account))
        except IntegrityError:
            raise PortalError(
                409, "account_exists",
                {"kk": "Бұл ЖСН порталда тіркелген", "ru": "Этот ИИН уже зарегистрирован на портале",
                 "en": "This ЖСН (IIN) is already registered on the portal"},
                field="iin",
            ) from None
        signed_by = {"at_nonce": body.challenge, "serial": signer.get("serial_hex")}
        await self.runtime.db.run(lambda connection: connection.execute(_CHALLENGE_SIGNER, signed_by))
        return {"iin": body.iin, "registered": True, "certificate": signer.get("serial_hex")}

    async def authenticate(self, iin: str, password: str) -> tuple[Account | None, str | None]:
        """The account of ``iin`` if ``password`` is its password and the account is not locked;
        else None and why (Kazakh). A wrong password counts towards the lock
        (``portal_login_attempts`` in a row lock it for ``portal_lockout_minutes`` of virtual
        time); the right one, while unlocked, clears the count."""
        try:
            valid = validate_iin(iin, "iin")
        except IdentifierError as exc:
            return None, exc.message_kk
        found = await self.runtime.db.run(
            lambda connection: connection.execute(_ACCOUNT, {"at_iin": valid}).mappings().first(), write=False)
        if found is None:
            return None, "ЖСН порталда тіркелмеген"
        account = Account(**found)
        now_us = to_us(await self.runtime.now())
        if (until := await self.locked_until(valid)) is not None:
            return None, f"аккаунт {until.isoformat(timespec='minutes')} дейін бұғатталған"
        # PBKDF2's 100,000 rounds take ~25 ms of CPU and cryptography lets go of the GIL meanwhile:
        # on a thread, the event loop (every other system, in one process) goes on, on another core
        if not await _on_hashing_thread(check_password, password, account.password_hash):
            until = await self._count_failure(valid, now_us)
            if until is not None:
                return None, f"пароль дұрыс емес; аккаунт {until.isoformat(timespec='minutes')} дейін бұғатталды"
            return None, "пароль дұрыс емес"
        await self.runtime.db.run(lambda connection: connection.execute(_GUARD_CLEARED, {"at_iin": valid}))
        return account, None

    async def _count_failure(self, iin: str, now_us: int) -> datetime | None:
        """One more wrong password for ``iin``; the lock's end (local time) if this one locks it.

        The count goes up in the database (an UPDATE), so failures sent at once all count."""
        settings = self.runtime.settings
        lock_us = now_us + int(settings.portal_lockout_minutes * 60 * 1_000_000)

        def count(connection: Connection) -> bool:
            """Whether this failure locks the account."""
            if connection.execute(_GUARD_FAILED, {"at_iin": iin}).rowcount != 1:
                # an account registered before the guard: its first failure
                connection.execute(_ADD_GUARD, {"iin": iin, "failures": 1, "locked_until_us": None})
            return connection.execute(_GUARD_LOCKED, {"at_iin": iin, "attempts": settings.portal_login_attempts,
                                                      "lock_us": lock_us}).rowcount == 1

        try:
            locked = await self.runtime.db.run(count)
        except IntegrityError:  # the first failures of such an account, sent at once
            return await self._count_failure(iin, now_us)
        return to_local(from_us(lock_us)) if locked else None

    async def locked_until(self, iin: str) -> datetime | None:
        """Until when (local time) the account of ``iin`` is locked, if it is now."""
        guard = await self.runtime.db.run(
            lambda connection: connection.execute(_LOCKED_UNTIL, {"of_iin": iin}).first(), write=False)
        if guard is None or guard.locked_until_us is None:
            return None
        if guard.locked_until_us <= to_us(await self.runtime.now()):
            return None
        return to_local(from_us(guard.locked_until_us))

    async def _refuse_log_in(self, iin: str, session_id: str) -> NoReturn:
        """401 for a wrong ЖСН or password; 423 naming until when for a locked account."""
        try:
            until = await self.locked_until(validate_iin(iin, "iin"))
        except IdentifierError:
            until = None
        if until is not None:
            raise PortalError(
                423, "account_locked",
                account_locked(until.isoformat(timespec="minutes"), self.runtime.settings.portal_login_attempts),
                session=session_id, lockedUntil=until.isoformat(),
            )
        raise PortalError(401, "authorisation_refused", AUTH_REFUSED, session=session_id)

    async def login(self, body: Credentials) -> LoginResult:
        """The citizen logs in. A session opened for a service starts that service's walk: the
        log-in steps are its first ones, and the walk then waits for the signed request."""
        reglament = get_reglament(body.reglament) if body.reglament else None
        session_id = str(uuid.uuid4())
        if reglament is not None:
            position = await self.engine.start(
                reglament, self.channel_of(reglament), session_id=session_id,
                inputs={"iin": body.iin, "password": body.password},
            )
            if position.done:
                await self._refuse_log_in(body.iin, session_id)
            account_iin = body.iin
        else:
            account, _ = await self.authenticate(body.iin, body.password)
            if account is None:
                await self._refuse_log_in(body.iin, session_id)
            account_iin = account.iin
        opened = {"id": session_id, "iin": account_iin, "created_us": to_us(await self.runtime.now()),
                  "reglament": reglament.id if reglament else None}
        await self.runtime.db.run(lambda connection: connection.execute(_ADD_SESSION, opened))
        return LoginResult(session_id, account_iin)

    async def session_of(self, token: str | None) -> PortalSession:
        if token:
            found = await self.runtime.db.run(
                lambda connection: connection.execute(_SESSION, {"at_id": token}).mappings().first(), write=False)
            if found is not None:
                return PortalSession(**found)
        raise PortalError(
            401, "not_authorised",
            {"kk": "Порталда авторизациялану қажет", "ru": "Требуется авторизация на портале",
             "en": "Log in to the portal first"},
        )

    # ---- the form, prepared for the citizen's NCALayer -------------------------------------------

    async def prepare(self, portal_session: PortalSession, reglament_id: str, filled: FilledForm) -> dict[str, Any]:
        """What the portal page does before the request step: checks the filled-in form, hashes the
        attached files and hands the request document to the citizen's NCALayer to sign.

        Nothing is stored or traced: the request starts when the signed document comes back
        (``POST /api/applications``)."""
        reglament = get_reglament(reglament_id)
        self.channel_of(reglament)
        self._same_service(portal_session, reglament, "reglament")
        iin = filled.applicant.iin if filled.applicant else portal_session.iin
        self._same_citizen(portal_session, iin, "applicant.iin")
        if reglament.queue_lists or filled.form.queueList is not None:  # a service without lists asks none
            if problem := reglament.unknown_queue_list(filled.form.queueList or ""):
                raise PortalError(422, "invalid_request", problem, field="form.queueList")
        attachments, seen = [], set()
        for index, attachment in enumerate(filled.attachments):
            where = f"attachments[{index}]"
            if problem := reglament.unknown_document(attachment.code):
                raise PortalError(422, "invalid_request", problem, field=f"{where}.code")
            if attachment.code in seen:
                raise PortalError(
                    422, "invalid_request",
                    {"kk": f"Бұл құжат екі рет тіркелді: {attachment.code}",
                     "ru": f"Этот документ приложен дважды: {attachment.code}",
                     "en": f"Document {attachment.code!r} is attached twice"},
                    field=f"{where}.code",
                )
            seen.add(attachment.code)
            digest = attachment.sha256
            if attachment.content is not None:
                try:
                    digest = hashlib.sha256(base64.b64decode(attachment.content, validate=True)).hexdigest()
                except (binascii.Error, ValueError):
                    raise PortalError(
                        422, "invalid_request",
                        {"kk": "Файлдың мазмұны base64 емес", "ru": "Содержимое файла не в base64",
                         "en": "The file's content is not base64"},
                        field=f"{where}.content",
                    ) from None
            attachments.append({"code": attachment.code, "name": attachment.name, "sha256": digest})
        applicant = filled.applicant.model_dump(mode="json") if filled.applicant else {"iin": iin}
        document = RequestDocument.model_validate({
            "reglament": reglament.id, "applicant": applicant,
            "form": filled.form.model_dump(mode="json"), "attachments": attachments,
        }).model_dump(mode="json", exclude_none=True)
        data = base64.b64encode(canonical_json(document)).decode()
        return {
            "document": document,
            "dataToSign": data,
            "ncalayer": _ncalayer_request(data, SIGN_EKU),
            "submit": {
                "method": "POST", "path": "/api/applications",
                "body": {"document": "<document>", "signature": "<NCALayer's body.result[0]>"},
            },
        }

    def _same_service(self, portal_session: PortalSession, reglament: Reglament, field: str) -> None:
        if portal_session.reglament and portal_session.reglament != reglament.id:
            raise PortalError(
                422, "invalid_request",
                {"kk": "Сессия басқа қызмет үшін ашылған", "ru": "Сессия открыта для другой услуги",
                 "en": f"This session was opened for another service ({portal_session.reglament})"},
                field=field,
            )

    def _same_citizen(self, portal_session: PortalSession, iin: str, field: str) -> None:
        if iin != portal_session.iin:
            raise PortalError(
                422, "invalid_request",
                {"kk": "Сұраудағы ЖСН порталға кірген азаматтың ЖСН-і емес",
                 "ru": "ИИН в запросе не совпадает с ИИН вошедшего на портал гражданина",
                 "en": "The ЖСН (IIN) in the request is not the logged-in citizen's"},
                field=field,
            )

    # ---- the signed request, and what the provider sends back ----------------------------------

    async def apply(self, portal_session: PortalSession, body: SignedApplication) -> dict[str, Any]:
        document = body.document
        reglament = get_reglament(document.reglament)
        channel = self.channel_of(reglament)
        self._same_service(portal_session, reglament, "document.reglament")
        self._same_citizen(portal_session, document.applicant.iin, "document.applicant.iin")
        application_id = str(uuid.uuid4())
        now = await self.runtime.now()
        application = Application(
            id=application_id,
            iin=portal_session.iin,
            session_id=portal_session.id,
            reglament=reglament.id,
            status="submitted",
            submitted_us=to_us(now),
            request_document=document.model_dump_json(exclude_none=True),
            request_signature=body.signature,
        )
        values = {column: getattr(application, column) for column in _APPLICATIONS.columns.keys()}
        await self.runtime.db.run(lambda connection: connection.execute(_ADD_APPLICATION, values))
        signed = {"document": document.model_dump(mode="json", exclude_none=True), "signature": body.signature}
        # A session opened for this service walked its log-in already: its first application takes
        # that walk up. A session opened without a service, or a session's later application,
        # walks its own log-in, stamped at the log-in's virtual time.
        if portal_session.reglament is not None and await self.engine.bind(portal_session.id, application_id):
            await self.engine.resume(application_id=application_id, event=SIGNED_REQUEST, inputs=signed)
        else:
            await self.engine.start(reglament, channel, application_id=application_id, inputs={
                **signed, "authenticated": True, "iin": portal_session.iin,
                "logged_in_at": from_us(portal_session.created_us),
            })
        return await self.application_view(application_id, portal_session.iin)

    async def verify_request(self, document: dict[str, Any], signature: str, at: datetime):
        """The citizen's CMS signature over the request, checked (validity, revocation, ЖСН)."""
        return await self.runtime.validator.cms(
            decode_signature(signature), canonical_json(document),
            at=at, usage="sign", iin=str(document.get("applicant", {}).get("iin", "")),
        )

    verdict_reason = staticmethod(verdict_reason)

    async def send_request(self, reglament: Reglament, channel: str, application_id: str) -> None:
        """Send the application's signed request through ЭҮШ to the provider; keep the
        registration it answers."""
        application = await self.runtime.db.run(
            lambda connection: connection.execute(_REQUEST, {"at_id": application_id}).first(), write=False)
        assert application is not None
        signed = {"document": json.loads(application.request_document), "signature": application.request_signature}
        reply = await self.runtime.gateway().send(
            reglament.gateway.service_id,
            {"applicationId": application_id, "reglament": reglament.id, "channel": channel,
             "document": signed["document"], "signature": signed["signature"]},
            route_id=reglament.gateway.route_id,
            correlation_id=application_id,
        )
        registered = reply.responseData.data
        numbered = {"at_id": application_id, "new_number": registered["registrationNumber"],
                    "new_due_us": to_us(datetime.fromisoformat(registered["resultDue"]))}
        await self.runtime.db.run(partial(_update_one, _REGISTERED, numbered))
        await self.set_status(application_id, "in_progress", f"тіркеу нөмірі {registered['registrationNumber']}")

    @staticmethod
    def not_delivered(application_id: str, fault: GatewayFault) -> PortalError:
        return PortalError(
            502, "not_delivered", STATUS["not_delivered"],
            application=application_id, gateway_error=fault.code, detail=fault.detail,
        )

    async def deliver_result(self, request: Incoming) -> dict[str, Any]:
        data = request.data if isinstance(request.data, dict) else {}
        application_id = str(data.get("applicationId", ""))
        document, signature = data.get("document"), data.get("signature")
        if not isinstance(document, dict) or not isinstance(signature, str):
            raise ProviderError(ErrorCode.PROVIDER_REQUEST_INVALID, "document and signature are required")
        result = {"at_id": application_id, "new_signature": signature,
                  "new_document": json.dumps(document, ensure_ascii=False)}

        def keep(connection: Connection) -> tuple[Any, bool]:
            """The application's row (None if there is none), and whether it had this result already."""
            application = connection.execute(_APPLICATION, {"at_id": application_id}).first()
            if application is None:
                return None, False
            if (application.result_signature == signature and application.result_document
                    and json.loads(application.result_document) == document):
                return application, True
            connection.execute(_RESULT, result)
            return application, False

        application, already = await self.runtime.db.run(keep)
        if application is None:
            raise ProviderError(ErrorCode.PROVIDER_NOT_FOUND, f"no application {application_id}")
        if already:  # the same result again: the provider tried again after an answer was lost on the way
            return {"applicationId": application_id, "delivered": True, "already": True}
        await keep_stage_result(self, application_id, document, signature)  # a service in stages
        reglament = get_reglament(application.reglament)
        text = document.get("text", {})
        await self.set_status(application_id, "result", text.get("kk", "") if isinstance(text, dict) else "")
        await self.engine.take_up(reglament, self.channel_of(reglament), application_id=application_id,
                                  inputs={"document": document})
        return {"applicationId": application_id, "delivered": True}

    # ---- the cabinet --------------------------------------------------------------------------

    async def application_view(self, application_id: str, iin: str) -> dict[str, Any]:

        def read(connection: Connection) -> tuple[Any, list[Any]]:
            application = connection.execute(_APPLICATION, {"at_id": application_id}).first()
            if application is None or application.iin != iin:
                return None, []
            return application, connection.execute(_HISTORY_OF, {"of_application": application_id}).all()

        application, history = await self.runtime.db.run(read, write=False)
        if application is None:
            raise PortalError(
                404, "not_found",
                {"kk": "Өтініш табылмады", "ru": "Заявление не найдено", "en": "No such application"},
            )
        view: dict[str, Any] = {
            "id": application.id,
            "reglament": application.reglament,
            "status": application.status,
            "statusText": STATUS.get(application.status),
            "submittedAt": to_local(from_us(application.submitted_us)).isoformat(),
            "resultDue": to_local(from_us(application.due_us)).isoformat() if application.due_us else None,
            "registrationNumber": application.registration_number,
            "history": [
                {
                    "status": e.status,
                    "text": STATUS.get(e.status),
                    "at": to_local(from_us(e.at_us)).isoformat(),
                    "note": e.note,
                }
                for e in history
            ],
            "refusal": json.loads(application.refusal) if application.refusal else None,
            "result": None,
        }
        if application.result_document and application.result_signature:
            document = json.loads(application.result_document)
            checked = await self.runtime.validator.cms(
                decode_signature(application.result_signature), canonical_json(document),
                at=await self.runtime.now(), usage="sign",
            )
            view["result"] = {
                "document": document,
                "signature": application.result_signature,
                "verdict": checked.verdict.to_dict(),
            }
        view["notices"] = await self.notices_of(application_id)
        view.update(await stages_view(self, application_id))  # each stage's result, signing, payment
        return view

    async def applications_of(self, iin: str) -> list[dict[str, Any]]:
        ids = await self.runtime.db.run(
            lambda connection: connection.scalars(_APPLICATIONS_OF, {"of_iin": iin}).all(), write=False)
        return [await self.application_view(i, iin) for i in ids]

    # ---- helpers --------------------------------------------------------------------------------

    async def set_status(
        self, application_id: str, status: str, note: str, refusal: dict[str, str] | None = None
    ) -> None:
        at_us = to_us(await self.runtime.now())
        changed: dict[str, Any] = {"at_id": application_id, "new_status": status}
        if refusal is not None:
            changed["new_refusal"] = json.dumps(refusal, ensure_ascii=False)
        event = {"application_id": application_id, "status": status, "at_us": at_us, "note": note}

        def write(connection: Connection) -> None:
            _update_one(_STATUS if refusal is None else _STATUS_REFUSED, changed, connection)
            connection.execute(_ADD_STATUS_EVENT, event)

        await self.runtime.db.run(write)

    # ---- notices outside the reglament's steps (EPORTAL_CabinetNotification) ------------------

    async def take_notice(self, request: Incoming) -> dict[str, Any]:
        """A provider's signed decision for an application, outside the reglament's numbered steps
        (e.g. the decision to provide housing): kept for the applicant with its signature."""
        return await keep_notice(self.runtime, request, applications=Application, notices=CabinetNotice)

    async def notices_of(self, application_id: str) -> list[dict[str, Any]]:
        """An application's notices, oldest first, each with its signature's verdict now."""
        return await notices_of(self.runtime, CabinetNotice, application_id)


def _update_one(statement: Update, params: dict[str, Any], connection: Connection) -> None:
    """``statement`` on the one application it names, which must be there."""
    assert connection.execute(statement, params).rowcount == 1


def _ncalayer_request(data: str, extended_key_usage: str) -> dict[str, Any]:
    """What the portal's page hands NCALayer: sign ``data`` (base64) as a detached CMS with a key
    from a PKCS#12 storage whose certificate has ``extended_key_usage`` (AUTH or SIGN)."""
    return {
        "module": BASICS,
        "method": "sign",
        "args": {
            "allowedStorages": ["PKCS12"],
            "format": "cms",
            "data": data,
            "signingParams": {"decode": True, "encapsulate": False},
            "signerParams": {"extKeyUsageOids": [extended_key_usage]},
            "locale": "kk",
        },
    }
