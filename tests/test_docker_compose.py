"""docker-compose.yml and the Dockerfile follow the table of systems (no Docker engine needed)."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from simulation.settings import Settings
from simulation.topology import START_ORDER, SYSTEMS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

BASE_PORT = 8700
DATA_DIR = "/data"
DATA_VOLUME = "egov-sim-data"
HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


REPLICAS = {"gateway": "gateway#1", "gateway-2": "gateway#2"}
"""The central gateway's replica services and their EGOV_SIM_REPLICA (docs/scaling.md)."""


def service_name(system: str) -> str:
    return system.replace("_", "-")


def service_env(shared_env: dict[str, str], service: str) -> dict[str, str]:
    """The environment a service should have: the shared block, and a replica's name."""
    return {**shared_env, "EGOV_SIM_REPLICA": REPLICAS[service]} if service in REPLICAS else shared_env


def port(system: str) -> int:
    return BASE_PORT + SYSTEMS[system].port_offset


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def shared_env(compose: dict) -> dict[str, str]:
    return compose["x-egov-sim-env"]


@pytest.fixture(scope="module")
def compose_urls(shared_env: dict[str, str]) -> dict[str, str]:
    return json.loads(shared_env["EGOV_SIM_URLS"])


def as_list(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


# ---- the services ------------------------------------------------------------------------------


def test_compose_ports_are_those_of_egov_sim_up() -> None:
    assert Settings.model_fields["base_port"].default == BASE_PORT


def test_services_are_the_systems_and_postgres(services: dict) -> None:
    assert set(services) == {"postgres"} | {service_name(s) for s in START_ORDER} | set(REPLICAS)
    for name in services:
        assert HOSTNAME.match(name), f"{name!r} is not a valid host name"


@pytest.mark.parametrize("system", list(START_ORDER))
def test_service_runs_its_system(services: dict, system: str) -> None:
    service = services[service_name(system)]
    assert service["build"] in (".", {"context": "."}, {"context": ".", "dockerfile": "Dockerfile"})
    assert as_list(service["command"]) == [
        "uvicorn", "--factory", SYSTEMS[system].app, "--host", "0.0.0.0", "--port", str(port(system)),
    ]
    assert f"127.0.0.1:{port(system)}:{port(system)}" in [str(p) for p in service["ports"]]


@pytest.mark.parametrize("system", list(START_ORDER))
def test_service_healthcheck_gets_health_with_python(services: dict, system: str) -> None:
    test = as_list(services[service_name(system)]["healthcheck"]["test"])
    assert test[:3] == ["CMD", "python", "-c"]
    code = test[3]
    compile(code, f"<healthcheck of {system}>", "exec")
    assert f"http://127.0.0.1:{port(system)}/health" in code


@pytest.mark.parametrize("system", list(START_ORDER))
def test_service_has_the_shared_environment_and_volume(
    services: dict, shared_env: dict[str, str], system: str
) -> None:
    service = services[service_name(system)]
    assert service["environment"] == service_env(shared_env, service_name(system))
    assert f"{DATA_VOLUME}:{shared_env['EGOV_SIM_DATA_DIR']}" in service["volumes"]


@pytest.mark.parametrize("system", list(START_ORDER))
def test_service_waits_for_postgres_and_the_ca(services: dict, system: str) -> None:
    depends_on = services[service_name(system)]["depends_on"]
    expected = {"postgres"} if system == "signatures" else {"postgres", service_name("signatures")}
    assert set(depends_on) == expected
    for dependency in expected:
        assert depends_on[dependency] == {"condition": "service_healthy"}


def test_the_second_gateway_replica_runs_the_central_gateway_after_every_system(
    services: dict, shared_env: dict[str, str]
) -> None:
    from egov_sim.up import replica_port

    service = services["gateway-2"]
    replica = replica_port(Settings(base_port=BASE_PORT), 2)  # where `up --replicas gateway=2` puts it
    assert replica > max(port(s) for s in SYSTEMS)
    assert as_list(service["command"]) == [
        "uvicorn", "--factory", SYSTEMS["gateway"].app, "--host", "0.0.0.0", "--port", str(replica),
    ]
    assert f"127.0.0.1:{replica}:{replica}" in [str(p) for p in service["ports"]]
    assert f"http://127.0.0.1:{replica}/health" in as_list(service["healthcheck"]["test"])[3]
    assert service["environment"] == service_env(shared_env, "gateway-2")
    assert Settings(replica=service["environment"]["EGOV_SIM_REPLICA"]).replica == "gateway#2"
    assert f"{DATA_VOLUME}:{DATA_DIR}" in service["volumes"]
    # after the first replica, which makes the key storage they share
    assert service["depends_on"] == {name: {"condition": "service_healthy"} for name in ("postgres", "signatures", "gateway")}


def test_postgres_service(services: dict) -> None:
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:15"
    assert postgres["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert postgres["environment"]["POSTGRES_DB"] == "egov_sim"
    assert "pg_isready" in as_list(postgres["healthcheck"]["test"])


def test_named_volumes_are_declared(compose: dict, services: dict) -> None:
    declared = set(compose["volumes"])
    assert DATA_VOLUME in declared
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in declared, f"{name} mounts undeclared volume {source!r}"


# ---- the shared settings -----------------------------------------------------------------------


def test_shared_env_is_written_once() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert text.count("EGOV_SIM_URLS") == 1
    assert re.search(r"^x-egov-sim-env: &\S+$", text, re.MULTILINE)


def test_database_url_points_to_the_postgres_service(
    services: dict, shared_env: dict[str, str]
) -> None:
    url = urlsplit(shared_env["EGOV_SIM_DATABASE_URL"])
    assert url.scheme == "postgresql"
    assert url.hostname == "postgres" and url.hostname in services
    assert url.port == 5432
    assert url.username == "postgres"
    assert url.path == "/" + services["postgres"]["environment"]["POSTGRES_DB"]


def test_data_dir(shared_env: dict[str, str]) -> None:
    assert shared_env["EGOV_SIM_DATA_DIR"] == DATA_DIR


def test_urls_name_every_system_at_its_service_and_port(
    services: dict, compose_urls: dict[str, str]
) -> None:
    assert set(compose_urls) == set(START_ORDER)
    for system, url in compose_urls.items():
        parts = urlsplit(url)
        assert parts.scheme == "http"
        assert parts.hostname == service_name(system) and parts.hostname in services
        assert parts.port == port(system)
        assert parts.path == ""


def test_settings_accept_the_urls(compose_urls: dict[str, str]) -> None:
    settings = Settings(urls=compose_urls)
    for system in START_ORDER:
        assert settings.url_of(system) == f"http://{service_name(system)}:{port(system)}"


def test_settings_read_the_compose_environment(
    monkeypatch: pytest.MonkeyPatch, shared_env: dict[str, str]
) -> None:
    import os

    for key in list(os.environ):
        if key.upper().startswith("EGOV_SIM_"):
            monkeypatch.delenv(key)
    for key, value in shared_env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.database_url == shared_env["EGOV_SIM_DATABASE_URL"]
    assert settings.data_dir == Path(DATA_DIR)
    for system in START_ORDER:
        assert settings.url_of(system) == f"http://{service_name(system)}:{port(system)}"


# ---- the image -----------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def test_dockerfile_base_image_and_install() -> None:
    instructions = dockerfile_instructions()
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert froms == ["python:3.11-slim"]
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    assert any(re.search(r"\bpip install \.(\s|$)", run) for run in runs)


def test_dockerfile_build_starts_every_system_from_the_installed_package() -> None:
    """After `pip install .` the build runs the demo (every system, reading its data), as root
    before the unprivileged user, in a world it removes: a file the wheel lacks fails the build."""
    instructions = dockerfile_instructions()
    install = next(i for i, (keyword, args) in enumerate(instructions)
                   if keyword == "RUN" and re.search(r"\bpip install \.(\s|$)", args))
    user = next(i for i, (keyword, _) in enumerate(instructions) if keyword == "USER")
    demo = [i for i, (keyword, args) in enumerate(instructions) if keyword == "RUN" and "egov-sim demo" in args]
    assert demo and install < demo[0] < user
    run = instructions[demo[0]][1]
    data_dir = re.search(r"egov-sim demo --data-dir (\S+)", run)
    assert data_dir and f"rm -rf {data_dir.group(1)}" in run


def test_dockerfile_user_data_dir_and_default_command() -> None:
    instructions = dockerfile_instructions()
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    envs = " ".join(args for keyword, args in instructions if keyword == "ENV")
    assert re.search(rf"\bEGOV_SIM_DATA_DIR={re.escape(DATA_DIR)}(\s|$)", envs)
    cmds = [args for keyword, args in instructions if keyword == "CMD"]
    assert cmds and "--help" in json.loads(cmds[-1])


def test_dockerignore_keeps_what_pip_install_needs() -> None:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = ["pyproject.toml"] + [
        include.rstrip("*") for include in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    for path in needed:
        assert (ROOT / path).exists(), path
        for pattern in patterns:
            assert not fnmatch.fnmatch(path, pattern), f".dockerignore {pattern!r} drops {path}"
