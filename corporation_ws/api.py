"""The operator workstation's routes: the operator's log-in, queue tickets, front-office
applications, and the results the providers hand back (``GK_ResultDelivery``, from the gateway).

The operator logs in with the workstation's AUTH key, which the run holds for them: only the
tester in the operator's place -- the administrator (:data:`ADMIN`) -- opens a session, and a
session is what taking and reading applications needs. A queue ticket (the hall's kiosk) and the
contact centre's status by number (1414, no personal data) are anyone's."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse

from corporation_ws import equeue
from corporation_ws.models import OperatorSession
from corporation_ws.service import FrontOffice, FrontOfficeError, FrontRequest
from gateway_protocol.provider import provider_router
from reglaments import ReglamentError
from runtime import SystemRuntime
from simulation.access import ADMIN


def build_router(office: FrontOffice) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["operator workstation"])

    async def operator(authorization: Annotated[str | None, Header()] = None) -> OperatorSession:
        return await office.session_of(authorization.removeprefix("Bearer ").strip() if authorization else None)

    Operator = Annotated[OperatorSession, Depends(operator)]

    @router.post("/operator/sessions", dependencies=[ADMIN], summary="The operator logs in with the AUTH key")
    async def login() -> dict[str, Any]:
        return await office.login()

    @router.post("/tickets", summary="An electronic queue ticket for a service")
    async def ticket(reglament: str) -> dict[str, Any]:
        return await office.ticket(reglament)

    @router.post("/applications", summary="Take an application at the front office and walk its steps")
    async def apply(body: FrontRequest, session: Operator) -> dict[str, Any]:
        return await office.apply(session, body)

    @router.get("/contact-centre/applications/{number}",
                summary="The contact centre 1414: an application's status by its number")
    async def contact_centre(number: str) -> Any:
        found = await equeue.application_status(office, number)
        if found is None:
            return JSONResponse({"error": "not_found", "message": f"No application numbered {number}",
                                 "message_kk": f"Өтініш табылмады: {number}",
                                 "message_ru": f"Заявление не найдено: {number}", "number": number}, status_code=404)
        return found

    @router.get("/applications/{application_id}", summary="An application, its receipts and its result")
    async def view(application_id: str, session: Operator) -> dict[str, Any]:
        return await office.view(application_id)

    return router


def build_routers(runtime: SystemRuntime, office: FrontOffice) -> list[APIRouter]:
    return [
        provider_router(lambda: runtime, {"GK_ResultDelivery": office.take_result, "GK_NotificationDelivery": office.take_notice,
                                          "GK_EQueueBooking": lambda request: equeue.book(office, request)},
                        accept_from={"gateway"}),
        build_router(office),
    ]


def add_error_handlers(app: FastAPI) -> None:
    """A front office's refusal and an unknown service answer as JSON with their status."""

    @app.exception_handler(FrontOfficeError)
    async def front_office_error(_: Request, exc: FrontOfficeError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(ReglamentError)
    async def reglament_error(_: Request, exc: ReglamentError) -> JSONResponse:
        return JSONResponse({"error": "unknown_service", "message": str(exc)}, status_code=404)
