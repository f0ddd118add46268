"""`egov-sim trace show APPLICATION_ID`: every format of an application a run kept in its data
directory, read in this process or from the running systems of `egov-sim up`; an unknown id, a bad
format and nowhere to read from are told in one line, without a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sys

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from up_process import UpProcess

from egov_sim import cli
from egov_sim.cli import main
from egov_sim.ports import free_base_port
from egov_sim.scenarios import play
from reglaments import ReglamentError, get_reglament
from simulation.database import drop_run
from simulation.settings import Settings
from tests.conftest import RUN_SCHEMAS


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A world kept in a data directory by `egov-sim run … --data-dir D --json`: (D, the report)."""
    data_dir = tmp_path_factory.mktemp("trace") / "world"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli.main(["run", "almaty-queue", "--channel", "portal", "--case", "approved",
                         "--data-dir", str(data_dir), "--json"])
    assert code == 0
    yield data_dir, json.loads(printed.getvalue())
    import asyncio

    asyncio.run(drop_run(Settings(data_dir=data_dir), RUN_SCHEMAS))


@pytest.fixture(scope="module")
def idle_port() -> str:
    """A base port where nothing listens: the command then opens the world itself (an `egov-sim up`
    someone runs on the default port is not the world of these tests)."""
    return str(free_base_port())


