"""The path coverage drawn: one self-contained HTML page with each reglament's graph per channel.

``egov-sim scenario run … --coverage-html FILE`` writes it. The page refers to nothing outside
itself (no fonts, no scripts, no style sheets to fetch): inline CSS and one inline SVG a channel.

Each step is a node, labelled as the seed labels it ("2-шарт", "5-тармақ, 1)") with its Kazakh
short name under the label and its English name as the tooltip. Edges are the definition's
``next``, ``then`` and ``else``; a condition's two edges read иә / жоқ, another branching step's
then / else. Covered steps and taken edges are green AND drawn thick with a ✓; what no run went
through is grey and dashed, so the marking does not rest on colour alone. A summary table at the
top gives the numbers of :meth:`Coverage.as_json`.

The layout is layered: a step's row is the longest path to it from the channel's first step; an
edge that skips rows runs through a gap of its own in each row it crosses, so it never passes
under a node; within a row, steps follow their predecessors' places, and the longer way on keeps
to the left so the main path runs straight down.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from html import escape

from egov_sim.scenario.coverage import ELSE, THEN, ChannelCoverage, Coverage
from simulation.definition import StepKind

NODE_W = 360
"""A step's box width (px)."""
GAP_W = 28
"""The width an edge that skips a row takes in that row."""
SEP = 36
"""The least room between two things side by side in a row."""
ROW_GAP = 78
"""Between two rows: room for the edges and their labels."""
MARGIN = 24
LINE_CHARS = 34
"""Characters of the Kazakh name per line in a box; at most MAX_LINES lines."""
MAX_LINES = 3

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, "Segoe UI", "DejaVu Sans", "Noto Sans", Arial, sans-serif; font-size: 18px;
       line-height: 1.45; color: #111; background: #fff; margin: 24px; }
