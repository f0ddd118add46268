"""A citizen applying through the portal, over HTTP, as the demo and the tests play it.

Every call goes to a system's public HTTP API: the certification authority for the citizen's
ЭЦҚ, the portal for log-in, the form, the signed request and the personal cabinet, simulation
control to let virtual time run and to read the trace.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from signatures.client import renewed_key_storage
from signatures.identity import Identity
from signatures.jws import canonical_json
from signatures.ncalayer import BASICS, SIGN_EKU, NCALayer, person_key_storage


@dataclass(frozen=True)
class Citizen:
    iin: str
    surname: str
    name: str
    patronymic: str | None
    password: str
    queue_list: str = "socially-vulnerable"


DEMO_CITIZEN = Citizen("900515401230", "НҰРЛАНОВА", "ӘЛИЯ", "СЕРІКҚЫЗЫ", "Aliya-2026!")
"""Әлия Нұрланова, a person of the registries' fixtures (registries/fixtures.yaml)."""


class ScenarioError(RuntimeError):
    """A system answered the citizen with something other than the expected answer."""


class NothingToSign(ScenarioError):
    """The application waits for no signature of the citizen (:func:`sign_in_cabinet`)."""


@dataclass
class PortalOutcome:
    application_id: str | None
    application: dict[str, Any] | None
    trace: list[dict[str, Any]] = field(default_factory=list)
    login_refused: dict[str, Any] | None = None


def _expect(response: httpx.Response, *statuses: int) -> dict[str, Any] | list[Any]:
    if response.status_code not in statuses:
        raise ScenarioError(
            f"{response.request.method} {response.request.url} answered {response.status_code}: "
            f"{response.text[:500]}"
        )
    return response.json()


async def obtain_signing_key(ca: httpx.AsyncClient, citizen: Citizen) -> Identity:
    """The citizen's SIGN key storage from the certification authority."""
    return await _person_key(ca, citizen, "sign")


async def obtain_auth_key(ca: httpx.AsyncClient, citizen: Citizen) -> Identity:
    """The citizen's AUTH key storage (the one that logs in and registers) from the certification authority."""
    return await _person_key(ca, citizen, "auth")


async def _person_key(ca: httpx.AsyncClient, citizen: Citizen, usage: str) -> Identity:
    body = _expect(
        await ca.post(
            "/v1/certificates/person",
            json={"iin": citizen.iin, "surname": citizen.surname, "name": citizen.name,
                  "patronymic": citizen.patronymic, "usage": usage},
        ),
        200,
    )
    assert isinstance(body, dict)
    return Identity.from_pkcs12(base64.b64decode(body["pkcs12"]), body["password"].encode())


async def _key_storage(ca: httpx.AsyncClient, control: httpx.AsyncClient, citizen: Citizen, usage: str,
                       given: Identity | Path | None, data_dir: Path | None) -> Identity:
    """The citizen's ``usage`` key: ``given``, else the storage the CA seeded for them in
    ``data_dir``, else one the CA issues now; a storage file renewed first if it ran out in
    virtual time."""
    key = given or (person_key_storage(data_dir, citizen.iin, usage) if data_dir else None)
    if key is None:
        return await _person_key(ca, citizen, usage)
    if isinstance(key, Path):
        now = datetime.fromisoformat(_expect(await control.get("/clock"), 200)["now"])  # type: ignore[index]
        return await renewed_key_storage(ca, "", key, now)
    return key


async def register_on_portal(
    ca: httpx.AsyncClient, portal: httpx.AsyncClient, control: httpx.AsyncClient, citizen: Citizen,
    *, data_dir: Path | None = None, auth_key: Identity | Path | None = None,
) -> httpx.Response:
    """Register the citizen's portal account as egov.kz asks: the portal's one-time challenge
    signed in NCALayer with the citizen's AUTH key -- ``auth_key``, else the one the CA seeded for
    them in ``data_dir``, else one the CA issues now. The portal's answer: 201, or 409 when the
    account exists (any other answer raises :class:`ScenarioError`)."""
    key = await _key_storage(ca, control, citizen, "auth", auth_key, data_dir)
    challenge = _expect(await portal.post("/api/accounts/challenge"), 200)
    assert isinstance(challenge, dict)
    signature = await ncalayer_sign(control, key, challenge["ncalayer"])
    registered = await portal.post("/api/accounts", json={
        "iin": citizen.iin, "password": citizen.password,
        "challenge": challenge["challenge"], "signature": signature,
    })
    _expect(registered, 201, 409)
    return registered


