"""The trainer's API at /trainer of the control system, with every system in one process: the
catalogue, plays in the background, the applications of the run, one application's flow, the
page's files, and who may do what."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from egov_sim.scenarios import cases_of
from egov_sim.trainer import app as trainer_app
from reglaments import all_reglaments
from simulation.topology import START_ORDER

CEILING = 180.0
"""Seconds a play may take before the test calls it hung (a guard, not a measurement)."""


async def _wait_play(control, play_id: str) -> dict:
    async def poll() -> dict:
        while True:
            state = (await control.get(f"/trainer/api/plays/{play_id}")).json()
            if state["status"] != "running":
                return state
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), CEILING)


def _refusal(reply, status: int, error: str) -> dict:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["error"] == error, body
    assert body["message"] and body["message_kk"] and body["message_ru"], body
    return body


async def test_the_catalogue_lists_every_reglament_with_its_channels_and_cases_without_a_token(simulation):
    async with simulation.client("control", role=None) as control:
        reply = await control.get("/trainer/api/catalogue")
    assert reply.status_code == 200, reply.text
    catalogue = reply.json()
    known = all_reglaments()
    assert len(known) >= 7  # the package's seven, and any a developer adds with EGOV_SIM_REGLAMENTS
    assert [r["id"] for r in catalogue["reglaments"]] == list(known)
    for entry in catalogue["reglaments"]:
        reglament = known[entry["id"]]
        assert entry["title"] == reglament.title.model_dump()
        assert set(entry["title"]) == {"kk", "ru", "en"}
        assert [c["id"] for c in entry["channels"]] == list(reglament.channels)
        for channel in entry["channels"]:
            assert channel["first"] in ("portal", "corporation_ws", "provider_ws"), channel
            assert channel["first"] == reglament.channel(channel["id"]).first.system
            assert channel["cases"] == list(cases_of(reglament.id).get(channel["id"], ())), channel
    assert sum(len(c["cases"]) for r in catalogue["reglaments"] for c in r["channels"]) > 7
    assert [s["id"] for s in catalogue["systems"]] == list(START_ORDER)
    portal = next(s for s in catalogue["systems"] if s["id"] == "portal")
    assert portal["title"] == {"kk": "egov.kz порталы", "ru": "Портал egov.kz", "en": "egov.kz portal"}


async def test_a_play_runs_to_done_and_its_application_is_listed_with_its_flow(simulation):
    async with simulation.client("control") as admin, simulation.client("control", role="auditor") as auditor:
        assert (await auditor.get("/trainer/api/applications")).json() == {"applications": []}
        started = await admin.post("/trainer/api/plays",
                                   json={"reglament": "almaty-queue", "channel": "portal", "case": "approved"})
        assert started.status_code == 202, started.text
        assert started.json()["status"] == "running"
        play_id = started.json()["playId"]
        # one play at a time in a run: a second is refused while the first runs
        second = await admin.post("/trainer/api/plays",
                                  json={"reglament": "almaty-queue", "channel": "portal", "case": "refused"})
        body = _refusal(second, 409, "play_running")
        assert body["playId"] == play_id and "almaty-queue" in body["message"]

        state = await _wait_play(auditor, play_id)  # the auditor may watch it
        assert state["status"] == "done", state
        assert state["outcome"] == "approved" and state["error"] is None
        application_id = state["applicationId"]
        assert application_id

        listed = (await auditor.get("/trainer/api/applications")).json()["applications"]
        assert [a["applicationId"] for a in listed] == [application_id]
        entry = listed[0]
        assert (entry["reglament"], entry["channel"]) == ("almaty-queue", "portal")

        flow = (await auditor.get(f"/trainer/api/flow/{application_id}"))
        assert flow.status_code == 200, flow.text
        document = flow.json()
        assert document["applicationId"] == application_id and document["outcome"] == "approved"
        labels = [s["label"] for s in document["steps"]]
        assert labels[0] == "1-процесс" and "5-процесс" in labels and "8-процесс" in labels
        assert entry["steps"] == len(document["steps"])
        assert entry["lastLabel"] == document["steps"][-1]["label"]
        assert entry["startedAt"] == document["clock"]["start"] and entry["lastAt"] == document["clock"]["end"]
        assert any(m["serviceId"] == "HousingQueueRegistration" for m in document["messages"])

        # the play is over: another may start, and the newest application comes first
        again = await admin.post("/trainer/api/plays",
                                 json={"reglament": "almaty-queue", "channel": "portal", "case": "refused"})
        assert again.status_code == 202, again.text
        refused = await _wait_play(auditor, again.json()["playId"])
        assert refused["status"] == "done" and refused["outcome"] == "refused", refused
        listed = (await auditor.get("/trainer/api/applications", params={"limit": 1})).json()["applications"]
        assert [a["applicationId"] for a in listed] == [refused["applicationId"]]
        both = (await auditor.get("/trainer/api/applications")).json()["applications"]
        assert [a["applicationId"] for a in both] == [refused["applicationId"], application_id]


async def test_a_refused_log_in_makes_no_application_and_the_play_names_its_session(simulation):
    async with simulation.client("control") as admin:
        started = await admin.post("/trainer/api/plays",
                                   json={"reglament": "almaty-queue", "channel": "portal", "case": "bad-password"})
        assert started.status_code == 202, started.text
        state = await _wait_play(admin, started.json()["playId"])
        assert state["status"] == "done" and state["outcome"] == "rejected", state
        assert state["applicationId"], state  # the session the refused log-in's steps are under
        flow = (await admin.get(f"/trainer/api/flow/{state['applicationId']}")).json()
        assert flow["outcome"] == "rejected"
        assert [(s["label"], s["outcome"]) for s in flow["steps"]][:2] == [("1-процесс", "done"), ("1-шарт", "false")]
        # a session is no application: the list has none
        assert (await admin.get("/trainer/api/applications")).json() == {"applications": []}


async def test_who_may_do_what(simulation):
    async with simulation.client("control", role=None) as anyone, \
            simulation.client("control", role=None, headers={"X-Egov-Sim-Token": "not-the-token"}) as stranger, \
            simulation.client("control", role="auditor") as auditor, simulation.client("control") as admin:
        assert (await admin.get("/trainer/api/whoami")).json() == {"role": "admin"}
        assert (await auditor.get("/trainer/api/whoami")).json() == {"role": "auditor"}
        for client in (anyone, stranger):
            _refusal(await client.get("/trainer/api/whoami"), 401, "unauthenticated")
            _refusal(await client.get("/trainer/api/applications"), 401, "unauthenticated")
            _refusal(await client.get("/trainer/api/flow/any"), 401, "unauthenticated")
            _refusal(await client.get("/trainer/api/plays/any"), 401, "unauthenticated")
            _refusal(await client.post("/trainer/api/plays", json={
                "reglament": "almaty-queue", "channel": "portal", "case": "approved"}), 401, "unauthenticated")
        body = _refusal(await auditor.post("/trainer/api/plays", json={
            "reglament": "almaty-queue", "channel": "portal", "case": "approved"}), 403, "forbidden")
        assert body["roles"] == ["admin"]
        # nothing was played
        assert (await admin.get("/trainer/api/applications")).json() == {"applications": []}


@pytest.mark.parametrize(("body", "field"), [
    ({"reglament": "no-such-reglament", "channel": "portal", "case": "approved"}, "reglament"),
    ({"reglament": "almaty-queue", "channel": "fax", "case": "approved"}, "channel"),
    ({"reglament": "almaty-queue", "channel": "portal", "case": "no-such-case"}, "case"),
    ({"reglament": "almaty-queue", "channel": "portal"}, "case"),
    ({"reglament": "almaty-queue", "channel": 7, "case": "approved"}, "channel"),
])
async def test_an_unknown_or_missing_reglament_channel_or_case_is_refused_by_name(simulation, body, field):
    async with simulation.client("control") as admin:
        reply = await admin.post("/trainer/api/plays", json=body)
        refusal = _refusal(reply, 422, "invalid_request")
        assert [f["field"] for f in refusal["fields"]] == [field], refusal
        if field == "case" and "case" in body:
            assert "approved" in refusal["fields"][0]["problem"]  # what there is
        assert (await admin.get("/trainer/api/applications")).json() == {"applications": []}


async def test_an_unknown_application_or_play_is_404_in_three_languages(simulation):
    async with simulation.client("control", role="auditor") as auditor:
        body = _refusal(await auditor.get("/trainer/api/flow/no-such-application"), 404, "not_found")
        assert "no-such-application" in body["message_kk"] and body["applicationId"] == "no-such-application"
        _refusal(await auditor.get("/trainer/api/plays/no-such-play"), 404, "not_found")
        # an id that would change the meaning of the paths and queries the flow is read with
        for odd in ("x%3Fy", "x%2Fy", "x%23y", "x%25y", "a%20b", "x" * 201):
            _refusal(await auditor.get(f"/trainer/api/flow/{odd}"), 404, "not_found")
        bad_limit = _refusal(await auditor.get("/trainer/api/applications", params={"limit": 0}), 422,
                             "invalid_request")
        assert [f["field"] for f in bad_limit["fields"]] == ["limit"]


@pytest.fixture
def static_folder(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><title>тренажёр</title>", encoding="utf-8")
    (folder / "trainer.js").write_text("export const x = 1;\n", encoding="utf-8")
    (folder / "trainer.css").write_text("body { color: black }\n", encoding="utf-8")
    (folder / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>', encoding="utf-8")
    (folder / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    (folder / "notes.py").write_text("secret = 1\n", encoding="utf-8")
    (folder / "sub").mkdir()
    (folder / "sub" / "inner.js").write_text("inner\n", encoding="utf-8")
    (folder / ".hidden.js").write_text("secret\n", encoding="utf-8")
    (tmp_path / "outside.js").write_text("outside\n", encoding="utf-8")
    monkeypatch.setattr(trainer_app, "STATIC", folder)
    return folder


async def test_the_page_files_are_served_with_their_types_and_nothing_else(simulation, static_folder):
    async with simulation.client("control", role=None) as anyone:
        page = await anyone.get("/trainer")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.text == (static_folder / "index.html").read_text(encoding="utf-8")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        for name, kind in (("index.html", "text/html"), ("trainer.js", "text/javascript"),
                           ("trainer.css", "text/css"), ("logo.svg", "image/svg+xml"), ("shot.png", "image/png")):
            reply = await anyone.get(f"/trainer/static/{name}")
            assert reply.status_code == 200, (name, reply.text)
            assert reply.headers["content-type"].split(";")[0] == kind
            assert reply.content == (static_folder / name).read_bytes()
            assert reply.headers["x-content-type-options"] == "nosniff"
        for path in ("/trainer/static/notes.py", "/trainer/static/missing.js", "/trainer/static/sub",
                     "/trainer/static/sub/inner.js", "/trainer/static/..%2Foutside.js",
                     "/trainer/static/%2E%2E%2Foutside.js", "/trainer/static/%2e%2e",
                     "/trainer/static/.hidden.js"):
            reply = await anyone.get(path)
            assert reply.status_code == 404, (path, reply.status_code, reply.text)
            assert b"outside" not in reply.content and b"secret" not in reply.content and b"inner" not in reply.content


async def test_the_shipped_page_is_served(simulation):
    async with simulation.client("control", role=None) as anyone:
        page = await anyone.get("/trainer")
    assert page.status_code == 200, page.text
    assert page.text == (trainer_app.STATIC / "index.html").read_text(encoding="utf-8")
    assert "<html" in page.text.lower()


async def test_a_play_names_its_application_as_soon_as_it_is_filed(simulation, monkeypatch):
    """The page follows a play's application live: the play says its id once it is filed, while
    time still runs on (here held until the test lets it go)."""
    import egov_sim.scenarios as scenarios

    go_on = asyncio.Event()

    async def held(world, reglament, channel, spec, case="", staff=None, after_filing=None):
        await after_filing(world, "filed-application")
        await go_on.wait()
        return {"application_id": "filed-application", "outcome": "approved"}

    monkeypatch.setattr(scenarios, "play", held)
    async with simulation.client("control") as control:
        started = await control.post("/trainer/api/plays", json={"reglament": "almaty-queue", "channel": "portal",
                                                                 "case": "approved"})
        assert started.status_code == 202, started.text
        play_id = started.json()["playId"]

        async def named() -> dict:
            while (state := (await control.get(f"/trainer/api/plays/{play_id}")).json())["applicationId"] is None:
                await asyncio.sleep(0.05)
            return state

        state = await asyncio.wait_for(named(), CEILING)
        assert state["status"] == "running" and state["applicationId"] == "filed-application", state
        go_on.set()
        assert (await _wait_play(control, play_id))["status"] == "done"