h1 { font-size: 30px; margin: 0 0 8px; }
h2 { font-size: 25px; margin: 40px 0 4px; border-top: 3px solid #111; padding-top: 16px; }
h3 { font-size: 21px; margin: 24px 0 4px; }
p.note { margin: 4px 0 12px; max-width: 70em; }
table.summary { border-collapse: collapse; margin: 12px 0 20px; font-variant-numeric: tabular-nums; }
table.summary th, table.summary td { border: 1px solid #555; padding: 6px 12px; text-align: left; }
table.summary th { background: #eee; }
table.summary td.num { text-align: right; }
table.summary tr.all td { font-weight: bold; border-top: 3px solid #111; }
td.full { background: #dff2e4; }
td.full::after { content: " ✓"; color: #0b5d1e; font-weight: bold; }
.legend { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 8px 0 16px; }
.legend span.box { display: inline-block; width: 2.2em; height: 1.1em; vertical-align: middle; margin-right: 6px; }
.legend .covered { background: #dff2e4; border: 4px solid #0b5d1e; }
.legend .uncovered { background: #fff; border: 2px dashed #6a6a6a; }
.legend .line { display: inline-block; width: 3em; vertical-align: middle; margin-right: 6px; }
.legend .taken { border-top: 5px solid #0b5d1e; }
.legend .untaken { border-top: 2px dashed #6a6a6a; }
ul.missing { margin: 4px 0 8px; }
.scroll { overflow-x: auto; border: 1px solid #bbb; padding: 8px; }
svg.graph text { font-family: inherit; fill: #111; }
svg.graph .label { font-size: 19px; font-weight: bold; }
svg.graph .name { font-size: 15px; }
svg.graph .edge-label { font-size: 15px; font-weight: bold; paint-order: stroke; stroke: #fff; stroke-width: 5px;
                        stroke-linejoin: round; }
svg.graph g.step.covered .box { fill: #dff2e4; stroke: #0b5d1e; stroke-width: 4; }
svg.graph g.step.uncovered .box { fill: #fff; stroke: #6a6a6a; stroke-width: 2; stroke-dasharray: 8 5; }
svg.graph g.step.end .box { stroke-width: 6; }
svg.graph g.step.uncovered.end .box { stroke-width: 3; }
svg.graph g.edge.taken path { stroke: #0b5d1e; stroke-width: 4.5; fill: none; }
svg.graph g.edge.untaken path { stroke: #6a6a6a; stroke-width: 2; stroke-dasharray: 8 6; fill: none; }
svg.graph g.edge.taken .edge-label { fill: #0b5d1e; }
svg.graph g.edge.untaken .edge-label { fill: #444; }
svg.graph .arrow-taken { fill: #0b5d1e; }
svg.graph .arrow-untaken { fill: #6a6a6a; }
"""


@dataclass
class _Node:
    key: str
    """A step's key, or ``~n`` for a gap an edge that skips rows runs through."""
    row: int
    width: int
    order: float = 0.0
    x: float = 0.0
    """The left edge."""
    preds: list[str] = field(default_factory=list)

    @property
    def gap(self) -> bool:
        return self.key.startswith("~")

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


@dataclass
class _Edge:
    source: str
    target: str
    kind: str
    """``next``, ``then`` or ``else``."""
    via: list[str] = field(default_factory=list)
    """The gaps it runs through, row by row."""
    back: bool = False
    """It leads to a row above (a loop): drawn round the side."""


@dataclass
class _Layout:
    nodes: dict[str, _Node]
    edges: list[_Edge]
    rows: int
    node_h: int
    width: float
    height: float

    def top(self, row: int) -> float:
        return MARGIN + row * (self.node_h + ROW_GAP)


def _name_lines(text: str) -> list[str]:
    lines = textwrap.wrap(text, LINE_CHARS) or [""]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        lines[-1] = lines[-1][: LINE_CHARS - 1].rstrip() + "…"
    return lines


def _layout(cov: ChannelCoverage) -> _Layout:
    channel = cov.channel
    keys = [s.key for s in channel.steps]
    index = {k: i for i, k in enumerate(keys)}
    edges = [_Edge(s.key, target, kind) for s in channel.steps
             for kind, target in (("next", s.next), (THEN, s.then), (ELSE, s.else_)) if target]
    # Loops (none of the seven reglaments has one) would make "the longest path" endless: the
    # edges that close one, found by a walk from the first step, are left out of the rows.
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()

    def walk(key: str) -> None:
        state[key] = 1
        for target in channel.step(key).successors:
            if state.get(target) == 1:
                back.add((key, target))
            elif target not in state:
                walk(target)
        state[key] = 2

    walk(channel.first.key)
    for key in keys:  # steps no path reaches (a definition refuses them; drawn all the same)
        if key not in state:
            walk(key)
    forward = [e for e in edges if (e.source, e.target) not in back]
    for edge in edges:
        edge.back = (edge.source, edge.target) in back
    # Rows: the longest path from the first step (Kahn's order over the forward edges).
    incoming = {k: 0 for k in keys}
    for edge in forward:
        incoming[edge.target] += 1
    row = dict.fromkeys(keys, 0)
    ready = [k for k in keys if incoming[k] == 0]
    while ready:
        key = ready.pop(0)
        for edge in (e for e in forward if e.source == key):
            row[edge.target] = max(row[edge.target], row[key] + 1)
            incoming[edge.target] -= 1
            if incoming[edge.target] == 0:
                ready.append(edge.target)
    # How far each step still leads: the main path (the longer) keeps to the left.
    height: dict[str, int] = {}
    for key in sorted(keys, key=lambda k: -row[k]):
        height[key] = 1 + max((height.get(e.target, 0) for e in forward if e.source == key), default=0)
    nodes = {k: _Node(k, row[k], NODE_W, order=index[k]) for k in keys}
    for edge in forward:
        previous = edge.source
        for r in range(row[edge.source] + 1, row[edge.target]):
            gap = _Node(f"~{len(nodes)}", r, GAP_W, order=index[edge.source] + 0.5, preds=[previous])
            nodes[gap.key] = gap
            height[gap.key] = height[edge.target] + row[edge.target] - r
            edge.via.append(gap.key)
            previous = gap.key
        nodes[edge.target].preds.append(previous)
    rows = max(row.values()) + 1
    by_row: dict[int, list[_Node]] = defaultdict(list)
    for node in nodes.values():
        by_row[node.row].append(node)
    # Place row by row: each where its predecessors are (their mean), in order, pushed apart.
    for r in range(rows):
        placed = by_row[r]
        for node in placed:
            centres = [nodes[p].centre for p in node.preds if nodes[p].row < r]
            node.x = (sum(centres) / len(centres) if centres else NODE_W / 2) - node.width / 2
            node.order = node.x
        placed.sort(key=lambda n: (round(n.order), -height[n.key], index.get(n.key, n.order)))
        for before, node in zip(placed, placed[1:]):
            node.x = max(node.x, before.x + before.width + SEP)
    left = min(n.x for n in nodes.values())
    for node in nodes.values():
        node.x += MARGIN - left
    lines = max(len(_name_lines(s.name.kk if s.name else "")) for s in channel.steps)
    node_h = 36 + 20 * lines + 10
    width = max(n.x + n.width for n in nodes.values()) + MARGIN + (120 if back else 0)
    layout = _Layout(nodes, edges, rows, node_h, width, 0)
    layout.height = layout.top(rows) - ROW_GAP + MARGIN
    return layout


def _f(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _edge_path(layout: _Layout, edge: _Edge) -> tuple[str, float, float]:
    """The SVG path of ``edge`` and where its label goes."""
    source, target = layout.nodes[edge.source], layout.nodes[edge.target]
    h = layout.node_h
    if edge.back:
        x1, y1 = source.x + source.width, layout.top(source.row) + h / 2
        x2, y2 = target.x + target.width, layout.top(target.row) + h / 2
        bulge = layout.width - MARGIN
        return (f"M {_f(x1)} {_f(y1)} C {_f(bulge)} {_f(y1)}, {_f(bulge)} {_f(y2)}, {_f(x2 + 8)} {_f(y2)}",
                x1 + 30, y1 - 8)
    points = [(source.centre, layout.top(source.row) + h)]
    for key in edge.via:
        gap = layout.nodes[key]
        points += [(gap.centre, layout.top(gap.row)), (gap.centre, layout.top(gap.row) + h)]
    points.append((target.centre, layout.top(target.row) - 6))
    parts = [f"M {_f(points[0][0])} {_f(points[0][1])}"]
    for (xa, ya), (xb, yb) in zip(points, points[1:]):
        if xa == xb:  # straight down: through a gap, or to a step right below
            parts.append(f"L {_f(xb)} {_f(yb)}")
        else:
            bend = (yb - ya) / 2
            parts.append(f"C {_f(xa)} {_f(ya + bend)}, {_f(xb)} {_f(yb - bend)}, {_f(xb)} {_f(yb)}")
    (xa, ya), (xb, yb) = points[0], points[1]
    return " ".join(parts), xa + (xb - xa) * 0.5, ya + (yb - ya) * 0.5


def _svg(cov: ChannelCoverage, ident: str) -> str:
    layout = _layout(cov)
    steps = {s.key: s for s in cov.channel.steps}
    h = layout.node_h
    title = f"{cov.reglament.id} / {cov.channel.name}"
    out = [f'<svg class="graph" id="{escape(ident)}" role="img" '
           f'width="{_f(layout.width)}" height="{_f(layout.height)}" '
           f'viewBox="0 0 {_f(layout.width)} {_f(layout.height)}" '
           f'data-reglament="{escape(cov.reglament.id)}" data-channel="{escape(cov.channel.name)}">',
           f"<title>{escape(title)}</title>",
           "<defs>"]
    for state in ("taken", "untaken"):
        out.append(f'<marker id="{escape(ident)}-{state}" viewBox="0 0 10 10" refX="8" refY="5" '
                   f'markerWidth="{6 if state == "taken" else 8}" markerHeight="{6 if state == "taken" else 8}" '
                   f'orient="auto-start-reverse"><path class="arrow-{state}" d="M 0 0 L 10 5 L 0 10 z"/></marker>')
    out.append("</defs>")
    for edge in layout.edges:
        source = steps[edge.source]
        if edge.kind == "next":
            taken = edge.source in cov.steps and edge.target in cov.steps
            text = ""
        else:
            taken = (edge.source, edge.kind) in cov.branches
            if source.kind is StepKind.condition:
                text = "иә" if edge.kind == THEN else "жоқ"
            else:
                text = edge.kind
        state = "taken" if taken else "untaken"
        path, lx, ly = _edge_path(layout, edge)
        tip = (f"{source.label} → {steps[edge.target].label} ({edge.kind}): "
               + ("taken" if taken else "not taken by any run"))
        out.append(f'<g class="edge {state}" data-from="{escape(edge.source)}" data-to="{escape(edge.target)}" '
                   f'data-kind="{escape(edge.kind)}" data-taken="{str(taken).lower()}">'
                   f"<title>{escape(tip)}</title>"
                   f'<path d="{path}" marker-end="url(#{escape(ident)}-{state})"/>')
        if text:
            mark = " ✓" if taken else ""
            out.append(f'<text class="edge-label" x="{_f(lx + 8)}" y="{_f(ly + 5)}">{escape(text + mark)}</text>')
        out.append("</g>")
    for key, step in steps.items():
        node = layout.nodes[key]
        covered = key in cov.steps
        classes = ["step", "covered" if covered else "uncovered", step.kind.value] + (["end"] if step.outcome else [])
        x, y = node.x, layout.top(node.row)
        name = step.name
        tip = [f"{step.label} ({key})"]
        if name is not None:
            tip += [name.en, name.ru, name.kk]
        if step.outcome:
            tip.append(f"ends the application: {step.outcome}")
        tip.append("covered" if covered else "not covered by any run")
        out.append(f'<g class="{" ".join(classes)}" data-step="{escape(key)}" '
                   f'data-covered="{str(covered).lower()}"><title>{escape(chr(10).join(tip))}</title>')
        if step.kind is StepKind.condition:  # a condition's box has cut corners, a decision's shape
            c = 14
            points = [(x + c, y), (x + node.width - c, y), (x + node.width, y + h / 2), (x + node.width - c, y + h),
                      (x + c, y + h), (x, y + h / 2)]
            out.append('<polygon class="box" points="' + " ".join(f"{_f(a)},{_f(b)}" for a, b in points) + '"/>')
        else:
            radius = 14 if step.kind is StepKind.action else 3
            out.append(f'<rect class="box" x="{_f(x)}" y="{_f(y)}" width="{node.width}" height="{h}" '
                       f'rx="{radius}" ry="{radius}"/>')
        label = ("✓ " if covered else "") + step.label + (f"  ■ {step.outcome}" if step.outcome else "")
        out.append(f'<text class="label" x="{_f(x + 18)}" y="{_f(y + 28)}">{escape(label)}</text>')
        for number, line in enumerate(_name_lines(name.kk if name else "")):
            out.append(f'<text class="name" x="{_f(x + 18)}" y="{_f(y + 52 + 20 * number)}">{escape(line)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def _percent(covered: int, total: int) -> str:
    return f"{100.0 if total == 0 else 100.0 * covered / total:.0f} %"


def _cell(covered: int, total: int) -> str:
    full = ' class="num full"' if covered == total else ' class="num"'
    return f"<td{full}>{covered}/{total} ({_percent(covered, total)})</td>"


def _anchor(reglament: str, channel: str) -> str:
    return "graph-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{reglament}--{channel}")


def coverage_html(coverage: Coverage) -> str:
    """One self-contained HTML page: the summary table, then each reglament's graph per channel
    with what the runs covered marked."""
    rows = []
    for (reglament, channel), cov in coverage.channels.items():
        counts = cov.counts()
        rows.append(f'<tr data-reglament="{escape(reglament)}" data-channel="{escape(channel)}">'
                    f'<td>{escape(reglament)}</td>'
                    f'<td><a href="#{_anchor(reglament, channel)}">{escape(channel)}</a></td>'
                    f"{_cell(*counts['steps'])}{_cell(*counts['branches'])}</tr>")
    totals = coverage.totals()
    rows.append(f'<tr class="all"><td>all</td><td></td>{_cell(*totals["steps"])}{_cell(*totals["branches"])}</tr>')
    sections = []
    seen: set[str] = set()
    for (reglament, channel), cov in coverage.channels.items():
        if reglament not in seen:
            seen.add(reglament)
            sections.append(f'<h2>{escape(reglament)}: {escape(cov.reglament.title.kk)}</h2>'
                            f'<p class="note">{escape(cov.reglament.title.ru)}<br>{escape(cov.reglament.title.en)}</p>')
        counts = cov.counts()
        heading = escape(channel) + (f": {escape(cov.channel.title.kk)}" if cov.channel.title else "")
        sections.append(f'<h3 id="{_anchor(reglament, channel)}">{heading}</h3>'
                        f'<p class="note">Қадамдар / шаги / steps: {counts["steps"][0]}/{counts["steps"][1]}; '
                        f'тармақталулар / ветвления / branches: {counts["branches"][0]}/{counts["branches"][1]}</p>')
        missing = [f"{cov.label(k)} ({k})" for k in cov.missing_steps]
        missing += [f"{cov.label(k)} → {side} ({k})" for k, side in cov.missing_branches]
        if missing:
            sections.append('<p class="note">Қамтылмаған / не покрыто / not covered:</p><ul class="missing">'
                            + "".join(f"<li>{escape(m)}</li>" for m in missing) + "</ul>")
        sections.append(f'<div class="scroll">{_svg(cov, _anchor(reglament, channel) + "-svg")}</div>')
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="kk">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>egov-sim: жолдарды қамту / покрытие путей / path coverage</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<h1>Жолдарды қамту · Покрытие путей · Path coverage</h1>",
        '<p class="note">Әр регламенттің әр арнасы: қадамдар және әр тармақталудың екі нәтижесі. '
        "Каждый канал каждого регламента: шаги и оба исхода каждого ветвления. "
        "Each channel of each reglament: its steps, and both outcomes of each branch.</p>",
        '<table class="summary"><thead><tr><th>reglament</th><th>channel</th>'
        "<th>steps (covered/total)</th><th>branches (covered/total)</th></tr></thead>",
        "<tbody>" + "".join(rows) + "</tbody></table>",
        '<div class="legend">'
        '<span><span class="box covered"></span>✓ қамтылды / покрыт / covered</span>'
        '<span><span class="box uncovered"></span>қамтылмады / не покрыт / not covered</span>'
        '<span><span class="line taken"></span>✓ өтті / пройдено / taken</span>'
        '<span><span class="line untaken"></span>өтпеді / не пройдено / not taken</span>'
        "<span>иә / жоқ: шарт орындалды ма / условие выполнено? / a condition held or not</span>"
        "<span>■ өтініш аяқталады / заявление завершается / the application ends</span>"
        "</div>",
        *sections,
        "</body>",
        "</html>",
        "",
    ])
