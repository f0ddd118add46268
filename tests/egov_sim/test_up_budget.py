"""`egov-sim up` on PostgreSQL shares the server's connections out among its processes
(``EGOV_SIM_PG_CONNECTIONS`` each), and refuses to start when a share cannot be a process's minimum."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url
from up_process import UpProcess

from egov_sim import up as up_module
from egov_sim.ports import free_base_port
from egov_sim.up import PG_ADMIN_MARGIN, Cluster, ConnectionBudgetRefused, connection_share, server_connection_limits
from simulation.database import MIN_PG_CONNECTIONS
from simulation.settings import Settings
from simulation.topology import START_ORDER

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none"
SERVER = "max_connections 100 less superuser_reserved_connections 3"


# ---- the share -------------------------------------------------------------------------------------


def test_each_process_gets_an_equal_share_of_the_server_less_the_margin():
    share, reckoning = connection_share([(SERVER, 97)], 13)
    assert share == (97 - PG_ADMIN_MARGIN) // 13 == 7
    assert reckoning == f"{SERVER}: 97, less {PG_ADMIN_MARGIN} left for others: 92, shared by 13 processes"


def test_the_tightest_limit_counts():
    share, reckoning = connection_share([(SERVER, 97), ("role sim's CONNECTION LIMIT", 80),
                                         ("database test's CONNECTION LIMIT", 90)], 13)
    assert share == (80 - PG_ADMIN_MARGIN) // 13 == 5
    assert reckoning.startswith("role sim's CONNECTION LIMIT: 80")


def test_a_share_below_a_process_s_minimum_is_refused_with_the_numbers():
    with pytest.raises(ConnectionBudgetRefused) as raised:
        connection_share([(SERVER, 97), ("role sim's CONNECTION LIMIT", 40)], 14)
    message = str(raised.value)
    assert "role sim's CONNECTION LIMIT: 40" in message and "shared by 14 processes" in message, message
    assert f"is 2 each, and a process needs at least {MIN_PG_CONNECTIONS}" in message, message
    assert "EGOV_SIM_PG_CONNECTIONS" in message
    assert connection_share([(SERVER, 97), ("role sim's CONNECTION LIMIT", 40 + 14)], 14)[0] == MIN_PG_CONNECTIONS


# ---- what the processes are given -------------------------------------------------------------------


def test_every_process_is_started_with_its_share(tmp_path, monkeypatch):
    asked: list[str] = []

    def limits(url: str) -> list[tuple[str, int]]:
        asked.append(url)
        return [(SERVER, 97)]

    monkeypatch.setattr(up_module, "server_connection_limits", limits)
    settings = Settings(data_dir=tmp_path / "run", database_url=UNREACHABLE)
    cluster = Cluster(settings, START_ORDER, {"gateway": 3})
    assert len(cluster.units) == 15  # the thirteen systems and two more replicas of the gateway
    assert cluster.child_settings().pg_connections == (97 - PG_ADMIN_MARGIN) // 15 == 6
    assert cluster.child_settings() is cluster.child_settings() and asked == [UNREACHABLE]  # asked once
    assert settings.pg_connections is None  # up's own settings are left alone


def test_a_budget_set_by_hand_is_given_as_it_is_without_asking(tmp_path, monkeypatch):
    monkeypatch.setattr(up_module, "server_connection_limits", lambda url: pytest.fail("asked the server"))
    cluster = Cluster(Settings(data_dir=tmp_path / "run", database_url=UNREACHABLE, pg_connections=4))
    assert cluster.child_settings().pg_connections == 4
    assert cluster.budget_reckoning == "set by hand"


def test_on_sqlite_there_is_no_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(up_module, "server_connection_limits", lambda url: pytest.fail("asked a server"))
    cluster = Cluster(Settings(data_dir=tmp_path / "run", database_url=None))
    assert cluster.child_settings().pg_connections is None


# ---- up refuses -----------------------------------------------------------------------------------


def _up(tmp_path, env: dict[str, str], *args: str) -> UpProcess:
    return UpProcess("--base-port", str(free_base_port()), "--data-dir", str(tmp_path / "run"), *args, env=env)


def test_up_refuses_a_budget_set_by_hand_below_the_minimum(tmp_path):
    up = _up(tmp_path, {"EGOV_SIM_DATABASE_URL": UNREACHABLE, "EGOV_SIM_PG_CONNECTIONS": "2"})
    assert up.wait() == 2
    out = up.output()
    assert "egov-sim up: EGOV_SIM_PG_CONNECTIONS=2 is too small: a process opens at least 3" in out, out
    assert "Traceback" not in out, out
    assert not (tmp_path / "run").exists()  # nothing was started


def test_up_refuses_when_it_cannot_ask_the_server(tmp_path):
    up = _up(tmp_path, {"EGOV_SIM_DATABASE_URL": UNREACHABLE})
    assert up.wait() == 2
    out = up.output()
    assert "egov-sim up: could not ask PostgreSQL (postgresql://nobody@127.0.0.1:1/none)" in out, out
    assert "Traceback" not in out and not (tmp_path / "run").exists(), out


def _role(creates_schemas: bool):
    """(URL, name) of a role of this test's alone that may hold 20 connections to the test server's
    database (and make schemas there, if ``creates_schemas``); dropped after, with what it made."""
    url = Settings().database_url
    if not url:
        pytest.skip("needs the PostgreSQL server (EGOV_SIM_DATABASE_URL)")
    name = f"egs_budget_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{name}" LOGIN CONNECTION LIMIT 20')
        if creates_schemas:
            admin.execute(f'GRANT CREATE ON DATABASE "{make_url(url).database}" TO "{name}"')
    try:
        yield make_url(url).set(username=name).render_as_string(hide_password=False), name
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP OWNED BY "{name}" CASCADE')  # the run's schemas, the grant
            admin.execute(f'DROP ROLE "{name}"')


@pytest.fixture
def limited_role():
    """A role that may hold 20 connections (:func:`_role`)."""
    yield from _role(creates_schemas=False)


def test_the_server_s_limits_include_the_role_s(limited_role):
    url, name = limited_role
    limits = dict((what, limit) for what, limit in server_connection_limits(url))
    assert limits[f"role {name}'s CONNECTION LIMIT"] == 20
    with psycopg.connect(url) as connection:
        max_connections = int(connection.execute("SHOW max_connections").fetchone()[0])
        reserved = int(connection.execute("SHOW superuser_reserved_connections").fetchone()[0])
    assert min(limits.values()) == 20 and max(limits.values()) <= max_connections - reserved


def test_up_refuses_a_role_whose_limit_cannot_serve_every_process(tmp_path, limited_role):
    url, name = limited_role
    up = _up(tmp_path, {"EGOV_SIM_DATABASE_URL": url})
    assert up.wait() == 2
    out = up.output()
    assert (f"egov-sim up: PostgreSQL allows too few connections: role {name}'s CONNECTION LIMIT: 20, less "
            f"{PG_ADMIN_MARGIN} left for others: 15, shared by 13 processes, is 1 each") in out, out
    assert "EGOV_SIM_PG_CONNECTIONS" in out and "Traceback" not in out and not (tmp_path / "run").exists(), out


@pytest.fixture
def budget_role():
    """A role that may hold 20 connections and make schemas (:func:`_role`)."""
    yield from _role(creates_schemas=True)


def test_up_gives_its_process_the_share_and_says_so(tmp_path, budget_role):
    url, name = budget_role
    up = _up(tmp_path, {"EGOV_SIM_DATABASE_URL": url}, "--only", "signatures")
    try:
        line = up.wait_for(r"^PostgreSQL: ").string.strip()
        assert line == (f"PostgreSQL: the process opens at most 15 connections (EGOV_SIM_PG_CONNECTIONS; role {name}'s "
                        f"CONNECTION LIMIT: 20, less {PG_ADMIN_MARGIN} left for others: 15, shared by 1 process)"), line
        up.wait_until_up()
        with psycopg.connect(Settings().database_url) as admin:
            held = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (name,)).fetchone()[0]
        assert 1 <= held <= 15
    finally:
        assert up.stop() == 0
