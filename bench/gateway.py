"""Gateway throughput of egov-sim: one load generator, three paths to the same echo provider.

Run from the repository root::

    python bench/gateway.py              # about a minute on a 2-core machine
    python bench/gateway.py --quick      # a rough look, shorter windows

The paths, in the same run, at the same concurrency, their timed windows interleaved:

====  ===========================================  ===========================================
path  from the load generator                      service
====  ===========================================  ===========================================
a     straight to the echo provider                ``ECHO_Central`` (the echo takes it direct)
b     through ЭҮШ (``gateway``)                    ``ECHO_Central``
c     through ЭҮШ and ЭҮӨШ (``gateway-almaty``)     ``ECHO_Regional``, routeId ``almaty``
====  ===========================================  ===========================================

The systems are real processes on 127.0.0.1 (``egov_sim.up.Cluster``: signatures, control, the
two gateways and the echo provider, each its own uvicorn process), in a temporary data dir on free
ports. The load generator signs as the ``echo`` system with its key storage; every message is
signed *before* its timed window (unique messageIds, so the gateways' replay guard never answers
from memory; messageDate = the run's virtual time, which does not move during the run).

The load generator's HTTP client is a few lines of raw ``asyncio`` streams: one keep-alive
HTTP/1.1 connection per concurrent sender, a request written in one go, the answer read by its
Content-Length. It costs a few tens of microseconds a message, so it leaves the CPU to the systems
it measures (an httpx client would take ~1.7 ms of CPU a message, more than a gateway hop).

Each path first gets a warm-up of a fixed number of messages (caches, connection pools, the OCSP
answer). Then come ``--rounds`` rounds (5 by default); a round gives each path in turn, a, b, c, a
timed window of ``--seconds`` / ``--rounds`` seconds (``--seconds`` is each path's timed total, 10
by default). Interleaved so, a path is not measured at a better or worse moment of a shared machine
than the others: the ratios compare like with like. Before each window its messages are signed
(as many as the warm-up's rate says the window needs, twice over); in the window ``--concurrency``
senders (64 by default) each send their next message as soon as the previous one is answered.
Messages per second = messages answered in a path's windows / their summed length (each round's
figure is printed too); latencies are per message, send to full answer. The CPU time each
system's process used in a path's windows, divided by its messages, is printed too.

Every answer is checked after its window (not inside it, so the checking costs no throughput):
HTTP 200, a signed response whose JWS signature and certificate chain verify against the run's
root, correlationId = the request's messageId, the echoed data = the data sent. After the last
path the gateways' message logs must hold two records (request, answer) for every message that
went through them, with an unbroken hash chain, and the echo must have processed every message
once. Any error is counted and printed, and the run exits with status 1.

The last line of the output is machine-readable ``key=value`` pairs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

_REPO_ROOT = Path(__file__).resolve().parent.parent
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import httpx  # noqa: E402

from egov_sim.up import Cluster  # noqa: E402
from egov_sim.ports import free_base_port  # noqa: E402
from gateway_protocol.client import build_signed_request, verify_signed_response  # noqa: E402
from gateway_protocol.envelope import SUCCESS_CODE, SYNC_PATH  # noqa: E402
from gateway_protocol.errors import GatewayFault  # noqa: E402
from signatures.identity import Identity  # noqa: E402
from simulation.access import TOKEN_HEADER  # noqa: E402
from simulation.settings import Settings  # noqa: E402
from simulation.credentials import RunCredentials  # noqa: E402

SYSTEMS_NEEDED = ["signatures", "control", "gateway", "gateway-almaty", "echo"]
MEASURED = ["gateway", "gateway-almaty", "echo"]


@dataclass(frozen=True)
class Path_:
    key: str
    label: str
    target: str
    service_id: str
    route_id: str | None
    through: tuple[str, ...]  # the gateways that must log it


PATHS = [
    Path_("direct", "(a) direct to echo", "echo", "ECHO_Central", None, ()),
    Path_("one_hop", "(b) via ЭҮШ", "gateway", "ECHO_Central", None, ("gateway",)),
    Path_("two_hop", "(c) via ЭҮШ → ЭҮӨШ", "gateway", "ECHO_Regional", "almaty", ("gateway", "gateway-almaty")),
]




# --------------------------------------------------------------------------- signing

_SIGNER: dict[str, Any] = {}


def _signer_init(key_file: str, message_date: str, password: str) -> None:
    _SIGNER["identity"] = Identity.load(Path(key_file))
    _SIGNER["date"] = datetime.fromisoformat(message_date)
    _SIGNER["password"] = password


def _sign_batch(job: tuple[str, str | None, str, int, int]) -> list[tuple[str, bytes]]:
    service_id, route_id, tag, start, count = job
    out = []
    for n in range(start, start + count):
        message_id = f"bench-{tag}-{n}-{uuid.uuid4().hex[:12]}"
        signed = build_signed_request(
            _SIGNER["identity"], sender_id="echo", password=_SIGNER["password"], service_id=service_id,
            route_id=route_id, data={"n": n, "path": tag, "text": "сәлем, ЭҮШ"}, message_date=_SIGNER["date"],
            message_id=message_id,
        )
        body = json.dumps(signed.model_dump(mode="json", exclude_none=True), ensure_ascii=False).encode()
        out.append((message_id, body))
    return out


class Signer:
    """Signs messages in a pool of worker processes (one per core), before a timed window."""

    def __init__(self, key_file: Path, message_date: str, password: str) -> None:
        self.pool = multiprocessing.get_context("fork").Pool(
            os.cpu_count() or 2, initializer=_signer_init, initargs=(str(key_file), message_date, password)
        )
        self.counter = 0

    def sign(self, path: Path_, count: int) -> list[tuple[str, bytes]]:
        chunk = 250
        jobs = []
        for start in range(self.counter, self.counter + count, chunk):
            jobs.append((path.service_id, path.route_id, path.key, start, min(chunk, self.counter + count - start)))
        self.counter += count
        return [m for batch in self.pool.map(_sign_batch, jobs) for m in batch]

    def close(self) -> None:
        self.pool.close()
        self.pool.join()


# --------------------------------------------------------------------------- a light HTTP/1.1 client


class Connection:
    """One keep-alive HTTP/1.1 connection: POST a body, read the answer."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        self.writer.write(head + body)
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length: int | None = None
        chunked, keep_alive = False, True
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                keep_alive = False
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            answer = b"".join(parts)
        elif length is not None:
            answer = await self.reader.readexactly(length)
        else:
            answer = await self.reader.read()
            keep_alive = False
        if not keep_alive:
            self.close()
        return status, answer


