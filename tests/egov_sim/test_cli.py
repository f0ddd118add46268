"""The `egov-sim` command: light start-up, fresh or named worlds for demo and run, the narration in
kk, ru and en, and a reader that leaves early."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from egov_sim.demo import run_demo
from egov_sim.scenarios import narrate, run_case
from egov_sim.texts import default_language
from reglaments import get_reglament
from simulation.database import drop_run
from simulation.settings import Settings
from simulation.topology import SYSTEMS

RUN_SCHEMAS = (*SYSTEMS, "simulation")
CLOCK_START = "2026-03-16T09:00:00+05:00"
HEAVY = ("fastapi", "sqlalchemy", "sqlmodel", "cryptography", "pydantic_settings", "httpx", "uvicorn")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A user's environment: English locale, no named world, temporary directories under tmp_path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("EGOV_SIM_DATA_DIR", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")}
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    env.update(EGOV_SIM_POPULATION_SIZE="200", EGOV_SIM_CLOCK_START=CLOCK_START, TMPDIR=str(temp), LANG="C.UTF-8")
    env.update(extra)
    return env


def egov_sim(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "egov_sim.cli", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def run_json(env: dict[str, str], *args: str) -> dict:
    result = egov_sim(env, "run", "almaty-queue", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def schemas_of(data_dir: str | Path) -> list[str]:
    """The PostgreSQL schemas of a world's data directory (none on SQLite)."""
    url = os.environ.get("EGOV_SIM_DATABASE_URL")
    if not url:
        return []
    import psycopg

    run_id = Settings(data_dir=Path(data_dir)).run_id
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                                  (f"egs_{run_id}_%",)).fetchall()
    return [row[0] for row in rows]


def forget(data_dir: str | Path) -> None:
    asyncio.run(drop_run(Settings(data_dir=Path(data_dir)), RUN_SCHEMAS))
    shutil.rmtree(data_dir, ignore_errors=True)


# ---- start-up -------------------------------------------------------------------------------


