"""The gateway's message log: every request and every answer, with its signature, in a hash chain.

Each record's ``hash`` is SHA-256 over the RFC 8785 form of its content together with the hash of
the record before it, as X-Road's message log chains its records. Changing a record breaks its
own hash; deleting one breaks the next record's link and leaves a gap in the sequence numbers.
:func:`verify_chain` walks the log and names the first bad record.

Records are written by one task in batches, so logging does not cost a commit per message; a
query flushes what is pending first.

A chain alone cannot show what was cut off its end, nor a stretch rewritten and re-hashed from
some record on. So, as X-Road time-stamps its message log, the gateway anchors the chain with
**checkpoints** (:class:`~gateway.models.LogCheckpoint`): every ``every_records`` records or
``every_seconds`` of wall time, and at shutdown, it signs "the chain holds ``seq`` records, the
last of them hashing to ``hash``" with its own key (CMS) and has the signature time-stamped by
the PKI's time-stamping authority (RFC 3161, genTime in the run's virtual time). A TSA that does
not answer never holds messages up: the checkpoint is tried again later and the records not yet
anchored are reported. :func:`verify_chain` checks every checkpoint -- its signature, its token,
that its record is in the chain with that hash, and that the chain still reaches it.

A gateway run as replicas (docs/scaling.md) writes one chain per replica into the same tables:
the first replica (or the gateway's only process) the gateway's own chain (``chain`` empty,
hashed exactly as before the replicas), replica N its chain ``gateway#N``, whose records and
checkpoints hash and sign their chain's name too, so a record cannot be moved from one chain
to another. :func:`verify_chain` checks every chain and names the chain of a bad record.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import httpx
from asn1crypto import cms as asn1_cms
from cryptography import x509
from sqlalchemy import func
from sqlmodel import select

from gateway.models import LogCheckpoint, LogRecord
from signatures.cms import sign_cms, verify_cms
from signatures.identity import Identity
from signatures.jws import canonical_json
from signatures.timestamping import TimeStampError, request_token, verify_token
from simulation.clock import from_us, to_us
from simulation.database import Database
from simulation.tasks import stop_task, wait_event

log = logging.getLogger(__name__)

GENESIS = "0" * 64
HASHED_FIELDS = (
    "seq", "kind", "channel", "message_id", "correlation_id", "service_id", "sender_id",
    "came_from", "recipient", "at_us", "status", "status_code", "error_code", "body", "prev_hash",
)


CHECKPOINT_FORMAT = "egov-sim message log checkpoint v1"


def record_hash(record: LogRecord) -> str:
    return _hash(hashed_content(record.chain, {name: getattr(record, name) for name in HASHED_FIELDS}))


def hashed_content(chain: str, fields: dict[str, Any]) -> dict[str, Any]:
    """What a record's hash covers: its :data:`HASHED_FIELDS`, and the name of its chain when it
    is a replica's (the gateway's own chain, ``''``, hashes as it did before replicas)."""
    return {**fields, "chain": chain} if chain else fields


def chain_label(chain: str, gateway: str = "gateway") -> str:
    """How a chain is named to people: the replica's name, or the gateway's for its own chain."""
    return chain or gateway


def _hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    records: int
    ok: bool
    first_bad: int | None = None
    problem: str | None = None
    checkpoints: int = 0
    """Checkpoints checked (signature, time-stamp token, and their place in the chain)."""
    anchored_through: int | None = None
    """The last record a checkpoint covers."""
    unanchored: int = 0
    """Records after the last checkpoint: not yet covered by a time-stamp (a gap while the TSA
    was unreachable, or records newer than the last checkpoint)."""
    trust: str | None = None
    """None when the checkpoints' certificates were checked up to the run's root; else why not."""
    chain: str = ""
    """The chain this report is about (for the whole log: the chain of the first bad record)."""
    chains: tuple[ChainReport, ...] = ()
    """For a log of several chains (a gateway run as replicas): each chain's own report."""

    def as_dict(self) -> dict[str, Any]:
        report = {
            "records": self.records, "ok": self.ok, "firstBad": self.first_bad, "problem": self.problem,
            "checkpoints": self.checkpoints, "anchoredThrough": self.anchored_through,
            "unanchored": self.unanchored, "trust": self.trust,
        }
        if self.chains:
            report["chain"] = self.chain if not self.ok else None
            report["chains"] = [
                {"chain": c.chain, **{k: v for k, v in c.as_dict().items() if k != "trust"}} for c in self.chains
            ]
        return report


