"""Record a run's exchanges from the gateway's log and replay them offline on a mock gateway."""

from __future__ import annotations

import httpx
import pytest
import respx

from egov_sim.citizen import DEMO_CITIZEN
from egov_sim.clients import GatewayClient
from egov_sim.mocks import MockGateway
from egov_sim.replay import Recording
from gateway_protocol.client import GatewayClient as SystemGateway
from gateway_protocol.errors import GatewayFault

GBDFL = "GBDFL_UniversalServiceSync"
NOBODY = "010101500003"


class WallClock:
    async def now(self):
        from datetime import UTC, datetime

        return datetime.now(UTC)


async def test_record_save_load_and_replay(simulation, tmp_path) -> None:
    portal = simulation.runtime("portal").gateway()
    await portal.send(GBDFL, {"iin": DEMO_CITIZEN.iin}, correlation_id="rec-1")
    assert await portal.ask(GBDFL, {"iin": NOBODY}, correlation_id="rec-2") is None
    await simulation.runtime("corporation_ws").gateway().send("AR_AddressRegistrationHistory", {"iin": DEMO_CITIZEN.iin}, correlation_id="rec-1")
    async with simulation.client("gateway") as http:
        by_service = await Recording.from_gateway(GatewayClient(http), service=GBDFL)
        by_correlation = await Recording.from_gateway(GatewayClient(http), correlation_id="rec-1")
    assert [e.request for e in by_service.exchanges] == [{"iin": DEMO_CITIZEN.iin}, {"iin": NOBODY}]
    assert by_service.exchanges[0].provider == "registries" and by_service.exchanges[1].fault["errorCode"] == "Provider.NotFound"
    assert sorted(by_correlation.services()) == sorted([GBDFL, "AR_AddressRegistrationHistory"])

    loaded = Recording.load(by_service.save(tmp_path / "gbdfl.json"))
    with respx.mock(assert_all_called=False) as router:
        mock = loaded.mock(MockGateway(router))
        async with httpx.AsyncClient() as client:
            system = SystemGateway(client, mock.url, sender_id="portal", password="x", identity=mock.identity_of("portal"),
                                   clock=WallClock(), trusted_roots=mock.trusted_roots)
            person = await system.ask(GBDFL, {"iin": DEMO_CITIZEN.iin})
            assert person == by_service.exchanges[0].answer and person["person"]["iin"] == DEMO_CITIZEN.iin
            assert await system.ask(GBDFL, {"iin": NOBODY}) is None  # the recorded refusal, replayed
            with pytest.raises(GatewayFault) as missed:
                await system.ask(GBDFL, {"iin": "990101300004"})
    assert missed.value.code == "Provider.RequestInvalid"
    assert "the closest recorded one is" in missed.value.detail and "differs at: iin" in missed.value.detail
    assert loaded.misses and loaded.misses[0].differences == ["iin"]


def test_an_ignored_field_may_differ_and_a_foreign_file_is_refused(tmp_path) -> None:
    from egov_sim.replay import Exchange, Miss

    recording = Recording([Exchange("S", {"applicationId": "a-1", "iin": "1"}, 200, answer={"ok": True})])
    assert isinstance(recording.find("S", {"applicationId": "a-2", "iin": "1"}), Miss)
    assert recording.find("S", {"applicationId": "a-2", "iin": "1"}, ignore=("applicationId",)).answer == {"ok": True}
    assert str(recording.find("T", {})) == "replay: nothing of T was recorded"
    (tmp_path / "x.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="not an egov-sim recording"):
        Recording.load(tmp_path / "x.json")
    with pytest.raises(ValueError, match="one of them"):
        import asyncio

        asyncio.run(Recording.from_gateway(None))  # type: ignore[arg-type]


def test_a_recording_is_saved_for_its_owner_only(tmp_path) -> None:
    import os
    import stat

    from egov_sim.replay import Exchange

    recording = Recording([Exchange("S", {"iin": "1"}, 200, answer={"ok": True})])
    fresh = recording.save(tmp_path / "fresh.json")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    there = tmp_path / "there.json"
    there.write_text("old", encoding="utf-8")
    os.chmod(there, 0o644)
    recording.save(there)
    assert stat.S_IMODE(there.stat().st_mode) == 0o600
    assert Recording.load(there).exchanges == recording.exchanges
