"""A bounded schemathesis run over every system's OpenAPI (issue 14, reliability suite).

One throwaway world (the ``simulation`` fixture: every system started in this process, lifespans
run, its own data directory and database schemas). For each system its own ``/openapi.json`` is
loaded into schemathesis, and every operation gets a few generated requests -- valid ones and,
as many, ones that break the schema -- sent with the run's admin token, so that the fuzz reaches
the code behind the role checks and not only the 401 in front of them.

What is checked, and why these:

- ``not_a_server_error``: no answer is a 5xx and no request raises out of an app. A refused input
  must answer a clear 4xx naming the rule; a 500 is a bug whatever the input was.
- ``negative_data_rejection``: a request that breaks the operation's own schema (a missing
  required field, a wrong type, a path parameter out of its pattern) is refused with a 4xx, not
  served. The schema is what FastAPI validates against, so anything else means the published
  contract and the code disagree.
- ``response_schema_conformance`` and ``content_type_conformance``: an answer whose status the
  operation declares has the declared media type and matches the declared body schema. Cheap,
  and it catches an answer model that drifted from what the code returns. Undeclared statuses
  (our 401/403/404/409/413/415 JSON refusals) are not judged by them.

Not checked: ``status_code_conformance`` (FastAPI declares 200 and 422 only; the refusals every
system answers -- 401/403/404/409/413/415 and the gateway's ШЭП error codes -- are documented in
prose and docs/reliability.md, not in each operation), ``positive_data_acceptance`` (a
schema-valid request for an application, serial or participant that does not exist is rightly a
404), and the stateful checks that replay requests (``use_after_free``, ``ignored_auth``...): they
send through schemathesis' own transport, which cannot reach this in-process world, and the
role checks have their own tests.

How it runs: schemathesis' ASGI transport starts each app's lifespan on an event loop of its own,
and the systems here live on the test's loop (their databases, clocks and the transport they
reach each other through belong to it). So Hypothesis runs in a worker thread: each generated
case is serialised by schemathesis into a request, and the request is sent on the test's loop
through ``simulation.transport`` (httpx), as any other tester's request; the httpx answer is
handed back to ``case.validate_response``. Generation is derandomised (the same cases every
run), without a deadline or the example database. A failure names the system and the operation
and prints schemathesis' curl command for the falsifying case (the admin token is filtered out
of it: use the run's data_dir/admin.token), with the app's traceback when it raised.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from simulation.access import TOKEN_HEADER

MAX_EXAMPLES = 8
"""Generated cases per operation (valid and schema-breaking ones drawn together): with the
explicit examples, about 1,500 requests over the 177 operations of the 13 systems."""

SOAP_PATHS = {"/bip-sync-wss-gost/", "/bip-async"}
"""The ШЭП SOAP interface's endpoints (gateways and providers, docs/soap.md). SOAP 1.1 over HTTP
answers every fault with HTTP 500, the fault's ``faultcode`` saying whose it is: for them a 500 is
no server error when its body is a SOAP Fault whose code is ``soap:Client`` (the request's
fault); a ``soap:Server`` fault, or a 500 that is no SOAP Fault, is."""


def no_server_error(ctx, response, case):
    """``not_a_server_error``, with the SOAP endpoints' client faults (HTTP 500 by SOAP 1.1) allowed."""
    if case.path in SOAP_PATHS and response.status_code == 500:
        from lxml import etree

        from gateway_protocol.soap import SOAP_ENV

        body = etree.fromstring(response.content)
        code = body.findtext(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault/faultcode")
        assert code is not None and code.endswith(":Client"), (
            f"{case.method} {case.path} answered 500 with a server fault: {response.content[:500]!r}")
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [no_server_error, negative_data_rejection, response_schema_conformance, content_type_conformance]

EXCLUDED: dict[tuple[str, str, str], str] = {}
"""(system, method, path) left out of the fuzz, each with its reason. None is: every operation of
every system is fuzzed, those that change the world for the rest (``LAST``) after the others."""

LAST: dict[tuple[str, str], str] = {
    ("POST", "/clock/advance"): "moves the run's clock (its examples: up to 27 calendar days)",
    ("POST", "/clock/next"): "moves the run's clock to the next timer",
    ("POST", "/clock/run"): "runs every pending timer",
    ("DELETE", "/admin/participants/{sender_id}"): "takes a participant off the gateway",
    ("DELETE", "/admin/services/{service_id}"): "takes a service's route off the gateway",
    ("PUT", "/admin/participants/{sender_id}"): "sets a participant's password and services",
    ("PUT", "/admin/services/{service_id}"): "reroutes a service",
    ("PUT", "/admin/faults/{service_id}"): "switches a fault on for a service",
    ("PUT", "/admin/faults/systems/{system}"): "switches a fault on for every service of a system",
    ("PUT", "/admin/faults/ocsp"): "takes the OCSP responder down",
    ("POST", "/v1/certificates/{serial}/revoke"): "revokes a certificate",
    ("POST", "/v1/certificates/{serial}/reissue"): "reissues a certificate (the old one superseded)",
    ("POST", "/v1/certificates/system"): "issues a system's certificate (superseding the current one)",
}
"""(method, path) of the operations that change what the others rely on -- the clock, the
gateways' participants, routes and faults, the certificates. They are fuzzed like the rest, after
every other operation of every system, so that a case of theirs cannot turn the later cases into
refusals of a changed world."""

UNDECLARED_MEDIA_TYPES: dict[tuple[str, str, str], str] = {
    **{(gateway, "GET", "/metrics"): "Prometheus text format; gateway/api.py declares no media type"
       for gateway in ("gateway", "gateway-almaty", "gateway-pavlodar", "gateway-karaganda", "gateway-wko")},
    ("signatures", "GET", "/v1/ca/root"): "PEM certificate; signatures/api.py declares no media type",
    ("signatures", "GET", "/v1/ca/chain"): "PEM certificates; signatures/api.py declares no media type",
    ("signatures", "POST", "/v1/ocsp"): "application/ocsp-response; signatures/api.py declares no media type",
    ("signatures", "GET", "/v1/ocsp/{encoded}"): "application/ocsp-response; signatures/api.py declares none",
}
"""Operations whose answers are not the application/json FastAPI publishes for them by default:
``content_type_conformance`` is left out for these (and only these) until their routes declare
the media type (``response_class`` / ``responses``); every other check runs on them."""


def _send(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient, base_url: str, token: str):
    """Send a schemathesis case on the test's loop, from the Hypothesis thread."""

    def send(case) -> httpx.Response:
        kwargs = case.as_transport_kwargs(base_url=base_url, headers={TOKEN_HEADER: token})
        prepared = requests.Request(
            **{k: kwargs[k] for k in ("method", "url", "headers", "params", "cookies", "json", "data", "files")
               if k in kwargs}
        ).prepare()
        future = asyncio.run_coroutine_threadsafe(
            client.request(prepared.method, prepared.url, headers=dict(prepared.headers), content=prepared.body),
            loop,
        )
        return future.result(timeout=120)

    return send


def _fuzz(operation, send: Callable, checks: list, base_url: str, token: str) -> str | None:
    """Run one operation's cases; the failure report, or None."""
    fixed = {TOKEN_HEADER: token}  # always sent, never mutated: the fuzz is behind the role check
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, headers=fixed),
        operation.as_strategy(GenerationMode.NEGATIVE, headers=fixed),
    )

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
    )
    @hypothesis.given(case=strategy)
    def run(case) -> None:
        try:
            response = send(case)
        except Exception as exc:  # the app raised instead of answering: a 500 behind a socket
            curl = case.as_curl_command(headers=fixed, base_url=base_url)
            ours = [f for f in traceback.extract_tb(exc.__traceback__) if "site-packages" not in f.filename]
            tail = "".join(traceback.format_list(ours[-4:]) + traceback.format_exception_only(exc))
            raise AssertionError(
                f"the app raised {exc!r} (a 500 Internal Server Error to a caller)\n\n"
                f"Reproduce with:\n\n    {curl}\n\n{tail}"
            ) from None
        case.validate_response(response, checks=checks, headers=fixed)

    try:
        run()
    except Exception as exc:  # every failure is reported, the run goes on to the next operation
        return str(exc)
    return None


