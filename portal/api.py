"""The portal's HTTP endpoints: what the citizen's browser (or a tester) calls."""


from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from portal import cabinet as cabinet_stages
from portal import equeue
from portal.models import PortalSession
from portal.schemas import CabinetPayment, CabinetSignature, Credentials, FilledForm, NewAccount, SignedApplication
from portal.service import Portal, PortalError
from reglaments import ReglamentError, all_reglaments, get_reglament


def build_router(portal: Portal) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["portal"])

    async def current_session(authorization: Annotated[str | None, Header()] = None) -> PortalSession:
        token = authorization.removeprefix("Bearer ").strip() if authorization else None
        return await portal.session_of(token)

    CurrentSession = Annotated[PortalSession, Depends(current_session)]

    @router.post(
        "/accounts/challenge",
        summary="A one-time text to sign with the AUTH ЭЦҚ, to register",
        description=(
            "The first step of registration, as on egov.kz with an ЭЦҚ: the portal hands out a "
            "one-time `challenge`, valid `portal_challenge_minutes` of virtual time (`expiresAt`), "
            "with `dataToSign` (base64 of its UTF-8 bytes) and `ncalayer`, the request the page "
            "sends to the citizen's NCALayer to sign it with their AUTH key. Only this path is "
            "simulated: the registries hold no phone numbers for egov.kz's one-time SMS code."
        ),
    )
    async def challenge() -> dict[str, Any]:
        return await portal.registration_challenge()

    @router.post(
        "/accounts", status_code=201,
        summary="Register on the portal: ЖСН and password, proved with the AUTH ЭЦҚ",
        description=(
            "Registers `iin` when `signature` is a CMS over the `challenge` (unused, not expired) "
            "made with a valid, unrevoked AUTH key of an individual whose certificate names `iin`. "
            "Refusals: 422 `challenge_refused` (unknown, used or expired challenge: field "
            "`challenge`), 403 `identity_not_proven` (field `signature`, `verdict`: e.g. "
            "WRONG_KEY_USAGE for a SIGN key, IIN_MISMATCH for another person's key, REVOKED), "
            "409 `account_exists`."
        ),
    )
    async def register(body: NewAccount) -> dict[str, Any]:
        return await portal.register_account(body)

    @router.post(
        "/sessions", summary="Log in (the log-in steps of the session's reglament)",
        description=(
            "401 `authorisation_refused` for a wrong ЖСН or password. `portal_login_attempts` "
            "wrong passwords in a row lock the account for `portal_lockout_minutes` of virtual "
            "time: 423 `account_locked` with `lockedUntil`, even for the right password."
        ),
    )
    async def login(body: Credentials) -> dict[str, Any]:
        result = await portal.login(body)
        return {"session": result.session_id, "iin": result.iin, "token_type": "Bearer"}

    @router.get("/services", summary="The service catalogue")
    async def services() -> list[dict[str, Any]]:
        return [
            {"id": r.id, "title": r.title.model_dump(), "region": r.region,
             "serviceId": r.gateway.service_id}
            for r in all_reglaments().values()
            if r.channel_starting_at("portal") is not None
        ]

    @router.get("/services/{reglament_id}/form", summary="The request form of a service")
    async def form(reglament_id: str) -> dict[str, Any]:
        reglament = get_reglament(reglament_id)
        portal.channel_of(reglament)
        return {
            "reglament": reglament.id,
            "title": reglament.title.model_dump(),
            "requiredDocuments": [d.model_dump() for d in reglament.required_documents],
            "queueLists": [q.model_dump() for q in reglament.queue_lists],
            "document": {
                "reglament": reglament.id,
                "applicant": {"iin": "<ЖСН>"},
                "form": {"queueList": "<one of queueLists[].code>"},
                "attachments": [{"code": "<requiredDocuments[].code>", "name": "<file>", "sha256": "<hex>"}],
            },
            "fillIn": (
                f"POST /api/services/{reglament.id}/document with the form and the attachments: it "
                "answers the document, dataToSign and the request for NCALayer (docs/http.md)"
            ),
            "signWith": (
                "the applicant's SIGN key through NCALayer (kz.gov.pki.knca.basics sign, format cms, "
                "detached) over the RFC 8785 canonical JSON of `document`; send it base64"
            ),
        }

    @router.post(
        "/services/{reglament_id}/document",
        summary="Fill in the form: the request document and what to hand to NCALayer to sign it",
        description=(
            "What the portal page does with the filled-in form before the citizen signs: checks the "
            "queue list and the attached documents' codes, hashes attachments given by content, and "
            "answers `document` (to send back unchanged with the signature to `POST /api/applications`), "
            "`dataToSign` (base64 of its RFC 8785 canonical JSON, exactly what the portal verifies) and "
            "`ncalayer`, the request the page sends to the citizen's NCALayer. Stores nothing."
        ),
    )
    async def prepare(reglament_id: str, body: FilledForm, session: CurrentSession) -> dict[str, Any]:
        return await portal.prepare(session, reglament_id, body)

    @router.post("/applications", summary="Submit a signed request (the request steps up to sending it to the provider)")
    async def apply(body: SignedApplication, session: CurrentSession) -> dict[str, Any]:
        return await portal.apply(session, body)

    @router.post("/equeue/bookings", summary="Book the State Corporation's electronic queue for a service (a slot)")
    async def book_queue(body: equeue.Booking, session: CurrentSession) -> dict[str, Any]:
        return await equeue.book(portal, session, body)

    @router.get("/cabinet/applications", summary="The personal cabinet: my applications")
    async def cabinet(session: CurrentSession) -> list[dict[str, Any]]:
        return await portal.applications_of(session.iin)

    @router.get("/cabinet/applications/{application_id}", summary="One application, its history and result")
    async def application(application_id: str, session: CurrentSession) -> dict[str, Any]:
        return await portal.application_view(application_id, session.iin)

    @router.post("/cabinet/applications/{application_id}/signature",
                 summary="Sign in the cabinet the document the application waits for you to sign (a contract)")
    async def sign_in_cabinet(application_id: str, body: CabinetSignature, session: CurrentSession) -> dict[str, Any]:
        return await cabinet_stages.sign(portal, application_id, session.iin, body.signature)

    @router.post("/cabinet/applications/{application_id}/payment",
                 summary="Pay the sum the signed contract asks for into the local budget")
    async def pay_in_cabinet(application_id: str, body: CabinetPayment, session: CurrentSession) -> dict[str, Any]:
        return await cabinet_stages.pay(portal, application_id, session.iin, body.amount)

    return router


def install_error_handlers(app) -> None:
    @app.exception_handler(PortalError)
    async def portal_error(_: Request, exc: PortalError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(ReglamentError)
    async def reglament_error(_: Request, exc: ReglamentError) -> JSONResponse:
        return JSONResponse(
            {"error": "unknown_service", "message": str(exc),
             "message_kk": "Мұндай мемлекеттік қызмет жоқ", "message_ru": "Такой услуги нет"},
            status_code=404,
        )
