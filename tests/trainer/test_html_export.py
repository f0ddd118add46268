"""The HTML export of an application's flow (egov_sim.trainer.html): one self-contained file that
references nothing outside itself, embeds the flow as JSON no data can break out of, and refuses
what it cannot export by name. (Opened from file:// in a real browser: test_page_browser.py.)"""

from __future__ import annotations

import asyncio
import copy
import json
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest

from egov_sim.inprocess import Simulation
from egov_sim.scenarios import play
from egov_sim.trainer.flow import collect
from egov_sim.trainer.html import FLOW_ELEMENT_ID, ExportError, embedded_json, render_html
from reglaments import get_reglament
from simulation.database import drop_run
from simulation.settings import Settings
from tests.conftest import RUN_SCHEMAS, WORKING_MONDAY

HOSTILE = "</script><script>window.pwned = 1</script><!-- <script> \u2028\u2029 & </SCRIPT > ]]>"
"""Text a flow may carry (a system's detail, a document field) that would end or change a naively
embedded <script> element."""

REFERENCE_ATTRIBUTES = {"src", "href", "action", "formaction", "poster", "srcset", "data", "xlink:href",
                        "background", "cite", "manifest", "ping"}


class Page(HTMLParser):
    """Every tag with its attributes, and the text of each <script> and <style> element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self._open: tuple[str, dict[str, str | None]] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag in ("script", "style"):
            self._open, self._text = (tag, attributes), []

    def handle_data(self, data):
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if self._open is not None and tag == self._open[0]:
            text = "".join(self._text)
            if tag == "script":
                self.scripts.append((self._open[1], text))
            else:
                self.styles.append(text)
            self._open = None


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def external_references(html: str) -> list[str]:
    """Every reference the file makes to something outside itself (an empty list when none)."""
    page = parse(html)
    found = []
    for tag, attributes in page.tags:
        for name, value in attributes.items():
            if name.lower() in REFERENCE_ATTRIBUTES:
                value = (value or "").strip()
                if value and not value.startswith("#") and not value.startswith("data:"):
                    found.append(f"<{tag} {name}={value!r}>")
        if tag == "meta" and (attributes.get("http-equiv") or "").lower() == "refresh":
            found.append("<meta http-equiv=refresh>")
    for style in page.styles + [a.get("style") or "" for _, a in page.tags]:
        lowered = style.lower()
        if "@import" in lowered:
            found.append("@import in a style")
        for part in lowered.split("url(")[1:]:
            if not part.lstrip(" '\"").startswith(("data:", "#")):
                found.append(f"url({part[:40]}")
    return found


def embedded_flow(html: str) -> dict:
    page = parse(html)
    [data] = [text for attributes, text in page.scripts if attributes.get("id") == FLOW_ELEMENT_ID]
    return json.loads(data)


def played_flows(data_dir: Path, cases: list[tuple[str, str, str]]) -> list[dict]:
    """The flows of ``cases`` (reglament, channel, case) played in one fresh world, for tests that
    read the flows without changing them (a module's worth at once: a world costs seconds). Runs in
    a thread of its own: a sync test (Playwright's) may hold an event loop of its own."""

    async def play_all() -> list[dict]:
        settings = Settings(data_dir=data_dir, population_size=300, clock_start=WORKING_MONDAY)
        try:
            async with Simulation(settings) as simulation:
                flows = []
                for reglament, channel, case in cases:
                    spec = get_reglament(reglament).cases[channel][case]
                    report = await play(simulation, reglament, channel, spec, case)
                    flows.append(await collect(simulation, report["application_id"]))
                return flows
        finally:
            await drop_run(settings, RUN_SCHEMAS)

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, play_all()).result()


@pytest.fixture(scope="module")
def portal_flow(tmp_path_factory) -> dict:
    [flow] = played_flows(tmp_path_factory.mktemp("export") / "run", [("almaty-queue", "portal", "approved")])
    return flow


def test_the_export_is_one_file_that_references_nothing_outside_itself(portal_flow):
    html = render_html(portal_flow)
    assert external_references(html) == []
    page = parse(html)
    # the page's own script and style are inlined: no element loads a file
    assert [a for _, a in page.tags if "src" in a] == []
    assert [a for t, a in page.tags if t == "link" and (a.get("rel") or "") == "stylesheet"] == []
    code = [text for attributes, text in page.scripts if attributes.get("type") is None]
    assert len(code) == 1 and "TOKEN_HEADER" in code[0] and page.styles and ".sd" in page.styles[0]
    assert embedded_flow(html) == json.loads(json.dumps(portal_flow))
    assert '<html lang="kk" data-lang="kk">' in html
    # and its own policy forbids fetching anything, should some text ever try
    policies = [a.get("content") for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(policies) == 1 and policies[0].startswith("default-src 'none'"), policies


def test_the_check_finds_a_reference_when_there_is_one(portal_flow):
    # the checker above is not blind: each kind of external reference is reported
    html = render_html(portal_flow)
    assert external_references(html.replace("<head>", '<head><script src="https://cdn.example/x.js"></script>'))
    assert external_references(html.replace("<head>", '<head><link rel="stylesheet" href="/trainer/static/trainer.css">'))
    assert external_references(html.replace("<style>", "<style>@import 'x.css';"))
    assert external_references(html.replace("<style>", "<style>body { background: url(http://x/y.png) }"))
    assert external_references(html.replace('<link rel="icon" href="data:,">', '<link rel="icon" href="favicon.ico">'))


def test_no_text_in_the_data_ends_the_embedded_json(portal_flow):
    flow = copy.deepcopy(portal_flow)
    flow["steps"][0]["detail"] = HOSTILE
    flow["messages"][0]["request"]["document"]["form"]["note"] = HOSTILE
    html = render_html(flow, "ru")
    page = parse(html)
    # still exactly the two scripts: the data and the page's code; nothing the data opened
    assert [(a.get("type"), a.get("id")) for a, _ in page.scripts] == [("application/json", FLOW_ELEMENT_ID), (None, None)]
    assert embedded_flow(html) == json.loads(json.dumps(flow))
    assert embedded_flow(html)["steps"][0]["detail"] == HOSTILE
    assert "</script><script>window.pwned" not in html and "<!-- <script>" not in html
    assert '<html lang="ru" data-lang="ru">' in html


def test_embedded_json_escapes_what_html_reads_and_json_reads_back():
    text = embedded_json({"a": "</script>", "b": "<!--", "c": "x & y", "d": "\u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script>", "b": "<!--", "c": "x & y", "d": "\u2028"}


@pytest.mark.parametrize(("flow", "lang", "names"), [
    ({"steps": [], "messages": [], "participants": []}, "kk", "flow.steps"),
    ({"steps": [{}], "messages": []}, "kk", "flow:"),
    ("not a flow", "kk", "flow:"),
    ({"steps": [{}], "messages": [], "participants": []}, "de", "lang: 'de'"),
])
def test_what_cannot_be_exported_is_refused_by_name(flow, lang, names):
    with pytest.raises(ExportError) as refused:
        render_html(flow, lang)
    assert names in str(refused.value)
