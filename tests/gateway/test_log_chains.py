"""The message log of a gateway run as replicas: one chain each, checked each, a bad record named
with its chain; a log of one chain hashes and reports as before; a data directory made before
the replicas is upgraded in place."""

from __future__ import annotations

from sqlalchemy import MetaData, Table, inspect, update

from gateway.messagelog import HASHED_FIELDS, MessageLog, _hash, evidence, record_hash, verify_chain
from gateway.models import AsyncMessage, GatewayModel, LogCheckpoint, LogRecord, upgrade_tables
from simulation.database import Database


def record(n: int) -> dict:
    return {
        "kind": "request", "channel": "sync", "message_id": f"m-{n}", "correlation_id": f"c-{n}",
        "service_id": "ECHO_Central", "sender_id": "echo", "came_from": "echo", "recipient": "echo",
        "at_us": 1_000 + n, "status": "RECEIVED", "status_code": None, "error_code": None, "body": "{}",
    }


async def write(database: Database, chain: str, count: int) -> None:
    log = MessageLog(database, chain=chain)
    await log.start()
    for n in range(count):
        log.append(**record(n))
    await log.stop()


async def all_records(database: Database) -> list[LogRecord]:
    async with database.session() as session:
        from sqlmodel import select

        return list((await session.exec(select(LogRecord).order_by(LogRecord.chain, LogRecord.seq))).all())


async def test_one_chain_hashes_and_reports_as_before(settings):
    database = Database(settings, "gateway")
    await database.create_tables([GatewayModel.metadata])
    try:
        await write(database, "", 3)
        rows = await all_records(database)
        assert [r.chain for r in rows] == ["", "", ""]
        # the hash of a record of the gateway's own chain is over the fields it always covered
        assert all(r.hash == _hash({name: getattr(r, name) for name in HASHED_FIELDS}) for r in rows)
        report = await verify_chain(database)
        assert report.ok and report.records == 3 and not report.chains
        assert "chains" not in report.as_dict() and "chain" not in report.as_dict()
    finally:
        await database.dispose()


async def test_each_replica_keeps_its_chain_and_a_bad_record_is_named_with_its_chain(settings):
    database = Database(settings, "gateway")
    await database.create_tables([GatewayModel.metadata])
    try:
        await write(database, "", 3)
        await write(database, "gateway#2", 4)
        await write(database, "gateway#2", 1)  # a replica started again goes on with its chain
        rows = await all_records(database)
        assert [(r.chain, r.seq) for r in rows] == [("", 1), ("", 2), ("", 3), *(("gateway#2", n) for n in range(1, 6))]
        second = [r for r in rows if r.chain == "gateway#2"]
        # a replica's record hashes its chain's name too
        assert all(r.hash == record_hash(r) != _hash({name: getattr(r, name) for name in HASHED_FIELDS}) for r in second)

        report = await verify_chain(database)
        assert report.ok and report.records == 8
        assert [(c.chain, c.records, c.ok) for c in report.chains] == [("", 3, True), ("gateway#2", 5, True)]
        listed = report.as_dict()
        assert listed["chain"] is None and [c["chain"] for c in listed["chains"]] == ["", "gateway#2"]

        document = evidence(second[:2], "gateway", [])
        assert [r["chain"] for r in document["records"]] == ["gateway#2", "gateway#2"]
        assert document["unanchored"] == ["gateway#2:1", "gateway#2:2"]

        async with database.session() as session:
            await session.exec(update(LogRecord).where(LogRecord.chain == "gateway#2", LogRecord.seq == 3)
                               .values(body='{"changed": true}'))
            await session.commit()
        report = await verify_chain(database)
        assert not report.ok and report.chain == "gateway#2" and report.first_bad == 3
        assert report.problem == "chain gateway#2: record 3 was changed after it was logged"
        assert report.as_dict()["chain"] == "gateway#2"
    finally:
        await database.dispose()


async def test_a_record_moved_to_another_chain_breaks_it(settings):
    database = Database(settings, "gateway")
    await database.create_tables([GatewayModel.metadata])
    try:
        await write(database, "", 2)
        await write(database, "gateway#2", 2)
        async with database.session() as session:  # gateway#2's last record passed off as the gateway's third
            await session.exec(update(LogRecord).where(LogRecord.chain == "gateway#2", LogRecord.seq == 2)
                               .values(chain="", seq=3, prev_hash=(await all_records(database))[1].hash))
            await session.commit()
        report = await verify_chain(database)
        assert not report.ok and report.chain == "" and report.first_bad == 3
        assert report.problem == "chain gateway: record 3 was changed after it was logged"
    finally:
        await database.dispose()


async def test_tables_made_before_the_replicas_are_upgraded(settings):
    database = Database(settings, "gateway")
    old = MetaData()
    added = {"gateway_log": {"chain"}, "gateway_log_checkpoints": {"chain"},
             "gateway_async_messages": {"lease_until", "claimed_by"}}
    for model in (LogRecord, LogCheckpoint, AsyncMessage):
        table = model.__table__
        Table(table.name, old, *(c._copy() for c in table.columns if c.name not in added[table.name]))
    await database.create_tables([old])
    try:
        await upgrade_tables(database)
        await upgrade_tables(database)  # once is enough: the second finds nothing to add

        def shape(connection):
            inspector = inspect(connection)
            return ({name: {c["name"] for c in inspector.get_columns(name)} for name in added},
                    inspector.get_pk_constraint("gateway_log")["constrained_columns"])

        async with database.engine.connect() as connection:
            columns, key = await connection.run_sync(shape)
        for name, wanted in added.items():
            assert wanted <= columns[name], (name, columns[name])
        # PostgreSQL: replicas write their chains, so the key is (chain, seq); SQLite keeps (seq)
        assert key == (["chain", "seq"] if database.schema else ["seq"])
        await write(database, "", 2)
        report = await verify_chain(database)
        assert report.ok and report.records == 2
    finally:
        await database.dispose()
