"""The State Corporation's operator workstation: the operator's session, queue tickets, applications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from egov_sim.clients._base import Answer, BaseClient


class OperatorSession(Answer):
    session: str
    operator: str | None = None
    iin: str | None = None


class Ticket(Answer):
    ticket: str
    issuedAt: datetime


class OperatorClient(BaseClient):
    """Opening a session is the administrator's (the run holds the operator's AUTH key): give the
    client the admin token; it keeps the session for the calls that need one."""

    system = "corporation_ws"

    def __init__(self, http, *, token: str | None = None, session: str | None = None) -> None:
        super().__init__(http, token=token)
        self.session = session

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session}"} if self.session else {}

    async def login(self) -> OperatorSession:
        session = await self.json("POST", "/api/operator/sessions", OperatorSession)
        self.session = session.session
        return session

    async def ticket(self, reglament: str) -> Ticket:
        return await self.json("POST", "/api/tickets", Ticket, params={"reglament": reglament})

    async def apply(self, *, reglament: str, ticket: str, applicant_iin: str, presented_documents: list[str],
                    form: dict[str, Any] | None = None, channel: str | None = None,
                    representative: dict[str, str] | None = None) -> dict[str, Any]:
        """Take an application at the front office (what the operator enters)."""
        body = {"reglament": reglament, "ticket": ticket, "applicant_iin": applicant_iin,
                "presented_documents": presented_documents, "form": form or {}, "channel": channel,
                "representative": representative}
        return await self.json("POST", "/api/applications", json={k: v for k, v in body.items() if v is not None},
                               headers=self._auth())

    async def application(self, application_id: str) -> dict[str, Any]:
        return await self.json("GET", f"/api/applications/{application_id}", headers=self._auth())

    async def contact_centre(self, number: str) -> dict[str, Any]:
        """1414: an application's status by its number (no personal data)."""
        return await self.json("GET", f"/api/contact-centre/applications/{number}")