def _fuzz_all(loop, targets, token: str) -> tuple[list[str], int]:
    """Every operation of every system, those in LAST after all the others."""
    first, last = [], []
    for system, schema, client, base_url in targets:
        send = _send(loop, client, base_url, token)
        for result in schema.get_all_operations():
            operation = result.ok()
            key = (system, operation.method.upper(), operation.path)
            if key not in EXCLUDED:
                (last if key[1:] in LAST else first).append((key, operation, send, base_url))
    failures = []
    for key, operation, send, base_url in first + last:
        checks = [c for c in CHECKS if not (c is content_type_conformance and key in UNDECLARED_MEDIA_TYPES)]
        failure = _fuzz(operation, send, checks, base_url, token)
        if failure:
            failures.append(f"== {key[0]}: {key[1]} {key[2]}\n{failure}")
    return failures, len(first) + len(last)


async def test_no_operation_of_any_system_answers_a_server_error(simulation):
    token = simulation.credentials.admin_token
    targets, clients = [], []
    try:
        for system in simulation.systems:
            client = simulation.client(system)
            clients.append(client)
            document = (await client.get("/openapi.json")).raise_for_status().json()
            targets.append(
                (system, schemathesis.openapi.from_dict(document), client, simulation.settings.url_of(system))
            )
        existing = {
            (system, r.ok().method.upper(), r.ok().path)
            for system, schema, _, _ in targets for r in schema.get_all_operations()
        }
        named = {*EXCLUDED, *UNDECLARED_MEDIA_TYPES}
        assert named <= existing, f"named operations that no longer exist: {sorted(named - existing)}"
        assert set(LAST) <= {key[1:] for key in existing}, "an operation in LAST no longer exists"
        failures, count = await asyncio.to_thread(_fuzz_all, asyncio.get_running_loop(), targets, token)
    finally:
        for client in clients:
            await client.aclose()
    assert count == len(existing) - len(EXCLUDED)
    if failures:
        pytest.fail(f"{len(failures)} of {count} operations failed:\n\n" + "\n\n".join(failures), pytrace=False)