async def chains_of(database: Database) -> list[str]:
    """The chains the log holds records or checkpoints of, the gateway's own first."""
    async with database.session() as session:
        found = set((await session.exec(select(LogRecord.chain).distinct())).all())
        found |= set((await session.exec(select(LogCheckpoint.chain).distinct())).all())
    return sorted(found | {""})


async def verify_chain(
    database: Database,
    batch: int = 5000,
    *,
    trusted_roots: Sequence[x509.Certificate] | None = None,
    gateway: str = "gateway",
) -> ChainReport:
    """Every chain of the log (:func:`verify_one_chain`): a log of one chain gives that chain's
    report; a log of several (replicas) a report of them all -- ok when every one is, else the
    first bad chain's first bad record, its problem beginning with the chain's name -- with each
    chain's report in :attr:`ChainReport.chains`."""
    chains = await chains_of(database)
    if chains == [""]:
        return await verify_one_chain(database, batch, trusted_roots=trusted_roots)
    reports = [
        replace(await verify_one_chain(database, batch, trusted_roots=trusted_roots, chain=chain), chain=chain)
        for chain in chains
    ]
    bad = next((r for r in reports if not r.ok), None)
    return ChainReport(
        records=sum(r.records for r in reports), ok=bad is None,
        first_bad=bad.first_bad if bad else None,
        problem=f"chain {chain_label(bad.chain, gateway)}: {bad.problem}" if bad else None,
        checkpoints=sum(r.checkpoints for r in reports), anchored_through=None,
        unanchored=sum(r.unanchored for r in reports), trust=reports[0].trust,
        chain=bad.chain if bad else "", chains=tuple(reports),
    )


async def verify_one_chain(
    database: Database,
    batch: int = 5000,
    *,
    trusted_roots: Sequence[x509.Certificate] | None = None,
    chain: str = "",
) -> ChainReport:
    """Walk one chain of the log in order; the first record whose hash or link does not hold, if
    any; then the checkpoints: each one's signature (by the gateway named in it) and time-stamp
    token, its record present with its hash, and the chain reaching its last record.

    ``trusted_roots``: the run's root certificate(s), to which the gateway's and the TSA's
    certificates must chain (at the token's genTime). Without them the signatures and tokens are
    checked against the certificates they carry, and :attr:`ChainReport.trust` says so."""
    async with database.session() as session:
        checkpoints = list((await session.exec(
            select(LogCheckpoint).where(LogCheckpoint.chain == chain).order_by(LogCheckpoint.seq)
        )).all())
    trust = None if trusted_roots is not None else (
        "no trust anchors were given: the checkpoints' certificates were not checked up to the run's root"
    )
    for checkpoint in checkpoints:
        problem = check_checkpoint(checkpoint, trusted_roots)
        if problem is None and json.loads(checkpoint.content).get("chain", "") != chain:
            problem = "it was signed for another chain (moved between replicas' chains)"
        if problem is not None:
            return ChainReport(0, False, checkpoint.seq, f"checkpoint {checkpoint.seq}: {problem}", trust=trust)
    by_seq = {c.seq: c for c in checkpoints}
    previous_checkpoint = 0
    previous_hash, expected_seq, count = GENESIS, 1, 0

    def report(first_bad: int | None = None, problem: str | None = None) -> ChainReport:
        anchored = max((c.seq for c in checkpoints if c.seq <= count), default=None)
        return ChainReport(
            count, problem is None, first_bad, problem, len(checkpoints), anchored,
            count - (anchored or 0), trust,
        )

    async with database.session() as session:
        while True:
            rows = (
                await session.exec(
                    select(LogRecord).where(LogRecord.chain == chain, LogRecord.seq >= expected_seq)
                    .order_by(LogRecord.seq).limit(batch)
                )
            ).all()
            if not rows:
                break
            for row in rows:
                if row.seq != expected_seq:
                    return report(expected_seq, f"record {expected_seq} is missing (deleted): the log jumps to {row.seq}")
                if row.prev_hash != previous_hash:
                    return report(
                        row.seq,
                        f"record {row.seq} does not link to record {row.seq - 1} "
                        "(a record before it was changed or removed)",
                    )
                if record_hash(row) != row.hash:
                    return report(row.seq, f"record {row.seq} was changed after it was logged")
                checkpoint = by_seq.get(row.seq)
                if checkpoint is not None:
                    if checkpoint.record_hash != row.hash:
                        return report(
                            previous_checkpoint + 1,
                            f"records {previous_checkpoint + 1}-{row.seq} are not the records checkpoint "
                            f"{row.seq} ({_stamped(checkpoint)}) covers: the log was rewritten there "
                            "(a record deleted and the rest renumbered, or changed and the chain re-hashed)",
                        )
                    previous_checkpoint = row.seq
                previous_hash, expected_seq, count = row.hash, expected_seq + 1, count + 1
    beyond = [c for c in checkpoints if c.seq > count]
    if beyond:
        last = beyond[-1]
        return report(
            count + 1,
            f"the log ends at record {count}, but checkpoint {last.seq} ({_stamped(last)}) covers "
            f"{last.count} records: {last.seq - count} records were deleted (records {count + 1}-{last.seq}, "
            "or records before them with the rest renumbered)",
        )
    return report()


