"""``egov-sim up``: every system as its own process on 127.0.0.1, supervised.

A system whose process exits while ``up`` runs is started again on the same data (its database,
its key storage), after a pause that doubles with each exit: :data:`BACKOFF_FIRST` seconds, then
twice that, up to :data:`BACKOFF_CAP`. A system that exits more than ``max_restarts`` times
(default :data:`MAX_RESTARTS`) within ``restart_window`` seconds (default
:data:`RESTART_WINDOW`) is failing for good: ``up`` says so, stops the others and exits 1.
SIGTERM, SIGINT (Ctrl-C) and SIGHUP stop every system and end ``up`` with 0.

``--only SYSTEM...`` starts some systems; the others are expected where the settings say
(``EGOV_SIM_URLS``, else ``EGOV_SIM_HOST`` and the base port), and the table says where.

``--replicas gateway=N`` starts the central gateway as N processes on one PostgreSQL
(docs/scaling.md): the first on the gateway's port, the others on the ports after the
topology's last (:func:`replica_port`), each named ``gateway#K`` (``EGOV_SIM_REPLICA``) and
supervised like a system. The other systems go on calling the first replica's URL.

On PostgreSQL every process gets a connection budget (``EGOV_SIM_PG_CONNECTIONS``): ``up`` asks the
server once for the connections the run's role may open (:func:`server_connection_limits`), leaves
:data:`PG_ADMIN_MARGIN` of them to others, and gives each process an equal share of the rest
(:func:`connection_share`), so that the processes' pools together never ask for more than the
server allows; a share below :data:`~simulation.database.MIN_PG_CONNECTIONS` makes ``up`` refuse
to start. A budget set by hand is given to every process as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, TextIO

import httpx

from simulation.credentials import RunCredentials
from simulation.topology import START_ORDER, SYSTEMS

if TYPE_CHECKING:
    from simulation.settings import Settings

MAX_RESTARTS = 5
"""Restarts of one system allowed within :data:`RESTART_WINDOW`; one exit more and ``up`` gives up."""
RESTART_WINDOW = 300.0
"""Seconds over which a system's exits are counted (five minutes: a system that cannot reach the
certification authority exits after ``ca_wait``, 30 s by default, so five such exits fit in it)."""
BACKOFF_FIRST = 1.0
"""Seconds before a system that exited is started again, doubled for each further exit within
the window."""
BACKOFF_CAP = 30.0
"""The longest pause before a restart."""
STILL_WAITING_EVERY = 30.0
"""Seconds between the lines naming the systems still starting."""
PG_ADMIN_MARGIN = 5
"""PostgreSQL connections of the run's limit that ``up`` leaves to others when it shares the rest
out among its processes: an administrator's psql, a snapshot taken by ``up`` itself, a load
generator's or a test's own look at the database."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``egov-sim up``."""
    parser.description = (
        "Every system as its own process on 127.0.0.1, the certification authority first. A system "
        f"that exits is started again on the same data after {BACKOFF_FIRST:g} s, then twice as long "
        f"each time (at most {BACKOFF_CAP:g} s); one that exits more than --max-restarts times within "
        "--restart-window seconds makes up stop the others and exit 1. Ctrl-C, SIGTERM or SIGHUP stop "
        "every system (exit 0)."
    )
    parser.add_argument("--data-dir", metavar="DIR", help="where the run keeps its state (default ./.egov-sim)")
    parser.add_argument("--base-port", type=int, metavar="PORT", help="port of the first system (default 8700)")
    parser.add_argument(
        "--only", nargs="+", metavar="SYSTEM",
        help="start only these systems; the others are expected at the URLs of EGOV_SIM_URLS "
             f"(else host and base port). Systems: {', '.join(SYSTEMS)}",
    )
    parser.add_argument(
        "--replicas", action="append", metavar="SYSTEM=N",
        help=f"run SYSTEM as N processes on one PostgreSQL (EGOV_SIM_DATABASE_URL); only {', '.join(REPLICABLE)} "
             "can. The first listens on the system's port, the others on the ports after the last "
             "system's (docs/scaling.md)",
    )
    parser.add_argument(
        "--max-restarts", type=int, default=MAX_RESTARTS, metavar="N",
        help=f"restarts of one system allowed within --restart-window before up gives up (default {MAX_RESTARTS})",
    )
    parser.add_argument(
        "--restart-window", type=float, default=RESTART_WINDOW, metavar="SECONDS",
        help=f"the window over which a system's exits are counted (default {RESTART_WINDOW:g})",
    )


