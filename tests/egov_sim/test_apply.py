"""`egov-sim apply`'s refusals before and without any system: one clear line each, naming the
reglament, the case-data field or the URL (filing itself runs in tests/test_walkthrough.py)."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from reglaments import all_reglaments

from egov_sim.apply import add_parser, run_apply
from egov_sim.ports import free_base_port
from simulation.settings import Settings

IIN = "900515401230"


def apply(*argv: str, base_port: int | None = None) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="egov-sim")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["apply", *argv])
    out, err = io.StringIO(), io.StringIO()
    status = run_apply(args, Settings(base_port=base_port or free_base_port()), out, err)
    return status, out.getvalue(), err.getvalue()


def test_an_unknown_reglament_or_channel_lists_what_exists():
    status, out, err = apply("nosuch", "--channel", "portal", "--iin", IIN)
    assert (status, out) == (2, "")
    assert err == f"egov-sim apply: no reglament 'nosuch' (there are: {', '.join(all_reglaments())})\n"
    status, out, err = apply("almaty-queue", "--channel", "post-office", "--iin", IIN)
    assert (status, out) == (2, "")
    assert err == "egov-sim apply: reglament almaty-queue has no channel 'post-office' (it has: corporation, portal)\n"


def test_a_bad_iin_is_named():
    status, _, err = apply("almaty-queue", "--channel", "portal", "--iin", "900515401231")
    assert status == 2 and err.startswith("egov-sim apply: --iin: check digit")


@pytest.mark.parametrize(("channel", "content", "field", "problem"), [
    ("portal", "form: {queueList: orphan}", "form.queueList", "there are: socially-vulnerable, orphans"),
    ("portal", "form: [1, 2]", "form", "must be a mapping"),
    ("portal", "attachments:\n  - {code: diploma, sha256: abc}", "attachments[0].code", "no document 'diploma'"),
    ("portal", "attachments:\n  - {code: identity, file: nowhere.pdf}", "attachments[0].file", "nowhere.pdf"),
    ("portal", "attachments:\n  - {code: identity, sha256: ab, content: YQ==}", "attachments[0]", "give one of"),
    ("portal", "attachments:\n  - {code: identity, colour: red}", "attachments[0].colour", "unknown field"),
    ("portal", "presented_documents: [identity]", "presented_documents", "for the corporation channel"),
    ("corporation", "attachments: []", "attachments", "for the portal channel"),
    ("corporation", "queue: orphans", "queue", "the corporation channel takes: form, presented_documents"),
    ("corporation", "presented_documents: [identity, passport]", "presented_documents[1]", "no document 'passport'"),
    ("corporation", "representative: {iin: '851102304571'}", "representative", "power_of_attorney"),
    ("corporation", "representative: {iin: '851102304572', power_of_attorney: X}", "representative.iin", "check digit"),
    ("corporation", "[1, 2]", "(top)", "must be a mapping"),
])
def test_case_data_errors_name_the_field(tmp_path, channel, content, field, problem):
    case = tmp_path / "case.yaml"
    case.write_text(content, encoding="utf-8")
    status, out, err = apply("almaty-queue", "--channel", channel, "--iin", IIN, "--case-data", str(case))
    assert (status, out) == (2, "")
    assert err.startswith(f"egov-sim apply: case data {case}: {field}: "), err
    assert problem in err and err.count("\n") == 1


def test_case_data_that_is_not_yaml_or_json_says_where(tmp_path):
    case = tmp_path / "case.json"
    case.write_text('{"form": {"queueList": "orphans"', encoding="utf-8")
    status, _, err = apply("almaty-queue", "--channel", "corporation", "--iin", IIN, "--case-data", str(case))
    assert status == 2 and "not YAML or JSON" in err and "line 1" in err
    status, _, err = apply("almaty-queue", "--channel", "corporation", "--iin", IIN,
                           "--case-data", str(tmp_path / "missing.yaml"))
    assert status == 2 and "missing.yaml" in err


def test_good_case_data_reaches_the_systems_and_unreachable_ones_are_named(tmp_path):
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"form": {"queueList": "orphans"}, "attachments": [
        {"code": "identity", "file": "scan.pdf"}]}), encoding="utf-8")
    (tmp_path / "scan.pdf").write_bytes(b"a scan")
    base = free_base_port()
    status, out, err = apply("almaty-queue", "--channel", "portal", "--iin", IIN, "--case-data", str(case),
                             "--base-port", str(base))
    assert (status, out) == (1, "")
    portal = Settings(base_port=base).url_of("portal")
    assert err.startswith(f"egov-sim apply: cannot reach portal at {portal} ")
    assert err.count("\n") == 1


def test_the_corporation_channel_takes_no_citizen_password():
    status, _, err = apply("almaty-queue", "--channel", "corporation", "--iin", IIN, "--password", "x")
    assert status == 2 and "the operator signs" in err
