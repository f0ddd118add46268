"""``egov-sim gateway join client|provider``: an outside system joins the gateway of a running run.

Wiring (egov_sim/cli.py, the ``gateway`` command): ``add_join_parser(sub)`` on the gateway
command's subparsers, and ``return await run_join(args, settings, out, err)`` when
``args.gateway_command == "join"``. The systems must be running (``egov-sim up``); the calls carry
the run's admin token (``data_dir/admin.token``). See docs/outside-systems.md.
"""

from __future__ import annotations

import argparse
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
                                                   "the chain is written beside it (.pem)")
    join.add_argument("--password", help="a client's gateway password")
    join.add_argument("--url", help="a provider's base URL (the gateway posts to URL/bip/sync/v10)")


async def run_join(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO,
                   transport: httpx.AsyncBaseTransport | None = None) -> int:
    import httpx

    from simulation.access import TOKEN_HEADER
    from simulation.credentials import RunCredentials

    if args.role == "client" and not args.password:
        err.write("egov-sim gateway join client: --password is required (the client's gateway password)\n")
        return 2
    if args.role == "provider" and not args.url:
        err.write("egov-sim gateway join provider: --url is required (where the provider listens)\n")
        return 2
    csr_path = Path(args.csr)
    try:
        csr_pem = csr_path.read_text(encoding="utf-8")
    except OSError as exc:
        err.write(f"egov-sim gateway join: cannot read the CSR {csr_path}: {exc}\n")
        return 2
    headers = {TOKEN_HEADER: RunCredentials.of(settings).token("admin")}

    def client(system: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=settings.url_of(system), headers=headers, timeout=30, transport=transport)

    def refused(step: str, reply: httpx.Response) -> int:
        err.write(f"egov-sim gateway join: {step} refused ({reply.status_code}): {reply.text[:1000]}\n")
        return 1

    try:
        async with client("gateway") as gateway, client("signatures") as ca:
            if args.role == "client":
                reply = await gateway.put(f"/admin/participants/{args.name}",
                                          json={"services": args.services, "password": args.password})
                if reply.status_code != 200:
                    return refused("the gateway's registration", reply)
            issued = await ca.post("/v1/certificates/system", json={"system": args.name, "csr_pem": csr_pem})
            if issued.status_code != 200:
                return refused("the CA's certificate", issued)
            if args.role == "provider":
                for service_id in args.services:
                    reply = await gateway.put(f"/admin/services/{service_id}", json={"system": args.name, "url": args.url})
                    if reply.status_code != 200:
                        return refused(f"routing {service_id}", reply)
    except httpx.TransportError as exc:
        err.write(f"egov-sim gateway join: the run's systems do not answer ({exc}); is `egov-sim up` running?\n")
        return 1
    chain = csr_path.with_suffix(".pem")
    chain.write_text(issued.json()["chain_pem"], encoding="utf-8")
    what = f"with the right to {', '.join(args.services)}" if args.role == "client" else \
        f"providing {', '.join(args.services)} at {args.url}"
    out.write(f"{args.name} joined the gateway as a {args.role} {what}; its certificate "
              f"(serial {issued.json()['serial']}) is in {chain}\n")
    return 0
