"""``egov-sim gateway``: the message log from the command line, on the gateways' own data."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from simulation.topology import SYSTEMS

if TYPE_CHECKING:
    from simulation.settings import Settings

GATEWAYS = [name for name in SYSTEMS if name.startswith("gateway")]


def add_parser(commands) -> None:
    gateway = commands.add_parser("gateway", help="the gateways' message logs")
    gateway.add_argument("--data-dir", help="the run's data directory (default ./.egov-sim)")
    sub = gateway.add_subparsers(dest="gateway_command", required=True)
    verify = sub.add_parser(
        "verify-log",
        help="check a gateway's hash chain and its signed, time-stamped checkpoints; names the first bad record",
    )
    verify.add_argument("--gateway", choices=GATEWAYS, default="gateway")
    export = sub.add_parser(
        "export",
        help="the evidence of one application: all its messages, signed, and the time-stamped checkpoints "
             "that cover them, in one file (written only when the log holds)",
    )
    export.add_argument("--correlation-id", required=True)
    export.add_argument("--gateway", choices=GATEWAYS, default="gateway")
    export.add_argument("--out", required=True)


async def run_gateway(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    # imported here, not at the top: `egov-sim gateway --help` needs none of them
    from sqlmodel import select

    from gateway.messagelog import ChainReport, covering_checkpoints, evidence, verify_chain
    from gateway.models import GatewayModel, LogRecord
    from signatures.timestamping import stored_roots
    from simulation.database import Database

    def anchoring(report: ChainReport) -> str:
        if not report.checkpoints:
            return "no time-stamped checkpoint yet"
        text = f"{report.checkpoints} time-stamped checkpoints, the last at record {report.anchored_through}"
        if report.unanchored:
            text += f"; {report.unanchored} records after it not yet anchored"
        return text

    roots = await stored_roots(settings)
    database = Database(settings, args.gateway)
    try:
        await database.create_tables([GatewayModel.metadata])
        report = await verify_chain(database, trusted_roots=roots or None)
        if args.gateway_command == "verify-log":
            if report.ok:
                out.write(f"{args.gateway}: the message log holds ({report.records} records; {anchoring(report)})\n")
                if report.trust:
                    out.write(f"  note: {report.trust}\n")
                return 0
            out.write(f"{args.gateway}: the chain breaks at record {report.first_bad}: {report.problem}\n")
            return 1
        async with database.session() as session:
            rows = (
                await session.exec(
                    select(LogRecord).where(LogRecord.correlation_id == args.correlation_id).order_by(LogRecord.seq)
                )
            ).all()
        if not rows:
            err.write(f"egov-sim gateway: {args.gateway} logged nothing with correlationId {args.correlation_id}\n")
            return 1
        if not report.ok:
            err.write(
                f"egov-sim gateway: {args.gateway}'s log does not hold, so it is no evidence: the chain breaks "
                f"at record {report.first_bad}: {report.problem}\n"
            )
            return 1
        checkpoints = await covering_checkpoints(database, [r.seq for r in rows])
        document = evidence(rows, args.gateway, checkpoints)
        Path(args.out).write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
        out.write(
            f"wrote {len(rows)} records of {args.correlation_id} to {args.out}, with {len(checkpoints)} "
            f"checkpoints that cover them (checked)"
            + (f"; records {', '.join(map(str, document['unanchored']))} are not yet anchored" if document["unanchored"] else "")
            + "\n"
        )
        return 0
    finally:
        await database.dispose()
