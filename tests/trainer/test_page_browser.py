"""The trainer's page in a real browser (Playwright's sync API driving Debian's Chromium): the
offline export opened from file://, and the page served by `egov-sim trainer`, clicked through --
a case played, stepped with the keyboard, the language switched -- checking what the page shows.

The screenshots of the docs come from here: one PNG per channel kind of a full application (the
portal, a State Corporation front office, the provider's chancellery) at its last step, one mid-way
with the documents open, one in projector mode; into EGOV_SIM_SCREENSHOTS when set (the docs'
copies: EGOV_SIM_SCREENSHOTS=docs/images/trainer), else the test's temporary directory."""

from __future__ import annotations

import asyncio
import copy
import os
import re
import signal
import struct
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import pytest

from egov_sim.trainer.html import render_html
from simulation.credentials import RunCredentials
from simulation.database import drop_run
from simulation.settings import Settings
from tests.conftest import RUN_SCHEMAS
from tests.trainer.test_html_export import HOSTILE, played_flows

VIEWPORT = {"width": 1280, "height": 800}
CEILING_MS = 180_000
"""Only against a hang: a play of a whole case in a loaded machine takes seconds, not minutes."""

CHANNEL_KINDS = [
    # (screenshot name, reglament, channel, case): where the citizen applies
    ("portal", "almaty-queue", "portal", "approved"),
    ("front-office", "almaty-queue", "corporation", "approved"),
    ("chancellery", "almaty-privatization", "provider-office", "approved"),
]


# ---- helpers ---------------------------------------------------------------------------------


