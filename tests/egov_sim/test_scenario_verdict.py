"""Judging a run against `then` (egov_sim.scenario.verdict.compare): one readable line per
difference, and the steps as a diff (`-` expected, `+` taken). No world: hand-made reports."""

from __future__ import annotations

import pytest

from egov_sim.scenario.model import Then
from egov_sim.scenario.verdict import compare, steps_diff

STEPS = ["1-процесс", "1-шарт", "3-процесс", "4-процесс", "2-шарт", "6-процесс"]


def report(**changes):
    base = {
        "outcome": "approved",
        "trace": [{"label": label} for label in STEPS],
        "result": {"document": {"type": "certificate", "presence": False,
                                "people": [{"iin": "900515401230", "relation": "applicant", "dwelling": None}]},
                   "verdict": {"code": "VALID"}, "refusal": None},
        "term": {"met": True, "due": "2026-03-20T18:00:00+05:00"},
        "finished_at": "2026-03-18T16:20:00+05:00",
        "messages": [
            {"serviceId": "GBDFL_UniversalServiceSync", "sender": "corporation_ws", "recipient": "registries", "status": "DELIVERED"},
            {"serviceId": "APPLICATION_Send", "sender": "corporation_ws", "recipient": "provider_ws", "status": "DELIVERED"},
            {"serviceId": "GK_ResultDelivery", "sender": "provider_ws", "recipient": "corporation_ws", "status": "DELIVERED"},
        ],
    }
    base.update(changes)
    return base


def test_a_run_as_expected_has_no_failure():
    then = Then(outcome="approved", steps=STEPS, result={"type": "certificate", "people.0.iin": "900515401230",
                                                          "people.0.dwelling": None},
                signature="VALID", term_met=True,
                messages=[{"serviceId": "GBDFL_UniversalServiceSync"}, {"serviceId": "GK_ResultDelivery",
                                                                        "status": "DELIVERED"}])
    assert compare(then, report()) == ([], [])
    assert compare(Then(), report()) == ([], [])  # then says nothing: nothing to fail


def test_outcome():
    failures, diff = compare(Then(outcome="refused"), report())
    assert failures == ["outcome: expected refused, got approved"] and diff == []


def test_steps_diff_marks_expected_with_minus_and_taken_with_plus():
    expected = [*STEPS[:5], "5-процесс"]
    failures, diff = compare(Then(steps=expected), report())
    assert failures == ["steps: 6 expected, 6 taken; they differ (diff below)"]
    assert diff[:2] == ["--- expected steps", "+++ actual steps"]
    assert "-5-процесс" in diff and "+6-процесс" in diff
    assert [line for line in diff if line[:1] in "-+" and line[:3] not in ("---", "+++")] == ["-5-процесс", "+6-процесс"]


def test_steps_diff_of_a_shorter_run_and_a_step_taken_twice():
    failures, diff = compare(Then(steps=STEPS), report(trace=[{"label": s} for s in STEPS[:3]]))
    assert failures == ["steps: 6 expected, 3 taken; they differ (diff below)"]
    assert [line for line in diff if line.startswith("-") and not line.startswith("---")] == \
        ["-4-процесс", "-2-шарт", "-6-процесс"]
    _, diff = compare(Then(steps=STEPS), report(trace=[{"label": s} for s in [*STEPS, "6-процесс"]]))
    assert [line for line in diff if line.startswith("+") and not line.startswith("+++")] == ["+6-процесс"]
    assert steps_diff(STEPS, STEPS) == []


@pytest.mark.parametrize(("path", "value", "says"), [
    ("type", "refusal", "result.type: expected 'refusal', got 'certificate'"),
    ("presence", True, "result.presence: expected True, got False"),
    ("people.0.relation", "spouse", "result.people.0.relation: expected 'spouse', got 'applicant'"),
    ("people.1.iin", "1", "result.people.1.iin: expected '1', the result has no such field"),
    ("number", "A-1", "result.number: expected 'A-1', the result has no such field"),
    ("type.kind", "x", "result.type.kind: expected 'x', the result has no such field"),
])
def test_result_fields_by_dotted_path(path, value, says):
    failures, _ = compare(Then(result={path: value}), report())
    assert failures == [says]