def test_help_and_usage_errors_import_nothing_heavy():
    probe = (
        "import contextlib, io, sys\n"
        "from egov_sim import cli\n"
        "codes = []\n"
        "for argv in (['--help'], ['run'], ['run', 'almaty-queue', '--channel', 'fax', '--case', 'x'], ['nosuch']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "        try:\n"
        "            codes.append(cli.main(argv))\n"
        "        except SystemExit as exc:\n"
        "            codes.append(exc.code)\n"
        f"print(codes, sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0, 2, 2, 2] []"


def test_pki_and_gateway_help_build_their_parsers_without_the_systems(tmp_path):
    for args, option in ((("pki", "issue", "--help"), "--iin"), (("gateway", "export", "--help"), "--correlation-id")):
        result = egov_sim(_env(tmp_path), *args)
        assert result.returncode == 0 and option in result.stdout


# ---- the narration's language ----------------------------------------------------------------


@pytest.mark.parametrize(("environ", "language"), [
    ({}, "en"),
    ({"LANG": "kk_KZ.UTF-8"}, "kk"),
    ({"LANG": "ru_RU.UTF-8"}, "ru"),
    ({"LANG": "de_DE.UTF-8"}, "en"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LC_MESSAGES": "ru_RU.UTF-8", "LANG": "en_US.UTF-8"}, "ru"),
    ({"LC_ALL": "kk_KZ", "LC_MESSAGES": "ru_RU.UTF-8", "LANG": "ru_RU.UTF-8"}, "kk"),
    ({"LC_ALL": "C", "LANG": "ru_RU.UTF-8"}, "en"),  # LC_ALL set: it decides
    ({"LC_ALL": "", "LANG": "ru_RU.UTF-8"}, "ru"),  # set but empty: as if unset
])
def test_the_default_language_is_the_users_locale_if_kk_or_ru(environ, language):
    assert default_language(environ) == language


FIXED = {
    "kk": ("мақұлданды", "Өтініш", "Нәтиженің ЭЦҚ-сы: VALID", "Мерзімі 30 күнтізбелік күн: сақталды", "[иә]"),
    "ru": ("одобрено", "Заявление", "ЭЦП результата: VALID", "Срок 30 календарных дней: соблюдён", "[да]"),
    "en": ("approved", "Application", "Result signature: VALID", "Term 30 calendar days: met", "[yes]"),
}


async def test_run_narrates_in_each_language_keeping_the_kazakh_texts(settings):
    report = await run_case(settings, "almaty-queue", "portal", "approved")
    reglament = get_reglament("almaty-queue")
    portal = reglament.channel("portal")
    for lang in ("kk", "ru", "en"):
        text = narrate(report, lang)
        for phrase in FIXED[lang]:
            assert phrase in text, (lang, phrase)
        step_lines = text.splitlines()[2:2 + len(report["trace"])]
        assert len(step_lines) == len(report["trace"])
        for line, event in zip(step_lines, report["trace"]):
            step = portal.step(f"{event['kind']}-{event['number']}")
            system = SYSTEMS[event["system"]]
            assert event["label"] in line  # the seed's label, as the system recorded it
            assert getattr(system, f"title_{lang}") in line
            assert getattr(step.name, lang) in line
            assert event["detail"] in line  # the system's own Kazakh detail, in every language
        document = report["result"]["document"]["text"]
        assert document["kk"] in text and document[lang] in text
    assert "Citizen logs in on the portal" in narrate(report, "en")
    assert "Авторизация на портале" in narrate(report, "ru")
    assert "Порталда авторизациялау" in narrate(report, "kk")
    for other in ("ru", "en"):  # nothing of the other languages' fixed phrases leaks in
        assert FIXED[other][2] not in narrate(report, "kk")


@pytest.mark.parametrize(("lang", "expected"), [
    ("kk", ("Азамат НҰРЛАНОВА ӘЛИЯ, ЖСН 900515401230", "Кезек: әлеуметтік жағынан осал топтар, реттік нөмірі 1",
            "Порталда авторизациялау", "Мерзімі 30 күнтізбелік күн:", "сақталды")),
    ("ru", ("Гражданин НҰРЛАНОВА ӘЛИЯ, ИИН 900515401230",
            "Очередь: социально уязвимые слои населения (әлеуметтік жағынан осал топтар), порядковый номер 1",
            "Авторизация на портале", "Срок 30 календарных дней (30 күнтізбелік күн): прошло 29 календарных дней",
            "соблюдён")),
    ("en", ("Citizen НҰРЛАНОВА ӘЛИЯ, ЖСН 900515401230",
            "Queue: socially vulnerable groups (әлеуметтік жағынан осал топтар), sequence number 1",
            "Citizen logs in on the portal", "Term 30 calendar days (30 күнтізбелік күн): took 29 calendar days",
            ", met")),
])
async def test_demo_narrates_in_each_language(settings, lang, expected):
    out = io.StringIO()
    assert await run_demo(settings, out, "almaty-queue", lang) == 0
    text = out.getvalue()
    for phrase in expected:
        assert phrase in text, phrase
    assert "1-процесс" in text and "ЖСН мен пароль расталды" in text  # the seed's label, the system's detail


# ---- fresh and named worlds ------------------------------------------------------------------


def test_run_starts_a_fresh_world_each_time_and_removes_it(tmp_path):
    env = _env(tmp_path)
    first = run_json(env, "--channel", "portal", "--case", "approved")
    second = run_json(env, "--channel", "portal", "--case", "approved")
    for report in (first, second):
        assert report["world"]["fresh"] is True and report["world"]["kept"] is False
        assert report["result"]["document"]["queue"]["sequenceNumber"] == 1
        assert isinstance(report["application_id"], str) and report["application_id"]
        assert not Path(report["world"]["data_dir"]).exists()
        assert schemas_of(report["world"]["data_dir"]) == []
    assert first["started_at"] == second["started_at"]
    assert first["world"]["clock_at_start"] == second["world"]["clock_at_start"]
    assert first["world"]["data_dir"] != second["world"]["data_dir"]
    assert first["application_id"] != second["application_id"]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_demo_command_plays_in_a_fresh_world_too(tmp_path):
    result = egov_sim(_env(tmp_path, LANG="kk_KZ.UTF-8"), "demo")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Жаңа әлем уақытша каталогта, соңында жойылады (виртуалды сағат 2026-03-16 09:00)" in lines
    assert any("Кезек: әлеуметтік жағынан осал топтар, реттік нөмірі 1" in line for line in lines)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_keep_keeps_the_fresh_world_and_says_where(tmp_path):
    result = egov_sim(_env(tmp_path), "run", "almaty-queue", "--channel", "corporation", "--case", "approved",
                      "--keep")
    assert result.returncode == 0, result.stderr
    [kept] = list((tmp_path / "tmp").iterdir())
    try:
        first = result.stdout.splitlines()[0]
        assert first == f"Fresh world kept at {kept.resolve()} (virtual clock at 2026-03-16 09:00); " \
                        f"continue it with --data-dir {kept.resolve()}"
        assert (kept / "simulation.sqlite").exists() or schemas_of(kept)
    finally:
        forget(kept)


def test_a_named_world_is_created_then_continued(tmp_path):
    world = tmp_path / "world"
    env = _env(tmp_path)
    try:
        first = run_json(env, "--channel", "portal", "--case", "approved", "--data-dir", str(world))
        assert first["world"] == {"data_dir": str(world.resolve()), "fresh": True, "kept": True,
                                  "clock_at_start": first["world"]["clock_at_start"]}
        again = egov_sim(env, "run", "almaty-queue", "--channel", "portal", "--case", "refused",
                         "--data-dir", str(world), "--lang", "ru")
        assert again.returncode == 0, again.stderr
        line = again.stdout.splitlines()[0]
        assert line.startswith(f"Продолжается мир в {world.resolve()} (виртуальные часы: ")
        # the clock went on from where the first run left it: after its last step
        second = run_json({**env, "EGOV_SIM_DATA_DIR": str(world)}, "--channel", "corporation", "--case",
                          "no-registry-data")
        assert second["world"]["fresh"] is False and second["world"]["data_dir"] == str(world.resolve())
        assert second["world"]["clock_at_start"] >= first["finished_at"]
        assert second["started_at"] > first["started_at"]
        assert list((tmp_path / "tmp").iterdir()) == []
    finally:
        forget(world)


# ---- a reader that leaves early --------------------------------------------------------------


@pytest.mark.parametrize("form", [(), ("--json",)])
def test_a_closed_pipe_ends_the_command_quietly(tmp_path, form):
    process = subprocess.Popen(
        [sys.executable, "-m", "egov_sim.cli", "run", "almaty-queue", "--channel", "portal", "--case",
         "bad-password", *form],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    process.stdout.close()  # as `| head` does once it has what it wants, here before the first line
    try:
        _, err = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 141, err.decode()
    # no traceback of the closed pipe, nor the interpreter's "Exception ignored" on its last flush
    assert "BrokenPipeError" not in err.decode() and "Exception ignored" not in err.decode(), err.decode()
    assert list((tmp_path / "tmp").iterdir()) == []  # the fresh world is removed all the same