async def register_citizen(
    client: Callable[[str], httpx.AsyncClient], citizen: Citizen, *, data_dir: Path | None = None,
    auth_key: Identity | Path | None = None,
) -> httpx.Response:
    """:func:`register_on_portal` with the systems' clients of ``client`` (a test's or the demo's)."""
    async with client("signatures") as ca, client("portal") as portal, client("control") as control:
        return await register_on_portal(ca, portal, control, citizen, data_dir=data_dir, auth_key=auth_key)


async def ncalayer_sign(control: httpx.AsyncClient, key: Identity | Path, request: dict[str, Any]) -> str:
    """The citizen's NCALayer answers a request the portal page hands it (``ncalayer``) with
    ``key``, at the run's virtual time: the base64 CMS of ``body.result[0]``."""

    async def virtual_now() -> datetime:
        return datetime.fromisoformat(_expect(await control.get("/clock"), 200)["now"])  # type: ignore[index]

    ncalayer = NCALayer(virtual_now)
    ncalayer.choose(key)
    answer = await ncalayer.handle(request)
    if not answer.get("status"):
        raise ScenarioError(f"NCALayer: {answer.get('code')}: {answer.get('message')}")
    return answer["body"]["result"][0]


def scan(code: str, citizen: Citizen) -> bytes:
    """The citizen's copy of a required document (a stand-in for the scanned file)."""
    return f"{code} of {citizen.iin}".encode()