def test_a_result_field_of_a_run_with_no_result_says_why():
    failures, _ = compare(Then(result={"type": "certificate"}), report(outcome="rejected", result=None))
    assert failures == ["result.type: expected 'certificate', the result has no such field (no result: rejected)"]


def test_signature():
    failures, _ = compare(Then(signature="VALID"), report(result={"document": {}, "verdict": {"code": "REVOKED"}}))
    assert failures == ["signature: expected VALID, got REVOKED"]
    failures, _ = compare(Then(signature="VALID"), report(result=None))
    assert failures == ["signature: expected VALID, got None"]


def test_refusal_contains_any_language():
    refusal = {"kk": "Құжаттар толық емес", "ru": "Документы неполные", "en": "The documents are incomplete"}
    run = report(outcome="refused", result={"document": None, "refusal": refusal})
    assert compare(Then(refusal_contains="толық емес"), run) == ([], [])
    assert compare(Then(refusal_contains="incomplete"), run) == ([], [])
    failures, _ = compare(Then(refusal_contains="ЖТ МДҚ"), run)
    assert len(failures) == 1 and failures[0].startswith("refusal: expected it to contain 'ЖТ МДҚ', it reads {")
    assert "Документы неполные" in failures[0]  # what it does read, unescaped


def test_term_met_and_missed():
    failures, _ = compare(Then(term_met=True), report(term={"met": False, "due": "2026-03-20T18:00:00+05:00"}))
    assert failures == ["term: expected met, it was missed (due 2026-03-20T18:00:00+05:00, "
                        "finished 2026-03-18T16:20:00+05:00)"]
    failures, _ = compare(Then(term_met=False), report())
    assert failures[0].startswith("term: expected missed, it was met")


def test_messages_must_be_there_in_order():
    back = [{"serviceId": "GK_ResultDelivery"}, {"serviceId": "GBDFL_UniversalServiceSync"}]
    failures, _ = compare(Then(messages=back), report())
    assert len(failures) == 1
    assert failures[0].startswith("messages: {'serviceId': 'GBDFL_UniversalServiceSync'} not found in order")
    assert "GK_ResultDelivery provider_ws→corporation_ws DELIVERED" in failures[0]  # what there was


def test_a_message_matches_on_every_field_given():
    failures, _ = compare(Then(messages=[{"serviceId": "APPLICATION_Send", "status": "FAILED"}]), report())
    assert len(failures) == 1 and "'status': 'FAILED'" in failures[0]
    failures, _ = compare(Then(messages=[{"serviceId": "APPLICATION_Send", "recipient": "registries"}]), report())
    assert len(failures) == 1
    assert compare(Then(messages=[{"serviceId": "APPLICATION_Send", "sender": "corporation_ws",
                                   "recipient": "provider_ws"}]), report()) == ([], [])
    failures, _ = compare(Then(messages=[{"serviceId": "X"}]), report(messages=[]))
    assert failures[0].endswith("among the application's (none)")


def test_every_difference_is_its_own_line():
    then = Then(outcome="refused", steps=STEPS[:2], result={"presence": True}, signature="REVOKED", term_met=False)
    failures, diff = compare(then, report())
    assert [f.split(":")[0] for f in failures] == ["outcome", "steps", "result.presence", "signature", "term"]
    assert diff


def test_a_nested_expected_value_holds_the_fields_it_names():
    """A case's ``expect.result`` (inherited by ``when.case``) lists some fields of each person; the
    result has more (the full name): that is as expected."""
    then = Then(result={"people": [{"iin": "900515401230", "relation": "applicant"}]})
    assert compare(then, report()) == ([], [])
    missing = Then(result={"people": [{"iin": "900515401230", "relation": "spouse"}]})
    assert compare(missing, report())[0] == ["result.people.0.relation: expected 'spouse', got 'applicant'"]
