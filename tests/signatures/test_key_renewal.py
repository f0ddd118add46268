"""A seeded key storage that expired in virtual time is renewed by the CA before it is used."""

from __future__ import annotations

from egov_sim.citizen import DEMO_CITIZEN, apply_on_portal
from signatures.identity import Identity
from signatures.ncalayer import person_key_storage
from simulation.calendar import Duration


async def test_people_renew_expired_keys_and_the_flow_goes_on(simulation, settings):
    before = person_key_storage(settings.data_dir, DEMO_CITIZEN.iin)
    old_serial = format(Identity.load(before).certificate.serial_number, "x")
    await simulation.runtime("control").clock.advance(Duration.parse("400 calendar days"))
    outcome = await apply_on_portal(simulation.client, "almaty-queue", DEMO_CITIZEN, data_dir=settings.data_dir)
    assert outcome.application["status"] == "result"
    assert outcome.application["result"]["verdict"]["code"] == "VALID"
    after = person_key_storage(settings.data_dir, DEMO_CITIZEN.iin)
    assert after != before and not before.exists()
    renewed = Identity.load(after).certificate
    now = await simulation.runtime("control").clock.now()
    assert renewed.not_valid_before_utc <= now < renewed.not_valid_after_utc
    async with simulation.client("signatures") as ca:
        status = (await ca.get(f"/v1/certificates/{old_serial}/status")).json()
    assert status["status"] == "revoked" and status["reason"] == "superseded"
    assert status["supersededBy"] == format(renewed.serial_number, "x")
