"""Issue 14, point 7: the gateway's message log anchored by signed checkpoints that the PKI's
time-stamping authority (RFC 3161) stamps -- the three tamperings a bare hash chain misses are
caught, a checkpoint is written at shutdown, openssl accepts the tokens, and the TSA refuses
what is no time-stamp query."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from asn1crypto import tsp
from sqlalchemy import delete, update
from sqlmodel import select

from egov_sim.inprocess import Simulation
from gateway.messagelog import GENESIS, HASHED_FIELDS, CheckpointPolicy, MessageLog, _hash
from gateway.models import GatewayModel, LogCheckpoint, LogRecord
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import SYNC_PATH
from signatures.timestamping import QUERY_TYPE, REPLY_TYPE, TSA_POLICY, TimeStampResponse, make_query
from simulation.database import Database, drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

VIRTUAL_START = datetime.fromisoformat("2026-11-02T10:00:00+05:00")
CEILING = 120.0


def run_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "anchored-run", seed_people=False, clock_start=VIRTUAL_START)


@pytest.fixture
async def run(tmp_path) -> AsyncIterator[Simulation]:
    settings = run_settings(tmp_path)
    async with Simulation(settings, extra=("echo",)) as simulation:
        yield simulation
    await drop_run(settings, (*SYSTEMS, "simulation"))


def message_log(simulation: Simulation) -> MessageLog:
    return simulation.apps["gateway"].state.gateway.log


async def send(simulation: Simulation, messages: int) -> None:
    echo = simulation.runtime("echo")
    async with simulation.client("gateway") as gateway:
        for n in range(messages):
            message = build_signed_request(
                echo.identity, sender_id="echo", password=echo.credentials.password_of("echo"), service_id="ECHO_Central",
                data={"hello": "сәлем", "n": n}, message_date=await echo.now(), correlation_id=f"application-{n}",
            ).model_dump(mode="json", exclude_none=True)
            assert (await gateway.post(SYNC_PATH, json=message)).status_code == 200
    await message_log(simulation).flush()


async def checkpoint_now(simulation: Simulation) -> None:
    assert await message_log(simulation).checkpoint(), message_log(simulation).anchor_problem


def verify_log(simulation: Simulation) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "egov_sim.cli", "gateway", "--data-dir", str(simulation.settings.data_dir), "verify-log"],
        capture_output=True, text=True, timeout=120,
    )


async def rehash_from(database: Database, first: int) -> None:
    """What an attacker who knows the hash rule does: recompute every link and hash from ``first``."""
    async with database.session() as session:
        rows = list((await session.exec(select(LogRecord).where(LogRecord.seq >= first - 1).order_by(LogRecord.seq))).all())
        previous = GENESIS if first == 1 else rows.pop(0).hash
        for row in rows:
            content = {name: getattr(row, name) for name in HASHED_FIELDS}
            content["prev_hash"] = previous
            previous = _hash(content)
            await session.exec(update(LogRecord).where(LogRecord.seq == row.seq).values(prev_hash=content["prev_hash"], hash=previous))
        await session.commit()


async def test_the_last_records_deleted_are_caught(run):
    await send(run, 3)  # six records
    await checkpoint_now(run)
    assert verify_log(run).returncode == 0
    async with run.runtime("gateway").db.session() as session:
        await session.exec(delete(LogRecord).where(LogRecord.seq >= 5))
        await session.commit()
    bad = verify_log(run)
    assert bad.returncode == 1, bad.stdout
    assert "breaks at record 5" in bad.stdout and "checkpoint 6" in bad.stdout and "2 records were deleted" in bad.stdout


async def test_a_record_deleted_and_the_rest_renumbered_and_rehashed_is_caught(run):
    await send(run, 2)
    await checkpoint_now(run)  # records 1-4
    await send(run, 2)
    await checkpoint_now(run)  # records 1-8
    database = run.runtime("gateway").db
    async with database.session() as session:
        await session.exec(delete(LogRecord).where(LogRecord.seq == 2))
        for seq in range(3, 9):
            await session.exec(update(LogRecord).where(LogRecord.seq == seq).values(seq=seq - 1))
        await session.commit()
    await rehash_from(database, 2)
    async with run.client("gateway") as gateway:
        report = (await gateway.get("/v1/messages/verify")).json()
    assert report["ok"] is False and report["firstBad"] == 1
    assert "checkpoint 4" in report["problem"] and "renumbered" in report["problem"]
    bad = verify_log(run)
    assert bad.returncode == 1 and "are not the records checkpoint 4" in bad.stdout


async def test_a_body_edited_and_the_chain_rehashed_is_caught(run):
    await send(run, 3)
    await checkpoint_now(run)  # records 1-6
    await send(run, 1)  # records 7-8, not yet anchored
    database = run.runtime("gateway").db
    async with database.session() as session:
        row = await session.get(LogRecord, ("", 3))
        assert row is not None
        body = json.loads(row.body)
        body["request"]["requestData"]["data"]["hello"] = "forged"
        await session.exec(update(LogRecord).where(LogRecord.seq == 3).values(body=json.dumps(body)))
        await session.commit()
    await rehash_from(database, 3)
    bad = verify_log(run)
    assert bad.returncode == 1, bad.stdout
    assert "breaks at record 1" in bad.stdout and "records 1-6 are not the records checkpoint 6" in bad.stdout


async def test_a_forged_checkpoint_is_caught(run):
    """Re-hashing the chain and then moving the checkpoint's hash along breaks its signature."""
    await send(run, 2)
    await checkpoint_now(run)
    database = run.runtime("gateway").db
    async with database.session() as session:
        await session.exec(update(LogRecord).where(LogRecord.seq == 2).values(status="FORGED"))
        await session.commit()
    await rehash_from(database, 2)
    async with database.session() as session:
        last = await session.get(LogRecord, ("", 4))
        assert last is not None
        await session.exec(update(LogCheckpoint).where(LogCheckpoint.seq == 4).values(record_hash=last.hash))
        await session.commit()
    bad = verify_log(run)
    assert bad.returncode == 1 and "checkpoint 4" in bad.stdout and "differ from the statement it signed" in bad.stdout


