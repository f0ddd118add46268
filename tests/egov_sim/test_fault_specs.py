"""egov_sim/faults.py: a scenario's faults read as FaultSpec (refused naming why), turned into the
admin requests of the gateways and the signatures system, set and cleared."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from egov_sim.faults import FaultRefused, FaultSpec, apply_faults, clear_faults


@pytest.mark.parametrize("spec, words", [
    ({"system": "nowhere", "mode": "down"}, "system 'nowhere' is not a system of the run"),
    ({"system": "registries", "mode": "down", "gateway": "gateway-mars"}, "gateway 'gateway-mars' is not a gateway"),
    ({"system": "registries", "mode": "slow"}, "mode 'slow' needs a latency"),
    ({"system": "registries", "mode": "down", "latency": {"kind": "fixed", "ms": 5}}, "latency is for mode 'slow'"),
    ({"system": "registries", "mode": "error"}, "mode 'error' needs an error_code"),
    ({"system": "registries", "mode": "error", "error_code": "Oops"}, "'Oops' is not in the gateway's catalogue"),
    ({"system": "registries", "mode": "reset", "error_code": "Provider.Refused"}, "error_code is for mode 'error'"),
    ({"system": "registries", "mode": "down", "probability": 2}, "probability"),
    ({"system": "registries", "mode": "ocsp-down"}, "mode 'ocsp-down' is a fault of the system 'signatures'"),
    ({"system": "signatures", "mode": "ocsp-down", "probability": 0.5}, "takes no probability"),
    ({"system": "registries", "mode": "restart"}, "mode"),
    ({"system": "registries", "mode": "down", "after_step": "process-5"}, "after_step"),
])
def test_a_fault_spec_that_is_not_one_names_why(spec, words):
    with pytest.raises(ValidationError, match=words.replace("(", r"\(")):
        FaultSpec.model_validate(spec)


def test_a_fault_spec_becomes_the_admin_request():
    slow = FaultSpec(system="registries", service="GBDFL_UniversalServiceSync", mode="slow",
                     latency={"kind": "uniform", "min_ms": 10, "max_ms": 20}, probability=0.3, seed=9)
    assert (slow.owner, slow.path()) == ("gateway", "/admin/faults/GBDFL_UniversalServiceSync")
    assert slow.request() == {"mode": "slow", "latency": {"kind": "uniform", "min_ms": 10, "max_ms": 20},
                              "probability": 0.3, "seed": 9}
    whole = FaultSpec(system="registries", mode="down", gateway="gateway-almaty")
    assert (whole.owner, whole.path()) == ("gateway-almaty", "/admin/faults/systems/registries")
    ocsp = FaultSpec(system="signatures", mode="ocsp-down")
    assert (ocsp.owner, ocsp.path(), ocsp.request()) == ("signatures", "/admin/faults/ocsp", {"mode": "unavailable"})


async def test_faults_are_set_where_they_belong_and_cleared_everywhere(simulation):
    await apply_faults(simulation.client, [
        {"system": "registries", "service": "GBDFL_UniversalServiceSync", "mode": "error", "error_code": "Provider.Refused"},
        {"system": "registries", "mode": "slow", "gateway": "gateway-almaty", "latency": {"kind": "fixed", "ms": 5}},
        {"system": "signatures", "mode": "ocsp-down"},
    ])
    async with simulation.client("gateway") as gateway, simulation.client("gateway-almaty") as regional, \
            simulation.client("signatures") as ca:
        assert list((await gateway.get("/admin/faults")).json()) == ["GBDFL_UniversalServiceSync"]
        assert list((await regional.get("/admin/faults")).json()) == ["system:registries"]
        assert (await ca.get("/admin/faults")).json()["ocsp"] is not None
        with pytest.raises(FaultRefused, match="goes to 'registries'"):  # the service's target is not the system named
            await apply_faults(simulation.client, [{"system": "portal", "service": "GBDFL_UniversalServiceSync", "mode": "down"}])
        await clear_faults(simulation.client)
        assert (await gateway.get("/admin/faults")).json() == {}
        assert (await regional.get("/admin/faults")).json() == {}
        assert (await ca.get("/admin/faults")).json() == {"ocsp": None}
