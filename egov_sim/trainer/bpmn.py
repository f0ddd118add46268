"""A reglament definition as BPMN 2.0 XML with diagram coordinates (``egov-sim reglaments export R
--format bpmn``), for trainers to open in a BPMN viewer (bpmn-js, Camunda Modeler...).

One file holds every channel of the reglament (or those asked for): each channel is a
``collaboration`` of its own with a ``BPMNDiagram`` of its own. In a channel, every system that
performs one of its steps is a pool (a ``participant`` titled in Kazakh, Russian and English in its
documentation) whose ``process`` holds that system's steps in the definition's order:

- a numbered step is a ``task`` named "<label> <name kk>"; a staff procedure (``action-N``) a
  ``userTask`` whose documentation names its actor and duration; the seed's Kazakh text
  (``text_kk``) is the first ``documentation`` of every node;
- a condition (``N-шарт``) is an ``exclusiveGateway`` whose two outgoing flows are named by the
  verdict (иә / жоқ); another step that branches on a verdict is its task followed by such a
  gateway;
- a step with an outcome flows into an ``endEvent`` named by the outcome; the channel's first step
  follows a ``startEvent``;
- a successor in the same system is a ``sequenceFlow``; one in another system a ``messageFlow``
  between the pools, named by the gateway serviceId the step sends through when the definition
  says which (the reglament's ``gateway.service_id`` for a request, the channel's
  ``result_service`` for a result, a step's ``service_id`` parameter). A gateway cannot send a
  message, so a branch that leads to another system passes through an ``intermediateThrowEvent``
  in the gateway's pool.

Ids are the step keys prefixed by the channel (``portal_process-1``), so the same definition gives
the same file. The layout is left to right in step order, one column per step (its task, verdict
gateway, end or throw events side by side), pools stacked in the order their systems first act; a
sequence flow that skips columns runs on a track below its pool's row, a message flow through the
gap beside its target's pool, so no two shapes overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from simulation.definition import Channel, Reglament, Step, StepKind
from simulation.topology import SYSTEMS

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
TARGET_NAMESPACE = "urn:egov-sim:reglaments"
"""The ``targetNamespace`` of the exported definitions (BPMN requires one; nothing resolves it)."""

FORMATS = ("bpmn",)

_VERDICT = {"then": {"kk": "иә", "ru": "да", "en": "yes"}, "else": {"kk": "жоқ", "ru": "нет", "en": "no"}}
_OUTCOME = {
    "rejected": {"kk": "қабылданбады", "ru": "отклонено", "en": "rejected (before the provider takes the request)"},
    "refused": {"kk": "бас тартылды", "ru": "отказано", "en": "refused by the provider"},
    "decided": {"kk": "нәтиже берілді", "ru": "результат выдан", "en": "decided: the provider's result given"},
}
_START = {"kk": "өтініш", "ru": "заявление", "en": "application"}
_WORDS = {
    "actor": {"kk": "орындаушы", "ru": "исполнитель", "en": "actor"},
    "duration": {"kk": "ұзақтығы", "ru": "длительность", "en": "duration"},
    "during": {"kk": "мерзімі ішінде", "ru": "в течение", "en": "within"},
    "stage": {"kk": "кезең", "ru": "этап", "en": "stage"},
    "system": {"kk": "жүйе", "ru": "система", "en": "system"},
    "provider": {"kk": "көрсетілетін қызметті беруші", "ru": "услугодатель", "en": "service provider"},
}

# Sizes (pixels) of the diagram.
POOL_X = 0
POOL_HEADER = 30
POOL_GAP = 50
TOP = 95          # from a pool's top to its row's centre (room for the labels above gateways)
BELOW_ROW = 70    # from the row's centre to the first track of skipping flows
TRACK = 14        # between two tracks
BOTTOM = 25       # below the last track
TASK_W, TASK_H = 160, 90
GATEWAY = 50
EVENT = 36
INNER = 40        # between the shapes of one step's column
COLUMN_GAP = 60   # between two columns
THROW_OFFSET = 32  # a branch's throw events above and below the row
TASK_SIDE = 14     # a message flow leaves a task right of its centre and enters one left of it
EXIT = 14          # a message flow that cannot leave straight up or down jogs this far right first
LABEL_W, LABEL_H = 110, 45


class ExportError(ValueError):
    """A channel asked for that the reglament does not have."""


@dataclass
class _Node:
    id: str
    tag: str
    system: str
    name: str = ""
    docs: list[str] = field(default_factory=list)
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0
    label: tuple[float, float, float, float] | None = None
    incoming: list[str] = field(default_factory=list)
    outgoing: list[str] = field(default_factory=list)

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass
class _Flow:
    id: str
    tag: str  # sequenceFlow | messageFlow
    source: str
    target: str
    name: str = ""
    docs: list[str] = field(default_factory=list)
    waypoints: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class _Pool:
    system: str
    id: str
    process: str
    y: float = 0
    h: float = 0
    row: float = 0  # the row's centre
    tracks: int = 0


def _q(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"


def _ncname(text: str) -> str:
    """``text`` as a valid NCName (letters, digits, ``-``, ``_``, ``.``; not starting with a digit)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", text)
    return cleaned if re.match(r"^[A-Za-z_]", cleaned) else f"_{cleaned}"