async def test_a_checkpoint_is_written_at_shutdown(tmp_path):
    settings = run_settings(tmp_path)
    try:
        async with Simulation(settings, extra=("echo",)) as simulation:
            await send(simulation, 2)
            last_seq = message_log(simulation)._last_seq
        database = Database(settings, "gateway")
        try:
            await database.create_tables([GatewayModel.metadata])
            async with database.session() as session:
                checkpoints = list((await session.exec(select(LogCheckpoint))).all())
                last = await session.get(LogRecord, ("", last_seq))
        finally:
            await database.dispose()
        assert last_seq == 4 and last is not None
        assert [c.seq for c in checkpoints][-1] == 4 and checkpoints[-1].record_hash == last.hash
        done = subprocess.run(
            [sys.executable, "-m", "egov_sim.cli", "gateway", "--data-dir", str(settings.data_dir), "verify-log"],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0 and "the last at record 4" in done.stdout and "note" not in done.stdout, done.stdout
    finally:
        await drop_run(settings, (*SYSTEMS, "simulation"))


async def test_checkpoints_come_every_n_records(run):
    message_log(run).anchor.policy = CheckpointPolicy(every_records=4, every_seconds=3600, retry_seconds=0.1)
    await send(run, 2)
    database = run.runtime("gateway").db
    deadline = asyncio.get_running_loop().time() + CEILING
    while True:
        async with database.session() as session:
            seqs = [c.seq for c in (await session.exec(select(LogCheckpoint))).all()]
        if seqs:
            break
        assert asyncio.get_running_loop().time() < deadline, f"no checkpoint after {CEILING:g} s"
        await asyncio.sleep(0.05)
    assert seqs == [4]


async def test_an_unreachable_tsa_holds_no_message_and_the_gap_is_reported(run):
    log = message_log(run)
    tsa_url = log.anchor.tsa_url
    log.anchor.tsa_url = "http://127.0.0.1:9/tsa"  # nothing listens there
    await send(run, 2)
    assert await log.checkpoint() is False
    assert "records 1-4 are not anchored" in log.anchor_problem and "could not be reached" in log.anchor_problem
    async with run.client("gateway") as gateway:
        report = (await gateway.get("/v1/messages/verify")).json()
    assert report["ok"] is True and report["checkpoints"] == 0 and report["unanchored"] == 4
    log.anchor.tsa_url = tsa_url  # the TSA is back: the next try anchors the gap
    assert await log.checkpoint() is True and log.anchor_problem is None
    assert verify_log(run).returncode == 0


async def test_openssl_accepts_a_checkpoint_token(run, tmp_path):
    await send(run, 1)
    await checkpoint_now(run)
    async with run.runtime("gateway").db.session() as session:
        [checkpoint] = (await session.exec(select(LogCheckpoint))).all()
    async with run.client("signatures") as ca:
        (tmp_path / "ca.pem").write_bytes((await ca.get("/v1/ca/chain")).content)  # both issuing CAs and the root
    signature = base64.b64decode(checkpoint.signature)
    (tmp_path / "signature.der").write_bytes(signature)
    (tmp_path / "token.der").write_bytes(base64.b64decode(checkpoint.token))
    at = str(checkpoint.gen_time_us // 1_000_000)
    for data in (["-data", str(tmp_path / "signature.der")], ["-digest", hashlib.sha256(signature).hexdigest()]):
        checked = subprocess.run(
            ["openssl", "ts", "-verify", *data, "-in", str(tmp_path / "token.der"), "-token_in",
             "-CAfile", str(tmp_path / "ca.pem"), "-attime", at],
            capture_output=True, text=True, timeout=60,
        )
        assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stdout + checked.stderr
    # Another signature is not what the token stamps.
    (tmp_path / "other.der").write_bytes(signature + b"\0")
    refused = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(tmp_path / "other.der"), "-in", str(tmp_path / "token.der"),
         "-token_in", "-CAfile", str(tmp_path / "ca.pem"), "-attime", at],
        capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode != 0


async def test_the_tsa_answers_an_openssl_query_in_virtual_time(run, tmp_path):
    (tmp_path / "data").write_bytes(b"a document")
    subprocess.run(["openssl", "ts", "-query", "-data", str(tmp_path / "data"), "-sha256", "-cert",
                    "-out", str(tmp_path / "query.tsq")], check=True, capture_output=True, timeout=60)
    async with run.client("signatures", role=None) as ca:  # anyone may have a time-stamp
        reply = await ca.post("/tsa", content=(tmp_path / "query.tsq").read_bytes(), headers={"Content-Type": QUERY_TYPE})
        (tmp_path / "ca.pem").write_bytes((await ca.get("/v1/ca/chain")).content)
    assert reply.status_code == 200 and reply.headers["content-type"] == REPLY_TYPE
    (tmp_path / "reply.tsr").write_bytes(reply.content)
    text = subprocess.run(["openssl", "ts", "-reply", "-in", str(tmp_path / "reply.tsr"), "-text"],
                          capture_output=True, text=True, timeout=60).stdout
    assert "Status: Granted." in text and f"Policy OID: {TSA_POLICY}" in text
    assert "Time stamp: Nov  2 05:00" in text  # the run's virtual morning (10:00 in Almaty), not the wall clock's day
    checked = subprocess.run(
        ["openssl", "ts", "-verify", "-queryfile", str(tmp_path / "query.tsq"), "-in", str(tmp_path / "reply.tsr"),
         "-CAfile", str(tmp_path / "ca.pem"), "-attime", str(int(VIRTUAL_START.timestamp()) + 60)],
        capture_output=True, text=True, timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_the_tsa_refuses_what_is_no_time_stamp_query(run):
    async with run.client("signatures", role=None) as ca:
        malformed = await ca.post("/tsa", content=b"\x30\x03\x02\x01", headers={"Content-Type": QUERY_TYPE})
        wrong_type = await ca.post("/tsa", json={"digest": "00"})
        md5 = tsp.TimeStampReq({
            "version": "v1", "message_imprint": {"hash_algorithm": {"algorithm": "md5"}, "hashed_message": b"1" * 16},
        }).dump()
        unsupported = await ca.post("/tsa", content=md5, headers={"Content-Type": QUERY_TYPE})
        short = await ca.post("/tsa", content=make_query(b"\1" * 20, 7), headers={"Content-Type": QUERY_TYPE})
    assert malformed.status_code == 400
    body = malformed.json()
    assert body["fields"][0]["field"] == "body" and "not a DER-encoded TimeStampReq" in body["fields"][0]["problem"]
    assert body["message_kk"] and body["message_ru"]
    assert wrong_type.status_code == 415 and wrong_type.json()["fields"][0]["field"] == "Content-Type"
    # A readable query the TSA will not stamp: RFC 3161's rejection, naming the failure.
    for reply, failure, field in ((unsupported, "bad_alg", "hashAlgorithm"), (short, "bad_data_format", "hashedMessage")):
        assert reply.status_code == 200 and reply.headers["content-type"] == REPLY_TYPE
        status = TimeStampResponse.load(reply.content)["status"]
        assert status["status"].native == "rejection" and status["fail_info"].native == {failure}
        assert field in status["status_string"].native[0]


async def test_the_evidence_export_carries_and_checks_the_checkpoints(run, tmp_path):
    await send(run, 2)
    await checkpoint_now(run)
    out = tmp_path / "evidence.json"
    exported = subprocess.run(
        [sys.executable, "-m", "egov_sim.cli", "gateway", "--data-dir", str(run.settings.data_dir),
         "export", "--correlation-id", "application-0", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert [c["seq"] for c in document["checkpoints"]] == [4] and document["unanchored"] == []
    assert base64.b64decode(document["checkpoints"][0]["token"])
    # A log that does not hold is no evidence: the export refuses it.
    async with run.runtime("gateway").db.session() as session:
        await session.exec(delete(LogRecord).where(LogRecord.seq >= 3))
        await session.commit()
    refused = subprocess.run(
        [sys.executable, "-m", "egov_sim.cli", "gateway", "--data-dir", str(run.settings.data_dir),
         "export", "--correlation-id", "application-0", "--out", str(tmp_path / "again.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert refused.returncode == 1 and "no evidence" in refused.stderr and not (tmp_path / "again.json").exists()