# --------------------------------------------------------------------------- load


@dataclass
class Outcome:
    sent: list[str] = field(default_factory=list)  # messageIds answered, in order
    latencies: list[float] = field(default_factory=list)
    answers: list[tuple[str, int, bytes]] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    exhausted: bool = False


async def drive(
    url: str, messages: list[tuple[str, bytes]], concurrency: int, seconds: float | None
) -> Outcome:
    """Send ``messages`` from ``concurrency`` senders until they are used up or ``seconds`` pass."""
    parsed = httpx.URL(url)
    outcome = Outcome()
    queue = iter(messages)
    connections = [Connection(parsed.host, parsed.port or 80) for _ in range(concurrency)]
    for c in connections:
        await c.open()
    started = time.perf_counter()
    deadline = None if seconds is None else started + seconds
    last_done = started

    async def sender(connection: Connection) -> None:
        nonlocal last_done
        perf = time.perf_counter
        while deadline is None or perf() < deadline:
            message = next(queue, None)
            if message is None:
                if deadline is not None:
                    outcome.exhausted = True
                return
            message_id, body = message
            t0 = perf()
            try:
                status, answer = await connection.post(SYNC_PATH, body)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                outcome.transport_errors.append(f"{message_id}: {type(exc).__name__}: {exc}")
                connection.close()
                continue
            t1 = perf()
            outcome.latencies.append(t1 - t0)
            outcome.answers.append((message_id, status, answer))
            last_done = t1

    await asyncio.gather(*(sender(c) for c in connections))
    outcome.elapsed = last_done - started
    for c in connections:
        c.close()
    return outcome


