"""The message log: a hash chain a command checks, and evidence that can be checked alone."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from conftest import post, signed_message
from sqlalchemy import delete, update

from gateway.messagelog import HASHED_FIELDS, GENESIS
from gateway.models import LogRecord
from gateway_protocol.envelope import SyncRequest, signed_content
from signatures.jws import canonical_json, verify_detached


def verify_log(run) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "egov_sim.cli", "gateway", "--data-dir", str(run.settings.data_dir), "verify-log"],
        capture_output=True, text=True, timeout=120,
    )


async def test_the_chain_command_passes_then_names_the_first_altered_record(echo_run):
    for n in range(3):
        assert (await post(echo_run, await signed_message(echo_run, correlation_id=f"c{n}"))).status_code == 200
    async with echo_run.client("gateway") as gateway:
        report = (await gateway.get("/v1/messages/verify")).json()
    assert {k: report[k] for k in ("records", "ok", "firstBad", "problem")} == {
        "records": 6, "ok": True, "firstBad": None, "problem": None}
    good = verify_log(echo_run)
    assert good.returncode == 0 and "holds (6 records" in good.stdout

    database = echo_run.runtime("gateway").db
    async with database.session() as session:
        await session.exec(update(LogRecord).where(LogRecord.seq == 3).values(status="DELIVERED"))
        await session.commit()
    bad = verify_log(echo_run)
    assert bad.returncode == 1
    assert "breaks at record 3" in bad.stdout and "changed" in bad.stdout


async def test_a_deleted_record_is_detected(echo_run):
    for _ in range(2):
        await post(echo_run, await signed_message(echo_run))
    async with echo_run.client("gateway") as gateway:
        await gateway.get("/v1/messages/verify")  # flushes the log
    database = echo_run.runtime("gateway").db
    async with database.session() as session:
        await session.exec(delete(LogRecord).where(LogRecord.seq == 2))
        await session.commit()
    async with echo_run.client("gateway") as gateway:
        report = (await gateway.get("/v1/messages/verify")).json()
    assert report["ok"] is False and report["firstBad"] == 2 and "missing" in report["problem"]


async def test_evidence_can_be_checked_without_the_gateway(echo_run, tmp_path):
    for _ in range(2):
        await post(echo_run, await signed_message(echo_run, correlation_id="application-7"))
    await post(echo_run, await signed_message(echo_run, correlation_id="someone-else"))
    async with echo_run.client("gateway") as gateway:
        exported = (await gateway.get("/v1/messages/evidence", params={"correlationId": "application-7"})).json()
    records = exported["records"]
    assert len(records) == 4 and {r["correlation_id"] for r in records} == {"application-7"}
    roots = echo_run.runtime("gateway").trusted_roots
    at = await echo_run.runtime("gateway").now()
    for record in records:
        content = {name: record[name] for name in HASHED_FIELDS}
        assert hashlib.sha256(canonical_json(content)).hexdigest() == record["hash"]
        message = record["message"]
        if record["kind"] == "request":
            assert message["request"]["requestInfo"]["sender"]["password"] == "***"
            request = SyncRequest.model_validate(message["request"])
            assert verify_detached(message["signature"], signed_content(request), trusted_roots=roots, at=at).valid
    # The command writes the same evidence to a file.
    out = tmp_path / "evidence.json"
    result = subprocess.run(
        [sys.executable, "-m", "egov_sim.cli", "gateway", "--data-dir", str(echo_run.settings.data_dir),
         "export", "--correlation-id", "application-7", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert [r["hash"] for r in json.loads(out.read_text(encoding="utf-8"))["records"]] == [r["hash"] for r in records]


async def test_the_first_record_links_to_the_genesis(echo_run):
    await post(echo_run, await signed_message(echo_run))
    async with echo_run.client("gateway") as gateway:
        await gateway.get("/v1/messages/verify")  # flushes the log
    async with echo_run.runtime("gateway").db.session() as session:
        row = await session.get(LogRecord, ("", 1))  # (chain, seq): the gateway's own chain
    assert row is not None and row.prev_hash == GENESIS
