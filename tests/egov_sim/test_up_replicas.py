"""`egov-sim up --replicas gateway=2`: the central gateway as two processes on one PostgreSQL.

Signed sync and async messages go through both replicas' ports; each reaches the provider once
(its hop log), each async message is DELIVERED after one attempt, a repeat through the other
replica is answered and not delivered again, and each replica's chain of the message log holds,
with records in each. On SQLite the option is refused, as are bad values."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import select
from up_process import UpProcess

from egov_sim.ports import free_base_port
from gateway.asyncchannel import ON_DELIVERY, AsyncDelivery
from gateway.models import AsyncMessage, GatewayModel
from gateway.replicas import check_replica
from gateway_protocol.client import build_signed_request
from gateway_protocol.envelope import ASYNC_PATH, SYNC_PATH
from gateway_protocol.replay import HopRecord
from signatures.identity import Identity
from simulation.access import TOKEN_HEADER
from simulation.credentials import RunCredentials
from simulation.database import Database, drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forks and POSIX signals")

ON_POSTGRES = bool(Settings().database_url)
CEILING = 120.0
"""Seconds after which a wait for a condition is taken for a hang; it measures nothing."""


@pytest.fixture
async def settings(tmp_path):
    last = max(spec.port_offset for spec in SYSTEMS.values())
    settings = Settings(data_dir=tmp_path / "run", base_port=free_base_port(span=last + 3))
    yield settings
    await drop_run(settings, (*SYSTEMS, "simulation"))


def _up(settings: Settings, *args: str, env: dict[str, str] | None = None) -> UpProcess:
    return UpProcess("--base-port", str(settings.base_port), "--data-dir", str(settings.data_dir), *args, env=env)


# ---- refusals ----------------------------------------------------------------------------------


def test_replicas_are_refused_on_sqlite_saying_why(settings):
    up = _up(settings, "--replicas", "gateway=2", env={"EGOV_SIM_DATABASE_URL": ""})
    assert up.wait() == 2
    out = up.output()
    assert "egov-sim up --replicas: several processes of one system share one PostgreSQL database" in out, out
    assert "Set EGOV_SIM_DATABASE_URL" in out and "Traceback" not in out, out
    assert not settings.data_dir.exists()  # nothing was started


@pytest.mark.parametrize(("value", "says"), [
    ("gateway=0", "'gateway=0': N must be a whole number from 1 to 8"),
    ("gateway=x", "'gateway=x': N must be a whole number from 1 to 8"),
    ("nosuch=2", "'nosuch=2': unknown system 'nosuch'; only gateway runs as replicas"),
    ("portal=2", "'portal=2': portal keeps state of its own process; only gateway runs as replicas"),
    ("gateway", "'gateway' is not SYSTEM=N (e.g. gateway=2)"),
])
def test_a_bad_replicas_value_is_a_usage_error(settings, value, says):
    up = _up(settings, "--replicas", value)
    assert up.wait() == 2
    out = up.output()
    assert f"egov-sim up --replicas: {says}" in out and "Traceback" not in out, out
    assert not settings.data_dir.exists()


async def test_a_gateway_named_a_replica_says_which_setting_is_wrong(tmp_path):
    database = Database(Settings(data_dir=tmp_path / "run", database_url=None), "gateway")
    try:
        assert check_replica("gateway", None, database) is None
        assert check_replica("gateway", "gateway#2", database) == (
            "EGOV_SIM_REPLICA='gateway#2': the replicas of a gateway share one PostgreSQL database "
            "(their async store, replay answers and logs); set EGOV_SIM_DATABASE_URL"
        )
        assert check_replica("gateway", "portal#2", database) == (
            "EGOV_SIM_REPLICA='portal#2' names a replica of another system than 'gateway'"
        )
    finally:
        await database.dispose()


# ---- the async store's claim (one database, two delivering processes) --------------------------


async def test_a_due_message_is_claimed_by_one_process_until_its_lease_runs_out(settings):
    database = Database(settings, "gateway")
    await database.create_tables([GatewayModel.metadata])
    try:
        keys = {("echo", f"m-{n}") for n in range(6)}
        async with database.session() as session:
            for sender, message in keys:
                session.add(AsyncMessage(
                    sender_id=sender, message_id=message, service_id="ECHO_Central", message_type="REQUEST",
                    recipient="echo", state=ON_DELIVERY, next_attempt=time.time() - 1, accepted_us=0, body="{}",
                ))
            await session.commit()
        one, two = (AsyncDelivery(SimpleNamespace(runtime=SimpleNamespace(  # type: ignore[arg-type]
            settings=settings, db=database, name="gateway"))) for _ in range(2))
        one.claimer, two.claimer = "gateway#1", "gateway#2"
        one.shared = two.shared = True  # (as replicas are; the notices' lock is PostgreSQL's, not used here)

        mine: set[tuple[str, str]] = set()
        theirs: set[tuple[str, str]] = set()
        second, _ = await two._due(2)
        theirs.update((row.sender_id, row.message_id) for row in second)
        for _ in range(3):  # both look at once; one that lost a claim looks again at once
            (got_one, _), (got_two, _) = await asyncio.gather(one._due(4), two._due(4))
            for row in got_one:
                assert (row.sender_id, row.message_id) not in mine | theirs
                mine.add((row.sender_id, row.message_id))
            for row in got_two:
                assert (row.sender_id, row.message_id) not in mine | theirs
                theirs.add((row.sender_id, row.message_id))
            second += got_two
        assert mine.isdisjoint(theirs) and mine | theirs == keys, (mine, theirs)
        assert (await one._due(10))[0] == [] and (await two._due(10))[0] == []  # all leased

        # gateway#2 dies mid-attempt: once its lease has run out, gateway#1 takes its messages
        async with database.session() as session:
            await session.exec(update(AsyncMessage).where(AsyncMessage.claimed_by == "gateway#2")
                               .values(lease_until=time.time() - 1))
            await session.commit()
        taken = {(r.sender_id, r.message_id) for r in (await one._due(10))[0]}
        assert taken == theirs
        # and the late answer of gateway#2's attempt is not written over gateway#1's claim
        stale = next(r for r in second)
        assert not await two.update_on_delivery(stale, {"state": "DELIVERED"}, claimed=True)
        assert await one.update_on_delivery(stale, {"state": "DELIVERED", "lease_until": None}, claimed=True)
    finally:
        await database.dispose()


# ---- two replicas on PostgreSQL ------------------------------------------------------------------


def _post(http: httpx.Client, url: str, message) -> httpx.Response:
    return http.post(url, json=message.model_dump(mode="json", exclude_none=True))


def _wait_until(condition, what: str):
    deadline = time.monotonic() + CEILING
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not so after {CEILING:g} s")
        time.sleep(0.1)


@pytest.mark.skipif(not ON_POSTGRES, reason="replicas share one PostgreSQL (EGOV_SIM_DATABASE_URL); "
                                            "the SQLite refusal is tested above")
async def test_two_gateway_replicas_deliver_each_message_once_and_keep_a_chain_each(settings):
    up = _up(settings, "--only", "signatures", "control", "gateway", "echo", "--replicas", "gateway=2")
    messages: dict[str, str] = {}  # messageId -> the replica it went through first
    try:
        up.wait_until_up()
        second = up.wait_for(r"^gateway replica gateway#2: (http://\S+)")[1]
        first = settings.url_of("gateway")
        replicas = {"gateway#1": first, "gateway#2": second}
        assert second != first and set(up.pids()) >= {"gateway", "gateway#2"}

        identity = Identity.load(settings.data_dir.resolve() / "keys" / "echo.p12")
        password = RunCredentials.of(settings).password_of("echo")
        with httpx.Client(timeout=60) as http:
            for name, url in replicas.items():
                health = http.get(url + "/health").json()
                assert health == {"system": "gateway", "ready": True, "replica": name}, health

            def signed(channel: str):
                now = datetime.fromisoformat(http.get(settings.url_of("control") + "/clock").json()["now"])
                return build_signed_request(
                    identity, sender_id="echo", password=password, service_id="ECHO_Central",
                    data={"hello": "сәлем", "channel": channel}, message_date=now,
                    correlation_id=f"case-{uuid.uuid4()}", message_type="REQUEST" if channel == "async" else None,
                )

            sent = {}
            for name, url in replicas.items():
                for _ in range(3):
                    sync = signed("sync")
                    reply = _post(http, url + SYNC_PATH, sync)
                    assert reply.status_code == 200, reply.text
                    assert reply.json()["response"]["responseData"]["data"] == {"echo": {"hello": "сәлем", "channel": "sync"}}
                    async_message = signed("async")
                    reply = _post(http, url + ASYNC_PATH + "/sendMessage", async_message)
                    assert reply.status_code == 200, reply.text
                    for message in (sync, async_message):
                        messages[message.request.requestInfo.messageId] = name
                    sent.setdefault(name, []).append((sync, async_message))

            # a repeat through the other replica: the first answer, not a second delivery
            for name, other in (("gateway#1", "gateway#2"), ("gateway#2", "gateway#1")):
                sync, async_message = sent[name][0]
                again = _post(http, replicas[other] + SYNC_PATH, sync)
                first_answer = _post(http, replicas[name] + SYNC_PATH, sync)
                assert again.status_code == 200, again.text
                assert again.json() == first_answer.json()  # the first answer, signature and all
                again = _post(http, replicas[other] + ASYNC_PATH + "/sendMessage", async_message)
                assert again.status_code == 200, again.text
                assert again.json()["messageId"] == async_message.request.requestInfo.messageId

            # the same message through both replicas at once: one claims it, the other gets its answer
            with ThreadPoolExecutor(4) as pool:
                for channel, path in (("sync", SYNC_PATH), ("async", ASYNC_PATH + "/sendMessage")):
                    twin = signed(channel)
                    replies = list(pool.map(lambda url: _post(http, url + path, twin), replicas.values()))
                    assert [r.status_code for r in replies] == [200, 200], [r.text for r in replies]
                    assert replies[0].json() == replies[1].json()
                    messages[twin.request.requestInfo.messageId] = "both"
                    if channel == "async":
                        sent["gateway#1"].append((twin, twin))

            async_ids = [a.request.requestInfo.messageId for pairs in sent.values() for _, a in pairs]

            def states():
                reply = http.post(first + ASYNC_PATH + "/getMessageStatus",
                                  json={"senderId": "echo", "password": password, "messageIds": async_ids})
                found = reply.json()["messages"]
                return found if all(m["state"] == "DELIVERED" for m in found) else None

            delivered = _wait_until(states, "every async message DELIVERED")
            assert all(m["attempts"] == 1 for m in delivered), delivered

            # a fault set through one replica acts in the other (the rules are in the database)
            admin = {TOKEN_HEADER: RunCredentials.of(settings).admin_token}
            put = http.put(first + "/admin/faults/ECHO_Central", json={"mode": "down"}, headers=admin)
            assert put.status_code == 200, put.text

            def refused_through(url: str) -> bool:
                reply = _post(http, url + SYNC_PATH, signed("sync"))
                return reply.status_code != 200 and reply.json()["errorInfo"]["errorCode"] == "Server.ProviderUnavailable"

            _wait_until(lambda: refused_through(second), "the fault set through gateway#1 acts in gateway#2")
            assert "ECHO_Central" in http.get(second + "/admin/faults", headers=admin).json()
            assert http.delete(second + "/admin/faults/ECHO_Central", headers=admin).json() == {"cleared": 1}
            _wait_until(lambda: not refused_through(first), "the fault cleared through gateway#2 is gone in gateway#1")

        # the provider saw each message once, through the central gateway: one hop record each
        echo = Database(settings, "echo")
        try:
            async with echo.session() as session:
                hops = (await session.exec(select(HopRecord).where(HopRecord.hop == "gateway"))).all()
        finally:
            await echo.dispose()
        seen: dict[str, list[str]] = {}
        for hop in hops:
            seen.setdefault(hop.message_id, []).append(hop.verdict)
        assert {m: seen.get(m) for m in messages} == {m: ["ACCEPTED"] for m in messages}, seen

        # each replica's JSON log lines name it
        lines = [json.loads(line) for line in up.stderr if line.startswith("{")]
        assert {line.get("replica") for line in lines if line.get("system") == "gateway"} >= {"gateway#2"}, lines[-20:]
    finally:
        code = up.stop()
    assert code == 0, up.output()

    # both chains hold, with records in each (each replica anchored its chain as it stopped)
    verified = subprocess.run(
        [sys.executable, "-m", "egov_sim.cli", "gateway", "--data-dir", str(settings.data_dir), "verify-log"],
        capture_output=True, text=True, timeout=CEILING,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    counts = dict(re.findall(r"^gateway: chain (\S+) holds \((\d+) records", verified.stdout, re.MULTILINE))
    assert set(counts) == {"gateway", "gateway#2"} and all(int(n) > 0 for n in counts.values()), verified.stdout
    assert re.search(r"^gateway: the message log holds \(2 chains, \d+ records\)", verified.stdout, re.MULTILINE)
    assert "checkpoint" in verified.stdout, verified.stdout