async def test_moving_the_clock_beyond_the_calendar_is_refused_with_the_field(simulation):
    """Found beside the fuzz (its strings do not hit the duration grammar): a move of the clock
    past year 9999, or by more minutes than a C int holds, raised OverflowError -- a 500 with a
    traceback. Now a 422 naming the field ``by``, and the clock has not moved."""
    async with simulation.client("control") as control:
        before = (await control.get("/clock")).json()["now"]
        for by in ("999999999 calendar days", "99999999999999999999 minutes", "3000000 working days"):
            answer = await control.post("/clock/advance", json={"by": by})
            assert answer.status_code == 422, (by, answer.text)
            assert [f["field"] for f in answer.json()["fields"]] == ["by"]
        assert (await control.get("/clock")).json()["now"] == before


async def test_an_offer_id_beyond_the_table_key_is_no_offer(simulation):
    """Found by the fuzz on PostgreSQL: POST /api/allocations/2147483648/accept asked the
    database for an id its INTEGER key cannot hold, and psycopg's NumericValueOutOfRange came
    back as a 500 (on SQLite, the same beyond 2**63). Now: 404, no such offer."""
    async with simulation.client("provider_ws") as provider:
        for allocation_id in (2**31, 2**63, 0, -1):
            for answer in ("accept", "decline"):
                got = await provider.post(f"/api/allocations/{allocation_id}/{answer}")
                assert got.status_code == 404, (allocation_id, answer, got.text)


NUL_PROBES = [
    ("control", "GET", "/trace/a%00b", None, "path"),
    ("control", "GET", "/positions/a%00b", None, "path"),
    ("control", "GET", "/timers?state=a%00b", None, "state"),
    ("provider_ws", "GET", "/api/cases/a%00b", None, "path"),
    ("e_sobes", "GET", "/api/registrations/a%00b", None, "path"),
    ("e_akimdik", "GET", "/api/registrations/a%00b", None, "path"),
    ("corporation_ws", "GET", "/api/contact-centre/applications/a%00b", None, "path"),
    ("signatures", "GET", "/v1/certificates/a%00b", None, "path"),
    ("signatures", "GET", "/v1/certificates/a%00b/status", None, "path"),
    ("registries", "GET", "/api/access-log?iin=a%00b", None, "iin"),
]


@pytest.mark.parametrize(("system", "method", "url", "body", "field"), NUL_PROBES,
                         ids=[f"{p[0]}:{p[2]}" for p in NUL_PROBES])
async def test_a_nul_character_in_the_request_line_is_refused_naming_where(simulation, system, method, url, body, field):
    """Found by probing after the fuzz (eight cases an operation rarely draw a NUL): on
    PostgreSQL, whose text columns cannot hold 0x00, each of these was a 500. Now every system
    answers 422 naming the path or the query parameter, on either database."""
    async with simulation.client(system) as client:
        got = await client.request(method, url, json=body)
    assert got.status_code == 422, got.text
    assert got.json()["fields"] == [{"field": field, "problem": "contains the NUL character (0x00)"}]


async def test_a_nul_character_inside_a_json_body_is_no_server_error(simulation):
    """A NUL inside a JSON text reaches the handler (JSON may carry \\u0000); what the database
    cannot store is answered 422 naming the database's reason, not a 500 (PostgreSQL), and
    SQLite stores it."""
    async with simulation.client("provider_ws") as provider:
        got = await provider.post("/api/dwellings", json={
            "address": "Абай даңғылы 1\u0000", "rooms": 2, "areaM2": 54.0, "fund": "state",
            "reglament": "almaty-queue", "queueList": "socially-vulnerable",
        })
    if simulation.settings.database_url:
        assert got.status_code == 422, got.text
        assert "NUL" in got.json()["fields"][0]["problem"]
    else:
        assert got.status_code == 201, got.text
