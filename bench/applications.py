"""Whole applications end to end: how many a second, and what each costs.

Run from the repository root::

    .venv/bin/python bench/applications.py                       # in one process, SQLite, 60 applications
    .venv/bin/python bench/applications.py --where inprocess,up  # and under `egov-sim up`, real sockets
    EGOV_SIM_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/applications.py
    .venv/bin/python bench/applications.py --apps 200 --profile /tmp/apps.prof   # with a cProfile

The mix: every reglament's channels that start with the applicant -- on the portal, at the State
Corporation's front office, at the provider's chancellery -- and each channel's cases (the
reglament definitions' ``cases``) but the ones a bench cannot repeat by the hundred (a wrong
password, a revoked or expired certificate, a signature by someone else, a contract the citizen
never signs, which waits for them), dealt out in turn. An
application filed by a case's ``demo`` applicant is filed by a different adult of the run's
synthetic population each time (the same person twice would be refused as already queued); the
case's other applicants (an owner, an unknown ЖСН) as the case names them. Each portal applicant
registers with an AUTH key and signs with a SIGN key (as on egov.kz, through NCALayer), both issued
by the run's CA before the timed part -- a citizen holds their ЭЦҚ before applying; the portal
account is made with the application; the operator and the chancellery file theirs; the
provider's staff work in auto mode.

One run (``--where`` inprocess: every system in this process, :class:`egov_sim.inprocess.Simulation`,
on the event loop of egov-sim's commands -- uvloop where installed, ``EGOV_SIM_LOOP=asyncio`` for
asyncio's (:mod:`egov_sim.loops`); up: each system its own process on 127.0.0.1,
:class:`egov_sim.up.Cluster`, served by uvicorn):

1. a fresh world (not timed), its first application filed and run (warm-up, not counted), the
   portal applicants' keys issued (not timed);
2. **filing**: ``--apps`` applications filed at once, ``--concurrency`` at a time;
3. **running**: virtual time runs (``POST /clock/run``) until nothing is pending; applications the
   provider asks the citizen to sign for (a contract) are signed in the cabinet (``--concurrency``
   at a time; only a citizen whose application waits for their signature, as its position at the
   control system says, logs in: the others are never told to) and time runs again;
4. **checking**: every application's position (``GET /positions/<id>``) must be ``done`` with an
   outcome, its trace must hold the step it ended on once and no step twice at one moment, and
   the gateways' message logs must verify.

Applications per second = applications / (filing + running), wall time. CPU ms per application:
this process's CPU (in process: all of it; under up: the load generator's) and, under up, each
system's process from ``/proc/<pid>/stat``, divided by the applications. Messages per application:
records of the central gateway's log / 2 / applications. Memory per 10,000 in flight: the growth of
the resident set (in process; under up the sum over the systems) between before filing and after
it, when every application is filed and none decided, scaled to 10,000.

The last line is ``key=value`` pairs, e.g. ``apps_per_s_inprocess=… cpu_ms_per_app_inprocess=…``.
Nothing here asserts a speed; an application that does not end, or ends twice, makes the exit
status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from egov_sim import loops  # noqa: E402
from egov_sim.citizen import (  # noqa: E402
    Citizen, apply_on_portal, obtain_auth_key, obtain_signing_key, sign_in_cabinet,
)
from egov_sim.scenarios import CITIZENS, UNKNOWN_IIN  # noqa: E402
from portal.cabinet import CITIZEN_SIGNATURE  # noqa: E402
from reglaments import all_reglaments  # noqa: E402
from registries.population import generate  # noqa: E402
from simulation.access import TOKEN_HEADER  # noqa: E402
from simulation.credentials import RunCredentials  # noqa: E402
from simulation.database import drop_run  # noqa: E402
from simulation.definition import Case  # noqa: E402
from simulation.settings import Settings  # noqa: E402
from signatures.identity import Identity  # noqa: E402
from simulation.topology import SYSTEMS  # noqa: E402

START = datetime.fromisoformat("2026-11-02T10:00:00+05:00")
"""A Monday morning: the staff procedures of the mix fall within working hours and no holiday."""
ENTRIES = ("portal", "corporation_ws", "provider_ws")
GATEWAYS = ("gateway", "gateway-almaty", "gateway-pavlodar", "gateway-karaganda", "gateway-wko")


@dataclass(frozen=True)
class Filing:
    reglament: str
    channel: str
    case: str
    spec: Case
    entry: str


@dataclass
class Filed:
    filing: Filing
    application_id: str
    citizen: Citizen | None = None
    keys: Keys | None = None


@dataclass(frozen=True)
class Keys:
    """A portal applicant's key storages, opened: AUTH (registration) and SIGN (the application)."""
    auth: Identity
    sign: Identity


