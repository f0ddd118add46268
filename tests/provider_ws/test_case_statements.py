"""A case's prebuilt statements (provider_ws.service): the same application registered again is
refused and leaves the first registration as it was; a staff step's update changes its columns
only; a case that is not there is 404 to the staff."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from egov_sim.inprocess import Simulation
from gateway_protocol.errors import GatewayFault
from provider_ws.models import CaseRecord
from reglaments import get_reglament
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS


async def stored_cases(simulation: Simulation, application_id: str) -> list[CaseRecord]:
    async with simulation.runtime("provider_ws").db.session() as session:
        return list((await session.exec(select(CaseRecord).where(CaseRecord.application_id == application_id))).all())


async def test_a_case_registered_again_is_refused_and_a_staff_update_changes_its_columns_only(tmp_path):
    settings = Settings(data_dir=tmp_path / "run", population_size=100, provider_mode="manual")
    async with Simulation(settings) as manual:
        first = await apply_on_portal(manual.client, "almaty-queue", DEMO_CITIZEN, data_dir=settings.data_dir)
        [case] = await stored_cases(manual, first.application_id)
        assert case.state == "registered" and case.executor is None

        reglament = get_reglament("almaty-queue")
        with pytest.raises(GatewayFault) as refused:
            await manual.runtime("portal").gateway().send(
                reglament.gateway.service_id,
                {"applicationId": first.application_id, "reglament": reglament.id, "channel": case.channel,
                 "document": json.loads(case.request_document), "signature": case.request_signature},
                route_id=reglament.gateway.route_id, correlation_id=first.application_id,
            )
        assert refused.value.code == "Provider.Refused"
        assert f"application {first.application_id} is already registered" in str(refused.value)
        assert await stored_cases(manual, first.application_id) == [case]

        async with manual.client("provider_ws") as ws:
            for number in (1, 2):
                done = await ws.post(f"/api/cases/{first.application_id}/steps/{number}",
                                     json={"executor": "Ж. Сапарова"} if number == 2 else None)
                assert done.status_code == 200, done.text
                assert done.json()["registrationNumber"] == case.registration_number
            missing = await ws.post("/api/cases/no-such-application/steps/1")
            assert missing.status_code == 404 and "no case no-such-application" in missing.json()["message"]
        [updated] = await stored_cases(manual, first.application_id)
        assert updated.executor == "Ж. Сапарова"
        assert updated.model_dump(exclude={"executor"}) == case.model_dump(exclude={"executor"})
    await drop_run(settings, (*SYSTEMS, "simulation"))
