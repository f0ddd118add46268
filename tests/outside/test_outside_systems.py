"""Outside systems join the gateway (egov_sim.outside): a small outside app, served by uvicorn on a
real socket, registered as a client (its password, rights, a certificate from its own CSR) and as
a provider (a service routed to its URL); the gateway takes its signed messages, delivers to it
with its signed hop, and passes its answer on only when it is signed by the registered provider."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from egov_sim.outside import ControlClock, OutsideRefused, grant, new_csr, provider_app, register_client, register_provider
from gateway_protocol.errors import GatewayFault
from signatures.certificates import subject_info

ALIYA = "900515401230"


@contextlib.asynccontextmanager
async def serving(app) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free port of 127.0.0.1, on this event loop; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(60):  # against a hang only: it starts in a moment
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_an_outside_system_is_a_client_and_a_provider_of_the_gateway(simulation):
    received: list[dict[str, Any]] = []

    async def score(info, data: Any) -> dict[str, Any]:
        return {"iin": data["iin"], "score": 712, "askedBy": info.sender.senderId}

    async with simulation.client("gateway") as gateway, simulation.client("signatures") as ca, \
            simulation.client("control") as control:
        clock = ControlClock(control)
        # the provider: its own key and CSR, certified by the CA; its service routed to its URL
        key, csr = new_csr("acme_scoring")
        holder: dict[str, Any] = {}
        app = provider_app_late(holder, {"ACME_CreditScore": score}, clock, received)
        async with serving(app) as url:
            scoring = await register_provider(gateway, ca, "acme_scoring", ["ACME_CreditScore"], url, csr=(key, csr))
            holder["system"] = scoring
            assert subject_info(scoring.identity.certificate)["common_name"] == "acme_scoring"
            assert scoring.identity.key is key  # certified from its own CSR: the key never left it

            # the client: senderId, password, rights; a certificate from its own CSR
            bank = await register_client(gateway, ca, "acme_bank", ["GBDFL_UniversalServiceSync"], "Acme-Bank-2026!")
            await grant(gateway, "acme_bank", ["ACME_CreditScore"], password="Acme-Bank-2026!")
            async with simulation.client("gateway", role=None) as plain:
                sender = bank.gateway_client(plain, simulation.settings.url_of("gateway"), clock)
                person = (await sender.send("GBDFL_UniversalServiceSync", {"iin": ALIYA})).responseData.data
                assert person["person"]["iin"] == ALIYA  # answered by the simulated registries

                answered = await sender.send("ACME_CreditScore", {"iin": ALIYA})  # answered outside
                assert answered.responseData.data == {"iin": ALIYA, "score": 712, "askedBy": "acme_bank"}
                assert received[-1] == {"hop": "gateway", "sender": "acme_bank", "serviceId": "ACME_CreditScore",
                                        "messageId": received[-1]["messageId"], "verdict": "ACCEPTED"}

                # the outside app signs with a key that is not the registered provider's: not passed on
                holder["system"] = dataclasses.replace(scoring, identity=bank.identity)
                with pytest.raises(GatewayFault) as refused:
                    await sender.send("ACME_CreditScore", {"iin": ALIYA})
                assert refused.value.code == "Server.ProviderResponseInvalid"
                assert refused.value.data["verdict"] == "SIGNER_NOT_PROVIDER"
                assert refused.value.data["signer"] == "acme_bank"

                # a wrong password: the gateway refuses it before any delivery
                wrong = bank.gateway_client(plain, simulation.settings.url_of("gateway"), clock)
                wrong.password = "not-it"
                before = len(received)
                with pytest.raises(GatewayFault) as refused:
                    await wrong.send("ACME_CreditScore", {"iin": ALIYA})
                assert refused.value.code == "Client.AuthenticationFailed"
                assert len(received) == before

        # the provider stopped: its service is unavailable, said by the gateway
        async with simulation.client("gateway", role=None) as plain:
            with pytest.raises(GatewayFault) as refused:
                await bank.gateway_client(plain, simulation.settings.url_of("gateway"), clock).send(
                    "ACME_CreditScore", {"iin": ALIYA})
            assert refused.value.code == "Server.ProviderUnavailable"

        records = (await gateway.get("/v1/messages", params={"serviceId": "ACME_CreditScore", "kind": "all"})).json()
        assert {r["sender"] for r in records} == {"acme_bank"}
        assert "acme_scoring" in {r["recipient"] for r in records}


def provider_app_late(holder: dict[str, Any], handlers, clock, received):
    """The outside app, whose system (key, roots) is set once the CA certified it -- and which a
    test can switch to another key."""

    async def app(scope, receive, send):
        inner = holder.get("app")
        if inner is None or holder.get("for") is not holder.get("system"):
            inner = holder["app"] = provider_app(holder["system"], handlers, clock, received=received)
            holder["for"] = holder["system"]
        await inner(scope, receive, send)

    return app


async def test_the_gateway_and_the_ca_refuse_what_does_not_hang_together(simulation):
    async with simulation.client("gateway") as gateway, simulation.client("signatures") as ca:
        # an outside participant needs its password; a simulated system's name is not an outside provider's
        reply = await gateway.put("/admin/participants/acme_bank", json={"services": ["GBDFL_UniversalServiceSync"]})
        assert reply.status_code == 422 and "password" in reply.text
        reply = await gateway.put("/admin/services/ACME_X", json={"system": "registries", "url": "http://127.0.0.1:9"})
        assert reply.status_code == 422 and "simulated system" in reply.text
        reply = await gateway.put("/admin/services/ACME_X", json={"system": "acme", "url": "ftp://127.0.0.1/x"})
        assert reply.status_code == 422 and "url" in reply.text
        reply = await gateway.put("/admin/services/ACME_X", json={"system": "acme"})  # no url: no way to it
        assert reply.status_code == 422 and "not a known system" in reply.text
        # the CA: an outside name is certified only for the administrator, and only a plain name
        _, csr = new_csr("acme bank")
        reply = await ca.post("/v1/certificates/system", json={"system": "acme bank", "csr_pem": csr})
        assert reply.status_code == 422 and reply.json()["fields"][0]["field"] == "system", reply.text
    async with simulation.client("signatures", role=None) as anyone:
        _, csr = new_csr("acme_bank")
        assert (await anyone.post("/v1/certificates/system", json={"system": "acme_bank", "csr_pem": csr})).status_code == 401
    async with simulation.client("gateway", role="auditor") as auditor, \
            simulation.client("signatures", role="auditor") as ca:
        with pytest.raises(OutsideRefused) as refused:
            await register_client(auditor, ca, "acme_bank", ["GBDFL_UniversalServiceSync"], "Acme-Bank-2026!")
        assert refused.value.status == 403
