"""``egov-sim gateway``: the message log from the command line, on the gateways' own data; and,
with the systems running (``egov-sim up``), faults on the way, outside systems joining, and a run's
exchanges recorded for replay."""

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

    from egov_sim.join import add_join_parser

    add_join_parser(sub)
    record = sub.add_parser(
        "record", help="record a running gateway's exchanges (requests and answers, by service) into a JSON file "
                       "that mocks replay offline (docs/developers.md)")
    chosen = record.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--correlation-id", help="the exchanges of one application")
    chosen.add_argument("--service", help="the exchanges of one serviceId")
    record.add_argument("--gateway", choices=GATEWAYS, default="gateway")
    record.add_argument("--limit", type=int, default=1000, help="at most this many exchanges (default 1000)")
    record.add_argument("--out", required=True)
    fault = sub.add_parser("fault", help="faults on the way to a service or a system: set, clear, list "
                                         "(docs/gateway.md, Faults)")
    actions = fault.add_subparsers(dest="fault_command", required=True)
    put = actions.add_parser("set", help="set one fault")
    put.add_argument("--system", required=True, help="the target system (registries, provider_ws, …; "
                                                     "signatures with --mode ocsp-down)")
    put.add_argument("--service", help="one serviceId only (default: every service whose target is the system)")
    put.add_argument("--gateway", choices=GATEWAYS, default="gateway", help="where it is acted out")
    put.add_argument("--mode", required=True, choices=["down", "slow", "error", "reset", "malformed", "ocsp-down"])
    put.add_argument("--latency", metavar="KIND:MS…",
                     help="slow: fixed:MS, uniform:MIN_MS:MAX_MS or lognormal:MEDIAN_MS:SIGMA")
    put.add_argument("--error-code", help="error: a code of the gateway's catalogue (GET /v1/errors)")
    put.add_argument("--probability", type=float, default=1.0, help="the chance it strikes a message (0..1)")
    put.add_argument("--seed", type=int, default=0, help="seeds the draws, so runs repeat")
    actions.add_parser("clear", help="clear every fault, on every gateway and the OCSP responder")
    listing = actions.add_parser("list", help="the faults in force")
    listing.add_argument("--gateway", choices=GATEWAYS, default="gateway")


def _latency(text: str) -> dict[str, object]:
    kind, _, rest = text.partition(":")
    numbers = [float(n) for n in rest.split(":")] if rest else []
    shapes = {"fixed": ("ms",), "uniform": ("min_ms", "max_ms"), "lognormal": ("median_ms", "sigma")}
    if kind not in shapes or len(numbers) != len(shapes[kind]):
        raise ValueError(f"--latency {text!r}: fixed:MS, uniform:MIN_MS:MAX_MS or lognormal:MEDIAN_MS:SIGMA")
    return {"kind": kind, **dict(zip(shapes[kind], numbers))}


async def _faults(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    import httpx
    from pydantic import ValidationError

    from egov_sim.faults import FaultRefused, FaultSpec, apply_faults, clear_faults
    from simulation.access import TOKEN_HEADER
    from simulation.credentials import RunCredentials

    headers = {TOKEN_HEADER: RunCredentials.of(settings).token("admin")}

    def client(system: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=settings.url_of(system), headers=headers, timeout=30)

    try:
        if args.fault_command == "list":
            from egov_sim.clients import ClientError

            listed = {}
            async with client(args.gateway) as gateway, client("signatures") as ca:
                for part, system, http in (("gateway", args.gateway, gateway), ("ocsp", "signatures", ca)):
                    reply = await http.get("/admin/faults")
                    if reply.status_code != 200:
                        err.write(f"egov-sim gateway fault list: {ClientError.of(reply, system)}\n")
                        return 1
                    listed[part] = reply.json()
            out.write(json.dumps(listed, ensure_ascii=False, indent=2) + "\n")
            return 0
        if args.fault_command == "clear":
            await clear_faults(client)
            out.write("every fault cleared\n")
            return 0
        try:
            spec = FaultSpec.model_validate({
                "system": args.system, "service": args.service, "gateway": args.gateway, "mode": args.mode,
                "latency": _latency(args.latency) if args.latency else None, "error_code": args.error_code,
                "probability": args.probability, "seed": args.seed})
        except (ValueError, ValidationError) as exc:
            err.write(f"egov-sim gateway fault: {exc}\n")
            return 2
        await apply_faults(client, [spec])
    except FaultRefused as exc:
        err.write(f"egov-sim gateway fault: {exc}\n")
        return 1
    except httpx.TransportError as exc:
        err.write(f"egov-sim gateway fault: the run's systems do not answer ({exc}); is `egov-sim up` running?\n")
        return 1
    out.write(f"fault set: {spec.mode} on {spec.service or spec.system} at {spec.owner}\n")
    return 0


async def _record(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    import httpx

    from egov_sim.clients import ClientError
    from egov_sim.replay import record_command
    from simulation.credentials import RunCredentials

    if not Path(args.out).parent.is_dir():
        err.write(f"egov-sim gateway record: cannot write {args.out}: its directory {Path(args.out).parent} "
                  f"does not exist\n")
        return 1
    try:
        recording = await record_command(settings.url_of(args.gateway), RunCredentials.of(settings).token("admin"),
                                         args.out, correlation_id=args.correlation_id, service=args.service,
                                         limit=args.limit)
    except ClientError as exc:
        err.write(f"egov-sim gateway record: the gateway refused ({exc})\n")
        return 1
    except httpx.TransportError as exc:
        err.write(f"egov-sim gateway record: the gateway does not answer ({exc}); is `egov-sim up` running?\n")
        return 1
    except OSError as exc:
        err.write(f"egov-sim gateway record: cannot write {exc.filename or args.out}: {exc.strerror or exc}\n")
        return 1
    out.write(f"recorded {len(recording.exchanges)} exchanges into {args.out}\n")
    return 0


async def run_gateway(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    if args.gateway_command == "join":
        from egov_sim.join import run_join

        return await run_join(args, settings, out, err)
    if args.gateway_command == "fault":
        return await _faults(args, settings, out, err)
    if args.gateway_command == "record":
        return await _record(args, settings, out, err)
    # imported here, not at the top: `egov-sim gateway --help` needs none of them
    from sqlmodel import select

    from gateway.messagelog import ChainReport, chain_label, covering_checkpoints, evidence, verify_chain
    from gateway.models import GatewayModel, LogRecord, upgrade_tables
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
        await upgrade_tables(database)
        report = await verify_chain(database, trusted_roots=roots or None, gateway=args.gateway)
        if args.gateway_command == "verify-log":
            if report.chains:  # a gateway run as replicas: one chain each
                for chain in report.chains:
                    name = chain_label(chain.chain, args.gateway)
                    if chain.ok:
                        out.write(f"{args.gateway}: chain {name} holds ({chain.records} records; {anchoring(chain)})\n")
                    else:
                        out.write(f"{args.gateway}: chain {name} breaks at record {chain.first_bad}: {chain.problem}\n")
                if report.ok:
                    out.write(f"{args.gateway}: the message log holds ({len(report.chains)} chains, "
                              f"{report.records} records)\n")
                if report.trust:
                    out.write(f"  note: {report.trust}\n")
                return 0 if report.ok else 1
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
                    select(LogRecord).where(LogRecord.correlation_id == args.correlation_id).order_by(LogRecord.chain, LogRecord.seq)
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
        checkpoints = await covering_checkpoints(database, rows)
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