def check_answers(outcome: Outcome, bodies: dict[str, bytes], roots, at: datetime) -> list[str]:
    """Every answer: HTTP 200, a signed response that verifies, for this message, echoing its data."""
    errors = list(outcome.transport_errors)
    for message_id, status, answer in outcome.answers:
        if status != 200:
            errors.append(f"{message_id}: HTTP {status}: {answer[:300]!r}")
            continue
        try:
            payload = json.loads(answer)
            signed = verify_signed_response(payload, trusted_roots=roots, at=at, source="bench")
        except (ValueError, GatewayFault) as exc:
            errors.append(f"{message_id}: {exc}")
            continue
        info = signed.response.responseInfo
        sent = json.loads(bodies[message_id])["request"]["requestData"]["data"]
        if info.status.code != SUCCESS_CODE:
            errors.append(f"{message_id}: status {info.status.code}")
        elif info.correlationId != message_id:
            errors.append(f"{message_id}: answered for {info.correlationId}")
        elif signed.response.responseData.data != {"echo": sent}:
            errors.append(f"{message_id}: the echo does not match what was sent")
    return errors


# --------------------------------------------------------------------------- CPU use of the systems


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


@dataclass
class Result:
    path: Path_
    mps: float
    messages: int
    p50: float
    p90: float
    p99: float
    cpu_ms: dict[str, float]  # CPU ms per message, per process
    errors: list[str]
    rounds: list[float] = field(default_factory=list)  # msg/s of each timed window


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="timed seconds per path, over all its rounds (default 10)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of interleaved timed windows, a b c a b c ... (default 5)")
    parser.add_argument("--concurrency", type=int, default=64, help="senders in flight, every path (default 64)")
    parser.add_argument("--warmup", type=int, default=1500, help="warm-up messages per path (default 1500)")
    parser.add_argument("--quick", action="store_true", help="3 s per path in one round, 600 warm-up messages")
    parser.add_argument("--keep", action="store_true", help="keep the run's data dir (printed at the end)")
    parser.add_argument("--paths", default="abc", help="which paths to run, e.g. 'c' or 'ac' (default abc)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="record a py-spy profile of each measured system during each timed window into DIR "
                             "(py-spy must be installed)")
    args = parser.parse_args(argv)
    # SIGTERM stops the run as Ctrl-C does, so the systems it started are stopped too
    signal.signal(signal.SIGTERM, _interrupt)
    if args.quick:
        args.seconds, args.warmup, args.rounds = 3.0, 600, 1
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds must be at least 1 and --seconds positive")

    began = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="egov-bench-gateway-"))
    print(f"egov-sim gateway benchmark: {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {load_average()}")
    print(f"concurrency {args.concurrency}, {args.seconds:g} s per path in {args.rounds} round(s) of interleaved "
          f"windows, after {args.warmup} warm-up messages; data in {tmp}")
    signer: Signer | None = None
    results: list[Result] = []
    failures: list[str] = []
    cluster: Cluster | None = None
    try:
        for attempt in range(1, 4):  # another program may take a port between the probe and the bind
            settings = Settings(data_dir=tmp / f"run{attempt}", base_port=free_base_port(), seed_people=False)
            cluster = Cluster(settings, SYSTEMS_NEEDED)
            try:
                cluster.start()
                cluster.wait_healthy(60)
                break
            except (RuntimeError, TimeoutError) as exc:
                cluster.stop()
                cluster = None
                print(f"the systems did not start ({exc}); trying again on other ports")
        if cluster is None:
            raise SystemExit("the systems did not start in 3 attempts")
        print(f"started {', '.join(SYSTEMS_NEEDED)} in {time.perf_counter() - began:.1f} s")
        with httpx.Client(timeout=60) as http:
            now = http.get(settings.url_of("control") + "/clock").json()["now"]
        at = datetime.fromisoformat(now)
        key_file = settings.data_dir.resolve() / "keys" / "echo.p12"
        roots = fetch_roots(settings)
        signer = Signer(key_file, now, RunCredentials.of(settings).password_of("echo"))
        pids = {name: cluster.processes[name].pid for name in MEASURED}
        chosen = [p for letter, p in zip("abc", PATHS) if letter in args.paths]
        runs = {path.key: PathRun(path) for path in chosen}
        for run in runs.values():
            asyncio.run(run.warm_up(settings, signer, args, roots, at))
        window = args.seconds / args.rounds
        for number in range(1, args.rounds + 1):
            for run in runs.values():
                asyncio.run(run.timed_window(settings, signer, args, pids, roots, at, window, number))
            print(f"  round {number}: " + "  ".join(
                f"{run.path.label.split()[0]} {run.rounds[-1]:.1f}" for run in runs.values()) + " msg/s")
        for run in runs.values():
            results.append(run.result())
            r = results[-1]
            print(f"  {r.path.label:<22} {r.mps:8.1f} msg/s  p50 {r.p50 * 1000:6.1f} ms  p90 {r.p90 * 1000:6.1f} ms  "
                  f"p99 {r.p99 * 1000:6.1f} ms  ({r.messages} messages, {len(r.errors)} errors)")
        failures.extend(check_logs(settings, results))
    finally:
        if signer is not None:
            signer.close()
        if cluster is not None:
            cluster.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"| path | msg/s | p50 ms | p90 ms | p99 ms | messages | errors | CPU ms/msg: "
          + " | ".join(["load gen", *MEASURED]) + " | msg/s by round |")
    for r in results:
        cpu = " | ".join(f"{r.cpu_ms.get(n, 0):.2f}" for n in ["load gen", *MEASURED])
        print(f"| {r.path.label} | {r.mps:.1f} | {r.p50 * 1000:.1f} | {r.p90 * 1000:.1f} | {r.p99 * 1000:.1f} | "
              f"{r.messages} | {len(r.errors)} | {cpu} | {' / '.join(f'{x:.0f}' for x in r.rounds)} |")
    errors = [e for r in results for e in r.errors] + failures
    for r in results:
        for e in r.errors[:5]:
            print(f"error on {r.path.key}: {e}")
    for f in failures:
        print(f"error: {f}")
    by = {r.path.key: r for r in results}
    a, b, c = (by[k].mps if k in by else math.nan for k in ("direct", "one_hop", "two_hop"))
    print(f"finished in {time.perf_counter() - began:.1f} s; load average {load_average()}; "
          f"{len(errors)} errors{'' if not errors else ' -- FAILED'}")
    pairs = {
        "direct_mps": f"{a:.1f}", "one_hop_mps": f"{b:.1f}", "two_hop_mps": f"{c:.1f}",
        "ratio_b_a": f"{b / a:.3f}", "ratio_c_a": f"{c / a:.3f}",
    }
    for r in results:
        for q in ("p50", "p99"):
            pairs[f"{r.path.key}_{q}_ms"] = f"{getattr(r, q) * 1000:.1f}"
    pairs["errors"] = str(len(errors))
    print(" ".join(f"{k}={v}" for k, v in pairs.items()))
    return 1 if errors else 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def fetch_roots(settings: Settings):
    from signatures.client import fetch_roots as fetch

    async def go():
        async with httpx.AsyncClient(timeout=30) as http:
            return await fetch(http, settings.url_of("signatures"))

    return asyncio.run(go())