class UnknownSystem(ValueError):
    pass


REPLICABLE = ("gateway",)
"""The systems that can run as several processes: the central gateway, whose state is all in its
database (docs/scaling.md)."""
MAX_REPLICAS = 8


class BadReplicas(ValueError):
    pass


def parse_replicas(values: Sequence[str] | None) -> dict[str, int]:
    """``--replicas`` values (``gateway=2``) as {system: count}; BadReplicas naming the value."""
    counts: dict[str, int] = {}
    for value in values or ():
        system, equals, count = value.partition("=")
        if not equals or not system:
            raise BadReplicas(f"{value!r} is not SYSTEM=N (e.g. gateway=2)")
        if system not in SYSTEMS:
            raise BadReplicas(f"{value!r}: unknown system {system!r}; only {', '.join(REPLICABLE)} runs as replicas")
        if system not in REPLICABLE:
            raise BadReplicas(
                f"{value!r}: {system} keeps state of its own process; only {', '.join(REPLICABLE)} runs as "
                "replicas (docs/scaling.md)"
            )
        if not count.isdigit() or not 1 <= int(count) <= MAX_REPLICAS:
            raise BadReplicas(f"{value!r}: N must be a whole number from 1 to {MAX_REPLICAS}")
        counts[system] = int(count)
    return counts


def replica_port(settings: Settings, number: int) -> int:
    """The port of replica ``number`` (2 and up) of the central gateway: after every system's."""
    last = max(spec.port_offset for spec in SYSTEMS.values())
    return settings.base_port + last + number - 1


def replica_name(system: str, number: int) -> str:
    return f"{system}#{number}"


def replica_units(settings: Settings, counts: dict[str, int]) -> dict[str, tuple[str, str, int]]:
    """Every replica process of ``counts`` as {unit: (system, replica name, port)}; the first
    replica's unit is the system's own name, on its port."""
    units: dict[str, tuple[str, str, int]] = {}
    for system, count in counts.items():
        if count < 2:
            continue
        for number in range(1, count + 1):
            unit = system if number == 1 else replica_name(system, number)
            port = settings.port_of(system) if number == 1 else replica_port(settings, number)
            units[unit] = (system, replica_name(system, number), port)
    return units


def chosen_systems(only: Sequence[str] | None) -> list[str]:
    """The systems to start: every system of a run, or those named (in start order)."""
    if not only:
        return list(START_ORDER)
    unknown = [name for name in only if name not in SYSTEMS]
    if unknown:
        raise UnknownSystem(
            f"unknown system{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the systems are: {', '.join(SYSTEMS)}"
        )
    wanted = set(only)
    order = [*START_ORDER, *(name for name in SYSTEMS if name not in START_ORDER)]
    return [name for name in order if name in wanted]


def _serve(
    system: str, settings: Settings, parent: int | None = None, replica: str | None = None, port: int | None = None,
) -> None:
    """A child process: one system's app under uvicorn, until SIGTERM or SIGINT (``replica``: as
    that replica of it, on ``port``)."""
    import uvicorn

    from egov_sim.inprocess import create
    from egov_sim.loops import collect_less_often
    from simulation.observability import configure_logging

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    _keep_to_itself(parent)
    if replica is not None:
        settings = settings.model_copy(update={"replica": replica})
        os.environ["EGOV_SIM_REPLICA"] = replica  # for whatever reads the environment again
    if settings.pg_connections is not None:  # up's share of the server's connections (Cluster.child_settings)
        os.environ["EGOV_SIM_PG_CONNECTIONS"] = str(settings.pg_connections)
    configure_logging(system, settings.log_format, settings.log_level, replica=settings.replica)
    asyncio.events._set_running_loop(None)  # forked from a process whose loop was running
    collect_less_often()
    app = create(system, settings, transport=None)
    config = uvicorn.Config(
        app, host=settings.host, port=port or settings.port_of(system), log_level="warning",
        log_config=None,  # the logging set up above, not uvicorn's own
        access_log=False, lifespan="on",
        # systems are reached directly, never through a proxy, and name themselves in their answers'
        # signatures: no X-Forwarded-* rewriting and no Server header on every answer
        proxy_headers=False, server_header=False,
        # uvicorn's own httptools protocol (simulation/serving.py's subclass of it, each answer in one
        # write, was measured within the noise and removed: docs/performance.md)
        http="httptools",
    )
    uvicorn.Server(config).run()


