"""The gateway's own tables: the hash-chained message log and its time-stamped checkpoints, the
async channel's store, the fault rules, and the answers replicas share (docs/scaling.md).

:func:`upgrade_tables` adds to a data directory made before the replicas the columns they brought."""

from __future__ import annotations

import logging

from sqlalchemy import BigInteger, Column, Text, inspect, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from simulation.database import Database

log = logging.getLogger(__name__)


class GatewayModel(SQLModel, registry=registry()):
    pass


class LogRecord(GatewayModel, table=True):
    """One entry of the message log: a request as received, or the answer given to it.

    ``hash`` is SHA-256 over the record's content and ``prev_hash``, so changing or deleting a
    record breaks the chain from there on (see :mod:`gateway.messagelog`). Each replica of a
    gateway writes its own chain: ``chain`` is empty for the gateway's own (its only process, or
    its first replica) and the replica's name (``gateway#2``) for the others.
    """

    __tablename__ = "gateway_log"
    chain: str = Field(default="", primary_key=True, description="'' or the replica's name (gateway#2)")
    seq: int = Field(primary_key=True, description="position in the chain, from 1, no gaps")
    kind: str = Field(description="request or response")
    channel: str = Field(description="sync or async")
    message_id: str = Field(index=True)
    correlation_id: str | None = Field(default=None, index=True)
    service_id: str = Field(index=True)
    sender_id: str = Field(index=True)
    came_from: str
    recipient: str | None = None
    at_us: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    status: str
    status_code: int | None = None
    error_code: str | None = None
    body: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str
    hash: str


class LogCheckpoint(GatewayModel, table=True):
    """A signed, time-stamped statement of the log's state: "the chain holds ``seq`` records and
    record ``seq``'s hash is ``record_hash``", signed by the gateway's key (CMS over ``content``)
    and time-stamped by the PKI's TSA (RFC 3161 token over the signature's SHA-256). Records
    deleted, renumbered or re-hashed after it no longer match it (see :mod:`gateway.messagelog`).
    """

    __tablename__ = "gateway_log_checkpoints"
    chain: str = Field(default="", primary_key=True, description="the chain it anchors ('' or gateway#2)")
    seq: int = Field(primary_key=True, description="the last record the checkpoint covers")
    record_hash: str = Field(description="that record's hash")
    count: int = Field(description="records in the chain up to it")
    at_us: int = Field(sa_column=Column(BigInteger, nullable=False), description="virtual time of the signature")
    content: str = Field(sa_column=Column(Text, nullable=False), description="the signed statement, RFC 8785 JSON")
    signature: str = Field(sa_column=Column(Text, nullable=False), description="CMS SignedData (DER, base64), detached")
    token: str = Field(sa_column=Column(Text, nullable=False), description="RFC 3161 TimeStampToken (DER, base64)")
    gen_time_us: int = Field(sa_column=Column(BigInteger, nullable=False), description="the token's genTime")


class AsyncMessage(GatewayModel, table=True):
    """A message accepted on the async channel, kept until it is delivered (store and forward)."""

    __tablename__ = "gateway_async_messages"
    sender_id: str = Field(primary_key=True)
    message_id: str = Field(primary_key=True)
    correlation_id: str | None = Field(default=None, index=True)
    service_id: str
    message_type: str
    recipient: str
    state: str = Field(index=True, description="ON_DELIVERY, DELIVERED, NOT_DELIVERED, DELIVERY_STOPPED")
    attempts: int = 0
    next_attempt: float = Field(default=0.0, index=True, description="wall-clock time.time()")
    accepted_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    finished_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    body: str = Field(sa_column=Column(Text, nullable=False))
    response: str | None = Field(default=None, sa_column=Column(Text))
    notice_seq: int | None = Field(default=None, index=True, description="order of the delivery notices")
    lease_until: float | None = Field(
        default=None, description="wall-clock time.time() until which the attempt under way is the claimer's",
    )
    claimed_by: str | None = Field(default=None, description="the gateway process (replica) trying it now")


class ReplicaAnswer(GatewayModel, table=True):
    """The replay guard's answers, shared by the replicas of a gateway (docs/scaling.md): a row is
    a message's claim (``answer`` still NULL: a replica is processing it) and then its first
    answer. A repeat through another replica waits for the answer or gets it; only one replica
    ever delivers a messageId. Written only when the gateway runs as replicas."""

    __tablename__ = "gateway_replica_answers"
    sender_id: str = Field(primary_key=True)
    message_id: str = Field(primary_key=True)
    received_us: int = Field(sa_column=Column(BigInteger, nullable=False), description="virtual time it came")
    claimed_by: str
    claimed_at: float = Field(description="wall-clock time.time() of the claim (its lease starts there)")
    status_code: int | None = None
    answer: str | None = Field(default=None, sa_column=Column(Text))


class FaultSwitch(GatewayModel, table=True):
    """A fault of the first shape (one service: unreachable, slow or error), as data directories
    made before :class:`FaultRule` hold it. Read once at the start, moved into ``gateway_fault_rules``
    and deleted; nothing writes it any more."""

    __tablename__ = "gateway_faults"
    service_id: str = Field(primary_key=True)
    mode: str
    delay_ms: int = 0
    error_code: str | None = None


class FaultRule(GatewayModel, table=True):
    """A fault an operator set on the way to a target: on one service, or on every service whose
    target (the next hop or the provider) is one system. ``spec`` is the normalised
    :class:`gateway.schemas.FaultRequest` as JSON (mode, latency, error code, probability, seed)."""

    __tablename__ = "gateway_fault_rules"
    scope: str = Field(primary_key=True, description="service or system")
    name: str = Field(primary_key=True, description="the serviceId or the system's name")
    spec: str = Field(sa_column=Column(Text, nullable=False))


_ADDED_COLUMNS = (
    ("gateway_log", "chain", "VARCHAR NOT NULL DEFAULT ''"),
    ("gateway_log_checkpoints", "chain", "VARCHAR NOT NULL DEFAULT ''"),
    ("gateway_async_messages", "lease_until", "FLOAT"),
    ("gateway_async_messages", "claimed_by", "VARCHAR"),
)


async def upgrade_tables(database: Database) -> None:
    """Columns the replicas brought, added to tables made before them (a data directory or a
    snapshot kept from then): the log's ``chain`` ('' for every record there: the gateway's own
    chain, hashed as before), the async store's lease. On PostgreSQL the log's primary key becomes
    (chain, seq) as well, so that replicas can write their chains; an SQLite file keeps (seq), and
    SQLite runs one process of each system anyway."""

    def missing(connection) -> list[tuple[str, str, str]]:
        inspector = inspect(connection)
        tables = set(inspector.get_table_names())
        return [
            (table, column, ddl) for table, column, ddl in _ADDED_COLUMNS
            if table in tables and column not in {c["name"] for c in inspector.get_columns(table)}
        ]

    async with database.engine.begin() as connection:
        added = await connection.run_sync(missing)
        for table, column, ddl in added:
            await connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
            if column == "chain" and database.schema:
                await connection.execute(text(
                    f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_pkey, ADD PRIMARY KEY (chain, seq)"
                ))
    if added:
        log.info("gateway tables upgraded: %s", ", ".join(f"{t}.{c}" for t, c, _ in added))
