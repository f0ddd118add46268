"""A logged-in session may file several applications; each one's trace starts as its reglament
says (1-процесс and 1-шарт, the log-in, at the log-in's virtual time)."""

from __future__ import annotations

import pytest

from egov_sim.citizen import DEMO_CITIZEN, register_citizen

START = ["1-процесс", "1-шарт", "3-процесс", "2-шарт", "5-процесс", "6-процесс"]


async def _file(portal, ncalayer, auth: dict[str, str], queue_list: str) -> dict:
    prepared = await portal.post("/api/services/almaty-queue/document", headers=auth, json={
        "form": {"queueList": queue_list},
        "attachments": [{"code": code, "name": f"{code}.pdf", "content": "c2Nhbg=="}
                        for code in ("identity", "family-composition", "incomes", "category")],
    })
    assert prepared.status_code == 200, prepared.text
    signed = await ncalayer.post("/ncalayer", json={
        **prepared.json()["ncalayer"], "dialog": {"iin": DEMO_CITIZEN.iin, "password": "Qwerty12"}})
    assert signed.status_code == 200, signed.text
    filed = await portal.post("/api/applications", headers=auth, json={
        "document": prepared.json()["document"], "signature": signed.json()["body"]["result"][0]})
    assert filed.status_code == 200, filed.text
    return filed.json()


@pytest.mark.parametrize("for_service", [True, False], ids=["session-for-the-service", "session-without-service"])
async def test_a_session_files_two_applications(simulation, for_service):
    async with simulation.client("portal") as portal, simulation.client("signatures") as ncalayer, \
            simulation.client("control") as control:
        await register_citizen(simulation.client, DEMO_CITIZEN, data_dir=simulation.settings.data_dir)
        login = {"iin": DEMO_CITIZEN.iin, "password": DEMO_CITIZEN.password}
        if for_service:
            login["reglament"] = "almaty-queue"
        session = (await portal.post("/api/sessions", json=login)).json()
        assert "session" in session, session
        logged_in = (await control.get("/clock")).json()["now"]
        auth = {"Authorization": f"Bearer {session['session']}"}
        first = await _file(portal, ncalayer, auth, "socially-vulnerable")
        await control.post("/clock/advance", json={"by": "2 hours"})
        second = await _file(portal, ncalayer, auth, "large-families")
        assert first["id"] != second["id"]
        assert first["status"] == second["status"] == "in_progress"
        traces = [(await control.get(f"/trace/{a['id']}")).json() for a in (first, second)]
        cabinet = (await portal.get("/api/cabinet/applications", headers=auth)).json()
    assert {a["id"] for a in cabinet} == {first["id"], second["id"]}
    for trace, application in zip(traces, (first, second), strict=True):
        assert [e["label"] for e in trace][:len(START)] == START
        assert {e["application_id"] for e in trace} == {application["id"]}
        assert trace[0]["sim_time"] == trace[1]["sim_time"] == logged_in
        assert trace[1]["outcome"] == "true"
    assert traces[1][2]["sim_time"] > logged_in  # the second request itself came two hours later