def _keep_to_itself(parent: int | None) -> None:
    """A system's process keeps to itself (a Ctrl-C at the terminal reaches ``up``, which stops
    the systems in order) but does not outlive ``parent``, the process of ``up`` (Linux: SIGTERM
    when it dies; the kernel tells when the forking *thread* ends, so only a process forked by
    the main thread is given a parent to die with)."""
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    if parent is not None and sys.platform == "linux":
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # up died before the request above took effect
            os._exit(0)


class _Child:
    """One system's process (forked after the code is loaded, so each starts in a moment)."""

    def __init__(self, system: str, settings: Settings, replica: str | None = None, port: int | None = None) -> None:
        parent = os.getpid() if threading.current_thread() is threading.main_thread() else None
        self.process = _FORK.Process(target=_serve, args=(system, settings, parent, replica, port),
                                     name=f"egov-sim {replica or system}")
        self.process.start()

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    def poll(self) -> int | None:
        return None if self.process.is_alive() else self.process.exitcode

    def send_signal(self, signum: int) -> None:
        if self.process.is_alive():
            os.kill(self.pid, signum)

    def wait(self, timeout: float | None = None) -> None:
        self.process.join(timeout)
        if self.process.is_alive():
            raise subprocess.TimeoutExpired(self.process.name, timeout)

    def kill(self) -> None:
        self.process.kill()


_FORK = multiprocessing.get_context("fork")


class ConnectionBudgetRefused(ValueError):
    """The server's connections cannot give every process of ``up`` its minimum, or cannot be asked."""


def server_connection_limits(database_url: str) -> list[tuple[str, int]]:
    """What limits the connections the run's role may open to its database, each as (what, how
    many): the server's ``max_connections`` less the slots it keeps for superusers (and, from
    PostgreSQL 16, for ``pg_use_reserved_connections``), the role's ``CONNECTION LIMIT`` and the
    database's, where set. One short connection, as the URL's role."""
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, connect_timeout=10, application_name="egov-sim up") as connection:
            row = connection.execute(
                "SELECT current_setting('max_connections')::int,"
                " current_setting('superuser_reserved_connections')::int,"
                " coalesce(current_setting('reserved_connections', true), '0')::int,"
                " (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user), current_user,"
                " (SELECT datconnlimit FROM pg_database WHERE datname = current_database()), current_database()"
            ).fetchone()
    except psycopg.Error as exc:
        raise ConnectionBudgetRefused(
            f"could not ask PostgreSQL ({make_url(database_url).render_as_string(hide_password=True)}) how many "
            f"connections it allows: {' '.join(line.strip() for line in str(exc).splitlines()) or repr(exc)}"
        ) from None
    assert row is not None
    max_connections, superuser_reserved, reserved, role_limit, role, database_limit, database = row
    server = f"max_connections {max_connections} less superuser_reserved_connections {superuser_reserved}"
    if reserved:
        server += f" and reserved_connections {reserved}"
    limits = [(server, max_connections - superuser_reserved - reserved)]
    if role_limit is not None and role_limit >= 0:
        limits.append((f"role {role}'s CONNECTION LIMIT", role_limit))
    if database_limit is not None and database_limit >= 0:
        limits.append((f"database {database}'s CONNECTION LIMIT", database_limit))
    return limits


