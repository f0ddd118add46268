"""The runs as JUnit XML (the shape CI servers read: testsuites / testsuite / testcase with a
failure or an error), one testsuite a scenario file."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from egov_sim.scenario.runner import ScenarioResult


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (an outside system's raw answer in an
    error may carry them); each shown as U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _file_of(result: ScenarioResult) -> str:
    return result.scenario.source.split("#")[0]


def junit_xml(results: list[ScenarioResult]) -> bytes:
    root = ET.Element("testsuites", name="egov-sim scenarios")
    suites: dict[str, ET.Element] = {}
    for result in results:
        source = _file_of(result)
        if source not in suites:
            suites[source] = ET.SubElement(root, "testsuite", name=source)
        when = result.scenario.when
        case = ET.SubElement(suites[source], "testcase", classname=f"{when.reglament}.{when.channel}",
                             name=_xml_text(result.scenario.name), file=source, time=f"{result.seconds:.3f}")
        if result.error is not None:
            error = ET.SubElement(case, "error", message=_xml_text(result.error), type="ScenarioError")
            error.text = _xml_text(result.details or result.error)
        elif result.failures:
            failure = ET.SubElement(case, "failure", message=_xml_text(result.failures[0]), type="ScenarioFailure")
            failure.text = _xml_text("\n".join(result.failures + ([""] + result.diff if result.diff else [])))
        if result.report is not None:
            out = ET.SubElement(case, "system-out")
            out.text = _xml_text("\n".join(f"{e['sim_time']}  {e['label']}  {e['system']}  {e['outcome']}"
                                 for e in result.report["trace"]))
    for suite in [root, *suites.values()]:
        cases = suite.iter("testcase")
        listed = list(cases)
        suite.set("tests", str(len(listed)))
        suite.set("failures", str(sum(c.find("failure") is not None for c in listed)))
        suite.set("errors", str(sum(c.find("error") is not None for c in listed)))
        suite.set("time", f"{sum(float(c.get('time', 0)) for c in listed):.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_junit(results: list[ScenarioResult], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(results))