@dataclass
class Figures:
    where: str
    backend: str
    apps: int
    filing_s: float
    running_s: float
    cpu_ms: dict[str, float]
    messages_per_app: float
    memory_mib_per_10k: float
    rss_mib: tuple[float, float]
    outcomes: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def apps_per_s(self) -> float:
        return self.apps / (self.filing_s + self.running_s)


def mix() -> list[Filing]:
    """The repeatable cases of every channel that starts with the applicant, in a fixed order."""
    filings = []
    for reglament in all_reglaments().values():
        for channel, cases in sorted(reglament.cases.items()):
            entry = reglament.channel(channel).first.system
            if entry not in ENTRIES:
                continue
            for name, spec in sorted(cases.items()):
                if spec.password == "wrong" or spec.certificate != "valid" or spec.signer is not None:
                    continue
                if not spec.citizen_signs:  # waits for the citizen's signature: it does not end by itself
                    continue
                filings.append(Filing(reglament.id, channel, name, spec, entry))
    return filings


def adults(settings: Settings) -> list[dict[str, Any]]:
    """The living adults of the run's population, in the generator's order."""
    found = []
    for chunk in generate(settings.population_seed, settings.population_size):
        for person in chunk.persons:
            alive = person.get("lifeStatus", {}).get("code") != "1"
            if alive and person["birthDate"] < "2000-01-01" and not person.get("deathDate"):
                found.append(person)
    return found


def applicant(filing: Filing, people: itertools.cycle) -> Citizen:
    spec = filing.spec
    if spec.applicant == "demo":
        person = next(people)
        citizen = Citizen(person["iin"], person["surname"], person["name"], person.get("patronymic"),
                          f"Bench-{person['iin']}!")
    elif spec.applicant == "unknown":
        citizen = Citizen(UNKNOWN_IIN, "БЕЛГІСІЗ", "АДАМ", None, "Unknown-2026!")
    elif spec.applicant in CITIZENS:
        citizen = CITIZENS[spec.applicant]
    else:
        citizen = Citizen(spec.applicant, "ӨТІНІШ", "БЕРУШІ", None, f"Iin-{spec.applicant}!")
    return replace(citizen, queue_list=spec.queue_list) if spec.queue_list else citizen


class World:
    """The systems of one run as the bench reaches them: ``client(system)`` like the tests'."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.transport = transport
        self.admin = {TOKEN_HEADER: RunCredentials.of(settings).admin_token}
        """The run's admin token, read once from its data directory (the run has started)."""

    def client(self, system: str) -> httpx.AsyncClient:
        # an idle connection dropped before uvicorn's keep-alive of 5 s drops it: a request sent as
        # the server closes the connection fails ("Server disconnected"), and httpx does not retry
        return httpx.AsyncClient(transport=self.transport, base_url=self.settings.url_of(system),
                                 timeout=600, headers=self.admin, limits=httpx.Limits(keepalive_expiry=2.0))


