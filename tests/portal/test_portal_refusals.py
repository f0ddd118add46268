"""The portal's own stops: 1-шарт (log-in) and 2-шарт (the request's ЭЦҚ), with their texts."""

from __future__ import annotations

from egov_sim.citizen import DEMO_CITIZEN, Citizen, apply_on_portal, obtain_signing_key, register_citizen

OTHER = Citizen("851102304571", "ОМАРОВ", "ДӘУРЕН", "АСҚАРҰЛЫ", "Dauren-2026!")


async def test_wrong_password_stops_at_1_shart_with_2_process(simulation):
    await register_citizen(simulation.client, DEMO_CITIZEN, data_dir=simulation.settings.data_dir)
    async with simulation.client("portal") as portal:
        reply = await portal.post(
            "/api/sessions",
            json={"iin": DEMO_CITIZEN.iin, "password": "not-her-password", "reglament": "almaty-queue"},
        )
        assert reply.status_code == 401
        body = reply.json()
        assert body["error"] == "authorisation_refused"
        assert body["message_kk"].startswith("Порталда авторизациялаудан бас тартылды")
        assert body["message_ru"] and body["message"]
        runtime = simulation.runtime("control")
        events = await runtime.tracer._rows(None, body["session"])
        assert [(e.label, e.outcome) for e in events] == [
            ("1-процесс", "done"), ("1-шарт", "false"), ("2-процесс", "done")
        ]


async def test_registration_names_the_bad_field(simulation):
    async with simulation.client("portal") as portal:
        reply = await portal.post("/api/accounts", json={"iin": "900515401231", "password": "long-enough",
                                                         "challenge": "c", "signature": "s"})
        assert reply.status_code == 422
        [problem] = reply.json()["fields"]
        assert problem["field"] == "iin"
        assert "check digit" in problem["problem"]
    # the proof itself: tests/trust/test_portal_accounts.py
    again = await register_citizen(simulation.client, DEMO_CITIZEN, data_dir=simulation.settings.data_dir)
    assert again.status_code == 201
    twice = await register_citizen(simulation.client, DEMO_CITIZEN, data_dir=simulation.settings.data_dir)
    assert twice.status_code == 409


async def test_cabinet_needs_a_session(simulation):
    async with simulation.client("portal") as portal:
        reply = await portal.get("/api/cabinet/applications", headers={"Authorization": "Bearer nope"})
        assert reply.status_code == 401
        assert reply.json()["message_kk"]


async def _stops_at_2_shart(outcome) -> None:
    application = outcome.application
    assert application["status"] == "rejected"
    assert [e["label"] for e in outcome.trace] == [
        "1-процесс", "1-шарт", "3-процесс", "2-шарт", "4-процесс"
    ]
    assert outcome.trace[3]["outcome"] == "false"
    assert application["refusal"]["kk"].startswith("ЭЦҚ түпнұсқалығы расталмауына байланысты")


async def test_a_request_signed_with_another_persons_key_is_refused(simulation):
    async with simulation.client("signatures") as ca:
        someone_else = await obtain_signing_key(ca, OTHER)
    outcome = await apply_on_portal(simulation.client, "almaty-queue", DEMO_CITIZEN, signing_key=someone_else)
    await _stops_at_2_shart(outcome)
    assert "ЖСН" in outcome.application["refusal"]["kk"]
    async with simulation.client("provider_ws") as provider:
        assert (await provider.get("/api/cases")).json() == []


async def test_a_revoked_certificate_is_refused(simulation):
    async with simulation.client("signatures") as ca:
        key = await obtain_signing_key(ca, DEMO_CITIZEN)
        serial = format(key.certificate.serial_number, "x")
        revoked = await ca.post(f"/v1/certificates/{serial}/revoke", json={"reason": "keyCompromise"})
        assert revoked.json()["status"] == "revoked"
    outcome = await apply_on_portal(simulation.client, "almaty-queue", DEMO_CITIZEN, signing_key=key)
    await _stops_at_2_shart(outcome)
    assert "кері қайтарылған" in outcome.application["refusal"]["kk"]


async def test_passwords_are_hashed_on_the_portals_own_threads_not_the_loops(simulation, monkeypatch):
    import os
    import threading

    from portal import service

    where = []
    for name in ("hash_password", "check_password"):
        real = getattr(service, name)
        monkeypatch.setattr(service, name, lambda *args, real=real: where.append(threading.current_thread().name) or real(*args))
    await register_citizen(simulation.client, OTHER, data_dir=simulation.settings.data_dir)
    async with simulation.client("portal") as portal:
        reply = await portal.post("/api/sessions", json={"iin": OTHER.iin, "password": OTHER.password})
        assert reply.status_code == 200
    assert len(where) == 2 and all(name.startswith("portal-pbkdf2") for name in where)
    # every core but one hashes; the last is the event loop's
    assert service.HASHING_THREADS == max(1, (os.cpu_count() or 2) - 1)


def _hash_in_a_forked_child(queue) -> None:
    import asyncio

    from portal import service

    queue.put(asyncio.run(asyncio.wait_for(service._on_hashing_thread(service.hash_password, "pw"), 30)))


def test_a_process_forked_after_hashing_hashes_on_threads_of_its_own():
    """``egov-sim up`` forks its systems from a process that may have hashed already (the bench's
    in-process part): the child must not wait for its parent's threads, which it has not."""
    import asyncio
    import multiprocessing

    from portal import service

    assert asyncio.run(service._on_hashing_thread(service.hash_password, "pw")).startswith("pbkdf2_sha256$")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_hash_in_a_forked_child, args=(queue,))
    child.start()
    child.join(60)  # a ceiling against a hang only
    assert child.exitcode == 0
    assert queue.get(timeout=5).startswith("pbkdf2_sha256$")


def test_a_password_hash_is_pbkdf2_sha256_as_hashlib_computes_it():
    """The portal hashes with cryptography's PBKDF2 (twice hashlib's speed here): the same
    PBKDF2-HMAC-SHA256 as hashlib's, so a hash stored by either is checked by the other."""
    import hashlib
    import hmac

    from portal import service

    name, rounds, salt, digest = service.hash_password("Құпия-сөз 1").split("$")
    assert (name, rounds) == ("pbkdf2_sha256", "100000")
    assert hmac.compare_digest(
        hashlib.pbkdf2_hmac("sha256", "Құпия-сөз 1".encode(), bytes.fromhex(salt), 100_000).hex(), digest)
    salt = bytes(range(16))
    stored = f"pbkdf2_sha256$1000${salt.hex()}${hashlib.pbkdf2_hmac('sha256', b'pw', salt, 1000).hex()}"
    assert service.check_password("pw", stored)
    assert not service.check_password("pW", stored)
