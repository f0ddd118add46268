"""docs/outside-systems.md: its example runs as written (extracted, run in a subprocess), and
``egov-sim gateway join`` (egov_sim/join.py) registers a client and a provider."""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from egov_sim.join import add_join_parser, run_join
from egov_sim.outside import new_csr

ROOT = Path(__file__).resolve().parents[2]
CEILING = 300.0
"""Seconds after which the example is taken for a hang."""


def example() -> str:
    text = (ROOT / "docs" / "outside-systems.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- outside-example: outside_example.py -->\n```python\n(.*?)\n```", text, re.S)
    assert match, "docs/outside-systems.md shows no example"
    return match.group(1) + "\n"


def test_the_documented_example_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "outside_example.py").write_text(example(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "outside_example.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=CEILING, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    printed = re.search(r"It prints:\n\n```text\n(.*?)\n```", (ROOT / "docs" / "outside-systems.md").read_text("utf-8"), re.S)
    assert printed and done.stdout.strip().splitlines() == printed.group(1).splitlines(), done.stdout


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_join_parser(parser.add_subparsers(dest="gateway_command"))
    return parser.parse_args(["join", *argv])


async def test_join_registers_a_client_and_a_provider(simulation, tmp_path: Path) -> None:
    from cryptography import x509

    key, csr = new_csr("acme_bank")
    (tmp_path / "bank.csr").write_text(csr, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = await run_join(_args("client", "acme_bank", "--password", "Acme-2026!", "--service",
                                "GBDFL_UniversalServiceSync", "--csr", str(tmp_path / "bank.csr")),
                          simulation.settings, out, err, transport=simulation.transport)
    assert code == 0, err.getvalue()
    chain = x509.load_pem_x509_certificates((tmp_path / "bank.chain.pem").read_bytes())
    assert chain[0].public_key().public_numbers() == key.public_key().public_numbers()

    _, csr = new_csr("acme_scoring")
    (tmp_path / "scoring.csr").write_text(csr, encoding="utf-8")
    code = await run_join(_args("provider", "acme_scoring", "--url", "http://127.0.0.1:9", "--service", "ACME_Score",
                                "--csr", str(tmp_path / "scoring.csr")),
                          simulation.settings, out, err, transport=simulation.transport)
    assert code == 0, err.getvalue()
    async with simulation.client("gateway") as gateway:
        config = (await gateway.get("/admin/config")).json()
    assert config["participants"]["acme_bank"]["services"] == ["GBDFL_UniversalServiceSync"]
    assert config["services"]["ACME_Score"] == {"system": "acme_scoring", "url": "http://127.0.0.1:9", "regional": False}

    err = io.StringIO()
    code = await run_join(_args("client", "acme_bank", "--service", "GBDFL_UniversalServiceSync", "--csr",
                                str(tmp_path / "bank.csr")), simulation.settings, out, err, transport=simulation.transport)
    assert code == 2 and "--password" in err.getvalue()
    code = await run_join(_args("client", "acme_other", "--password", "x", "--service", "NO_SUCH",
                                "--csr", str(tmp_path / "bank.csr")), simulation.settings, out, err,
                          transport=simulation.transport)
    assert code == 1 and "NO_SUCH" in err.getvalue()


async def test_a_csr_named_pem_is_kept_and_a_refused_csr_joins_nothing(simulation, tmp_path: Path) -> None:
    from cryptography import x509

    from egov_sim.outside import OutsideRefused, register_client

    _, csr = new_csr("acme_bank")
    (tmp_path / "bank.pem").write_text(csr, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = await run_join(_args("client", "acme_bank", "--password", "Acme-2026!", "--service",
                                "GBDFL_UniversalServiceSync", "--csr", str(tmp_path / "bank.pem")),
                          simulation.settings, out, err, transport=simulation.transport)
    assert code == 0, err.getvalue()
    assert (tmp_path / "bank.pem").read_text(encoding="utf-8") == csr  # the CSR is not overwritten
    assert x509.load_pem_x509_certificates((tmp_path / "bank.chain.pem").read_bytes())
    assert str(tmp_path / "bank.chain.pem") in out.getvalue()

    # a chain path that leads back to the CSR (a link) is refused before any call
    _, other = new_csr("acme_linked")
    (tmp_path / "linked.csr").write_text(other, encoding="utf-8")
    (tmp_path / "linked.chain.pem").symlink_to(tmp_path / "linked.csr")
    err = io.StringIO()
    code = await run_join(_args("client", "acme_linked", "--password", "x", "--service", "GBDFL_UniversalServiceSync",
                                "--csr", str(tmp_path / "linked.csr")), simulation.settings, out, err,
                          transport=simulation.transport)
    assert code == 2 and "overwrite the CSR" in err.getvalue()
    assert (tmp_path / "linked.csr").read_text(encoding="utf-8") == other

    # the CA refuses the CSR: the gateway never hears of the client
    (tmp_path / "broken.csr").write_text("-----BEGIN CERTIFICATE REQUEST-----\nnot one\n"
                                         "-----END CERTIFICATE REQUEST-----\n", encoding="utf-8")
    err = io.StringIO()
    code = await run_join(_args("client", "acme_broken", "--password", "x", "--service", "GBDFL_UniversalServiceSync",
                                "--csr", str(tmp_path / "broken.csr")), simulation.settings, out, err,
                          transport=simulation.transport)
    assert code == 1 and "the CA certifying acme_broken refused" in err.getvalue(), err.getvalue()
    assert not (tmp_path / "broken.chain.pem").exists()
    async with simulation.client("gateway") as gateway, simulation.client("signatures") as ca:
        assert "acme_broken" not in (await gateway.get("/admin/config")).json()["participants"]
        with pytest.raises(OutsideRefused) as refused:  # the library's order is the same
            await register_client(gateway, ca, "acme_library", ["GBDFL_UniversalServiceSync"], "x",
                                  csr=(new_csr("acme_library")[0], (tmp_path / "broken.csr").read_text("utf-8")))
        assert refused.value.step == "the CA certifying acme_library"
        assert "acme_library" not in (await gateway.get("/admin/config")).json()["participants"]