async def issue_keys(world: World, citizens: list[Citizen], concurrency: int) -> dict[str, Keys]:
    """Each portal applicant's AUTH and SIGN key storages from the run's CA, opened (by ЖСН)."""
    limit = asyncio.Semaphore(concurrency)
    keys: dict[str, Keys] = {}

    async def issue(citizen: Citizen) -> None:
        async with limit, world.client("signatures") as ca:
            keys[citizen.iin] = Keys(await obtain_auth_key(ca, citizen), await obtain_signing_key(ca, citizen))

    await asyncio.gather(*(issue(c) for c in {c.iin: c for c in citizens}.values()))
    return keys


async def file_one(world: World, filing: Filing, citizen: Citizen, keys: Keys | None = None) -> Filed:
    from reglaments import get_reglament

    reglament = get_reglament(filing.reglament)
    spec = filing.spec
    if filing.entry == "portal":
        outcome = await apply_on_portal(world.client, reglament.id, citizen, data_dir=world.settings.data_dir,
                                        omit=tuple(spec.omit_documents), form_fields=spec.form, run_clock=False,
                                        signing_key=keys.sign if keys else None, auth_key=keys.auth if keys else None)
        if outcome.application_id is None:
            raise RuntimeError(f"{filing.reglament}/{filing.channel}/{filing.case}: the log-in was refused")
        return Filed(filing, outcome.application_id, citizen, keys)
    if not reglament.queue_lists:
        citizen = replace(citizen, queue_list=None)
    documents = [d.code for d in reglament.documents_for(citizen.queue_list) if d.code not in spec.omit_documents]
    form = {**({"queueList": citizen.queue_list} if reglament.queue_lists else {}), **spec.form}
    if filing.entry == "corporation_ws":
        async with world.client("corporation_ws") as ws:
            session = _ok(await ws.post("/api/operator/sessions"))["session"]
            ticket = _ok(await ws.post("/api/tickets", params={"reglament": reglament.id}))["ticket"]
            taken = _ok(await ws.post("/api/applications", headers={"Authorization": f"Bearer {session}"}, json={
                "reglament": reglament.id, "ticket": ticket, "applicant_iin": citizen.iin,
                "presented_documents": documents, "form": form}))
        return Filed(filing, taken["id"])
    async with world.client("provider_ws") as ws:
        taken = _ok(await ws.post("/api/chancellery/applications", json={
            "reglament": reglament.id, "applicant": {"iin": citizen.iin},
            "attachments": [{"code": code} for code in documents], "form": form}))
    return Filed(filing, taken["applicationId"])


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{response.request.method} {response.request.url.path}: "
                           f"HTTP {response.status_code}: {response.text[:300]}")
    return response.json()


async def run_clock(world: World) -> None:
    async with world.client("control") as control:
        # no ceiling of the client's: with thousands of applications filed, the run takes as long
        # as their timers do; the control system's own ceiling is a wait without progress (settle)
        _ok(await control.post("/clock/run", timeout=None))


async def sign_contracts(world: World, filed: list[Filed], concurrency: int) -> int:
    """The citizens the provider asks to sign (a contract) sign in their cabinets, ``concurrency``
    at a time as they file; how many did. Only those whose application waits for their signature
    log in, as only they are told to (the others' cases end before a contract: a refusal)."""
    limit = asyncio.Semaphore(concurrency)

    async def sign(one: Filed) -> bool:
        async with limit:
            async with world.client("control") as control:
                position = _ok(await control.get(f"/positions/{one.application_id}"))
            if position.get("state") != "waiting" or position.get("waitingFor") != CITIZEN_SIGNATURE:
                return False
            await sign_in_cabinet(world.client, one.citizen, one.application_id, run_clock=False,
                                  signing_key=one.keys.sign if one.keys else None)
            return True

    asked = [one for one in filed if one.citizen is not None and one.filing.spec.citizen_signs]
    return sum(await asyncio.gather(*(sign(one) for one in asked)))


