"""``egov-sim gateway join client|provider``: an outside system joins the gateway of a running run.

Wiring (egov_sim/cli.py, the ``gateway`` command): ``add_join_parser(sub)`` on the gateway
command's subparsers, and ``return await run_join(args, settings, out, err)`` when
``args.gateway_command == "join"``. The systems must be running (``egov-sim up``); the calls carry
the run's admin token (``data_dir/admin.token``). The calls are :mod:`egov_sim.outside`'s: the CA
certifies the CSR first, and only then does the gateway learn of the system, so a refused CSR
leaves nothing half-joined. The chain is written beside the CSR as ``<stem>.chain.pem``.
See docs/outside-systems.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import httpx

    from simulation.settings import Settings


def add_join_parser(gateway_commands) -> None:
    join = gateway_commands.add_parser(
        "join", help="register an outside system at the gateway (a client or a provider) and certify its CSR")
    join.add_argument("role", choices=["client", "provider"])
    join.add_argument("name", help="the system's name: its senderId, the CN of its certificate")
    join.add_argument("--service", action="append", required=True, dest="services",
                      help="a serviceId: a client's right, or a service routed to the provider (repeatable)")
    join.add_argument("--csr", required=True, help="the system's certificate signing request (PEM file); "
                                                   "the chain is written beside it (<stem>.chain.pem)")
    join.add_argument("--password", help="a client's gateway password")
    join.add_argument("--url", help="a provider's base URL (the gateway posts to URL/bip/sync/v10, "
                                    "or to URL/bip-sync-wss-gost/ with --protocol soap)")
    join.add_argument("--protocol", choices=["json", "soap"], default="json",
                      help="how the provider takes requests: json (default) or soap, the ШЭП SyncChannel v10 "
                           "with WS-Security")


def chain_path(csr_path: Path) -> Path:
    """Where the chain of the CSR at ``csr_path`` is written: ``<stem>.chain.pem`` beside it."""
    return csr_path.with_name(f"{csr_path.stem}.chain.pem")


async def run_join(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO,
                   transport: httpx.AsyncBaseTransport | None = None) -> int:
    import httpx

    from egov_sim.outside import OutsideRefused, admit_client, certify_csr, route_provider
    from simulation.access import TOKEN_HEADER
    from simulation.credentials import RunCredentials

    if args.role == "client" and not args.password:
        err.write("egov-sim gateway join client: --password is required (the client's gateway password)\n")
        return 2
    if args.role == "provider" and not args.url:
        err.write("egov-sim gateway join provider: --url is required (where the provider listens)\n")
        return 2
    protocol = getattr(args, "protocol", "json") or "json"
    if args.role == "client" and protocol != "json":
        err.write("egov-sim gateway join client: --protocol is a provider's (a client sends JSON or SOAP as it likes)\n")
        return 2
    csr_path = Path(args.csr)
    try:
        csr_pem = csr_path.read_text(encoding="utf-8")
    except OSError as exc:
        err.write(f"egov-sim gateway join: cannot read the CSR {csr_path}: {exc}\n")
        return 2
    chain = chain_path(csr_path)
    if chain.resolve() == csr_path.resolve():
        err.write(f"egov-sim gateway join: the chain would overwrite the CSR {csr_path}; rename the CSR\n")
        return 2
    if not chain.parent.is_dir() or not os.access(chain.parent, os.W_OK) or \
            (chain.exists() and not os.access(chain, os.W_OK)):
        err.write(f"egov-sim gateway join: cannot write the chain {chain}: not writable\n")
        return 2
    headers = {TOKEN_HEADER: RunCredentials.of(settings).token("admin")}

    def client(system: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=settings.url_of(system), headers=headers, timeout=30, transport=transport)

    try:
        async with client("gateway") as gateway, client("signatures") as ca:
            issued = await certify_csr(ca, args.name, csr_pem)
            if args.role == "client":
                await admit_client(gateway, args.name, args.services, args.password)
            else:
                await route_provider(gateway, args.name, args.services, args.url, protocol)
    except OutsideRefused as exc:
        err.write(f"egov-sim gateway join: {exc.step} refused ({exc.status}): {str(exc.answer)[:1000]}\n")
        return 1
    except httpx.TransportError as exc:
        err.write(f"egov-sim gateway join: the run's systems do not answer ({exc}); is `egov-sim up` running?\n")
        return 1
    try:
        chain.write_text(issued.chain_pem, encoding="utf-8")
    except OSError as exc:
        err.write(f"egov-sim gateway join: {args.name} joined, but its chain could not be written to {chain} "
                  f"({exc.strerror or exc}); here it is:\n{issued.chain_pem}")
        return 1
    what = f"with the right to {', '.join(args.services)}" if args.role == "client" else \
        f"providing {', '.join(args.services)} at {args.url}" + (" over SOAP" if protocol == "soap" else "")
    out.write(f"{args.name} joined the gateway as a {args.role} {what}; its certificate "
              f"(serial {issued.serial}) is in {chain}\n")
    return 0
