"""Shared fixtures: a fresh run (its own data directory, and its own PostgreSQL schemas when
EGOV_SIM_DATABASE_URL is set) and every system of it started in one process."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from egov_sim import templates
from egov_sim.inprocess import Simulation
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

RUN_SCHEMAS = (*SYSTEMS, "simulation")

SEEDS = Path(os.environ.get("EGOV_SIM_SEEDS") or Path(__file__).resolve().parents[2] / "shared" / "seeds")
"""The reglaments' seed texts: beside the repository (../shared/seeds), or where EGOV_SIM_SEEDS says."""

NODE_MODULES = Path(__file__).resolve().parent / "browser" / "node_modules"
"""The renderers the browser tests check exports with (tests/browser/package.json; `npm ci` there)."""


def pytest_configure(config: pytest.Config) -> None:
    # Fresh worlds whose settings fix their clock are copies of a template built once per kind and
    # session (egov_sim/templates.py): ~1 s to start instead of 5-7. The controller picks the
    # folder before pytest-xdist starts its workers, which inherit it; the subprocesses tests
    # start (egov-sim run, up) inherit it too.
    if not os.environ.get(templates.ENV):
        os.environ[templates.ENV] = tempfile.mkdtemp(prefix="egov-sim-templates-")
        config.stash[_TEMPLATES_OWNED] = Path(os.environ[templates.ENV])
    config.addinivalue_line(
        "markers",
        "seeds: compares a definition with its seed text; skipped when the seeds are missing, "
        "failed instead when EGOV_SIM_REQUIRE_SEEDS=1 (as .ci/run sets it)",
    )


LONGEST_FIRST = (
    "egov_sim/test_cli.py", "trainer/test_trainer_cli.py", "trust/test_openapi_fuzz.py",
    "trust/test_log_anchoring.py", "test_wheel.py", "trainer/test_page_browser.py", "trainer/test_trace_cli.py",
    "egov_sim/test_pki_cli.py", "egov_sim/test_snapshot_docs.py", "scenarios/test_library_almaty_queue.py",
    "scenarios/test_library_wko_queue.py", "scenarios/test_library_faults.py",
    "scenarios/test_library_aktogai_queue_2013.py", "test_up_multiprocess.py", "gateway/test_gateway_refusals.py",
    "gateway/test_faults.py", "gateway/test_gateway_checks.py", "gateway/test_gateway_bounds.py",
    "signatures/test_validation.py", "scenarios/test_library_pavlodar_privatization.py",
    "scenarios/test_library_almaty_housing_aid.py", "trust/test_portal_accounts.py", "egov_sim/test_templates.py",
    "test_queue_concurrency.py", "test_walkthrough.py", "egov_sim/test_snapshot_up.py",
)
"""Test files that take longest (measured on this project's two-core machine), started first.
pytest-xdist (``--dist loadfile``) hands whole files to its workers in collection order: a long
file started last would run alone at the end while the other worker idles. Only the order changes;
each file's tests keep theirs."""


STORAGE_NEUTRAL = (
    "test_trainers_guide.py", "test_testers_guide.py", "test_developer_guide.py", "test_walkthrough.py",
    "test_soap_docs.py",
    "reglaments/test_docs_example.py", "outside/test_outside_docs.py", "faults/test_faults_docs.py",
    "test_wheel.py", "trainer/test_page_browser.py", "trainer/test_exports.py",
    "trainer/test_bpmn.py", "trainer/test_html_export.py", "gateway_protocol/test_soap_envelope.py",
    "gateway_protocol/test_soap_wsdl.py", "signatures/test_xmldsig.py", "signatures/test_signatures_certificates.py",
    "signatures/test_signatures_chain.py", "test_layers.py", "test_no_step_names.py",
    "egov_sim/test_cli.py", "trainer/test_trainer_cli.py", "trainer/test_trace_cli.py",
    "scenarios/test_library_aktogai_queue_2013.py", "scenarios/test_library_almaty_certificate.py",
    "scenarios/test_library_almaty_housing_aid.py", "scenarios/test_library_almaty_privatization.py",
    "scenarios/test_library_pavlodar_privatization.py", "scenarios/test_library_wko_queue.py",
)
"""Test files whose subject is not the storage -- the guides' examples run as written (on the
default backend they name), the wheel's packaging, the trainer's page in a browser, its command
lines and the export renderers, the egov-sim command's arguments and messages, pure XML and
crypto, the code's layering -- and the scenario library of every reglament but almaty-queue (each
walks its reglament's branches through the same engine, timers, outbox and stores as the
almaty-queue library and the faults library, which stay; each reglament's own tests in
tests/reglaments/ stay too). They run on the default SQLite only: the PostgreSQL pass of CI
(EGOV_SIM_DATABASE_URL set) leaves them out, as deselected, and runs everything else a second
time. Leaving them out there saves about a third of that pass (measured per file with
--junitxml); a file named here that no longer exists stops the run."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    if os.environ.get("EGOV_SIM_DATABASE_URL"):
        missing = [name for name in STORAGE_NEUTRAL if not (here / name).is_file()]
        if missing:
            raise pytest.UsageError(f"tests/conftest.py STORAGE_NEUTRAL names missing files: {missing}")
        neutral = {here / name for name in STORAGE_NEUTRAL}
        left_out = [item for item in items if Path(str(item.path)).resolve() in neutral]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if Path(str(item.path)).resolve() not in neutral]
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}

    def order(item: pytest.Item) -> int:
        try:
            relative = Path(str(item.path)).resolve().relative_to(here).as_posix()
        except ValueError:
            return len(rank)
        return rank.get(relative, len(rank))

    items.sort(key=order)  # stable: the rest keep their order, after the long ones


_TEMPLATES_OWNED = pytest.StashKey[Path]()


def pytest_unconfigure(config: pytest.Config) -> None:
    """The session's templates go when it ends: their PostgreSQL schemas, then their files."""
    owned = config.stash.get(_TEMPLATES_OWNED, None)
    if owned is not None:
        try:
            asyncio.run(templates.drop_all(owned))
        finally:  # PostgreSQL gone meanwhile: the files go all the same
            shutil.rmtree(owned, ignore_errors=True)
            os.environ.pop(templates.ENV, None)


