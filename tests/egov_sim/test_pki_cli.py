"""`egov-sim pki` against real tools: openssl accepts what egov-sim issues, signs and publishes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

PASSWORD = "Secret-2026"
CITIZEN = "900515401230"


def _env(data_dir: Path, base_port: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["EGOV_SIM_DATA_DIR"] = str(data_dir)
    if base_port is not None:
        env["EGOV_SIM_BASE_PORT"] = str(base_port)
    return env


def pki(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "egov_sim.cli", "pki", *args],
        env=_env(data_dir), capture_output=True, text=True, timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"pki {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


def openssl(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["openssl", *args], capture_output=True, timeout=60, input=input.encode() if input else None
    )
    result = subprocess.CompletedProcess(
        result.args, result.returncode,
        result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace"),
    )
    if check and result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


def _certificate_of(p12: Path, tmp: Path) -> Path:
    pem = tmp / (p12.stem + ".pem")
    openssl("pkcs12", "-in", str(p12), "-nokeys", "-clcerts", "-passin", f"pass:{PASSWORD}", "-out", str(pem))
    return pem


@pytest.fixture
def run(tmp_path: Path) -> Path:
    data_dir = tmp_path / "run"
    data_dir.mkdir()
    return data_dir


def test_issue_prints_the_serial_and_openssl_opens_the_key_storage(run, tmp_path):
    p12 = tmp_path / "aliya.p12"
    issued = pki(run, "issue", "--iin", CITIZEN, "--out", str(p12), "--password", PASSWORD)
    serial = issued.stdout.strip()
    assert int(serial, 16) > 0
    info = openssl("pkcs12", "-info", "-nokeys", "-in", str(p12), "-passin", f"pass:{PASSWORD}")
    assert f"IIN{CITIZEN}" in info.stdout
    subject = openssl("x509", "-in", str(_certificate_of(p12, tmp_path)), "-noout", "-subject", "-nameopt", "utf8")
    assert "НҰРЛАНОВА" in subject.stdout
    wrong = openssl("pkcs12", "-info", "-nokeys", "-in", str(p12), "-passin", "pass:wrong", check=False)
    assert wrong.returncode != 0


def test_openssl_crl_check_sees_the_revocation(run, tmp_path):
    p12 = tmp_path / "cert.p12"
    serial = pki(run, "issue", "--iin", CITIZEN, "--out", str(p12), "--password", PASSWORD).stdout.strip()
    cert = _certificate_of(p12, tmp_path)
    out = tmp_path / "ca"
    printed = pki(run, "ca", "--out", str(out)).stdout
    assert "/v1/crl/rsa.crl" in printed and "/v1/ocsp" in printed
    ok = openssl("verify", "-crl_check", "-CAfile", str(out / "chain.pem"), "-CRLfile", str(out / "crl.pem"), str(cert))
    assert ok.stdout.strip().endswith(": OK")

    pki(run, "revoke", serial, "--reason", "keyCompromise")
    pki(run, "ca", "--out", str(out))
    refused = openssl(
        "verify", "-crl_check", "-CAfile", str(out / "chain.pem"), "-CRLfile", str(out / "crl.pem"), str(cert),
        check=False,
    )
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr
    crl_text = openssl("crl", "-in", str(out / "crl.pem"), "-noout", "-text").stdout
    assert serial.upper().lstrip("0") in crl_text.replace(":", "").upper()
    assert "Key Compromise" in crl_text


def test_openssl_cms_verify_accepts_our_signature_and_rejects_a_changed_byte(run, tmp_path):
    p12 = tmp_path / "signer.p12"
    pki(run, "issue", "--iin", CITIZEN, "--out", str(p12), "--password", PASSWORD)
    out = tmp_path / "ca"
    pki(run, "ca", "--out", str(out))
    document = tmp_path / "request.json"
    document.write_text('{"applicant": {"iin": "900515401230"}, "reglament": "almaty-queue"}', encoding="utf-8")
    for detached in (False, True):
        signature = tmp_path / f"request-{detached}.p7s"
        pki(run, "sign", str(document), "--key", str(p12), "--password", PASSWORD, "--out", str(signature),
            *(["--detached"] if detached else []))
        args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature), "-CAfile", str(out / "chain.pem"),
                "-purpose", "any", "-out", str(tmp_path / "verified.bin")]
        if detached:
            args += ["-content", str(document)]
        openssl(*args)
        assert (tmp_path / "verified.bin").read_bytes() == document.read_bytes()
        verdict = pki(run, "verify", str(signature), *(["--content", str(document)] if detached else []))
        assert verdict.stdout.startswith("VALID")

    changed = tmp_path / "changed.json"
    data = bytearray(document.read_bytes())
    data[data.index(b"9")] = ord("8")
    changed.write_bytes(bytes(data))
    signature = tmp_path / "request-True.p7s"
    rejected = openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature), "-content", str(changed),
                       "-CAfile", str(out / "chain.pem"), "-purpose", "any", "-out", os.devnull, check=False)
    assert rejected.returncode != 0
    verdict = pki(run, "verify", str(signature), "--content", str(changed), check=False)
    assert verdict.returncode == 1
    assert verdict.stdout.startswith("SIGNATURE_MISMATCH")


def test_verify_reports_revocation_with_when_and_why(run, tmp_path):
    p12 = tmp_path / "signer.p12"
    serial = pki(run, "issue", "--iin", CITIZEN, "--out", str(p12), "--password", PASSWORD).stdout.strip()
    document = tmp_path / "doc.txt"
    document.write_text("өтініш", encoding="utf-8")
    signature = tmp_path / "doc.p7s"
    pki(run, "sign", str(document), "--key", str(p12), "--password", PASSWORD, "--out", str(signature))
    pki(run, "revoke", serial, "--reason", "cessationOfOperation")
    verdict = pki(run, "verify", str(signature), check=False)
    assert verdict.returncode == 1
    assert verdict.stdout.startswith("REVOKED")
    assert "cessationOfOperation" in verdict.stdout


def test_revoke_tells_the_gateways_and_names_those_not_reached(run, tmp_path):
    """The CLI is the administrator's: its revocation tells every gateway of the run to forget its
    cached OCSP answer; with none running (here), each is named, and the revocation stands."""
    env = _env(run, base_port=_free_port())
    serials = []
    for name in ("a", "b"):
        issued = subprocess.run([sys.executable, "-m", "egov_sim.cli", "pki", "issue", "--iin", CITIZEN, "--out",
                                 str(tmp_path / f"{name}.p12"), "--password", PASSWORD],
                                env=env, capture_output=True, text=True, timeout=120, check=True)
        serials.append(issued.stdout.strip())

    def revoke(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "egov_sim.cli", "pki", "revoke", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    told = revoke(serials[0], "--reason", "keyCompromise")
    assert told.returncode == 0, told.stderr
    lines = told.stdout.splitlines()
    assert lines[0].startswith(f"{serials[0]} revoked at") and "keyCompromise" in lines[0]
    assert lines[1] == "gateways told to forget their cached status: none"
    missed = [line.split()[2] for line in lines[2:]]
    assert sorted(missed) == sorted(["gateway", "gateway-almaty", "gateway-karaganda", "gateway-pavlodar",
                                     "gateway-wko"]), told.stdout
    quiet = revoke(serials[1], "--no-notify")
    assert quiet.returncode == 0 and quiet.stdout.splitlines() == [quiet.stdout.splitlines()[0]], quiet.stdout


def test_bad_input_is_named_not_a_stack_trace(run, tmp_path):
    bad = pki(run, "issue", "--iin", "900515401231", "--out", str(tmp_path / "x.p12"), "--password", "p", check=False)
    assert bad.returncode == 2
    assert "iin" in bad.stderr and "Traceback" not in bad.stderr
    reason = pki(run, "revoke", "abc", "--reason", "because", check=False)
    assert reason.returncode == 2 and "reason" in reason.stderr and "Traceback" not in reason.stderr
    missing = pki(run, "sign", str(tmp_path / "none.txt"), "--key", "none.p12", "--password", "x",
                  "--out", str(tmp_path / "o.p7s"), check=False)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_issue_expired_and_not_yet_valid(run, tmp_path):
    for flag, word in (("--expired", "has expired"), ("--not-yet-valid", "is not yet valid")):
        p12 = tmp_path / f"{flag}.p12"
        pki(run, "issue", "--iin", CITIZEN, flag, "--out", str(p12), "--password", PASSWORD)
        cert = _certificate_of(p12, tmp_path)
        out = tmp_path / "ca"
        pki(run, "ca", "--out", str(out))
        result = openssl("verify", "-CAfile", str(out / "chain.pem"), str(cert), check=False)
        assert result.returncode != 0
        assert f"certificate {word}" in result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_openssl_ocsp_answers_good_then_revoked(run, tmp_path):
    port = _free_port()
    p12 = tmp_path / "cert.p12"
    # Issue before the service starts: the service must see the CLI's certificates (same data).
    env = _env(run, base_port=port - 1)
    subprocess.run([sys.executable, "-m", "egov_sim.cli", "pki", "issue", "--iin", CITIZEN, "--out", str(p12),
                    "--password", PASSWORD], env=env, check=True, capture_output=True, timeout=120)
    cert = _certificate_of(p12, tmp_path)
    out = tmp_path / "ca"
    subprocess.run([sys.executable, "-m", "egov_sim.cli", "pki", "ca", "--out", str(out)], env=env, check=True,
                   capture_output=True, timeout=120)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "signatures.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180  # only against a hang
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the signatures service did not start"
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/v1/ocsp"

        def ask() -> str:
            return openssl("ocsp", "-issuer", str(out / "rsa.pem"), "-cert", str(cert), "-url", url,
                           "-CAfile", str(out / "chain.pem")).stdout

        good = ask()
        assert f"{cert}: good" in good
        serial = subprocess.run(
            ["openssl", "x509", "-in", str(cert), "-noout", "-serial"], capture_output=True, text=True
        ).stdout.strip().split("=")[1]
        subprocess.run([sys.executable, "-m", "egov_sim.cli", "pki", "revoke", serial.lower(), "--reason",
                        "keyCompromise"], env=env, check=True, capture_output=True, timeout=120)
        revoked = ask()
        assert f"{cert}: revoked" in revoked
        assert "Key Compromise" in revoked or "keyCompromise" in revoked
    finally:
        server.terminate()
        server.wait(timeout=10)
