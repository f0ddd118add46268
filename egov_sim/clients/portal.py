"""The portal (egov.kz): accounts, sessions, the service catalogue and forms, applications, the cabinet.

>>> portal = PortalClient(sim.client("portal", role=None))
>>> await portal.login("900515401230", "Aliya-2026!", reglament="almaty-queue")  # keeps the session
>>> await portal.applications()
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from egov_sim.clients._base import Answer, BaseClient


class Challenge(Answer):
    challenge: str
    dataToSign: str
    ncalayer: dict[str, Any]
    expiresAt: datetime | None = None


class Session(Answer):
    session: str
    iin: str
    token_type: str = "Bearer"


class Service(Answer):
    id: str
    title: dict[str, str]
    region: str | None = None
    serviceId: str


class Form(Answer):
    reglament: str
    title: dict[str, str]
    requiredDocuments: list[dict[str, Any]]
    queueLists: list[dict[str, Any]]


class Prepared(Answer):
    """The document to sign, its ``dataToSign`` and the request to hand NCALayer."""

    document: dict[str, Any]
    dataToSign: str
    ncalayer: dict[str, Any]


class Application(Answer):
    id: str
    reglament: str
    status: str
    statusText: dict[str, str] | None = None
    registrationNumber: str | None = None
    resultDue: datetime | None = None
    history: list[dict[str, Any]] = []


class PortalClient(BaseClient):
    system = "portal"

    def __init__(self, http, *, token: str | None = None, session: str | None = None) -> None:
        super().__init__(http, token=token)
        self.session = session

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session}"} if self.session else {}

    async def challenge(self) -> Challenge:
        return await self.json("POST", "/api/accounts/challenge", Challenge)

    async def register(self, iin: str, password: str, *, challenge: str, signature: str) -> dict[str, Any]:
        """A new account, proved with the AUTH key's CMS over the challenge (201)."""
        return await self.json("POST", "/api/accounts", json={"iin": iin, "password": password,
                                                             "challenge": challenge, "signature": signature})

    async def login(self, iin: str, password: str, *, reglament: str | None = None) -> Session:
        """Log in; the client keeps the session for the calls that need one."""
        body = {"iin": iin, "password": password, **({"reglament": reglament} if reglament else {})}
        session = await self.json("POST", "/api/sessions", Session, json=body)
        self.session = session.session
        return session

    async def services(self) -> list[Service]:
        return await self.json("GET", "/api/services", list[Service])

    async def form(self, reglament: str) -> Form:
        return await self.json("GET", f"/api/services/{reglament}/form", Form)

    async def prepare(self, reglament: str, filled: dict[str, Any]) -> Prepared:
        """The filled-in form (``form``, ``attachments``) made into the document to sign."""
        return await self.json("POST", f"/api/services/{reglament}/document", Prepared, json=filled, headers=self._auth())

    async def apply(self, document: dict[str, Any], signature: str) -> Application:
        return await self.json("POST", "/api/applications", Application,
                               json={"document": document, "signature": signature}, headers=self._auth())

    async def book_queue(self, booking: dict[str, Any]) -> dict[str, Any]:
        return await self.json("POST", "/api/equeue/bookings", json=booking, headers=self._auth())

    async def applications(self) -> list[Application]:
        """The personal cabinet: my applications."""
        return await self.json("GET", "/api/cabinet/applications", list[Application], headers=self._auth())

    async def application(self, application_id: str) -> Application:
        return await self.json("GET", f"/api/cabinet/applications/{application_id}", Application, headers=self._auth())

    async def sign_in_cabinet(self, application_id: str, signature: str) -> dict[str, Any]:
        return await self.json("POST", f"/api/cabinet/applications/{application_id}/signature",
                               json={"signature": signature}, headers=self._auth())

    async def pay(self, application_id: str, amount: float) -> dict[str, Any]:
        return await self.json("POST", f"/api/cabinet/applications/{application_id}/payment",
                               json={"amount": amount}, headers=self._auth())