def _stamped(checkpoint: LogCheckpoint) -> str:
    return f"time-stamped {from_us(checkpoint.gen_time_us).isoformat()}"


# --------------------------------------------------------------------------- checkpoints


def checkpoint_content(
    gateway: str, seq: int, record_hash_: str, count: int, at: datetime, chain: str = "",
) -> bytes:
    """The statement a checkpoint signs, in its RFC 8785 form (a replica's chain named in it)."""
    return canonical_json({
        "format": CHECKPOINT_FORMAT, "gateway": gateway, "seq": seq, "hash": record_hash_,
        "count": count, "at": at.isoformat(), **({"chain": chain} if chain else {}),
    })


def _embedded_certificates(signature: bytes) -> list[x509.Certificate]:
    signed_data = asn1_cms.ContentInfo.load(signature)["content"]
    return [
        x509.load_der_x509_certificate(choice.chosen.dump())
        for choice in (signed_data["certificates"] or [])
        if choice.name == "certificate"
    ]


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def check_checkpoint(checkpoint: LogCheckpoint, trusted_roots: Sequence[x509.Certificate] | None) -> str | None:
    """None when the checkpoint holds by itself: its statement matches its columns, the gateway it
    names signed it, and the TSA's token stamps that signature. Else what is wrong."""
    try:
        content = json.loads(checkpoint.content)
        signature = base64.b64decode(checkpoint.signature, validate=True)
        token = base64.b64decode(checkpoint.token, validate=True)
    except (ValueError, binascii.Error) as exc:
        return f"cannot be read ({exc})"
    if not isinstance(content, dict) or content.get("format") != CHECKPOINT_FORMAT:
        return "its statement is not a checkpoint"
    if canonical_json(content) != checkpoint.content.encode():
        return "its statement is not in its signed (RFC 8785) form"
    if (content.get("seq"), content.get("hash"), content.get("count")) != (
        checkpoint.seq, checkpoint.record_hash, checkpoint.count
    ):
        return "its columns differ from the statement it signed (seq, hash, count were changed)"
    stamp = verify_token(token, hashlib.sha256(signature).digest(), trusted_roots=trusted_roots)
    if not stamp.valid:
        return f"its time-stamp token does not hold: {stamp.problem}"
    assert stamp.gen_time is not None
    if to_us(stamp.gen_time) != checkpoint.gen_time_us:
        return "its genTime column differs from the token's"
    roots = trusted_roots
    if roots is None:
        try:
            roots = [c for c in _embedded_certificates(signature) if _is_ca(c)]
        except (ValueError, TypeError, KeyError, IndexError):
            return "its signature is not a CMS SignedData"
    verdict = verify_cms(signature, checkpoint.content.encode(), trusted_roots=roots, at=stamp.gen_time, usage="sign")
    if not verdict.valid:
        return f"its signature does not hold: {verdict.verdict.message}"
    signer = (verdict.verdict.signer or {}).get("common_name")
    if signer != content.get("gateway"):
        return f"it names the gateway {content.get('gateway')!r} but is signed by {signer!r}"
    return None