class PathRun:
    """One path's warm-up and timed windows, and what they add up to."""

    def __init__(self, path: Path_) -> None:
        self.path = path
        self.rate = 1000.0  # msg/s of the warm-up, to know how many messages a window needs
        self.messages = 0
        self.elapsed = 0.0
        self.latencies: list[float] = []
        self.cpu: dict[str, float] = {name: 0.0 for name in ["load gen", *MEASURED]}
        self.errors: list[str] = []
        self.rounds: list[float] = []
        _SENT[path.key] = []

    async def warm_up(self, settings: Settings, signer: Signer, args, roots, at: datetime) -> None:
        warm = signer.sign(self.path, args.warmup)
        outcome = await drive(settings.url_of(self.path.target), warm, args.concurrency, None)
        if outcome.elapsed:
            self.rate = len(outcome.answers) / outcome.elapsed
        self.errors += check_answers(outcome, dict(warm), roots, at)
        _SENT[self.path.key] += [m for m, *_ in outcome.answers]

    async def timed_window(
        self, settings: Settings, signer: Signer, args, pids: dict[str, int], roots, at: datetime,
        seconds: float, number: int,
    ) -> None:
        timed = signer.sign(self.path, int(self.rate * seconds * 2) + 4 * args.concurrency)
        await asyncio.sleep(0.2)
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        own_before = own_cpu_seconds()
        profilers = (
            start_profilers(args.profile, self.path, pids, seconds, f"-r{number}") if args.profile else []
        )
        outcome = await drive(settings.url_of(self.path.target), timed, args.concurrency, seconds)
        for profiler in profilers:
            profiler.wait()
        self.cpu["load gen"] += own_cpu_seconds() - own_before
        for name, pid in pids.items():
            self.cpu[name] += cpu_seconds(pid) - cpu_before[name]
        count = len(outcome.answers)
        self.messages += count
        self.elapsed += outcome.elapsed
        self.latencies += outcome.latencies
        self.rounds.append(count / outcome.elapsed if outcome.elapsed else 0.0)
        self.errors += check_answers(outcome, dict(timed), roots, at)
        if outcome.exhausted:
            self.errors.append(f"ran out of pre-signed messages ({len(timed)}) before {seconds:g} s")
        _SENT[self.path.key] += [m for m, *_ in outcome.answers]

    def result(self) -> Result:
        latencies = sorted(self.latencies)
        per_message = {name: s * 1000 / max(self.messages, 1) for name, s in self.cpu.items()}
        return Result(
            self.path, self.messages / self.elapsed if self.elapsed else 0.0, self.messages,
            percentile(latencies, 0.5), percentile(latencies, 0.9), percentile(latencies, 0.99),
            per_message, self.errors, self.rounds,
        )


