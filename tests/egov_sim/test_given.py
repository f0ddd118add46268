"""egov_sim.given.give_certificate: a person's key storage valid, revoked, expired or issued to
another ЖСН, as the CA and the validators see it."""

from __future__ import annotations

import pytest

from egov_sim.citizen import DEMO_CITIZEN
from egov_sim.given import GivenRefused, give_certificate, give_records
from signatures.certificates import subject_info


async def test_each_kind_of_certificate_is_what_it_says(simulation):
    validator = simulation.runtime("gateway").validator
    now = await simulation.runtime("gateway").now()
    async with simulation.client("signatures") as ca:
        kinds = {kind: await give_certificate(ca, DEMO_CITIZEN, kind) for kind in ("valid", "revoked", "expired", "wrong-iin")}
        statuses = {kind: (await ca.get(f"/v1/certificates/{format(key.certificate.serial_number, 'x')}/status")).json()
                    for kind, key in kinds.items()}
    info = {kind: subject_info(key.certificate) for kind, key in kinds.items()}
    assert info["valid"]["iin"] == info["revoked"]["iin"] == info["expired"]["iin"] == DEMO_CITIZEN.iin
    assert info["wrong-iin"]["iin"] != DEMO_CITIZEN.iin and info["wrong-iin"]["iin"][:6] == DEMO_CITIZEN.iin[:6]
    assert info["wrong-iin"]["surname"] == DEMO_CITIZEN.surname
    assert info["expired"]["not_after"] < now < info["valid"]["not_after"]
    assert statuses["revoked"]["status"] == "revoked" and statuses["valid"]["status"] == "good"

    from signatures.jws import sign_detached
    verdicts = {kind: await validator.jws(sign_detached({"x": 1}, key.key, key.chain), {"x": 1}, at=now)
                for kind, key in kinds.items()}
    assert verdicts["valid"].valid and verdicts["wrong-iin"].valid
    assert not verdicts["revoked"].valid and not verdicts["expired"].valid

    async with simulation.client("signatures") as ca:
        with pytest.raises(ValueError):
            await give_certificate(ca, DEMO_CITIZEN, "stolen")  # type: ignore[arg-type]


async def test_the_registries_refusal_reaches_the_caller(simulation):
    async with simulation.client("registries", role="auditor") as registries:
        with pytest.raises(GivenRefused) as refused:
            await give_records(registries, {"persons": []})
    assert refused.value.status == 403
