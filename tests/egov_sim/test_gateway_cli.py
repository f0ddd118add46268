"""``egov-sim gateway fault list`` and ``egov-sim gateway record`` (egov_sim/gateway_cli.py) against
a gateway and a CA mocked with respx: a refusal is reported and exits 1, never printed as a
listing; an output path that cannot be written is named, without a traceback; a recording is
written readable by its owner only."""

from __future__ import annotations

import argparse
import io
import json
import stat
from pathlib import Path

import httpx
import respx

from egov_sim.gateway_cli import add_parser, run_gateway
from simulation.settings import Settings

REFUSAL = {"error": "unauthorized", "message": "a valid X-Egov-Sim-Token is required",
           "message_kk": "X-Egov-Sim-Token қажет", "message_ru": "нужен X-Egov-Sim-Token"}


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["gateway", *argv])


async def _run(settings: Settings, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run_gateway(_args(*argv), settings, out, err)
    return code, out.getvalue(), err.getvalue()


async def test_fault_list_reports_a_refusal_instead_of_listing_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "run")
    with respx.mock(assert_all_called=False) as router:
        gateway = router.get(f"{settings.url_of('gateway')}/admin/faults")
        ocsp = router.get(f"{settings.url_of('signatures')}/admin/faults")
        gateway.respond(200, json={"faults": []})
        ocsp.respond(200, json={"ocsp_down": False})
        code, out, err = await _run(settings, "fault", "list")
        assert code == 0, err
        assert json.loads(out) == {"gateway": {"faults": []}, "ocsp": {"ocsp_down": False}}

        gateway.respond(401, json=REFUSAL)
        code, out, err = await _run(settings, "fault", "list")
        assert code == 1 and out == ""
        assert "gateway: 401 unauthorized" in err and "X-Egov-Sim-Token" in err, err

        gateway.respond(200, json={"faults": []})
        ocsp.respond(403, json={"error": "forbidden", "message": "the administrator's token is required"})
        code, out, err = await _run(settings, "fault", "list")
        assert code == 1 and out == "" and "signatures: 403 forbidden" in err, err


async def test_record_names_an_output_it_cannot_write_and_saves_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "run")
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{settings.url_of('gateway')}/v1/messages/evidence").respond(
            200, json={"gateway": "gateway", "format": "egov-sim evidence v1", "records": []})

        missing = tmp_path / "missing-dir" / "x.json"
        code, out, err = await _run(settings, "record", "--correlation-id", "c-1", "--out", str(missing))
        assert code == 1 and str(missing) in err and "Traceback" not in err, err
        assert not missing.parent.exists()

        code, out, err = await _run(settings, "record", "--correlation-id", "c-1", "--out", str(tmp_path))
        assert code == 1 and str(tmp_path) in err and "Traceback" not in err, err  # a directory, not a file

        saved = tmp_path / "x.json"
        code, out, err = await _run(settings, "record", "--correlation-id", "c-1", "--out", str(saved))
        assert code == 0, err
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        assert json.loads(saved.read_text(encoding="utf-8"))["exchanges"] == []


async def test_record_reports_a_refusing_gateway(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "run")
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{settings.url_of('gateway')}/v1/messages/evidence").respond(401, json=REFUSAL)
        code, out, err = await _run(settings, "record", "--correlation-id", "c-1", "--out", str(tmp_path / "x.json"))
    assert code == 1 and "the gateway refused" in err and "401" in err, err
    assert not (tmp_path / "x.json").exists()


def test_the_gateway_does_not_answer(tmp_path: Path) -> None:
    import asyncio

    settings = Settings(data_dir=tmp_path / "run")
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{settings.url_of('gateway')}/admin/faults").mock(side_effect=httpx.ConnectError("refused"))
        code, _, err = asyncio.run(_run(settings, "fault", "list"))
    assert code == 1 and "is `egov-sim up` running?" in err, err