_SENT: dict[str, list[str]] = {}


def start_profilers(directory: Path, path: Path_, pids: dict[str, int], seconds: float, suffix: str = "") -> list:
    """py-spy, one per measured system that the path goes through, for the timed window."""
    import subprocess

    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    directory.mkdir(parents=True, exist_ok=True)
    involved = [*path.through, "echo"]
    return [
        subprocess.Popen(
            [spy, "record", "--pid", str(pids[name]), "--duration", str(max(1, int(seconds))), "--rate", "250",
             "--format", "raw", "--output", str(directory / f"{path.key}-{name}{suffix}.txt"), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for name in involved
    ]


def check_logs(settings: Settings, results: list[Result]) -> list[str]:
    """Each gateway logged a request and an answer for every message through it, in an unbroken
    chain; the echo processed every message once."""
    problems = []
    expected = {g: 0 for g in ("gateway", "gateway-almaty")}
    total = 0
    for r in results:
        total += len(_SENT[r.path.key])
        for g in r.path.through:
            expected[g] += 2 * len(_SENT[r.path.key])
    # the message log is the auditor's to read: the run's token, from its data directory
    auditor = {TOKEN_HEADER: RunCredentials.of(settings).auditor_token}
    with httpx.Client(timeout=120, headers=auditor) as http:
        for g, records in expected.items():
            report = http.get(settings.url_of(g) + "/v1/messages/verify").json()
            if not report["ok"]:
                problems.append(f"{g}: the message log's chain is broken: {report['problem']}")
            if report["records"] != records:
                problems.append(f"{g}: {report['records']} log records, expected {records}")
        processed = http.get(settings.url_of("echo") + "/api/processed").json()
        if len(processed) != total or any(row["times"] != 1 for row in processed):
            problems.append(f"echo processed {len(processed)} distinct messages, expected {total} once each")
    return problems


if __name__ == "__main__":
    sys.exit(main())