def trace(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["trace", "show", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_text_of_a_finished_application(world, idle_port, capsys):
    data_dir, report = world
    code, out, err = trace(capsys, report["application_id"], "--data-dir", str(data_dir), "--base-port", idle_port,
                           "--lang", "en")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    at = 0
    for event in report["trace"]:  # every label, in the order the run recorded them
        at = next(i for i in range(at, len(lines)) if f"  {event['label']} " in lines[i]) + 1
    assert f"Application {report['application_id']}" in out
    assert lines[-1].strip() == "Outcome: approved"


def test_mermaid_and_otlp_tell_the_same_messages(world, idle_port, capsys):
    data_dir, report = world
    where = ("--data-dir", str(data_dir), "--base-port", idle_port)
    code, diagram, err = trace(capsys, report["application_id"], "--format", "mermaid", *where)
    assert (code, err) == (0, "") and diagram.startswith("sequenceDiagram\n")
    code, spans, err = trace(capsys, report["application_id"], "--format", "otlp", *where)
    assert (code, err) == (0, "")
    request = json_format.Parse(spans, ExportTraceServiceRequest())  # (ids as written: hex, read as bytes)
    found = list(request.resource_spans[0].scope_spans[0].spans)
    assert len(found) == 1 + len(report["trace"]) + len(report["messages"])
    sent = [s for s in found if any(a.key == "messaging.message.id" for a in s.attributes)]
    assert {next(a.value.string_value for a in s.attributes if a.key == "messaging.message.id") for s in sent} == {
        m["messageId"] for m in report["messages"]}
    arrows = [line for line in diagram.splitlines() if "->>" in line]
    assert len(arrows) == sum(len(s.events) for s in sent) > 0  # an arrow per hop, an event per hop
    assert sum("-->>" in line for line in arrows) == sum(e.name.startswith("response ") for s in sent for e in s.events)


def test_html_is_one_page_of_the_application(world, idle_port, capsys):
    data_dir, report = world
    code, page, err = trace(capsys, report["application_id"], "--format", "html", "--data-dir", str(data_dir),
                            "--base-port", idle_port, "--lang", "ru")
    assert (code, err) == (0, "")
    assert page.lstrip().lower().startswith("<!doctype html") and report["application_id"] in page
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?(?:[a-z]+:)?//""", page, re.IGNORECASE)  # nothing fetched


def test_output_goes_to_a_file_and_two_exports_are_the_same(world, idle_port, capsys, tmp_path):
    data_dir, report = world
    where = ("--data-dir", str(data_dir), "--base-port", idle_port)
    target = tmp_path / "spans.json"
    code, out, err = trace(capsys, report["application_id"], "--format", "otlp", "--output", str(target), *where)
    assert (code, out, err) == (0, "", "")
    code, again, _ = trace(capsys, report["application_id"], "--format", "otlp", *where)
    assert code == 0 and target.read_text(encoding="utf-8") == again

    code, out, err = trace(capsys, report["application_id"], "--output", str(tmp_path / "no" / "such" / "dir.txt"),
                           "--lang", "en", *where)
    assert code == 1 and out == ""
    assert err.splitlines() == [f"egov-sim trace: cannot write {tmp_path / 'no' / 'such' / 'dir.txt'}: "
                                "No such file or directory"]


@pytest.mark.parametrize(("lang", "said"), [
    ("en", "No application no-such-application in this world (no trace of it)"),
    ("kk", "no-such-application өтініші бұл әлемде жоқ (оның ізі жазылмаған)"),
])
def test_an_unknown_application_is_one_line(world, idle_port, capsys, lang, said):
    data_dir, _report = world
    code, out, err = trace(capsys, "no-such-application", "--data-dir", str(data_dir), "--base-port", idle_port,
                           "--lang", lang)
    assert (code, out) == (1, "")
    assert err.splitlines() == [f"egov-sim trace: {said}"]


def test_a_format_it_does_not_have_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["trace", "show", "any-id", "--format", "svg"])
    assert exited.value.code == 2
    assert "argument --format: invalid choice: 'svg'" in capsys.readouterr().err


def test_nothing_running_and_no_world_says_what_to_do(idle_port, capsys, tmp_path):
    empty = tmp_path / "nothing-here"
    code, out, err = trace(capsys, "any-id", "--data-dir", str(empty), "--base-port", idle_port, "--lang", "en")
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"no systems answer at http://127.0.0.1:{idle_port} and {empty} holds no world" in err
    assert "egov-sim up --data-dir DIR" in err and "--target URL" in err
    assert not empty.exists()  # no new world was made there


def test_a_world_up_serves_is_not_opened_a_second_time(world, idle_port, capsys):
    """While an `egov-sim up` runs on the data directory (its up.json names a live process), the
    command does not start the world's systems in its own process next to up's."""
    data_dir, report = world
    marker = data_dir / "up.json"
    marker.write_text(json.dumps({"pid": os.getpid()}))
    try:
        code, out, err = trace(capsys, report["application_id"], "--data-dir", str(data_dir), "--base-port",
                               idle_port, "--lang", "en")
    finally:
        marker.unlink()
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"egov-sim trace: egov-sim up runs on {data_dir.resolve()} (pid {os.getpid()}) but "
                                f"its control system does not answer at http://127.0.0.1:{idle_port}: give its --base-port"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_running_systems_are_read_with_the_auditors_token(world, idle_port, capsys):
    """With `egov-sim up` serving the world, the command reads it over HTTP: the same text as from
    the world opened in-process; with --target and a token; a wrong token is refused in one line."""
    data_dir, report = world
    application = report["application_id"]
    code, offline, _ = trace(capsys, application, "--data-dir", str(data_dir), "--base-port", idle_port, "--lang", "kk")
    assert code == 0
    base_port = free_base_port()
    up = UpProcess("--base-port", str(base_port), "--data-dir", str(data_dir))
    try:
        up.wait_until_up()
        code, online, err = trace(capsys, application, "--data-dir", str(data_dir), "--base-port", str(base_port),
                                  "--lang", "kk")
        assert (code, err) == (0, "") and online == offline
        target = f"http://127.0.0.1:{base_port}"
        auditor = (data_dir / "auditor.token").read_text().strip()
        code, spans, err = trace(capsys, application, "--target", target, "--token", auditor, "--format", "otlp")
        assert (code, err) == (0, "")
        assert len(json.loads(spans)["resourceSpans"][0]["scopeSpans"][0]["spans"]) == (
            1 + len(report["trace"]) + len(report["messages"]))
        code, out, err = trace(capsys, application, "--target", target, "--token", "not-the-token", "--lang", "en")
        assert (code, out) == (2, "") and len(err.splitlines()) == 1
        assert err.startswith("egov-sim trace: cannot use the systems of --target: ") and "refused (401)" in err
        code, out, err = trace(capsys, "no-such-application", "--target", target, "--token", auditor, "--lang", "en")
        assert (code, out) == (1, "")
        assert err == "egov-sim trace: No application no-such-application in this world (no trace of it)\n"
    finally:
        assert up.stop(signal.SIGTERM) == 0, up.output()


@pytest.mark.parametrize("where", [["--base-port", "70000"], ["--base-port", "x"], ["--target", "http://127.0.0.1:99999"],
                                   ["--target", "ftp://host"]])
def test_a_port_or_url_no_system_can_have_is_a_usage_error(where, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["trace", "show", "some-id", *where])
    assert exited.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


async def test_a_world_of_a_reglament_not_loaded_here_is_named(simulation, monkeypatch):
    from egov_sim.trainer import flow as flows

    spec = get_reglament("almaty-queue").cases["portal"]["approved"]
    report = await play(simulation, "almaty-queue", "portal", spec, "approved")

    def unknown(reglament_id):
        raise ReglamentError(f"unknown reglament {reglament_id!r}")

    monkeypatch.setattr(flows, "get_reglament", unknown)
    with pytest.raises(flows.DefinitionMissing) as missing:
        await flows.collect(simulation, report["application_id"])
    assert "EGOV_SIM_REGLAMENTS" in missing.value.texts["en"] and missing.value.texts["kk"] and missing.value.texts["ru"]
