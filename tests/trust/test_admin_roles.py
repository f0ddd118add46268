"""Issue 14, points 3 and 4: the administration and personal data need the run's tokens.

Every endpoint that changes configuration, faults, the clock, delivery or a case by the staff's
hand answers 401 without a token and 403 with the auditor's, and passes the admin's; every
endpoint that shows personal data or the run's evidence answers 401 without a token and passes
the auditor's. What the public needs stays open. The table is docs/security.md's.
"""

from __future__ import annotations

from typing import Any

import pytest

from egov_sim.citizen import DEMO_CITIZEN
from egov_sim.inprocess import Simulation
from simulation.access import TOKEN_HEADER

REGLAMENT = "almaty-housing-need"

ADMIN_ONLY: list[tuple[str, str, str, dict[str, Any] | None]] = [
    # the gateway's administration: participants, services, faults, delivery
    ("gateway", "PUT", "/admin/participants/intruder", {"password": "mine-now", "services": ["GBDFL_UniversalServiceSync"]}),
    ("gateway", "DELETE", "/admin/participants/portal", None),
    ("gateway", "PUT", "/admin/services/GBDFL_UniversalServiceSync", {"system": "echo"}),
    ("gateway", "DELETE", "/admin/services/GBDFL_UniversalServiceSync", None),
    ("gateway", "PUT", "/admin/faults/GBDFL_UniversalServiceSync", {"kind": "unreachable"}),
    ("gateway", "DELETE", "/admin/faults/GBDFL_UniversalServiceSync", None),
    ("gateway", "DELETE", "/admin/faults", None),
    ("gateway", "POST", "/admin/async/portal/some-message/stop", None),
    ("gateway-almaty", "PUT", "/admin/faults/GBDFL_UniversalServiceSync", {"kind": "unreachable"}),
    # the run's clock
    ("control", "POST", "/clock/advance", {"by": "1 minute"}),
    ("control", "POST", "/clock/next", None),
    ("control", "POST", "/clock/run", None),
    # the provider's staff, by the tester's hand
    ("provider_ws", "POST", "/api/cases/no-such-case/steps/1", None),
    ("provider_ws", "POST", "/api/chancellery/applications",
     {"reglament": REGLAMENT, "applicant": {"iin": "000000000000"}, "attachments": []}),
    ("provider_ws", "POST", "/api/chancellery/applications/no-such-case/collect", None),
    ("provider_ws", "POST", "/api/chancellery/queue", {"reglament": REGLAMENT, "applicant": {"iin": "000000000000"}}),
    ("provider_ws", "POST", f"/api/chancellery/queue/call?reglament={REGLAMENT}", None),
    ("provider_ws", "POST", "/api/dwellings", {"address": "x", "rooms": 1, "areaM2": 30, "fund": "state"}),
    ("provider_ws", "POST", "/api/allocations/run", None),
    ("provider_ws", "POST", "/api/allocations/1/accept", None),
    ("provider_ws", "POST", "/api/allocations/1/decline", None),
    # the State Corporation's operator logs in with the workstation's key
    ("corporation_ws", "POST", "/api/operator/sessions", None),
]

PERSONAL_DATA: list[tuple[str, str]] = [
    ("gateway", "/v1/messages"),
    ("gateway", "/v1/messages/evidence?correlationId=some-correlation"),
    ("gateway", "/v1/messages/verify"),
    ("gateway", "/admin/config"),
    ("gateway", "/admin/faults"),
    ("gateway-wko", "/v1/messages"),
    ("control", "/timers"),
    ("control", "/trace/some-application"),
    ("control", "/positions/some-application"),
    ("provider_ws", "/api/cases"),
    ("provider_ws", "/api/cases/some-application"),
    ("provider_ws", "/api/cases/some-application/delivery-registers"),
    ("provider_ws", "/api/cases/some-application/next"),
    ("provider_ws", "/api/queue/socially-vulnerable"),
    ("provider_ws", "/api/queues/socially-vulnerable"),
    ("provider_ws", "/api/allocations"),
    ("provider_ws", "/api/chancellery/applications/some-application"),
    ("provider_ws", f"/api/chancellery/queue?reglament={REGLAMENT}"),
    ("registries", "/api/access-log"),
    ("registries", "/api/population"),
    ("e_sobes", "/api/registrations"),
    ("e_sobes", "/api/registrations/by-application/some-application"),
    ("e_sobes", "/api/registrations/ES-2026-1"),
    ("e_akimdik", "/api/registrations"),
    ("e_akimdik", "/api/registrations/by-application/some-application"),
    ("e_akimdik", "/api/registrations/EA-2026-1"),
]

