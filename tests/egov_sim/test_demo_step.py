"""``egov-sim demo --step``: one step at a time, Enter for the next, ``q`` to stop early; at the end
of the input the narration goes on without waiting."""

from __future__ import annotations

import io
import re
import sys
import tempfile

import pytest

from egov_sim.cli import main

STEP_LINE = re.compile(r"^  \d{4}-\d\d-\d\d \d\d:\d\d  ")  # a narrated step starts with its virtual time


@pytest.fixture
def demo(tmp_path, monkeypatch, capsys):
    """Runs ``egov-sim demo ARGS`` in a fresh small world with ``stdin`` as its input."""
    for variable in ("EGOV_SIM_DATA_DIR", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("EGOV_SIM_POPULATION_SIZE", "200")
    monkeypatch.setenv("EGOV_SIM_CLOCK_START", "2026-11-02T10:00:00+05:00")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the fresh world's temporary directory

    def run(stdin: str, *args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        status = main(["demo", "--step", *args])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def test_two_enters_then_q_show_three_steps_and_stop(demo, tmp_path):
    status, out, err = demo("\n\nq\n", "--lang", "kk")
    assert status == 0
    lines = out.splitlines()
    steps = [line for line in lines if STEP_LINE.match(line)]
    assert [line.split()[2] for line in steps] == ["1-процесс", "1-шарт", "3-процесс"]
    # Each step is followed by the seed's own text of it.
    assert lines[lines.index(steps[0]) + 1] == (
        "      «көрсетілетін қызметті алушының мемлекеттік көрсетілетін қызметті алу үшін Порталда "
        "авторизациялау процесі»")
    [total] = re.findall(r"Баяндау тоқтатылды: (\d+) қадамның 3-і көрсетілді\.", out)
    assert int(total) > 3
    assert lines[-1].startswith("Баяндау тоқтатылды")  # nothing after: no result, no term
    assert "Кезек:" not in out
    prompts = re.findall(r"\[(\d+)/(\d+)\] Enter — келесі қадам, q — тоқтату: ", err)
    assert prompts == [("1", total), ("2", total), ("3", total)]
    assert list(tmp_path.iterdir()) == []  # the fresh world removed


def test_an_empty_input_runs_to_the_end_without_waiting(demo):
    status, out, err = demo("", "--lang", "en")
    assert status == 0
    steps = [line for line in out.splitlines() if STEP_LINE.match(line)]
    assert len(steps) > 10
    assert steps[0].split()[2] == "1-процесс" and steps[-1].split()[2] == "8-процесс"
    assert "Queue: socially vulnerable groups (әлеуметтік жағынан осал топтар), sequence number 1" in out
    assert "Narration stopped" not in out
    # One prompt: the input ended at the first, and the narration went on without asking again.
    assert err.count("Enter: next step, q: stop: ") == 1


def test_enter_for_every_step_gives_the_whole_narration(demo):
    status, out, err = demo("\n" * 100, "--lang", "ru")
    assert status == 0
    steps = [line for line in out.splitlines() if STEP_LINE.match(line)]
    assert err.count("Enter — следующий шаг, q — остановить: ") == len(steps)
    assert "Очередь: социально уязвимые слои населения" in out and "Рассказ остановлен" not in out
