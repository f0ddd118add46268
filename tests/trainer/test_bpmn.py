"""``egov-sim reglaments export R --format bpmn``: every reglament as BPMN 2.0 XML that the BPMN 2.0
XSD accepts, with a node for every step and a flow for every successor, laid out without overlaps,
and that bpmn-js renders in Chromium without warnings."""

from __future__ import annotations

import importlib.resources
import itertools
import re

import pytest
from lxml import etree

from egov_sim.cli import main
from egov_sim.trainer.bpmn import ExportError, render_bpmn
from reglaments import all_reglaments, get_reglament
from simulation.definition import StepKind

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
FLOW_NODES = ("startEvent", "task", "userTask", "exclusiveGateway", "endEvent", "intermediateThrowEvent")
REGLAMENTS = sorted(all_reglaments())
CHANNELS = [(r, c) for r in REGLAMENTS for c in get_reglament(r).channels]


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    xsd = importlib.resources.files("SpiffWorkflow") / "bpmn/parser/schema/BPMN20.xsd"
    with importlib.resources.as_file(xsd) as path:  # BPMN20.xsd imports Semantic, BPMNDI, DC, DI beside it
        return etree.XMLSchema(etree.parse(str(path)))


def parse(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode("utf-8"))


def bpmn(tag: str) -> str:
    return f"{{{NS['bpmn']}}}{tag}"


def nodes_of(process: etree._Element) -> list[etree._Element]:
    return [e for e in process if etree.QName(e).localname in FLOW_NODES]


