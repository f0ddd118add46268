"""The provider's workstation: cases, queue lists, the chancellery's desk, the staff's manual mode."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from egov_sim.clients._base import Answer, BaseClient, params


class Case(Answer):
    registrationNumber: str
    applicationId: str | None = None
    reglament: str
    channel: str
    applicantIin: str
    queueList: str | None = None
    registeredAt: datetime
    state: str
    decision: str | None = None
    refusalGround: dict[str, str] | None = None
    result: dict[str, Any] | None = None


class QueueEntry(Answer):
    reglament: str
    sequenceNumber: int
    applicationId: str | None = None
    filedAt: datetime


class ProviderClient(BaseClient):
    """Reading cases takes the auditor's or the administrator's token; acting in the staff's
    place, the administrator's."""

    system = "provider_ws"

    async def cases(self) -> list[Case]:
        return await self.json("GET", "/api/cases", list[Case])

    async def case(self, application_id: str) -> Case:
        return await self.json("GET", f"/api/cases/{application_id}", Case)

    async def queue(self, queue_list: str, reglament: str | None = None) -> list[QueueEntry]:
        return await self.json("GET", f"/api/queue/{queue_list}", list[QueueEntry], params=params(reglament=reglament))

    # ---- the chancellery -------------------------------------------------------------------

    async def take_paper_application(self, *, reglament: str, applicant_iin: str, attachments: list[str],
                                     form: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"reglament": reglament, "applicant": {"iin": applicant_iin},
                "attachments": [{"code": code} for code in attachments], "form": form or {}}
        return await self.json("POST", "/api/chancellery/applications", json=body)

    async def chancellery_application(self, application_id: str) -> dict[str, Any]:
        return await self.json("GET", f"/api/chancellery/applications/{application_id}")

    async def collect(self, application_id: str) -> dict[str, Any]:
        return await self.json("POST", f"/api/chancellery/applications/{application_id}/collect")

    async def join_queue(self, reglament: str, applicant_iin: str) -> dict[str, Any]:
        return await self.json("POST", "/api/chancellery/queue", json={"reglament": reglament,
                                                                       "applicant": {"iin": applicant_iin}})

    async def waiting(self, reglament: str) -> Any:
        return await self.json("GET", "/api/chancellery/queue", params={"reglament": reglament})

    async def call_next(self, reglament: str) -> dict[str, Any]:
        return await self.json("POST", "/api/chancellery/queue/call", params={"reglament": reglament})

    # ---- manual mode -----------------------------------------------------------------------

    async def next_step(self, application_id: str) -> dict[str, Any]:
        """The staff procedure a case waits for."""
        return await self.json("GET", f"/api/cases/{application_id}/next")

    async def perform(self, application_id: str, number: int, *, executor: str | None = None,
                      decision: Literal["approve", "refuse"] | None = None,
                      ground: dict[str, str] | None = None) -> dict[str, Any]:
        """Perform staff procedure ``number`` now (the provider in manual mode)."""
        action = params(executor=executor, decision=decision, ground=ground)
        return await self.json("POST", f"/api/cases/{application_id}/steps/{number}", json=action or None)