def connection_share(limits: Sequence[tuple[str, int]], processes: int) -> tuple[int, str]:
    """Each of ``processes`` processes' PostgreSQL connections under the tightest of ``limits``
    (:func:`server_connection_limits`), less :data:`PG_ADMIN_MARGIN`, and how it was reckoned;
    :class:`ConnectionBudgetRefused` when that is below a process's minimum."""
    from simulation.database import MIN_PG_CONNECTIONS

    what, limit = min(limits, key=lambda item: item[1])
    available = limit - PG_ADMIN_MARGIN
    share = max(available, 0) // processes
    reckoning = (f"{what}: {limit}, less {PG_ADMIN_MARGIN} left for others: {max(available, 0)}, "
                 f"shared by {processes} process{'es' if processes != 1 else ''}")
    if share < MIN_PG_CONNECTIONS:
        raise ConnectionBudgetRefused(
            f"PostgreSQL allows too few connections: {reckoning}, is {share} each, and a process needs at least "
            f"{MIN_PG_CONNECTIONS} (its system's schema, the run's store, the clock reader). Raise the limit, start "
            "fewer systems (--only), or set EGOV_SIM_PG_CONNECTIONS (each process's connections) by hand"
        )
    return share, reckoning


class Cluster:
    """The processes of one run; stops them all, whatever happens."""

    def __init__(
        self, settings: Settings, systems: Sequence[str] = START_ORDER, replicas: dict[str, int] | None = None,
    ) -> None:
        self.settings = settings
        self.systems = list(systems)
        self.replicas = replica_units(settings, {s: n for s, n in (replicas or {}).items() if s in self.systems})
        """{unit: (system, replica, port)} of the systems run as replicas (the first's unit is the system)."""
        self.units = [*self.systems, *(unit for unit in self.replicas if unit not in self.systems)]
        """What runs as a process here: the systems, then the replicas beyond the first."""
        self.processes: dict[str, _Child] = {}
        self._budgeted: Settings | None = None
        self.budget_reckoning: str | None = None
        """How each process's connection budget was found (PostgreSQL), once :meth:`child_settings` ran."""

    def child_settings(self) -> Settings:
        """The settings each process is started with: on PostgreSQL with its connection budget
        (``pg_connections``): the one set by hand, else a share of the server's limit
        (:func:`connection_share`, asked once). :class:`ConnectionBudgetRefused` when that cannot
        give a process its minimum."""
        if self._budgeted is not None:
            return self._budgeted
        settings = self.settings
        if settings.database_url:
            from simulation.database import ConnectionBudgetError, pool_sizes

            processes = len(self.units)
            if settings.pg_connections is not None:
                try:
                    pool_sizes(settings.pg_connections)
                except ConnectionBudgetError as exc:
                    raise ConnectionBudgetRefused(str(exc)) from None
                self.budget_reckoning = "set by hand"
            else:
                share, self.budget_reckoning = connection_share(
                    server_connection_limits(settings.database_url), processes)
                settings = settings.model_copy(update={"pg_connections": share})
        self._budgeted = settings
        return settings

    def url_of(self, unit: str) -> str:
        """Where a system, or a replica beyond the first, listens."""
        if unit in self.replicas and unit not in self.systems:
            return f"http://{self.settings.host}:{self.replicas[unit][2]}"
        return self.settings.url_of(unit)

    def primary_of(self, unit: str) -> str | None:
        """The system whose first replica must be up before ``unit`` starts (it makes the
        system's key storage the replicas share), or None."""
        return self.replicas[unit][0] if unit in self.replicas and unit not in self.systems else None

    def preload(self) -> None:
        """Load every app's code once, before forking; then set what is loaded aside from the
        garbage collector, whose passes in each child would otherwise touch -- and so copy, page by
        page -- every object the children share with this process (``gc.freeze``)."""
        for system in self.systems:
            import_module(SYSTEMS[system].app.split(":")[0])
        gc.collect()
        gc.freeze()

    def launch(self, system: str) -> None:
        """Start one system's (or replica's) process (again, after it stopped or was killed: on the same data)."""
        settings = self.child_settings()
        if system in self.replicas:
            base, replica, port = self.replicas[system]
            self.processes[system] = _Child(base, settings, replica, port)
        else:
            self.processes[system] = _Child(system, settings)

    restart = launch

    def start(self, first_timeout: float = 30.0) -> None:
        self.preload()
        # The certification authority first, alone: every other system enrols with it as it
        # starts, so starting them all at once only has them wait (and poll) while the CA,
        # sharing the cores with them, creates its keys and the seeded people's.
        first = [s for s in self.systems if s == "signatures"]
        for system in first:
            self.launch(system)
        if first:
            self.wait_healthy(first_timeout, first)
        for system in self.systems:
            if system not in self.processes:
                self.launch(system)
        later = [unit for unit in self.units if unit not in self.processes]
        if later:  # replicas beyond the first, once the first has made the key storage they share
            self.wait_healthy(first_timeout, sorted({self.primary_of(unit) or unit for unit in later}))
            for unit in later:
                self.launch(unit)

    def wait_healthy(self, timeout: float = 30.0, systems: Sequence[str] | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.units if systems is None else systems)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for system in sorted(pending):
                    process = self.processes[system]
                    if process.poll() is not None:
                        raise RuntimeError(f"{system} exited with code {process.returncode} while starting")
                    if _healthy(client, self.url_of(system)):
                        pending.discard(system)
                if pending:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"not healthy after {timeout:g} s: {', '.join(sorted(pending))}")
                    time.sleep(0.1)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every system: the certification authority last, as the gateways time-stamp a
        checkpoint of their message logs with its TSA as they stop."""
        others = [p for name, p in self.processes.items() if name != "signatures"]
        last = [p for name, p in self.processes.items() if name == "signatures"]
        for group in (others, last):
            for process in group:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for process in group:
                remaining = max(0.1, deadline - time.monotonic())
                try:
                    process.wait(remaining)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def table(self, elsewhere: Sequence[str] = ()) -> str:
        """The systems started here (with their process ids), then those expected elsewhere."""
        rows = [("system", "port", "url", "pid", "what it stands for")]
        for system in [*self.units, *elsewhere]:
            spec = SYSTEMS[self.replicas[system][0] if system in self.replicas else system]
            url = self.url_of(system)
            child = self.processes.get(system) if system in self.units else None
            what = f"{spec.title_kk} / {spec.title_en}"
            if system in self.replicas:
                base, replica, _ = self.replicas[system]
                count = sum(1 for unit in self.replicas.values() if unit[0] == base)
                what += f" -- replica {replica} of {count}"
            rows.append((system, str(httpx.URL(url).port or ""), url,
                         str(child.pid) if child is not None else "elsewhere", what))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        return "\n".join(
            "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row))
            for row in rows
        )


def _healthy(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url + "/health").status_code == 200
    except httpx.HTTPError:
        return False


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class Supervisor:
    """Starts a cluster's systems (the certification authority first), restarts those that exit,
    and gives up on one that keeps exiting."""

    def __init__(
        self,
        cluster: Cluster,
        out: TextIO,
        *,
        elsewhere: Sequence[str] = (),
        max_restarts: int = MAX_RESTARTS,
        restart_window: float = RESTART_WINDOW,
    ) -> None:
        self.cluster = cluster
        self.out = out
        self.elsewhere = list(elsewhere)
        self.max_restarts = max_restarts
        self.restart_window = restart_window
        self.stopping = False
        """Set (by a signal handler, so a plain flag, not a lock-based event) to end :meth:`run`."""
        self.gave_up: str | None = None

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def run(self) -> int:
        """Supervise until :attr:`stopping` is set (0) or a system keeps failing (1)."""
        cluster = self.cluster
        cluster.preload()
        not_started = list(cluster.units)
        starting: set[str] = set()  # started, not yet healthy since
        restart_at: dict[str, float] = {}
        exits: dict[str, deque[float]] = {unit: deque() for unit in cluster.units}
        announced = False
        began = last_notice = time.monotonic()
        from egov_sim.snapshot import UpAgent

        snapshots = UpAgent(cluster, self.say)  # `egov-sim snapshot` asks through the data directory
        with httpx.Client(timeout=2.0) as client, contextlib.closing(snapshots):
            while not self.stopping:
                if announced and snapshots.pending():
                    relaunched = snapshots.serve()
                    if relaunched is not None:  # a restore stopped every system and started it anew
                        not_started.clear(), restart_at.clear(), starting.clear()
                        starting.update(relaunched)  # those not answering yet
                        for recent in exits.values():
                            recent.clear()
                now = time.monotonic()
                # the certification authority first: the others enrol with it as they start
                ca_pending = "signatures" in cluster.systems and bool(
                    {"signatures"} & (set(not_started) | starting | set(restart_at))
                )
                waiting = set(not_started) | starting | set(restart_at)
                for system in list(not_started):
                    if cluster.primary_of(system) in waiting:  # a replica after the first is up
                        continue
                    if system == "signatures" or not ca_pending:
                        cluster.launch(system)
                        not_started.remove(system)
                        starting.add(system)
                for system, due in list(restart_at.items()):
                    if due <= now:
                        del restart_at[system]
                        cluster.launch(system)
                        starting.add(system)
                        self.say(f"{_clock()} restarted {system} (pid {cluster.processes[system].pid})")
                for system, process in cluster.processes.items():
                    if system in restart_at or process.poll() is None:
                        continue
                    starting.discard(system)
                    recent = exits[system]
                    recent.append(now)
                    while recent[0] < now - self.restart_window:
                        recent.popleft()
                    how = _describe_exit(process.returncode)
                    if len(recent) > self.max_restarts:
                        self.gave_up = (
                            f"{system} exited {len(recent)} times within {self.restart_window:g} s (the last "
                            f"time with {how}); giving up after {self.max_restarts} restart(s): stopping the others"
                        )
                        self.say(f"{_clock()} {self.gave_up}")
                        return 1
                    delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (len(recent) - 1))
                    restart_at[system] = now + delay
                    self.say(
                        f"{_clock()} {system} exited with {how}; restarting it in {delay:g} s, at "
                        f"{_clock(delay)} (restart {len(recent)} of {self.max_restarts} allowed within "
                        f"{self.restart_window:g} s)"
                    )
                for system in sorted(starting):
                    if cluster.processes[system].poll() is None and _healthy(client, cluster.url_of(system)):
                        starting.discard(system)
                        if announced:
                            self.say(f"{_clock()} {system} is up again (pid {cluster.processes[system].pid})")
                if not announced and not (not_started or starting or restart_at):
                    announced = True
                    self._announce(client)
                elif not announced and time.monotonic() - last_notice >= STILL_WAITING_EVERY:
                    last_notice = time.monotonic()
                    waiting = sorted({*not_started, *starting, *restart_at})
                    self.say(f"{_clock()} still starting after {last_notice - began:.0f} s: {', '.join(waiting)}")
                time.sleep(0.2)
        return 0

    def _announce(self, client: httpx.Client) -> None:
        cluster, settings = self.cluster, self.cluster.settings
        self.say(cluster.table(self.elsewhere))
        data = settings.data_dir.expanduser().resolve()
        for line in credentials_notice(settings):
            self.say(line)
        if "control" in cluster.systems:  # no secret in up's output: the page asks for the admin token
            self.say(f"trainer: {settings.url_of('control')}/trainer (the page asks for the admin token)")
        for unit, (system, replica, _) in cluster.replicas.items():
            self.say(f"{system} replica {replica}: {cluster.url_of(unit)}")
        if not self.elsewhere:
            self.say(f"All {len(cluster.systems)} systems are up; data in {data}. Ctrl-C stops them.")
            return
        self.say(f"All {len(cluster.systems)} systems started here are up; data in {data}. Ctrl-C stops them.")
        source = "EGOV_SIM_URLS" if any(s in settings.urls for s in self.elsewhere) else "host and base port"
        silent = [s for s in self.elsewhere if not _healthy(client, settings.url_of(s))]
        if not silent:
            answer = "every one answers"
        elif len(silent) == len(self.elsewhere):
            answer = "none answers now"
        else:
            answer = f"not answering now: {', '.join(silent)}"
        self.say(f"Not started here (--only): {', '.join(self.elsewhere)}, expected at the URLs above "
                 f"({source}); {answer}")


def credentials_notice(settings: Settings) -> list[str]:
    """Where the run's administration tokens are, for the tester to send (docs/security.md)."""
    from simulation.access import TOKEN_HEADER  # FastAPI's import, only once the systems are up

    credentials = RunCredentials.of(settings)
    lines = []
    for role, variable in (("admin", "EGOV_SIM_ADMIN_TOKEN"), ("auditor", "EGOV_SIM_AUDITOR_TOKEN")):
        if getattr(settings, f"{role}_token", None) is not None:
            lines.append(f"The {role} token is the one {variable} sets.")
        else:
            credentials.token(role)  # drawn now if the run has none yet
            lines.append(f"The {role} token is in {credentials.token_file(role)} (owner-only; {variable} "
                         "sets it instead for a shared environment).")
    lines.append(f"Send it in the {TOKEN_HEADER} header: administration, faults, the clock and personal data "
                 "need it (docs/security.md).")
    return lines