def screenshots(tmp_path_factory) -> Path:
    chosen = os.environ.get("EGOV_SIM_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page, folder: Path, name: str, *, whole: bool = False, screen: bool = False) -> Path:
    """A PNG of the player (the diagram, the step, the timeline), of the whole page, or of what
    the screen shows from the player's top."""
    path = folder / f"{name}.png"
    if whole:
        page.screenshot(path=str(path), full_page=True)
    elif screen:
        page.evaluate("() => document.getElementById('player').scrollIntoView()")
        page.screenshot(path=str(path))
    else:
        page.locator("#player").screenshot(path=str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    assert 1000 <= width <= VIEWPORT["width"] and 600 <= height <= 3000, (path, width, height)
    assert 20_000 < len(data) < 260_000, (path, len(data))
    return path


def watch(page) -> list[str]:
    """What went wrong in the page: script errors, console errors, and every request it made
    outside the page's own origin (or, from file://, any request at all but to the file)."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    return problems


def strip_labels(page) -> list[str]:
    return page.locator("#steps button").all_inner_texts()


def current(page) -> dict[str, Any]:
    return page.evaluate("""() => ({
        position: document.getElementById('position').textContent,
        label: document.querySelector('#steps button[aria-current="step"]').textContent,
        title: document.getElementById('step-title').textContent,
        textKk: (document.querySelector('#step .text-kk') || {}).textContent || null,
        diagramCurrent: [...document.querySelectorAll('#diagram .step-box.current')].map(n => n.dataset.label),
    })""")


def wait_position(page, text: str) -> None:
    page.wait_for_function("t => document.getElementById('position').textContent === t", arg=text,
                           timeout=CEILING_MS)


# ---- the offline export ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def front_office_flow(tmp_path_factory) -> dict:
    [flow] = played_flows(tmp_path_factory.mktemp("page") / "run", [("almaty-queue", "corporation", "refused")])
    return flow


def test_the_export_opened_from_file_plays_to_the_last_step(browser, front_office_flow, tmp_path):
    flow = front_office_flow
    exported = tmp_path / "flow.html"
    exported.write_text(render_html(flow, "kk"), encoding="utf-8")
    page = browser.new_page(viewport=VIEWPORT)
    problems = watch(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(exported.as_uri())
        labels = [s["label"] for s in flow["steps"]]
        assert strip_labels(page) == labels
        assert page.locator("#source").is_hidden()  # no picker, no token: one flow
        n = len(labels)
        assert current(page)["position"] == f"1/{n} қадам"
        page.select_option("#speed", "4")
        page.keyboard.press("Space")  # play, by the keyboard
        wait_position(page, f"{n}/{n} қадам")
        shown = current(page)
        last = flow["steps"][-1]
        assert shown["label"] == last["label"] == shown["diagramCurrent"][0]
        assert shown["textKk"] == last["textKk"] and last["name"]["kk"] in shown["title"]
        assert page.get_attribute("#play", "aria-pressed") == "false"  # stopped at the end
        # the refusal is what the flow says, in the interface's words
        assert "бас тартылды" in page.inner_text("#flow-meta")
        # every signature's verdict is on the diagram, as text
        verdicts = page.locator("#diagram [data-verdict]").all_text_contents()
        expected = [("✎ " if s["of"] == "document" else "") + "✓ VALID" for m in flow["messages"] for s in m["signatures"]]
        assert sorted(verdicts) == sorted(expected) and len(expected) >= 10, verdicts
        assert requests == [exported.as_uri()], requests  # nothing fetched: no script, style, API
        assert problems == []
    finally:
        page.close()


def test_text_in_the_data_stays_text_in_the_export(browser, front_office_flow, tmp_path):
    flow = copy.deepcopy(front_office_flow)
    flow["steps"][0]["detail"] = HOSTILE
    exported = tmp_path / "hostile.html"
    exported.write_text(render_html(flow, "en"), encoding="utf-8")
    page = browser.new_page(viewport=VIEWPORT)
    problems = watch(page)
    try:
        page.goto(exported.as_uri())
        assert page.evaluate("() => window.pwned") is None
        # the system's detail is shown as the text it is, not read as markup
        assert page.evaluate("() => document.querySelector('#step dd[lang=kk]').textContent") == HOSTILE
        assert page.locator("script").count() == 2
        assert current(page)["position"] == f"Step 1 of {len(flow['steps'])}"
        assert problems == []
    finally:
        page.close()


# ---- the served page ---------------------------------------------------------------------------


class Trainer:
    """`egov-sim trainer` on a free port, in a world of its own."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.settings = Settings(data_dir=data_dir)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "egov_sim.trainer.cli", "--port", "0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: Queue[str] = Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.address = self._wait_for_address()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put("")  # the end of its output

    def _wait_for_address(self) -> str:
        while True:
            try:
                line = self.lines.get(timeout=CEILING_MS / 1000)
            except Empty:
                self.stop()
                raise AssertionError("egov-sim trainer printed no address: " + "".join(self.output)) from None
            found = re.match(r"trainer: (http://\S+/trainer#token=\S+)$", line.strip())
            if found:
                return found.group(1)
            if not line:
                raise AssertionError(f"egov-sim trainer ended ({self.process.wait()}): " + "".join(self.output))

    @property
    def base(self) -> str:
        return self.address.split("#", 1)[0]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=CEILING_MS / 1000)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    served = Trainer(tmp_path_factory.mktemp("trainer") / "run")
    try:
        yield served
    finally:
        code = served.stop()
        with ThreadPoolExecutor(1) as thread:  # a loop of its own: Playwright's sync API holds one
            thread.submit(asyncio.run, drop_run(served.settings, RUN_SCHEMAS)).result()
        assert code == 0, "".join(served.output)


def play_case(page, reglament: str, channel: str, case: str) -> None:
    page.select_option("#reglament", reglament)
    page.select_option("#channel", channel)
    page.select_option("#case", case)
    before = page.evaluate("() => document.getElementById('flow-meta').textContent")
    page.click("#play-case")
    page.wait_for_function(
        "before => document.getElementById('status').className === 'ok' && "
        "document.getElementById('flow-meta').textContent !== before", arg=before, timeout=CEILING_MS)


def test_a_trainer_plays_each_channel_steps_through_it_and_switches_language(browser, trainer, tmp_path_factory):
    folder = screenshots(tmp_path_factory)
    page = browser.new_page(viewport=VIEWPORT)
    problems = watch(page)
    try:
        page.goto(trainer.address)
        # the token left the address bar for the session's storage
        assert "token" not in page.url and page.url.endswith("/trainer")
        token = RunCredentials.of(trainer.settings).admin_token
        assert page.evaluate("() => sessionStorage.getItem('egov-sim-token')") == token
        page.wait_for_function("() => document.getElementById('status').textContent.includes('әкімші')",
                               timeout=CEILING_MS)
        assert page.locator("#token-form").is_hidden() and page.is_enabled("#play-case")

        for name, reglament, channel, case in CHANNEL_KINDS:
            play_case(page, reglament, channel, case)
            labels = strip_labels(page)
            n = len(labels)
            assert current(page)["position"] == f"1/{n} қадам"
            page.keyboard.press("End")
            shown = current(page)
            assert shown["position"] == f"{n}/{n} қадам" and shown["label"] == labels[-1]
            assert shown["diagramCurrent"] == [labels[-1]] and shown["textKk"]
            assert page.locator("#diagram [data-verdict]").count() > 0
            filed_at = {"portal": "egov.kz порталы", "front-office": "Мемлекеттік корпорация",
                        "chancellery": "қызмет беруші"}[name]
            assert filed_at in page.inner_text("#flow-meta").split("·")[0]
            assert "✓ VALID" in page.locator("#diagram [data-verdict]").all_text_contents()
            shoot(page, folder, name, whole=name == "portal")

            if name == "portal":
                # the portal's trace, in the seed's order
                assert labels[:5] == ["1-процесс", "1-шарт", "3-процесс", "2-шарт", "5-процесс"]
                assert "5-тармақ, 3)" in labels
                page.keyboard.press("Home")
                for _ in range(labels.index("5-процесс")):
                    page.keyboard.press("ArrowRight")
                shown = current(page)
                assert shown["label"] == "5-процесс"
                assert shown["textKk"].startswith("көрсетілетін қызметті берушінің сұрауды өңдеуі үшін")
                page.click("#open-documents")
                signatures = page.locator("#step .signature")
                assert signatures.count() == 3  # the portal's, the citizen's on the document, the provider's
                document = page.locator("#step .signature[data-of='document']")
                assert "✓ VALID" in document.inner_text() and "НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ" in document.inner_text()
                assert "хабарлама жіберілген кезде: кері қайтарылмаған" in document.inner_text()  # by НУЦ
                assert re.search(r"ЖСН\s+\d{12}", document.inner_text())  # the citizen who signed, by ЖСН
                assert page.locator("#step details.data").first.is_visible()
                document.scroll_into_view_if_needed()
                shoot(page, folder, "documents")

                # the interface speaks Russian; the seed's Kazakh text stays
                page.select_option("#lang", "ru")
                shown = current(page)
                assert shown["position"] == f"Шаг {labels.index('5-процесс') + 1} из {n}"
                assert "Отправка запроса через ШЭП в АРМ РШЭП" in shown["title"]
                assert shown["textKk"].startswith("көрсетілетін қызметті берушінің сұрауды өңдеуі үшін")
                assert page.inner_text("#next") == "Далее"
                assert "ЭЦП документа" in page.inner_text("#step")
                page.select_option("#lang", "en")
                assert page.inner_text("#next") == "Next" and "Sequence diagram" in page.inner_text("#diagram-panel")
                page.keyboard.press("ArrowLeft")
                assert current(page)["label"] == "2-шарт"
                page.select_option("#lang", "kk")

            if name == "front-office":
                page.keyboard.press("Home")
                for _ in range(labels.index("5-тармақ, 3)")):
                    page.keyboard.press("ArrowRight")
                page.click("#projector")
                assert page.get_attribute("#projector", "aria-pressed") == "true"
                assert page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)") >= 20
                shown = current(page)
                assert shown["label"] == "5-тармақ, 3)" and "27" in page.inner_text("#step")
                shoot(page, folder, "projector", screen=True)
                page.click("#projector")

        # the controls are reached by Tab, in order, and show where the focus is
        page.keyboard.press("Home")
        page.keyboard.press("ArrowRight")
        page.focus("#first")
        reached = []
        for _ in range(5):
            page.keyboard.press("Tab")
            reached.append(page.evaluate("() => document.activeElement.id"))
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline not in ("", "none"), (reached[-1], outline)
        assert reached == ["back", "play", "next", "last", "speed"]
        page.keyboard.press("Shift+Tab")  # back on Last: Enter there is the last step
        page.keyboard.press("Enter")
        assert current(page)["label"] == strip_labels(page)[-1]
        assert problems == []
    finally:
        page.close()