async def check(world: World, filed: list[Filed]) -> tuple[Counter, list[str], int]:
    """Every application ended once; the gateways' logs verify; (outcomes, errors, log records)."""
    outcomes: Counter = Counter()
    errors: list[str] = []
    async with world.client("control") as control:
        for one in filed:
            position = (await control.get(f"/positions/{one.application_id}")).json()
            trace = (await control.get(f"/trace/{one.application_id}")).json()
            what = f"{one.filing.reglament}/{one.filing.channel}/{one.filing.case} {one.application_id}"
            if position.get("state") != "done" or not position.get("outcome"):
                errors.append(f"{what}: not ended: {position}")
                continue
            steps = Counter((step.get("step"), step.get("system"), step.get("sim_time")) for step in trace)
            if twice := [key for key, times in steps.items() if times > 1]:
                errors.append(f"{what}: a step recorded twice at one moment: {twice[0]}")
            ends = sum(1 for step in trace if step.get("step") == position.get("step"))
            if ends != 1:
                errors.append(f"{what}: its last step {position.get('step')} is in its trace {ends} times, not once")
            outcomes[position["outcome"]] += 1
    records = 0
    for gateway in GATEWAYS:
        async with world.client(gateway) as client:
            verified = await client.get("/v1/messages/verify")
            if verified.status_code != 200 or not verified.json().get("ok", False):
                errors.append(f"{gateway}: the message log does not verify: {verified.text[:200]}")
            elif gateway == "gateway":
                records = int(verified.json().get("records", 0))
    return outcomes, errors, records


def rss_mib(pids: list[int] | None = None) -> float:
    """Resident set of this process, or the sum over ``pids``, in MiB."""
    if pids is None:
        pids = [os.getpid()]
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bench(world: World, args: argparse.Namespace, where: str, pids: dict[str, int]) -> Figures:
    filings = mix()
    people = itertools.cycle(adults(world.settings))
    warm = filings[0]
    await file_one(world, warm, applicant(warm, people))
    await run_clock(world)
    plan = [(filing, applicant(filing, people)) for filing in itertools.islice(itertools.cycle(filings), args.apps)]
    # citizens hold their ЭЦҚ before they apply (НУЦ issues it once, not with each application)
    keys = await issue_keys(world, [c for f, c in plan if f.entry == "portal"], args.concurrency)
    limit = asyncio.Semaphore(args.concurrency)

    async def filed(filing: Filing, citizen: Citizen) -> Filed:
        async with limit:
            return await file_one(world, filing, citizen, keys.get(citizen.iin) if filing.entry == "portal" else None)

    profile = cProfile.Profile() if args.profile and where == "inprocess" else None
    own = [os.getpid()] if where == "inprocess" else list(pids.values())
    rss_before = rss_mib(own)
    cpu_before = {system: cpu_s(pid) for system, pid in pids.items()}
    process_before = time.process_time()
    started = time.perf_counter()
    if profile:
        profile.enable()
    done = await asyncio.gather(*(filed(f, c) for f, c in plan))
    filing_s = time.perf_counter() - started
    rss_filed = rss_mib(own)
    await run_clock(world)
    if await sign_contracts(world, done, args.concurrency):
        await run_clock(world)
    running_s = time.perf_counter() - started - filing_s
    if profile:
        profile.disable()
        profile.dump_stats(args.profile)
    cpu = {"bench" if where == "up" else "all": (time.process_time() - process_before) * 1000 / args.apps}
    for system, pid in pids.items():
        cpu[system] = (cpu_s(pid) - cpu_before[system]) * 1000 / args.apps
    outcomes, errors, records = await check(world, done)
    return Figures(where, "PostgreSQL" if world.settings.database_url else "SQLite", args.apps, filing_s,
                   running_s, cpu, records / 2 / (args.apps + 1), (rss_filed - rss_before) * 10_000 / args.apps,
                   (rss_before, rss_filed), outcomes, errors)


async def in_process(settings: Settings, args: argparse.Namespace) -> Figures:
    from egov_sim.inprocess import Simulation

    async with Simulation(settings) as simulation:
        return await bench(World(settings, simulation.transport), args, "inprocess", {})