OPEN: list[tuple[str, str]] = [
    ("gateway", "/health"),
    ("gateway", "/openapi.json"),
    ("gateway", "/v1/errors"),
    ("gateway", "/metrics"),
    ("control", "/clock"),
    ("control", "/systems"),
    ("provider_ws", "/api/dwellings"),
    ("registries", "/docs"),
]


async def _call(simulation: Simulation, system: str, method: str, path: str, body: Any, role: str | None):
    async with simulation.client(system, role=role) as client:
        return await client.request(method, path, json=body)


async def test_every_change_to_the_run_needs_the_admin_token(simulation):
    for system, method, path, body in ADMIN_ONLY:
        anonymous = await _call(simulation, system, method, path, body, None)
        assert anonymous.status_code == 401, (system, method, path, anonymous.text)
        assert anonymous.json()["roles"] == ["admin"] and TOKEN_HEADER in anonymous.json()["message"]
        auditor = await _call(simulation, system, method, path, body, "auditor")
        assert auditor.status_code == 403, (system, method, path, auditor.text)
        assert auditor.json()["error"] == "forbidden"
    # nothing of it happened: the portal is still a participant, the registry still served, no fault
    async with simulation.client("gateway") as gateway:
        config = (await gateway.get("/admin/config")).json()
        assert "portal" in config["participants"] and "intruder" not in config["participants"]
        assert config["services"]["GBDFL_UniversalServiceSync"]["system"] == "registries"
        assert (await gateway.get("/admin/faults")).json() == {}
    # with the admin token each gets past the guard (to its own answer: done, 404, 409, 422)
    for system, method, path, body in ADMIN_ONLY:
        if (system, method) == ("gateway", "DELETE") and "participants" in path or "services/" in path:
            continue  # would take the portal or the registry out of this run
        admin = await _call(simulation, system, method, path, body, "admin")
        assert admin.status_code not in (401, 403), (system, method, path, admin.text)
        assert admin.status_code < 500, (system, method, path, admin.text)
    async with simulation.client("control") as control:
        before = (await control.get("/clock")).json()["now"]
        moved = await control.post("/clock/advance", json={"by": "20 minutes"})
        assert moved.status_code == 200 and moved.json()["now"] > before


async def test_personal_data_needs_the_auditor_or_admin_token(simulation):
    for system, path in PERSONAL_DATA:
        anonymous = await _call(simulation, system, "GET", path, None, None)
        assert anonymous.status_code == 401, (system, path, anonymous.text)
        assert anonymous.json()["roles"] == ["admin", "auditor"]
        async with simulation.client(system, role=None, headers={TOKEN_HEADER: "not-the-token"}) as guess:
            assert (await guess.get(path)).status_code == 401, (system, path)
        for role in ("auditor", "admin"):
            served = await _call(simulation, system, "GET", path, None, role)
            assert served.status_code not in (401, 403) and served.status_code < 500, (system, path, role, served.text)


async def test_the_message_log_shows_a_citizen_only_to_the_auditor(simulation):
    """A registry's answer passes the gateway: its log (ЖСН, birth date) and the registries'
    access log are the auditor's to read, nobody else's."""
    iin = DEMO_CITIZEN.iin
    person = await simulation.runtime("provider_ws").gateway().ask(
        "GBDFL_UniversalServiceSync", {"iin": iin}, correlation_id="roles-test")
    assert person["person"]["iin"] == iin
    async with simulation.client("gateway", role=None) as anonymous, \
            simulation.client("gateway", role="auditor") as auditor:
        refused = await anonymous.get("/v1/messages/evidence", params={"correlationId": "roles-test"})
        assert refused.status_code == 401 and iin not in refused.text
        shown = await auditor.get("/v1/messages/evidence", params={"correlationId": "roles-test"})
        assert shown.status_code == 200 and iin in shown.text
    async with simulation.client("registries", role=None) as anonymous, \
            simulation.client("registries", role="auditor") as auditor:
        assert (await anonymous.get("/api/access-log", params={"iin": iin})).status_code == 401
        log = await auditor.get("/api/access-log", params={"iin": iin})
        assert log.status_code == 200 and log.json()[0]["iin"] == iin


async def test_what_the_public_needs_stays_open(simulation):
    for system, path in OPEN:
        reply = await _call(simulation, system, "GET", path, None, None)
        assert reply.status_code == 200, (system, path, reply.text)


@pytest.mark.parametrize("system", ["gateway", "control", "provider_ws", "registries", "e_sobes", "e_akimdik"])
async def test_the_openapi_names_the_token_on_guarded_endpoints(simulation, system):
    async with simulation.client(system, role=None) as client:
        schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["runToken"]["name"] == TOKEN_HEADER
    guarded = [(path, method) for path, item in schema["paths"].items() for method, op in item.items()
               if op.get("security")]
    assert guarded, system