def _browser_missing(why: str) -> None:
    """Skip a browser test whose tools are missing, or fail it when the run requires them
    (EGOV_SIM_REQUIRE_BROWSER=1, as .ci/run sets it): a browser test must not pass by not running."""
    if os.environ.get("EGOV_SIM_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{why}, and EGOV_SIM_REQUIRE_BROWSER=1 requires it", pytrace=False)
    pytest.skip(why)


def chromium_path() -> str | None:
    """Debian's Chromium (`apt-get install chromium`), or the one EGOV_SIM_CHROMIUM names."""
    return os.environ.get("EGOV_SIM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium driven by Playwright's sync API (use it from plain ``def`` tests:
    the sync API cannot run inside an event loop). Playwright is told the executable: it never
    downloads a browser of its own."""
    executable = chromium_path()
    if executable is None:
        _browser_missing("no Chromium (apt-get install chromium, or set EGOV_SIM_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_missing("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def node_module() -> Callable[[str], Path]:
    """``node_module("mermaid/dist/mermaid.min.js")``: a file of the renderers installed in
    tests/browser (skipped, or failed under EGOV_SIM_REQUIRE_BROWSER=1, when not installed)."""
    def find(relative: str) -> Path:
        path = NODE_MODULES / relative
        if not path.is_file():
            _browser_missing(f"{path} is missing (run `npm ci` in tests/browser)")
        return path
    return find


@pytest.fixture
def seeds() -> Path:
    """The folder of seed texts. Missing: the test is skipped, or failed when the run requires
    the seeds (EGOV_SIM_REQUIRE_SEEDS=1): a conformance test must not pass by not running."""
    if not SEEDS.is_dir():
        why = f"the reglaments' seeds are not at {SEEDS} (set EGOV_SIM_SEEDS)"
        if os.environ.get("EGOV_SIM_REQUIRE_SEEDS") == "1":
            pytest.fail(f"{why}, and EGOV_SIM_REQUIRE_SEEDS=1 requires them", pytrace=False)
        pytest.skip(why)
    return SEEDS


WORKING_MONDAY = datetime.fromisoformat("2026-11-02T10:00:00+05:00")
"""Where a test's virtual clock starts: a working Monday morning in Almaty. The staff work in
their offices' hours, so when a run starts decides where it meets nights, weekends and holidays;
a test does not depend on the hour it happens to run at."""


def gateway_fault(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A refusal in the ШЭП envelope: ``status``, ``errorInfo.errorCode`` ``code`` and its texts in
    Kazakh and Russian; the ``errorInfo``."""
    assert reply.status_code == status, reply.text
    info = reply.json()["errorInfo"]
    assert info["errorCode"] == code, info
    assert info["errorData"]["message_kk"] and info["errorData"]["message_ru"]
    return info


@pytest.fixture
async def settings(tmp_path) -> AsyncIterator[Settings]:
    run = Settings(data_dir=tmp_path / "run", population_size=300, clock_start=WORKING_MONDAY)
    yield run
    await drop_run(run, RUN_SCHEMAS)


@pytest.fixture
async def simulation(settings: Settings) -> AsyncIterator[Simulation]:
    async with Simulation(settings) as running:
        yield running
