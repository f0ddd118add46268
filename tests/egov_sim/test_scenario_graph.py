"""The coverage page (egov_sim.scenario.graph): one self-contained HTML file that parses, refers to
nothing outside itself, draws one graph a channel of every reglament, and marks exactly what the
traces covered -- the steps, and the branch edges taken."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from egov_sim.scenario.coverage import Coverage
from egov_sim.scenario.graph import coverage_html
from reglaments import all_reglaments, get_reglament

REGLAMENT, CHANNEL = "almaty-certificate", "corporation"
# A hand-made trace: the package is complete (1-шарт true), ЖТ МДҚ has no data (2-шарт false).
TRACE = [
    {"step": "process-1"}, {"step": "condition-1", "kind": "condition", "outcome": "true"},
    {"step": "process-3"}, {"step": "process-4"}, {"step": "condition-2", "kind": "condition", "outcome": "false"},
    {"step": "process-5"},
]


class Page(HTMLParser):
    """Every start tag with its attributes and the text under each graph's elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.open: list[str] = []
        self.unclosed: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in ("meta", "br", "path", "rect", "polygon", "input", "link", "img"):
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        if tag in ("path", "rect", "polygon"):
            return
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    assert page.open == [], f"elements never closed: {page.open}"
    return page


@pytest.fixture(scope="module")
def coverage() -> Coverage:
    found = Coverage(all_reglaments())
    found.add(TRACE, REGLAMENT, CHANNEL)
    return found


@pytest.fixture(scope="module")
def page(coverage) -> Page:
    return parse(coverage_html(coverage))


def graph_elements(page: Page, reglament: str, channel: str, kind: str) -> list[dict[str, str]]:
    """The ``kind`` (step / edge) groups of one channel's SVG, in document order."""
    found, inside = [], False
    for tag, attrs in page.tags:
        if tag == "svg":
            inside = attrs.get("data-reglament") == reglament and attrs.get("data-channel") == channel
        elif inside and tag == "g" and kind in attrs.get("class", "").split():
            found.append(attrs)
    return found


def test_the_page_parses_and_refers_to_nothing_outside(coverage):
    html = coverage_html(coverage)
    page = parse(html)
    assert html.startswith("<!DOCTYPE html>")
    assert "http://" not in html and "https://" not in html and "//" not in html
    references = [value for _, attrs in page.tags for name, value in attrs.items() if name in ("src", "href", "xlink:href")]
    assert references and all(value.startswith("#") for value in references), "only in-page links (#…)"
    assert not [tag for tag, attrs in page.tags if "src" in attrs]
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html.replace("url(#", "")
    assert "<link" not in html.lower()


def test_one_graph_per_channel_of_every_reglament(page):
    drawn = [(a["data-reglament"], a["data-channel"]) for tag, a in page.tags if tag == "svg"]
    expected = [(r.id, c) for r in all_reglaments().values() for c in r.channels]
    assert sorted(drawn) == sorted(expected)
    assert len(drawn) == len(set(drawn))
    for reglament_id, channel in expected:
        steps = graph_elements(page, reglament_id, channel, "step")
        assert [s["data-step"] for s in steps] == [s.key for s in get_reglament(reglament_id).channel(channel).steps]


def test_exactly_the_covered_steps_are_marked(page):
    for reglament_id, channel in [(r.id, c) for r in all_reglaments().values() for c in r.channels]:
        steps = graph_elements(page, reglament_id, channel, "step")
        covered = {s["data-step"] for s in steps if s["data-covered"] == "true"}
        classed = {s["data-step"] for s in steps if "covered" in s["class"].split()}
        expected = {e["step"] for e in TRACE} if (reglament_id, channel) == (REGLAMENT, CHANNEL) else set()
        assert covered == expected, (reglament_id, channel)
        assert classed == expected, (reglament_id, channel)


def test_the_taken_branches_and_the_untaken_ones(page):
    edges = graph_elements(page, REGLAMENT, CHANNEL, "edge")
    taken = {(e["data-from"], e["data-kind"], e["data-to"]) for e in edges if e["data-taken"] == "true"}
    channel = get_reglament(REGLAMENT).channel(CHANNEL)
    assert taken == {
        ("process-1", "next", "condition-1"),
        ("condition-1", "then", channel.step("condition-1").then),
        ("process-3", "next", "process-4"),
        ("process-4", "next", "condition-2"),
        ("condition-2", "else", channel.step("condition-2").else_),
    }
    every = {(e["data-from"], e["data-kind"], e["data-to"]) for e in edges}
    assert every == {(s.key, kind, target) for s in channel.steps
                     for kind, target in (("next", s.next), ("then", s.then), ("else", s.else_)) if target}
    for edge in edges:  # the mark is a class the style draws thick (taken) or dashed (untaken), not colour alone
        assert ("taken" if edge["data-taken"] == "true" else "untaken") in edge["class"].split()


def test_labels_names_and_the_condition_edges_read_as_the_seed_writes(coverage):
    html = coverage_html(coverage)
    page = parse(html)
    text = "".join(page.text)
    condition = get_reglament(REGLAMENT).channel(CHANNEL).step("condition-2")
    assert "✓ 2-шарт" in text  # covered: a ✓ besides the colour
    assert condition.name.en in text  # the tooltip (<title>)
    assert condition.name.kk[:20] in text  # the Kazakh name in the box
    assert "иә ✓" in text and "жоқ" in text
    assert "✓ 9-процесс" not in text and "9-процесс" in text


def test_the_summary_table_has_the_coverage_numbers(coverage, page):
    numbers = coverage.as_json()
    rows = {(a["data-reglament"], a["data-channel"]) for tag, a in page.tags if tag == "tr" and "data-channel" in a}
    assert rows == {(r, c) for r, channels in numbers.items() for c in channels}
    html = coverage_html(coverage)
    steps, branches = numbers[REGLAMENT][CHANNEL]["steps"], numbers[REGLAMENT][CHANNEL]["branches"]
    row = re.search(rf'<tr data-reglament="{REGLAMENT}" data-channel="{CHANNEL}">(.*?)</tr>', html).group(1)
    assert f"{steps[0]}/{steps[1]}" in row and f"{branches[0]}/{branches[1]}" in row
    totals = coverage.totals()
    total_row = re.search(r'<tr class="all">(.*?)</tr>', html).group(1)
    assert f"{totals['steps'][0]}/{totals['steps'][1]}" in total_row
    assert f"{totals['branches'][0]}/{totals['branches'][1]}" in total_row


def test_every_text_is_escaped():
    reglament = get_reglament(REGLAMENT).model_copy(deep=True)
    reglament.id = '<script>alert("x")</script>'
    step = reglament.channels[CHANNEL].steps[0]
    step.name = step.name.model_copy(update={"kk": "<b>&amp;</b>", "en": '"><img src=x>'})
    html = coverage_html(Coverage({reglament.id: reglament}))
    parse(html)
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in html


def test_a_loop_is_drawn_without_hanging():
    """No seed has a loop; a user's definition might -- the longest path must not run forever."""
    reglament = get_reglament(REGLAMENT).model_copy(deep=True)
    channel = reglament.channels[CHANNEL]
    last = channel.steps[-1]
    channel.steps[-1] = last.model_copy(update={"outcome": None, "then": channel.first.key, "else_": "process-2"})
    html = coverage_html(Coverage({reglament.id: reglament}))
    page = parse(html)
    edges = graph_elements(page, reglament.id, CHANNEL, "edge")
    assert (last.key, channel.first.key) in {(e["data-from"], e["data-to"]) for e in edges}