async def under_up(settings: Settings, args: argparse.Namespace) -> Figures:
    from egov_sim.up import Cluster

    cluster = Cluster(settings)
    try:
        await asyncio.to_thread(cluster.start)
        await asyncio.to_thread(cluster.wait_healthy, 120.0)  # start launches; every system answers after
        pids = {system: child.pid for system, child in cluster.processes.items()}
        return await bench(World(settings), args, "up", pids)
    finally:
        await asyncio.to_thread(cluster.stop)


def report(figures: Figures) -> list[str]:
    lines = [
        f"{figures.where} on {figures.backend}: {figures.apps} applications, filed in {figures.filing_s:.1f} s, "
        f"decided {figures.running_s:.1f} s later: {figures.apps_per_s:.2f} applications/s",
        f"  outcomes: {dict(sorted(figures.outcomes.items()))}",
        f"  messages through ЭҮШ per application: {figures.messages_per_app:.1f}",
        f"  memory per 10,000 applications in flight: {figures.memory_mib_per_10k:.0f} MiB (resident "
        f"{'set' if figures.where == 'inprocess' else 'sets summed'} {figures.rss_mib[0]:.0f} MiB before "
        f"filing, {figures.rss_mib[1]:.0f} MiB with all filed; a figure at or below 0 is within the noise "
        "of the processes' allocators)",
        "  CPU ms per application: " + ", ".join(f"{k} {v:.1f}" for k, v in
                                                 sorted(figures.cpu_ms.items(), key=lambda kv: -kv[1])),
    ]
    lines += [f"  ERROR {error}" for error in figures.errors[:20]]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=60, help="applications filed in the timed part (default 60)")
    parser.add_argument("--concurrency", type=int, default=16, help="filings under way at once (default 16)")
    parser.add_argument("--where", default="inprocess", help="inprocess, up, or both: inprocess,up")
    parser.add_argument("--population", type=int, default=2000, help="persons in the registries (default 2000)")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the in-process timed part")
    args = parser.parse_args()
    wheres = [w.strip() for w in args.where.split(",") if w.strip()]
    if not wheres or set(wheres) - {"inprocess", "up"}:
        parser.error("--where takes inprocess, up or inprocess,up")
    if args.apps < 1 or args.concurrency < 1:
        parser.error("--apps and --concurrency take a positive number")
    results = []
    for where in wheres:
        work = Path(tempfile.mkdtemp(prefix=f"bench-apps-{where}-"))
        settings = Settings(data_dir=work / "run", population_size=args.population, clock_start=START)
        try:
            if where == "inprocess":  # on the loop egov-sim's own commands run on (egov_sim.loops)
                results.append(loops.run(in_process(settings, args)))
            else:  # up forks its systems from this process: asyncio's loop here, uvicorn's in them
                results.append(asyncio.run(under_up(settings, args)))
        finally:
            asyncio.run(drop_run(settings, (*SYSTEMS, "simulation")))
            shutil.rmtree(work, ignore_errors=True)
        print("\n".join(report(results[-1])), flush=True)
    pairs = {}
    for figures in results:
        pairs[f"apps_per_s_{figures.where}"] = f"{figures.apps_per_s:.2f}"
        pairs[f"cpu_ms_per_app_{figures.where}"] = f"{sum(figures.cpu_ms.values()):.1f}"
        pairs[f"messages_per_app_{figures.where}"] = f"{figures.messages_per_app:.1f}"
        pairs[f"mib_per_10k_{figures.where}"] = f"{figures.memory_mib_per_10k:.0f}"
        pairs[f"errors_{figures.where}"] = str(len(figures.errors))
    pairs["backend"] = results[0].backend
    pairs["apps"] = str(args.apps)
    print(" ".join(f"{k}={v}" for k, v in pairs.items()))
    return 1 if any(figures.errors for figures in results) else 0


if __name__ == "__main__":
    sys.exit(main())
