"""Applications taken at once get distinct, gap-free sequence numbers per list.

Sixty at once, thirty a list: every one of them is in flight together (one event loop, one
gather), which is what contends for the numbers; two hundred took three and a half minutes of
CI for no more contention than this."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
import yaml

from egov_sim.inprocess import Simulation
from simulation.database import drop_run
from simulation.identifiers import make_iin
from simulation.settings import Settings
from simulation.topology import SYSTEMS

LISTS = ("socially-vulnerable", "orphans")
CROWD = 60


def person(iin: str) -> dict:
    return {
        "iin": iin, "surname": "СЫНАҚОВ", "name": "АДАМ", "birthDate": f"19{iin[:2]}-{iin[2:4]}-{iin[4:6]}",
        "gender": {"code": "1", "nameKz": "Ер", "nameRu": "Мужской"},
        "lifeStatus": {"code": "0", "nameKz": "Тірі", "nameRu": "Жив"},
        "citizenship": {"code": "398", "nameKz": "ҚАЗАҚСТАН", "nameRu": "КАЗАХСТАН"},
        "regAddress": {  # a permanent resident of Almaty: the provider's residence rule holds
            "region": {"code": "750000000", "nameKz": "Алматы қ.", "nameRu": "г. Алматы"},
            "city": {"code": "750000000", "nameKz": "Алматы", "nameRu": "Алматы"},
            "street": "Сынақ көшесі", "building": iin[-3:], "beginDate": "2015-01-01",
            "status": {"code": "1", "nameKz": "Тұрақты", "nameRu": "Постоянная"},
        },
        "documents": [{"type": {"code": "002"}, "number": f"N{iin}", "beginDate": "2020-01-01",
                       "endDate": "2099-01-01", "status": {"code": "00"}}],
        "familyRelations": [],
    }


@pytest.fixture
async def crowd(tmp_path):
    iins = [make_iin(date(1980, 1, 1 + n % 28), 1, n) for n in range(CROWD)]
    fixture = tmp_path / "crowd.yaml"
    fixture.write_text(yaml.safe_dump({"persons": [person(i) for i in iins]}, allow_unicode=True), encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "run", population_size=0, registry_fixtures=[fixture], seed_people=False)
    async with Simulation(settings) as simulation:
        yield simulation, iins
    await drop_run(settings, (*SYSTEMS, "simulation"))


async def test_a_crowd_at_once(crowd):
    simulation, iins = crowd
    async with simulation.client("corporation_ws") as ws, simulation.client("control") as control, \
            simulation.client("provider_ws") as provider:
        session = (await ws.post("/api/operator/sessions")).json()["session"]
        auth = {"Authorization": f"Bearer {session}"}
        tickets = [(await ws.post("/api/tickets", params={"reglament": "almaty-queue"})).json()["ticket"] for _ in iins]

        async def apply(n: int, iin: str):
            reply = await ws.post("/api/applications", headers=auth, json={
                "reglament": "almaty-queue", "ticket": tickets[n], "applicant_iin": iin,
                "presented_documents": ["identity", "family-composition", "incomes", "category"],
                "form": {"queueList": LISTS[n % 2]},
            })
            assert reply.status_code == 200, reply.text
            return reply.json()["id"]

        ids = await asyncio.gather(*(apply(n, iin) for n, iin in enumerate(iins)))
        assert (await control.post("/clock/run")).status_code == 200
        for queue_list in LISTS:
            entries = (await provider.get(f"/api/queue/{queue_list}", params={"reglament": "almaty-queue"})).json()
            assert [e["sequenceNumber"] for e in entries] == list(range(1, CROWD // 2 + 1)), queue_list
        numbers = {}
        for application_id in ids:
            view = (await ws.get(f"/api/applications/{application_id}", headers=auth)).json()
            queue = view["result"]["document"]["queue"]
            numbers.setdefault(queue["list"], []).append(queue["sequenceNumber"])
        assert {k: sorted(v) for k, v in numbers.items()} == {q: list(range(1, CROWD // 2 + 1)) for q in LISTS}
