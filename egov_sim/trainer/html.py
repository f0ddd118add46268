"""One self-contained HTML file of an application's flow: the trainer's page with its script and
style inlined and the flow document (:mod:`egov_sim.trainer.flow`) embedded as JSON.

The file opens offline, from ``file://``, and plays that one flow step by step (no API, no
picker): it references nothing outside itself -- no ``src`` or ``href`` to a URL, no ``@import``,
no fetch. ``egov-sim trace show ID --format html`` writes it.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

from egov_sim.texts import LANGUAGES

FLOW_ELEMENT_ID = "egov-flow"
"""The id of the ``<script type="application/json">`` element that holds the flow; the page's
script plays the flow it finds there instead of asking the API."""

_STYLESHEET = re.compile(r'<link rel="stylesheet" href="/trainer/static/trainer\.css">')
_SCRIPT = re.compile(r'<script src="/trainer/static/trainer\.js"></script>')
_HTML_OPEN = re.compile(r'<html lang="kk" data-lang="kk">')


class ExportError(ValueError):
    """The flow or the language cannot be exported (names what is wrong)."""


def _static(name: str) -> str:
    return resources.files("egov_sim.trainer").joinpath("static", name).read_text(encoding="utf-8")


def embedded_json(value: Any) -> str:
    """``value`` as JSON that can sit inside a ``<script>`` element: ``<``, ``>`` and ``&`` are
    written as JSON escapes, so no text in the data (``</script>``, ``<!--``) ends the element or
    changes how the HTML parser reads it; U+2028/U+2029 are escaped for old JavaScript parsers.
    ``JSON.parse`` reads the escapes back to the same characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _inline(kind: str, text: str) -> str:
    closing = f"</{kind}"
    if closing in text.lower():
        # never true of the package's own files; checked so a later edit cannot break the export
        raise ExportError(f"trainer.{'js' if kind == 'script' else 'css'} holds {closing!r}: it cannot be inlined")
    return text


EXPORT_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
                 "base-uri 'none'; form-action 'none'")
"""The offline file's own policy: its inlined script and style, nothing from anywhere else."""


def render_html(flow: dict[str, Any], lang: str = "kk") -> str:
    """The flow as one HTML document that plays it offline, its interface in ``lang``
    (``kk``, ``ru`` or ``en``; the seed's Kazakh text is always shown)."""
    if lang not in LANGUAGES:
        raise ExportError(f"lang: {lang!r} is not one of {', '.join(LANGUAGES)}")
    if not isinstance(flow, dict) or not all(isinstance(flow.get(key), list) for key in ("participants", "steps", "messages")):
        raise ExportError("flow: not a flow document (participants, steps and messages are lists)")
    if not flow["steps"]:
        raise ExportError("flow.steps: an application flow has at least one step")
    page = _static("index.html")
    style = _inline("style", _static("trainer.css"))
    script = _inline("script", _static("trainer.js"))
    data = embedded_json(flow)
    page, found = _STYLESHEET.subn(lambda _m: f"<style>\n{style}</style>", page, count=1)
    page, scripts = _SCRIPT.subn(
        lambda _m: f'<script type="application/json" id="{FLOW_ELEMENT_ID}">{data}</script>\n<script>\n{script}</script>',
        page, count=1)
    page, opened = _HTML_OPEN.subn(f'<html lang="{lang}" data-lang="{lang}">', page, count=1)
    # the file fetches nothing: its policy says so too, so a browser refuses whatever would
    page = page.replace('<meta charset="utf-8">', f'<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="{EXPORT_POLICY}">', 1)
    if not (found and scripts and opened):
        raise ExportError("egov_sim/trainer/static/index.html no longer has the stylesheet link, the script "
                          "element or the <html> tag the export replaces")
    return page