@dataclass(frozen=True)
class CheckpointPolicy:
    """When the log writes a checkpoint: after ``every_records`` new records, or when records
    have waited ``every_seconds`` of wall time; a failed one is tried again after
    ``retry_seconds``. Always at shutdown."""

    every_records: int = 1000
    every_seconds: float = 60.0
    retry_seconds: float = 5.0

    @classmethod
    def of(cls, settings: Any) -> CheckpointPolicy:
        """The policy the run's settings name (their defaults when a setting is not there)."""
        return cls(
            every_records=int(getattr(settings, "log_checkpoint_records", cls.every_records)),
            every_seconds=float(getattr(settings, "log_checkpoint_seconds", cls.every_seconds)),
            retry_seconds=float(getattr(settings, "log_checkpoint_retry_seconds", cls.retry_seconds)),
        )


@dataclass
class LogAnchor:
    """What the log needs to anchor itself: who signs, with what, and where the TSA is."""

    gateway: str
    identity: Identity
    http: httpx.AsyncClient
    tsa_url: str
    now: Callable[[], Awaitable[datetime]]
    """The run's virtual time."""
    policy: CheckpointPolicy = field(default_factory=CheckpointPolicy)


class MessageLog:
    """Appends records to the chain from one writer task, in batches; with an :class:`LogAnchor`
    (:meth:`set_anchor`), a second task writes the checkpoints. ``chain``: this process's chain
    (``''``: the gateway's own; a replica's name for the other replicas)."""

    def __init__(
        self, database: Database, max_batch: int = 500, anchor: LogAnchor | None = None, chain: str = "",
    ) -> None:
        self.database = database
        self.chain = chain
        self.max_batch = max_batch
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._last_seq = 0
        self._last_hash = GENESIS
        self.anchor = anchor
        self._anchored_seq = 0
        self._anchored_at = time.monotonic()
        self._tried_at = 0.0
        self._anchor_task: asyncio.Task[None] | None = None
        self._anchor_due = asyncio.Event()
        self.anchor_problem: str | None = None
        """Why the last checkpoint could not be written (None once one is written again)."""

    def set_anchor(self, anchor: LogAnchor) -> None:
        """Anchor the log from now on (given after construction, once the gateway has its key)."""
        self.anchor = anchor
        if self._task is not None and self._anchor_task is None:
            self._anchor_task = asyncio.create_task(self._anchor_forever(), name="gateway log checkpoints")

    @property
    def unanchored(self) -> int:
        """Records written and not yet covered by a checkpoint."""
        return self._last_seq - self._anchored_seq

    async def start(self) -> None:
        async with self.database.session() as session:
            last = (await session.exec(
                select(LogRecord).where(LogRecord.chain == self.chain).order_by(LogRecord.seq.desc()).limit(1)  # type: ignore[union-attr]
            )).first()
            checkpoint = (
                await session.exec(
                    select(LogCheckpoint).where(LogCheckpoint.chain == self.chain)
                    .order_by(LogCheckpoint.seq.desc()).limit(1)  # type: ignore[union-attr]
                )
            ).first()
        if last is not None:
            self._last_seq, self._last_hash = last.seq, last.hash
        if checkpoint is not None:
            self._anchored_seq = checkpoint.seq
        self._anchored_at = time.monotonic()
        self._task = asyncio.create_task(self._write_forever(), name="gateway message log")
        if self.anchor is not None:
            self._anchor_task = asyncio.create_task(self._anchor_forever(), name="gateway log checkpoints")

    async def stop(self) -> None:
        if self._task is not None:
            await self.flush()
            await stop_task(self._task)
            self._task = None
            await stop_task(self._anchor_task)
            self._anchor_task = None
            if self.anchor is not None and self.unanchored:
                await self.checkpoint()  # the last records, anchored before the gateway goes
                if self.anchor_problem:
                    log.warning("records %d-%d leave unanchored: %s", self._anchored_seq + 1,
                                self._last_seq, self.anchor_problem)

    async def checkpoint(self) -> bool:
        """Sign and time-stamp the chain's present end now; whether a checkpoint was written.
        A TSA that does not answer is remembered in :attr:`anchor_problem`, never raised."""
        anchor = self.anchor
        if anchor is None or not self.unanchored:
            return False
        seq, last_hash = self._last_seq, self._last_hash
        self._tried_at = time.monotonic()
        try:
            at = await anchor.now()
            content = checkpoint_content(anchor.gateway, seq, last_hash, seq, at, self.chain)
            identity = anchor.identity
            signature = sign_cms(content, identity.key, identity.chain, at=at, detached=True)
            token = await request_token(anchor.http, anchor.tsa_url, hashlib.sha256(signature).digest())
            stamp = verify_token(token, hashlib.sha256(signature).digest(), trusted_roots=None)
            if not stamp.valid or stamp.gen_time is None:
                raise TimeStampError(f"the TSA's token does not hold: {stamp.problem}")
            row = {
                "chain": self.chain, "seq": seq, "record_hash": last_hash, "count": seq, "at_us": to_us(at),
                "content": content.decode(), "signature": base64.b64encode(signature).decode(),
                "token": base64.b64encode(token).decode(), "gen_time_us": to_us(stamp.gen_time),
            }
            await self.database.insert_rows([(LogCheckpoint.__table__, [row])])
        except TimeStampError as exc:
            self._anchor_failed(str(exc))
            return False
        except Exception as exc:  # a database or signing error: the messages go on, the gap is reported
            log.exception("the message log could not write a checkpoint")
            self._anchor_failed(f"{type(exc).__name__}: {exc}")
            return False
        if self.anchor_problem:
            log.info("the message log is anchored again through record %d", seq)
        self._anchored_seq, self._anchored_at, self.anchor_problem = seq, time.monotonic(), None
        return True

    def _anchor_failed(self, problem: str) -> None:
        self.anchor_problem = f"records {self._anchored_seq + 1}-{self._last_seq} are not anchored: {problem}"
        log.warning("no checkpoint of the message log: %s", self.anchor_problem)

    async def _anchor_forever(self) -> None:
        while True:
            anchor = self.anchor
            assert anchor is not None
            policy = anchor.policy
            since = time.monotonic() - (self._tried_at if self.anchor_problem else self._anchored_at)
            pause = policy.retry_seconds if self.anchor_problem else policy.every_seconds
            await wait_event(self._anchor_due, max(0.05, pause - since))
            self._anchor_due.clear()
            policy = anchor.policy  # read again: it may have changed while we waited
            now = time.monotonic()
            if self.anchor_problem:
                due = now - self._tried_at >= policy.retry_seconds
            else:
                due = self.unanchored >= policy.every_records or now - self._anchored_at >= policy.every_seconds
            if self.unanchored and due:
                await self.checkpoint()

    def append(self, **fields: Any) -> None:
        """Queue a record (seq and hashes are given when it is written)."""
        self._queue.put_nowait(fields)

    async def flush(self) -> None:
        """Wait until every record queued so far is in the database."""
        await self._queue.join()

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(0)  # the records the tasks ready now append go in the same transaction
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception:
                log.exception("the message log could not write %d records; retrying", len(batch))
                await asyncio.sleep(0.5)
                for record in batch:  # keep them, in order, for the next attempt
                    self._queue.put_nowait(record)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        # Plain rows and one INSERT of many: no ORM objects, no unit of work, on the hot path.
        seq, previous = self._last_seq, self._last_hash
        rows = []
        for fields in batch:
            seq += 1
            row = {name: fields.get(name) for name in HASHED_FIELDS}
            row["seq"], row["prev_hash"] = seq, previous
            row["hash"] = previous = _hash(hashed_content(self.chain, row))
            row["chain"] = self.chain
            rows.append(row)
        await self.database.insert_rows([(LogRecord.__table__, rows)])
        self._last_seq, self._last_hash = seq, previous
        if self.anchor is not None and self.unanchored >= self.anchor.policy.every_records:
            self._anchor_due.set()

    async def query(
        self,
        *,
        correlation_id: str | None = None,
        message_id: str | None = None,
        service_id: str | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        limit: int = 100,
    ) -> list[LogRecord]:
        await self.flush()
        query = select(LogRecord).order_by(LogRecord.chain, LogRecord.seq)
        if correlation_id:
            query = query.where(LogRecord.correlation_id == correlation_id)
        if message_id:
            query = query.where(LogRecord.message_id == message_id)
        if service_id:
            query = query.where(LogRecord.service_id == service_id)
        if since_us is not None:
            query = query.where(LogRecord.at_us >= since_us)
        if until_us is not None:
            query = query.where(LogRecord.at_us <= until_us)
        async with self.database.session() as session:
            return list((await session.exec(query.limit(limit))).all())

    async def recent_answers(self, limit: int) -> AsyncIterator[LogRecord]:
        """The latest answers, for the replay guard after a restart (of every chain: a replica
        knows the answers the others gave before it started)."""
        async with self.database.session() as session:
            rows = (
                await session.exec(
                    select(LogRecord).where(LogRecord.kind == "response")
                    .order_by(LogRecord.at_us.desc(), LogRecord.seq.desc()).limit(limit)  # type: ignore[union-attr]
                )
            ).all()
        for row in reversed(rows):
            yield row

    async def count(self) -> int:
        await self.flush()
        async with self.database.session() as session:
            return (await session.exec(select(func.count()).select_from(LogRecord))).one()