def _trilingual(texts: dict[str, str] | object) -> str:
    get = texts.get if isinstance(texts, dict) else (lambda lang: getattr(texts, lang))
    return f"ru: {get('ru')}\nen: {get('en')}"


def _words(key: str) -> str:
    return " / ".join(_WORDS[key][lang] for lang in ("kk", "ru", "en"))


def _service_ids(reglament: Reglament, channel: Channel, step: Step) -> list[str]:
    """The gateway serviceIds the step sends through, as the definition says them."""
    found: list[str] = []
    for operation, params in step.calls:
        service = None
        if operation in ("send-request", "send-by-courier"):
            service = reglament.gateway.service_id
        elif operation == "send-result":
            service = channel.result_service
        elif operation == "report-acceptance":
            service = channel.notice_service
        elif params.get("service_id"):
            service = str(params["service_id"])
        if service and service not in found:
            found.append(service)
    return found


class _Channel:
    """The flow nodes, flows and pools of one channel, laid out."""

    def __init__(self, reglament: Reglament, channel: Channel, prefix: str) -> None:
        self.reglament, self.channel, self.prefix = reglament, channel, prefix
        self.systems: list[str] = []
        for step in channel.steps:
            if step.system not in self.systems:
                self.systems.append(step.system)  # type: ignore[arg-type]
        self.pools = {s: _Pool(s, f"{prefix}_{_ncname(s)}", f"{prefix}_{_ncname(s)}_process") for s in self.systems}
        self.nodes: dict[str, _Node] = {}
        self.flows: list[_Flow] = []
        self.main: dict[str, _Node] = {}        # step key -> the node a flow into the step enters
        self.columns: list[list[_Node]] = []   # the nodes of each column, left to right
        self._build()
        self._layout()

    # ---- the model --------------------------------------------------------------------------

    def _id(self, local: str) -> str:
        return f"{self.prefix}_{local}"

    def _add(self, node: _Node) -> _Node:
        if node.id in self.nodes:
            raise ValueError(f"BPMN export: two nodes with the id {node.id!r}")
        self.nodes[node.id] = node
        return node

    def _flow(self, tag: str, local: str, source: _Node, target: _Node, name: str = "",
              docs: list[str] | None = None) -> None:
        flow = _Flow(self._id(local), tag, source.id, target.id, name, docs or [])
        self.flows.append(flow)
        if tag == "sequenceFlow":
            source.outgoing.append(flow.id)
            target.incoming.append(flow.id)

    def _step_docs(self, step: Step) -> list[str]:
        docs = [step.text_kk or ""]
        if step.name is not None:
            docs.append(_trilingual(step.name))
        facts = []
        if step.actor:
            actor = self.reglament.actors[step.actor]
            facts.append(f"{_words('actor')}: {actor.kk} / {actor.ru} / {actor.en}")
        if step.duration is not None:
            d = step.duration
            facts.append(f"{_words('duration')}: {d.kazakh()} / {d.russian()} / {d.english()}")
        if step.during:
            within = self.channel.step(step.during)
            facts.append(f"{_words('during')}: {within.label}")
        if step.stage is not None:
            facts.append(f"{_words('stage')}: {step.stage}")
        facts.append(f"{_words('system')}: {step.system} ({', '.join(op for op, _ in step.calls) or '-'})")
        docs.append("\n".join(facts))
        return docs

    def _build(self) -> None:
        channel = self.channel
        first = channel.first
        title = channel.title
        start = self._add(_Node(self._id("start"), "startEvent", first.system or "",  # type: ignore[arg-type]
                                name=title.kk if title else _START["kk"],
                                docs=[_trilingual(title) if title else _trilingual(_START),
                                      f"{channel.item}-тармақ"]))
        self.columns.append([start])
        for step in channel.steps:
            column: list[_Node] = []
            name = f"{step.label} {step.name.kk}" if step.name else str(step.label)
            tag = ("exclusiveGateway" if step.kind is StepKind.condition
                   else "userTask" if step.kind is StepKind.action else "task")
            node = self._add(_Node(self._id(step.key), tag, step.system or "", name, self._step_docs(step)))
            self.main[step.key] = node
            column.append(node)
            decider = node
            if step.branches and step.kind is not StepKind.condition:
                decider = self._add(_Node(self._id(f"{step.key}_verdict"), "exclusiveGateway", node.system,
                                          f"{step.label}?", [f"{step.label}: {_words('system')} {step.system}"]))
                column.append(decider)
            if step.outcome:
                words = _OUTCOME[step.outcome]
                end = self._add(_Node(self._id(f"{step.key}_end"), "endEvent", node.system, words["kk"],
                                      [_trilingual(words), f"outcome: {step.outcome}"]))
                column.append(end)
            if step.branches:
                throws = [b for b in ("then", "else")
                          if channel.step(getattr(step, "then" if b == "then" else "else_")).system != step.system]
                for branch in throws:
                    column.append(self._add(_Node(self._id(f"{step.key}_{branch}_send"), "intermediateThrowEvent",
                                                  node.system, docs=[_trilingual(_VERDICT[branch])])))
            self.columns.append(column)
        # The flows, once every node exists.
        self._flow("sequenceFlow", "start_flow", start, self.main[first.key])
        for step in channel.steps:
            node = self.main[step.key]
            service_name = ", ".join(_service_ids(self.reglament, channel, step))
            if step.outcome:
                self._flow("sequenceFlow", f"{step.key}_outcome", node, self.nodes[self._id(f"{step.key}_end")])
            if step.next:
                target = self.main[step.next]
                if target.system == node.system:
                    self._flow("sequenceFlow", f"{step.key}_next", node, target)
                else:
                    self._flow("messageFlow", f"{step.key}_message", node, target, service_name)
            if step.branches:
                decider = node
                if step.kind is not StepKind.condition:
                    decider = self.nodes[self._id(f"{step.key}_verdict")]
                    self._flow("sequenceFlow", f"{step.key}_decide", node, decider)
                for branch, key in (("then", step.then), ("else", step.else_)):
                    target = self.main[key]  # type: ignore[index]
                    verdict = _VERDICT[branch]
                    docs = [_trilingual(verdict)]
                    if target.system == node.system:
                        self._flow("sequenceFlow", f"{step.key}_{branch}", decider, target, verdict["kk"], docs)
                    else:
                        send = self.nodes[self._id(f"{step.key}_{branch}_send")]
                        self._flow("sequenceFlow", f"{step.key}_{branch}", decider, send, verdict["kk"], docs)
                        self._flow("messageFlow", f"{step.key}_{branch}_message", send, target, service_name)

    # ---- the layout -------------------------------------------------------------------------

    @staticmethod
    def _size(node: _Node) -> tuple[float, float]:
        if node.tag in ("task", "userTask"):
            return TASK_W, TASK_H
        if node.tag == "exclusiveGateway":
            return GATEWAY, GATEWAY
        return EVENT, EVENT

    def _layout(self) -> None:
        x = POOL_X + POOL_HEADER + 40
        spans: list[tuple[float, float]] = []
        for column in self.columns:
            left = x
            throws = [n for n in column if n.tag == "intermediateThrowEvent"]
            for index, node in enumerate(column):
                node.w, node.h = self._size(node)
                node.x = x
                if node.tag == "intermediateThrowEvent":
                    offset = 0 if len(throws) == 1 else (-THROW_OFFSET if node is throws[0] else THROW_OFFSET)
                    node.y = offset - node.h / 2  # relative to the row's centre until pools are placed
                    if node is throws[-1]:
                        x += node.w + INNER
                    continue
                node.y = -node.h / 2
                x += node.w + INNER
            x += COLUMN_GAP - INNER + EXIT
            spans.append((left, x))
        width = x + 40 - POOL_X
        # Tracks for the sequence flows that skip columns, per pool.
        routed: list[tuple[_Flow, int]] = []
        busy: dict[str, list[list[tuple[float, float]]]] = {s: [] for s in self.systems}
        for flow in self.flows:
            if flow.tag != "sequenceFlow":
                continue
            source, target = self.nodes[flow.source], self.nodes[flow.target]
            if self._straight(source, target):
                continue
            low, high = sorted((source.cx, target.cx))
            tracks = busy[source.system]
            for index, used in enumerate(tracks):
                if all(high < a - 4 or low > b + 4 for a, b in used):
                    used.append((low, high))
                    break
            else:
                index = len(tracks)
                tracks.append([(low, high)])
            routed.append((flow, index))
        y = 0.0
        for system in self.systems:
            pool = self.pools[system]
            pool.tracks = len(busy[system])
            pool.y, pool.row = y, y + TOP
            pool.h = TOP + BELOW_ROW + max(pool.tracks - 1, 0) * TRACK + BOTTOM
            y += pool.h + POOL_GAP
        self.width = width
        for node in self.nodes.values():
            node.y += self.pools[node.system].row
            if node.tag == "exclusiveGateway" or node.tag == "startEvent":
                node.label = (node.cx - LABEL_W / 2, node.y - 6 - LABEL_H, LABEL_W, LABEL_H)
            elif node.tag == "endEvent":
                node.label = (node.cx - LABEL_W / 2, node.y + node.h + 4, LABEL_W, 20)
        tracks_of = dict((id(flow), index) for flow, index in routed)
        gaps: dict[int, int] = {}
        for flow in self.flows:
            source, target = self.nodes[flow.source], self.nodes[flow.target]
            if flow.tag == "sequenceFlow":
                if id(flow) in tracks_of:
                    pool = self.pools[source.system]
                    track = pool.row + BELOW_ROW + tracks_of[id(flow)] * TRACK
                    flow.waypoints = [(source.cx, source.y + source.h), (source.cx, track),
                                      (target.cx, track), (target.cx, target.y + target.h)]
                elif source.cy == target.cy:
                    flow.waypoints = [(source.x + source.w, source.cy), (target.x, target.cy)]
                else:
                    middle = (source.x + source.w + target.x) / 2
                    flow.waypoints = [(source.x + source.w, source.cy), (middle, source.cy),
                                      (middle, target.cy), (target.x, target.cy)]
            else:
                flow.waypoints = self._message_route(source, target, gaps)

    def _straight(self, source: _Node, target: _Node) -> bool:
        """Whether a sequence flow from ``source`` to ``target`` runs straight right, no shape between."""
        if target.x <= source.x:
            return False
        if self._same_column(source, target):
            return True
        return not any(n.system == source.system and source.x < n.x < target.x
                       for n in self.nodes.values())

    def _same_column(self, source: _Node, target: _Node) -> bool:
        return any(source in column and target in column for column in self.columns)

    def _message_route(self, source: _Node, target: _Node, gaps: dict[int, int]) -> list[tuple[float, float]]:
        order = self.systems
        s_index, t_index = order.index(source.system), order.index(target.system)
        down = t_index > s_index
        target_pool = self.pools[target.system]
        if down:
            gap_top = target_pool.y - POOL_GAP
            gap_key = t_index
        else:
            gap_top = target_pool.y + target_pool.h
            gap_key = t_index + 1
        used = gaps.get(gap_key, 0)
        gaps[gap_key] = used + 1
        level = gap_top + 12 + (used % 4) * 8
        points: list[tuple[float, float]] = []
        blocked = any(n is not source and n.system == source.system and n.x < source.cx < n.x + n.w
                      and ((n.cy > source.cy) if down else (n.cy < source.cy)) for n in self.nodes.values())
        if blocked:
            jog = source.x + source.w + EXIT
            points += [(source.x + source.w, source.cy), (jog, source.cy), (jog, level)]
        else:
            edge = source.y + source.h if down else source.y
            x = source.cx + (TASK_SIDE if source.w == TASK_W else 0)
            points += [(x, edge), (x, level)]
        x = target.cx - (TASK_SIDE if target.w == TASK_W else 0)
        points += [(x, level), (x, target.y if down else target.y + target.h)]
        return points