def _clock(later: float = 0.0) -> str:
    return datetime.fromtimestamp(time.time() + later).strftime("%H:%M:%S")


def run_up(
    settings: Settings,
    out: TextIO,
    *,
    only: Sequence[str] | None = None,
    max_restarts: int = MAX_RESTARTS,
    restart_window: float = RESTART_WINDOW,
    replicas: Sequence[str] | None = None,
) -> int:
    """``egov-sim up``: 0 when stopped by a signal, 1 when a system kept failing, 2 for a bad option."""
    try:
        systems = chosen_systems(only)
    except UnknownSystem as exc:
        print(f"egov-sim up --only: {exc}", file=sys.stderr)
        return 2
    try:
        counts = parse_replicas(replicas)
    except BadReplicas as exc:
        print(f"egov-sim up --replicas: {exc}", file=sys.stderr)
        return 2
    several = sorted(system for system, count in counts.items() if count > 1)
    if several and not settings.database_url:
        print(
            "egov-sim up --replicas: several processes of one system share one PostgreSQL database (their "
            "message store, replay answers and logs); SQLite is one process's. Set EGOV_SIM_DATABASE_URL "
            "(docs/scaling.md)",
            file=sys.stderr,
        )
        return 2
    missing = [system for system in several if system not in systems]
    if missing:
        print(f"egov-sim up --replicas: {', '.join(missing)} is not started here (--only)", file=sys.stderr)
        return 2
    if max_restarts < 0 or restart_window <= 0:
        print("egov-sim up: --max-restarts must be 0 or more and --restart-window above 0", file=sys.stderr)
        return 2
    elsewhere = [name for name in START_ORDER if name not in systems]
    cluster = Cluster(settings, systems, counts)
    try:
        budget = cluster.child_settings().pg_connections
    except ConnectionBudgetRefused as exc:
        print(f"egov-sim up: {exc}", file=sys.stderr)
        return 2
    supervisor = Supervisor(
        cluster, out, elsewhere=elsewhere, max_restarts=max_restarts, restart_window=restart_window,
    )
    if budget is not None:
        processes = len(cluster.units)
        who = f"each of the {processes} processes" if processes > 1 else "the process"
        supervisor.say(f"PostgreSQL: {who} opens at most {budget} connections (EGOV_SIM_PG_CONNECTIONS; "
                       f"{cluster.budget_reckoning})")

    def on_signal(_signum, _frame) -> None:
        supervisor.stopping = True

    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, on_signal) for s in stop_signals}
    try:
        code = supervisor.run()
        if code == 0:
            supervisor.say("Stopping…")
        return code
    finally:
        supervisor.stopping = True
        supervisor.cluster.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        supervisor.say("All systems stopped.")