def filled_form(form: dict[str, Any], citizen: Citizen, omit: tuple[str, ...] = (),
                fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the citizen enters on the portal page: the queue list, the service's own ``fields``
    (a housing-aid form's family and bills) and the files themselves (all the form asks for but
    ``omit``)."""
    return {
        "form": {**({"queueList": citizen.queue_list} if form.get("queueLists") else {}), **(fields or {})},
        "attachments": [
            {"code": doc["code"], "name": f"{doc['code']}.pdf",
             "content": base64.b64encode(scan(doc["code"], citizen)).decode()}
            for doc in form["requiredDocuments"] if doc["code"] not in omit
        ],
    }


async def sign_with_ncalayer(
    control: httpx.AsyncClient, key: Identity | Path, document: dict[str, Any]
) -> str:
    """What the portal page asks of the citizen's NCALayer: a detached CMS over the document, with
    a SIGN key (the request the portal hands the page with a document to sign)."""
    return await ncalayer_sign(control, key, {
        "module": BASICS,
        "method": "sign",
        "args": {
            "allowedStorages": ["PKCS12"],
            "format": "cms",
            "data": base64.b64encode(canonical_json(document)).decode(),
            "signingParams": {"decode": True, "encapsulate": False},
            "signerParams": {"extKeyUsageOids": [SIGN_EKU]},
            "locale": "kk",
        },
    })


async def apply_on_portal(
    client: Callable[[str], httpx.AsyncClient],
    reglament: str = "almaty-queue",
    citizen: Citizen = DEMO_CITIZEN,
    *,
    data_dir: Path | None = None,
    signing_key: Identity | Path | None = None,
    run_clock: bool = True,
    omit: tuple[str, ...] = (),
    form_fields: dict[str, Any] | None = None,
    auth_key: Identity | Path | None = None,
) -> PortalOutcome:
    """Register (if need be), log in, fill in, sign and submit; let time run; read the cabinet.

    The citizen signs with ``signing_key``, else with the key storage the CA seeded for them in
    ``data_dir``, else with one the CA issues now; they prove their ЖСН at registration with
    ``auth_key``, the seeded AUTH key storage or a new one likewise (:func:`register_on_portal`).
    """
    async with client("signatures") as ca, client("portal") as portal, client("control") as control:
        key = await _key_storage(ca, control, citizen, "sign", signing_key, data_dir)
        await register_on_portal(ca, portal, control, citizen, data_dir=data_dir, auth_key=auth_key)
        login = await portal.post(
            "/api/sessions",
            json={"iin": citizen.iin, "password": citizen.password, "reglament": reglament},
        )
        if login.status_code in (401, 423):
            return PortalOutcome(None, None, login_refused=login.json())
        session = _expect(login, 200)
        assert isinstance(session, dict)
        auth = {"Authorization": f"Bearer {session['session']}"}
        form = _expect(await portal.get(f"/api/services/{reglament}/form"), 200)
        assert isinstance(form, dict)
        # The page hands the filled-in form to the portal and gets back the document to sign.
        prepared = _expect(
            await portal.post(f"/api/services/{reglament}/document", json=filled_form(form, citizen, omit, form_fields), headers=auth),
            200,
        )
        assert isinstance(prepared, dict)
        document = prepared["document"]
        signature = await ncalayer_sign(control, key, prepared["ncalayer"])  # as the page hands it over
        application = _expect(
            await portal.post(
                "/api/applications", json={"document": document, "signature": signature}, headers=auth
            ),
            200,
        )
        assert isinstance(application, dict)
        if run_clock:
            _expect(await control.post("/clock/run"), 200)
        application = _expect(await portal.get(f"/api/cabinet/applications/{application['id']}", headers=auth), 200)
        assert isinstance(application, dict)
        trace = _expect(await control.get(f"/trace/{application['id']}"), 200)
        assert isinstance(trace, list)
        return PortalOutcome(application["id"], application, trace)


async def cabinet_view(client: Callable[[str], httpx.AsyncClient], citizen: Citizen,
                       application_id: str) -> dict[str, Any]:
    """What the citizen's personal cabinet shows of one application (they log in to read it)."""
    async with client("portal") as portal:
        session = _expect(await portal.post("/api/sessions", json={"iin": citizen.iin, "password": citizen.password}), 200)
        assert isinstance(session, dict)
        view = _expect(await portal.get(f"/api/cabinet/applications/{application_id}",
                                        headers={"Authorization": f"Bearer {session['session']}"}), 200)
        assert isinstance(view, dict)
        return view


async def sign_in_cabinet(
    client: Callable[[str], httpx.AsyncClient], citizen: Citizen, application_id: str,
    *, signing_key: Identity | Path | None = None, run_clock: bool = True,
) -> dict[str, Any]:
    """The citizen logs in, signs in the cabinet what the application waits for them to sign (a
    contract: ``toSign``) with their ЭЦҚ, lets time run, and reads the cabinet again."""
    async with client("signatures") as ca, client("portal") as portal, client("control") as control:
        session = _expect(await portal.post("/api/sessions", json={"iin": citizen.iin, "password": citizen.password}), 200)
        assert isinstance(session, dict)
        auth = {"Authorization": f"Bearer {session['session']}"}
        view = _expect(await portal.get(f"/api/cabinet/applications/{application_id}", headers=auth), 200)
        assert isinstance(view, dict)
        if not view.get("toSign"):
            raise NothingToSign(f"application {application_id} waits for no signature of the citizen")
        key = signing_key or await obtain_signing_key(ca, citizen)  # only when there is something to sign
        signature = await sign_with_ncalayer(control, key, view["toSign"]["document"])
        _expect(await portal.post(f"/api/cabinet/applications/{application_id}/signature",
                                  json={"signature": signature}, headers=auth), 200)
        if run_clock:
            _expect(await control.post("/clock/run"), 200)
        view = _expect(await portal.get(f"/api/cabinet/applications/{application_id}", headers=auth), 200)
        assert isinstance(view, dict)
        return view