def test_a_missing_or_refused_token_is_asked_for_and_an_auditor_cannot_play(browser, trainer):
    page = browser.new_page(viewport=VIEWPORT)
    problems = watch(page)
    try:
        page.goto(trainer.base)
        page.wait_for_selector("#token-form", state="visible", timeout=CEILING_MS)
        # the catalogue needs no token: its options come (the page fetches it beside asking for one)
        page.wait_for_function("() => document.querySelectorAll('#reglament option').length >= 7",
                               timeout=CEILING_MS)
        page.fill("#token-input", "not-the-token")
        page.press("#token-input", "Enter")
        page.wait_for_function("() => document.getElementById('status').className === 'bad'", timeout=CEILING_MS)
        assert "Токен қабылданбады" in page.inner_text("#status")
        assert page.evaluate("() => sessionStorage.getItem('egov-sim-token')") is None

        page.fill("#token-input", RunCredentials.of(trainer.settings).auditor_token)
        page.press("#token-input", "Enter")
        page.wait_for_function("() => document.getElementById('status').textContent.includes('аудитор')",
                               timeout=CEILING_MS)
        assert page.locator("#token-form").is_hidden()
        assert page.is_disabled("#play-case") and page.locator("#play-note").is_visible()
        # an auditor reads the applications the run holds (the other test may have played some)
        page.click("#refresh-applications")
        page.wait_for_function("() => document.querySelectorAll('#applications option').length >= 1",
                               timeout=CEILING_MS)
        assert [p for p in problems if "401" not in p] == []  # the refused token's 401 is the browser's own line
    finally:
        page.close()