def bounds(root: etree._Element, element_id: str) -> tuple[float, float, float, float]:
    [shape] = root.xpath(f"//bpmndi:BPMNShape[@bpmnElement='{element_id}']", namespaces=NS)
    [box] = shape.findall("dc:Bounds", NS)
    return tuple(float(box.get(k)) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


# ---- the schema ---------------------------------------------------------------------------------


@pytest.mark.parametrize("reglament_id", REGLAMENTS)
def test_every_reglament_validates_against_the_bpmn_schema(schema, reglament_id):
    document = parse(render_bpmn(get_reglament(reglament_id)))
    assert schema.validate(document), schema.error_log
    collaborations = document.findall("bpmn:collaboration", NS)
    assert [c.get("id") for c in collaborations] == [f"{c}_collaboration" for c in get_reglament(reglament_id).channels]
    assert len(document.findall("bpmndi:BPMNDiagram", NS)) == len(collaborations)


@pytest.mark.parametrize(("reglament_id", "channel"), CHANNELS)
def test_each_channel_alone_validates_too(schema, reglament_id, channel):
    document = parse(render_bpmn(get_reglament(reglament_id), [channel]))
    assert schema.validate(document), schema.error_log
    assert [c.get("id") for c in document.findall("bpmn:collaboration", NS)] == [f"{channel}_collaboration"]


@pytest.mark.parametrize("breakage", ["targetNamespace", "sourceRef", "bounds"])
def test_a_broken_export_fails_validation(schema, breakage):
    """The control: the schema does reject what BPMN requires, so the tests above can fail."""
    document = parse(render_bpmn(get_reglament("almaty-queue"), ["portal"]))
    assert schema.validate(document), schema.error_log
    if breakage == "targetNamespace":
        del document.attrib["targetNamespace"]
    elif breakage == "sourceRef":
        del document.find(".//bpmn:sequenceFlow", NS).attrib["sourceRef"]
    else:
        box = document.find(".//dc:Bounds", NS)
        box.getparent().remove(box)
    assert not schema.validate(document)
    assert breakage.replace("bounds", "Bounds") in str(schema.error_log)


def test_a_channel_name_that_is_no_xml_name_still_gives_valid_ids(schema):
    reglament = get_reglament("almaty-queue")
    renamed = reglament.model_copy(update={"channels": {"9 front office/ЦОН": reglament.channels["corporation"]}})
    document = parse(render_bpmn(renamed))
    assert schema.validate(document), schema.error_log
    assert document.find("bpmn:collaboration", NS).get("id") == "_9_front_office_____collaboration"  # "/ЦОН": 4 replaced


def test_the_export_is_deterministic_and_refuses_an_unknown_channel():
    reglament = get_reglament("wko-queue")
    assert render_bpmn(reglament) == render_bpmn(reglament)
    with pytest.raises(ExportError, match=r"no channel 'fax' \(it has: corporation, portal\)"):
        render_bpmn(reglament, ["fax"])


# ---- the steps as nodes and flows -----------------------------------------------------------------


@pytest.mark.parametrize(("reglament_id", "channel_name"), CHANNELS)
def test_every_step_is_a_node_and_every_successor_a_flow(reglament_id, channel_name):
    reglament = get_reglament(reglament_id)
    channel = reglament.channels[channel_name]
    root = parse(render_bpmn(reglament, [channel_name]))
    [collaboration] = root.findall("bpmn:collaboration", NS)
    processes = {p.get("id"): p for p in root.findall("bpmn:process", NS)}
    pools = {}
    for participant in collaboration.findall("bpmn:participant", NS):
        system = participant.get("processRef").removeprefix(f"{channel_name}_").removesuffix("_process")
        pools[system] = processes[participant.get("processRef")]
    assert list(pools) == list(dict.fromkeys(s.system for s in channel.steps))  # a pool per system, in order
    home = {n.get("id"): system for system, process in pools.items() for n in nodes_of(process)}
    elements = {n.get("id"): n for process in pools.values() for n in nodes_of(process)}
    sequence = [(f.get("sourceRef"), f.get("targetRef"), f.get("name")) for p in pools.values()
                for f in p.findall("bpmn:sequenceFlow", NS)]
    messages = [(f.get("sourceRef"), f.get("targetRef"), f.get("name"))
                for f in collaboration.findall("bpmn:messageFlow", NS)]
    for source, target, _ in sequence:
        assert home[source] == home[target]  # a sequence flow stays in its pool
    for source, target, _ in messages:
        assert home[source] != home[target]  # a message flow goes between pools

    def own(key: str, node_id: str) -> bool:
        return node_id == f"{channel_name}_{key}" or node_id.startswith(f"{channel_name}_{key}_")

    for step in channel.steps:
        node_id = f"{channel_name}_{step.key}"
        node = elements[node_id]
        assert home[node_id] == step.system
        docs = [d.text for d in node.findall("bpmn:documentation", NS)]
        assert docs[0] == step.text_kk
        kind = etree.QName(node).localname
        if step.kind is StepKind.condition:
            assert kind == "exclusiveGateway"
        elif step.kind is StepKind.action:
            actor = reglament.actors[step.actor]
            assert kind == "userTask"
            assert actor.kk in docs[2] and step.duration.kazakh() in docs[2] and step.duration.english() in docs[2]
        else:
            assert kind == "task"
        assert node.get("name") == f"{step.label} {step.name.kk}"
        for key in step.successors:
            target_id = f"{channel_name}_{key}"
            found = [f for f in sequence + messages if own(step.key, f[0]) and f[1] == target_id]
            assert len(found) == 1, (step.key, key)
            (source, target, name), = found
            if channel.step(key).system == step.system:
                assert (source, target, name) in sequence
            else:
                assert (source, target, name) in messages
        if step.branches:
            named = sorted(name for source, _, name in sequence if source.startswith(node_id) and name)
            assert named == ["жоқ", "иә"], step.key
        if step.outcome:
            [end] = [t for s, t, _ in sequence if s == node_id]
            assert etree.QName(elements[end]).localname == "endEvent"
    starts = [n for n in elements.values() if etree.QName(n).localname == "startEvent"]
    assert len(starts) == 1 and (starts[0].get("id"), f"{channel_name}_{channel.first.key}", None) in sequence


def test_message_flows_are_named_by_the_gateway_service():
    reglament = get_reglament("almaty-queue")
    root = parse(render_bpmn(reglament, ["portal"]))
    flows = {(f.get("sourceRef"), f.get("targetRef")): f.get("name") for f in root.iterfind(".//bpmn:messageFlow", NS)}
    assert flows == {
        ("portal_process-5", "portal_process-6"): "HousingQueueRegistration",
        ("portal_action-5", "portal_process-8"): "EPORTAL_CabinetDelivery",
    }
    # A branch that leads to another system leaves its gateway through a message throw event.
    root = parse(render_bpmn(get_reglament("pavlodar-privatization"), ["portal"]))
    flows = {(f.get("sourceRef"), f.get("targetRef")): f.get("name") for f in root.iterfind(".//bpmn:messageFlow", NS)}
    assert flows[("portal_action-7_then_send", "portal_process-7-stage-1")] == "EPORTAL_CabinetDelivery"
    assert flows[("portal_process-7-stage-1", "portal_item-6-stage-2")] == "EPORTAL_CabinetReceipt"
    throw = root.find(".//bpmn:intermediateThrowEvent[@id='portal_action-7_else_send']", NS)
    assert throw.find("bpmn:messageEventDefinition", NS) is not None


# ---- the diagram ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("reglament_id", "channel_name"), CHANNELS)
def test_the_diagram_places_everything_left_to_right_without_overlaps(reglament_id, channel_name):
    channel = get_reglament(reglament_id).channels[channel_name]
    root = parse(render_bpmn(get_reglament(reglament_id), [channel_name]))
    participants = root.findall(".//bpmn:participant", NS)
    processes = {p.get("id"): p for p in root.findall("bpmn:process", NS)}
    pool_boxes = {p.get("processRef"): bounds(root, p.get("id")) for p in participants}
    for a, b in itertools.combinations(pool_boxes.values(), 2):
        assert not overlap(a, b)
    assert [box[1] for box in pool_boxes.values()] == sorted(box[1] for box in pool_boxes.values())  # stacked
    boxes = {}
    for process_id, process in processes.items():
        pool = pool_boxes[process_id]
        for node in nodes_of(process):
            box = boxes[node.get("id")] = bounds(root, node.get("id"))
            assert pool[0] < box[0] and box[0] + box[2] < pool[0] + pool[2], node.get("id")
            assert pool[1] < box[1] and box[1] + box[3] < pool[1] + pool[3], node.get("id")
    for (a_id, a), (b_id, b) in itertools.combinations(boxes.items(), 2):
        assert not overlap(a, b), (a_id, b_id)
    xs = [boxes[f"{channel_name}_{s.key}"][0] for s in channel.steps]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # one column per step, in step order
    flows = [f.get("id") for f in root.iter(bpmn("sequenceFlow"), bpmn("messageFlow"))]
    for flow_id in flows:
        [edge] = root.xpath(f"//bpmndi:BPMNEdge[@bpmnElement='{flow_id}']", namespaces=NS)
        points = [(float(p.get("x")), float(p.get("y"))) for p in edge.findall("di:waypoint", NS)]
        assert len(points) >= 2
        for (x1, y1), (x2, y2) in itertools.pairwise(points):
            assert x1 == x2 or y1 == y2, flow_id  # straight segments only


# ---- bpmn-js in Chromium --------------------------------------------------------------------------


RENDER = """async (xml) => {
  const viewer = new BpmnJS({container: '#canvas'});
  const first = await viewer.importXML(xml);
  const drawn = [];
  for (const diagram of viewer.getDefinitions().diagrams) {
    const result = await viewer.open(diagram.id);
    const registry = viewer.get('elementRegistry');
    drawn.push({
      diagram: diagram.id,
      warnings: first.warnings.concat(result.warnings).map(w => String(w.message)),
      shapes: registry.filter(e => !e.waypoints && e.type !== 'label' && e.parent).map(e => e.id),
      edges: registry.filter(e => e.waypoints).map(e => e.id),
      drawn: registry.filter(e => !e.waypoints && e.type !== 'label' && e.parent).filter(e =>
        document.querySelector(`#canvas [data-element-id="${CSS.escape(e.id)}"] .djs-visual > *`)).length,
    });
  }
  return drawn;
}"""


@pytest.mark.parametrize("reglament_id", ["almaty-queue", "pavlodar-privatization", "almaty-housing-aid"])
def test_bpmn_js_renders_every_channel_without_warnings(browser, node_module, reglament_id):
    xml = render_bpmn(get_reglament(reglament_id))
    root = parse(xml)
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.set_content("<!doctype html><html><body><div id='canvas' style='width:1600px;height:900px'></div>"
                         "</body></html>")
        page.add_script_tag(path=str(node_module("bpmn-js/dist/bpmn-viewer.production.min.js")))
        drawn = page.evaluate(RENDER, xml)
    finally:
        page.close()
    assert problems == []
    assert [d["diagram"] for d in drawn] == [d.get("id") for d in root.findall("bpmndi:BPMNDiagram", NS)]
    for diagram in drawn:
        assert diagram["warnings"] == [], diagram["warnings"]
        prefix = diagram["diagram"].removesuffix("_diagram")
        collaboration = root.find(f"bpmn:collaboration[@id='{prefix}_collaboration']", NS)
        pools = [p.get("id") for p in collaboration.findall("bpmn:participant", NS)]
        nodes = [n.get("id") for p in collaboration.findall("bpmn:participant", NS)
                 for n in nodes_of(root.find(f"bpmn:process[@id='{p.get('processRef')}']", NS))]
        flows = [f.get("id") for f in collaboration.findall("bpmn:messageFlow", NS)]
        flows += [f.get("id") for p in collaboration.findall("bpmn:participant", NS)
                  for f in root.find(f"bpmn:process[@id='{p.get('processRef')}']", NS).findall("bpmn:sequenceFlow", NS)]
        assert sorted(diagram["shapes"]) == sorted(pools + nodes)
        assert sorted(diagram["edges"]) == sorted(flows)
        assert diagram["drawn"] == len(pools) + len(nodes)  # each has its picture in the SVG


# ---- the command ----------------------------------------------------------------------------------


def test_the_command_writes_the_file_or_prints_it(tmp_path, capsys):
    target = tmp_path / "queue.bpmn"
    assert main(["reglaments", "export", "almaty-queue", "--format", "bpmn", "--channel", "portal",
                 "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_bpmn(get_reglament("almaty-queue"), ["portal"])
    assert capsys.readouterr().out == f"{target}: almaty-queue, BPMN 2.0, 1 channel(s): portal\n"
    assert main(["reglaments", "export", "wko-queue"]) == 0
    assert capsys.readouterr().out == render_bpmn(get_reglament("wko-queue"))


def test_the_plain_command_still_lists(capsys):
    assert main(["reglaments", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^almaty-queue \(almaty\): ", out, re.M) and "--channel portal: --case approved" in out


@pytest.mark.parametrize(("argv", "said"), [
    (["nowhere"], "unknown reglament 'nowhere' (known: " + ", ".join(REGLAMENTS) + ")"),
    (["almaty-queue", "--channel", "fax"], "reglament almaty-queue has no channel 'fax' (it has: corporation, portal)"),
])
def test_the_command_refuses_an_unknown_reglament_or_channel(capsys, argv, said):
    assert main(["reglaments", "export", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"egov-sim reglaments export: {said}\n"


def test_the_command_names_an_output_it_cannot_write(tmp_path, capsys):
    target = tmp_path / "missing" / "queue.bpmn"
    assert main(["reglaments", "export", "almaty-queue", "-o", str(target)]) == 2
    assert capsys.readouterr().err.startswith(f"egov-sim reglaments export: cannot write {target}: ")


def test_an_unknown_format_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["reglaments", "export", "almaty-queue", "--format", "svg"])
    assert exit_.value.code == 2 and "invalid choice: 'svg'" in capsys.readouterr().err