async def covering_checkpoints(database: Database, records: Iterable[LogRecord]) -> list[LogCheckpoint]:
    """For each of ``records``, the first checkpoint of its chain at or after it (each once)."""
    by_chain: dict[str, set[int]] = {}
    for record in records:
        by_chain.setdefault(record.chain, set()).add(record.seq)
    chosen: dict[tuple[str, int], LogCheckpoint] = {}
    for chain, seqs in by_chain.items():
        first = min(seqs)
        async with database.session() as session:
            checkpoints = list((await session.exec(
                select(LogCheckpoint).where(LogCheckpoint.chain == chain, LogCheckpoint.seq >= first)
                .order_by(LogCheckpoint.seq)
            )).all())
        for seq in sorted(seqs):
            covering = next((c for c in checkpoints if c.seq >= seq), None)
            if covering is not None:
                chosen[(chain, covering.seq)] = covering
    return [chosen[key] for key in sorted(chosen)]


def checkpoint_document(checkpoint: LogCheckpoint) -> dict[str, Any]:
    return {
        **({"chain": checkpoint.chain} if checkpoint.chain else {}),
        "seq": checkpoint.seq, "hash": checkpoint.record_hash, "count": checkpoint.count,
        "at": from_us(checkpoint.at_us).isoformat(), "genTime": from_us(checkpoint.gen_time_us).isoformat(),
        "content": checkpoint.content, "signature": checkpoint.signature, "token": checkpoint.token,
    }