def _channels_of(reglament: Reglament, channels: list[str] | tuple[str, ...] | None) -> list[str]:
    if not channels:
        return list(reglament.channels)
    unknown = [c for c in channels if c not in reglament.channels]
    if unknown:
        raise ExportError(f"reglament {reglament.id} has no channel {', '.join(map(repr, unknown))} "
                          f"(it has: {', '.join(reglament.channels)})")
    return list(dict.fromkeys(channels))


def _documentation(parent: ET.Element, texts: list[str]) -> None:
    for text in texts:
        if text:
            ET.SubElement(parent, _q(BPMN, "documentation")).text = text


def _bounds(parent: ET.Element, x: float, y: float, w: float, h: float) -> None:
    ET.SubElement(parent, _q(DC, "Bounds"), x=_n(x), y=_n(y), width=_n(w), height=_n(h))


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def render_bpmn(reglament: Reglament, channels: list[str] | tuple[str, ...] | None = None) -> str:
    """The reglament's channels (all, or those named) as one BPMN 2.0 document: a collaboration
    and a diagram per channel. Raises :class:`ExportError` for a channel the reglament lacks."""
    names = _channels_of(reglament, channels)
    prefixes: dict[str, str] = {}
    for name in names:
        prefix = _ncname(name)
        while prefix in prefixes.values():
            prefix += "_"
        prefixes[name] = prefix
    built = [_Channel(reglament, reglament.channels[name], prefixes[name]) for name in names]
    for ns, prefix in ((BPMN, "bpmn"), (BPMNDI, "bpmndi"), (DC, "dc"), (DI, "di")):
        ET.register_namespace(prefix, ns)
    root = ET.Element(_q(BPMN, "definitions"), {
        "id": _ncname(f"{reglament.id}_definitions"), "name": reglament.title.kk,
        "targetNamespace": TARGET_NAMESPACE, "exporter": "egov-sim", "exporterVersion": "1",
    })
    provider = reglament.provider
    for channel in built:
        source = channel.channel
        collaboration = ET.SubElement(root, _q(BPMN, "collaboration"), id=f"{channel.prefix}_collaboration",
                                      name=f"{reglament.id}: {source.name}")
        _documentation(collaboration, [
            f"{source.item}-тармақ" + (f": {source.title.kk}\n{_trilingual(source.title)}" if source.title else "")])
        for system in channel.systems:
            pool, known = channel.pools[system], SYSTEMS.get(system)
            participant = ET.SubElement(collaboration, _q(BPMN, "participant"), id=pool.id,
                                        name=known.title_kk if known else system, processRef=pool.process)
            docs = [f"ru: {known.title_ru}\nen: {known.title_en}" if known else system]
            if system == provider.system:
                docs.append(f"{_words('provider')}: {provider.name.kk}\n{_trilingual(provider.name)}")
            _documentation(participant, docs)
        for flow in channel.flows:
            if flow.tag == "messageFlow":
                attributes = {"id": flow.id, "sourceRef": flow.source, "targetRef": flow.target}
                if flow.name:
                    attributes["name"] = flow.name
                ET.SubElement(collaboration, _q(BPMN, "messageFlow"), attributes)
        for system in channel.systems:
            pool = channel.pools[system]
            process = ET.SubElement(root, _q(BPMN, "process"), id=pool.process, isExecutable="false",
                                    name=f"{source.name}: {system}")
            for node in channel.nodes.values():
                if node.system != system:
                    continue
                element = ET.SubElement(process, _q(BPMN, node.tag), {"id": node.id, **({"name": node.name} if node.name else {})})
                _documentation(element, node.docs)
                for ref in node.incoming:
                    ET.SubElement(element, _q(BPMN, "incoming")).text = ref
                for ref in node.outgoing:
                    ET.SubElement(element, _q(BPMN, "outgoing")).text = ref
                if node.tag == "intermediateThrowEvent":
                    ET.SubElement(element, _q(BPMN, "messageEventDefinition"), id=f"{node.id}_definition")
            for flow in channel.flows:
                if flow.tag == "sequenceFlow" and channel.nodes[flow.source].system == system:
                    attributes = {"id": flow.id, "sourceRef": flow.source, "targetRef": flow.target}
                    if flow.name:
                        attributes["name"] = flow.name
                    element = ET.SubElement(process, _q(BPMN, "sequenceFlow"), attributes)
                    _documentation(element, flow.docs)
    for channel in built:
        diagram = ET.SubElement(root, _q(BPMNDI, "BPMNDiagram"), id=f"{channel.prefix}_diagram",
                                name=f"{reglament.id}: {channel.channel.name}")
        plane = ET.SubElement(diagram, _q(BPMNDI, "BPMNPlane"), id=f"{channel.prefix}_plane",
                              bpmnElement=f"{channel.prefix}_collaboration")
        for system in channel.systems:
            pool = channel.pools[system]
            shape = ET.SubElement(plane, _q(BPMNDI, "BPMNShape"), id=f"{pool.id}_di", bpmnElement=pool.id,
                                  isHorizontal="true")
            _bounds(shape, POOL_X, pool.y, channel.width, pool.h)
        for node in channel.nodes.values():
            attributes = {"id": f"{node.id}_di", "bpmnElement": node.id}
            if node.tag == "exclusiveGateway":
                attributes["isMarkerVisible"] = "true"
            shape = ET.SubElement(plane, _q(BPMNDI, "BPMNShape"), attributes)
            _bounds(shape, node.x, node.y, node.w, node.h)
            if node.label is not None and node.name:
                _bounds(ET.SubElement(shape, _q(BPMNDI, "BPMNLabel")), *node.label)
        for flow in channel.flows:
            edge = ET.SubElement(plane, _q(BPMNDI, "BPMNEdge"), id=f"{flow.id}_di", bpmnElement=flow.id)
            for x, y in flow.waypoints:
                ET.SubElement(edge, _q(DI, "waypoint"), x=_n(x), y=_n(y))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