def evidence(
    records: Iterable[LogRecord], gateway: str, checkpoints: Iterable[LogCheckpoint] | None = None
) -> dict[str, Any]:
    """Everything the log holds about some messages, as one document that can be checked alone:
    each record with its exact logged body (signature included; parsed again as ``message``),
    its hash and its link; and the checkpoints that cover them (:func:`covering_checkpoints`):
    the gateway's signed statement of the chain's end (CMS, detached, over ``content``) and the
    TSA's RFC 3161 token over that signature's SHA-256 (``openssl ts -verify`` checks it). A
    record or checkpoint of a replica's chain names it (``chain``), which its hash covers too."""
    records = list(records)
    document: dict[str, Any] = {
        "gateway": gateway,
        "format": "egov-sim message log evidence v1",
        "hash": "SHA-256 over the RFC 8785 form of the fields " + ", ".join(HASHED_FIELDS)
        + (" (and chain, for a record of a replica's chain)" if any(r.chain for r in records) else ""),
        "records": [
            {**hashed_content(r.chain, {name: getattr(r, name) for name in HASHED_FIELDS}), "hash": r.hash,
             "message": json.loads(r.body)}
            for r in records
        ],
    }
    if checkpoints is not None:
        checkpoints = list(checkpoints)
        last: dict[str, int] = {}
        for c in checkpoints:
            last[c.chain] = max(last.get(c.chain, 0), c.seq)
        document["checkpoints"] = [checkpoint_document(c) for c in checkpoints]
        document["unanchored"] = [
            r.seq if not r.chain else f"{r.chain}:{r.seq}" for r in records if r.seq > last.get(r.chain, 0)
        ]
    return document
