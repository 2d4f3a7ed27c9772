"""A process diagram as inline SVG, drawn from the BPMN file's own layout (BPMNDI).

Auditors trace a case along its path through the diagram (A2), so the drawing is the one
the process owner made in the modeler, not a generated layout; Kefu only paints on it which
steps were done (and how often) and where the case stands now.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.util.task import TaskState

from engine.errors import KefuError

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
SVG = "http://www.w3.org/2000/svg"
_TOKEN = re.compile(r"\s*[^\s\u2e80-\U0010ffff]+|\s*[\u2e80-\U0010ffff]")
#: (element type, its name) -> the text to show; the web passes one per language.
Labeller = Callable[[str, str], str]


@dataclass(frozen=True)
class CasePath:
    """Where a case has been (step id -> times done) and where it stands (ready step ids)."""

    done: Mapping[str, int]
    ready: frozenset[str]


def case_path(workflow: object) -> CasePath:
    """The steps a workflow has completed, and those now waiting, by BPMN id."""
    done: Counter[str] = Counter()
    ready: set[str] = set()
    for task in workflow.get_tasks():  # type: ignore[attr-defined]
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if bpmn_id is None:
            continue
        if task.state == TaskState.COMPLETED:
            done[bpmn_id] += 1
        elif task.state in (TaskState.READY, TaskState.STARTED, TaskState.WAITING):
            ready.add(bpmn_id)
    return CasePath(done=dict(done), ready=frozenset(ready))


class NoDiagram(KefuError):
    """The file runs but cannot be drawn: files written by hand or by tools that keep no
    layout. A page shows this instead of the drawing, never instead of the case."""


def bpmn_file_for(sources: Mapping[str, str], process_id: str) -> str:
    """The text of the BPMN file (of a version's sources) that defines `process_id`."""
    for name, text in sources.items():
        if name.endswith(".bpmn") and f'id="{process_id}"' in text:
            return text
    raise KefuError(f"no BPMN file in this version defines process {process_id!r}")


def render_svg(bpmn_text: str, path: CasePath | None = None,
               label: Labeller | None = None, title: str = "") -> str:
    """The diagram as an <svg> element; with a path, done and ready steps are marked."""
    root = etree.fromstring(bpmn_text.encode("utf-8"), etree.XMLParser(resolve_entities=False))
    plane = root.find(".//bpmndi:BPMNPlane", NS)
    if plane is None:
        raise NoDiagram("流程文件里没有图形布局（BPMNDI），画不出流程图；"
                        "在建模工具里打开并保存一次即可生成 / the BPMN file has no diagram"
                        " layout (BPMNDI) to draw; open and save it once in a modeler to add"
                        " one")
    elements = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    label = label or (lambda _kind, name: name)
    path = path or CasePath(done={}, ready=frozenset())
    drawing = _Drawing(elements, path, label)
    for shape in plane.findall("bpmndi:BPMNShape", NS):
        drawing.shape(shape)
    for edge in plane.findall("bpmndi:BPMNEdge", NS):
        drawing.edge(edge)
    return drawing.svg(label("process", title))


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


class _Drawing:
    def __init__(self, elements: dict[str, etree._Element], path: CasePath,
                 label: Labeller) -> None:
        self.elements = elements
        self.path = path
        self.label = label
        self.back = etree.Element(f"{{{SVG}}}g", {"class": "pools"})
        self.containers = etree.Element(f"{{{SVG}}}g", {"class": "containers"})
        self.front = etree.Element(f"{{{SVG}}}g", {"class": "nodes"})
        self.lines = etree.Element(f"{{{SVG}}}g", {"class": "flows"})
        self.xs: list[float] = []
        self.ys: list[float] = []

    def _extent(self, xs: Iterable[float], ys: Iterable[float]) -> None:
        self.xs.extend(xs)
        self.ys.extend(ys)

    def shape(self, shape: etree._Element) -> None:
        bounds = shape.find("dc:Bounds", NS)
        target = self.elements.get(shape.get("bpmnElement", ""))
        if bounds is None or target is None:
            return
        x, y, w, h = (float(bounds.get(k, 0)) for k in ("x", "y", "width", "height"))
        self._extent((x, x + w), (y, y + h))
        kind = _local(target)
        bpmn_id = target.get("id", "")
        name = self.label(kind, target.get("name") or "")
        state = self._state(bpmn_id)
        if kind in ("participant", "lane"):
            group = _sub(self.back, "g", {"class": f"{kind}"})
            _sub(group, "rect", {"x": _n(x), "y": _n(y), "width": _n(w), "height": _n(h)})
            _text(group, name, x + 15, y + h / 2, rotate=True)
            return
        if kind in ("subProcess", "transaction") and shape.get("isExpanded") == "true":
            group = _sub(self.containers, "g", {"class": f"node container {kind} {state}".strip(),
                                                "data-id": bpmn_id})
            _sub(group, "rect", {"x": _n(x), "y": _n(y), "width": _n(w), "height": _n(h),
                                 "rx": "10"})
            _text(group, name, x + 10, y + 16, css="container-label", anchor="start")
            return
        group = _sub(self.front, "g", {"class": f"node {_family(kind)} {kind} {state}".strip(),
                                       "data-id": bpmn_id})
        if _family(kind) == "event":
            r = min(w, h) / 2
            _sub(group, "circle", {"cx": _n(x + r), "cy": _n(y + r), "r": _n(r)})
            if kind in ("intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"):
                _sub(group, "circle", {"class": "inner", "cx": _n(x + r), "cy": _n(y + r),
                                       "r": _n(r - 3)})
            self._outer_label(group, shape, name, x + w / 2, y + h + 14)
        elif _family(kind) == "gateway":
            points = f"{_n(x + w / 2)},{_n(y)} {_n(x + w)},{_n(y + h / 2)} " \
                     f"{_n(x + w / 2)},{_n(y + h)} {_n(x)},{_n(y + h / 2)}"
            _sub(group, "polygon", {"points": points})
            if kind == "parallelGateway":
                _sub(group, "path", {"class": "marker", "d": f"M{_n(x + w / 2)},{_n(y + h * .25)}"
                     f"V{_n(y + h * .75)}M{_n(x + w * .25)},{_n(y + h / 2)}H{_n(x + w * .75)}"})
            if kind == "exclusiveGateway":
                _sub(group, "path", {"class": "marker", "d": f"M{_n(x + w * .35)},{_n(y + h * .35)}"
                     f"L{_n(x + w * .65)},{_n(y + h * .65)}M{_n(x + w * .65)},{_n(y + h * .35)}"
                     f"L{_n(x + w * .35)},{_n(y + h * .65)}"})
            self._outer_label(group, shape, name, x + w / 2, y - 8)
        else:
            _sub(group, "rect", {"x": _n(x), "y": _n(y), "width": _n(w), "height": _n(h),
                                 "rx": "10"})
            _wrapped(group, name, x + w / 2, y + h / 2, w - 8)
        times = self.path.done.get(bpmn_id, 0)
        if times > 1:
            badge = _sub(group, "g", {"class": "badge"})
            _sub(badge, "circle", {"cx": _n(x + w), "cy": _n(y), "r": "9"})
            _text(badge, f"×{times}", x + w, y + 4)
        _sub(group, "title").text = name

    def _outer_label(self, group: etree._Element, shape: etree._Element, name: str,
                     cx: float, cy: float) -> None:
        bounds = shape.find("bpmndi:BPMNLabel/dc:Bounds", NS)
        if bounds is not None:
            x, y, w, h = (float(bounds.get(k, 0)) for k in ("x", "y", "width", "height"))
            self._extent((x, x + w), (y, y + h))
            _wrapped(group, name, x + w / 2, y + h / 2, max(w, 90), css="label")
        elif name:
            _wrapped(group, name, cx, cy, 100, css="label")

    def edge(self, edge: etree._Element) -> None:
        flow = self.elements.get(edge.get("bpmnElement", ""))
        points = [(float(p.get("x", 0)), float(p.get("y", 0)))
                  for p in edge.findall("di:waypoint", NS)]
        if flow is None or len(points) < 2:
            return
        self._extent((p[0] for p in points), (p[1] for p in points))
        source, target = flow.get("sourceRef", ""), flow.get("targetRef", "")
        taken = source in self.path.done and (target in self.path.done
                                              or target in self.path.ready)
        group = _sub(self.lines, "g", {"class": "flow taken" if taken else "flow",
                                       "data-id": flow.get("id", "")})
        _sub(group, "polyline", {"points": " ".join(f"{_n(x)},{_n(y)}" for x, y in points),
                                 "marker-end": "url(#arrow)"})
        name = self.label(_local(flow), flow.get("name") or "")
        bounds = edge.find("bpmndi:BPMNLabel/dc:Bounds", NS)
        if name and bounds is not None:
            x, y, w, h = (float(bounds.get(k, 0)) for k in ("x", "y", "width", "height"))
            self._extent((x, x + w), (y, y + h))
            _wrapped(group, name, x + w / 2, y + h / 2, max(w, 80), css="label")

    def _state(self, bpmn_id: str) -> str:
        if bpmn_id in self.path.ready:
            return "ready"
        if bpmn_id in self.path.done:
            return "done"
        return ""

    def svg(self, title: str) -> str:
        if not self.xs:
            raise NoDiagram("流程文件的图形布局（BPMNDI）里没有图形，画不出流程图"
                            " / the diagram layout (BPMNDI) has no shapes to draw")
        x0, y0 = min(self.xs) - 20, min(self.ys) - 20
        width, height = max(self.xs) - x0 + 20, max(self.ys) - y0 + 20
        root = etree.Element(f"{{{SVG}}}svg", {
            "viewBox": f"{_n(x0)} {_n(y0)} {_n(width)} {_n(height)}",
            "width": _n(width), "height": _n(height), "class": "bpmn", "role": "img",
        }, nsmap={None: SVG})
        _sub(root, "title").text = title
        marker = _sub(_sub(root, "defs"), "marker", {
            "id": "arrow", "viewBox": "0 0 10 10", "refX": "10", "refY": "5",
            "markerWidth": "10", "markerHeight": "10", "markerUnits": "userSpaceOnUse",
            "orient": "auto-start-reverse"})
        _sub(marker, "path", {"d": "M0,0L10,5L0,10z", "class": "arrowhead"})
        root.extend([self.back, self.containers, self.lines, self.front])
        return etree.tostring(root, encoding="unicode")


def _family(kind: str) -> str:
    if kind.endswith("Event"):
        return "event"
    if kind.endswith("Gateway"):
        return "gateway"
    return "activity"


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _sub(parent: etree._Element, tag: str, attrs: dict[str, str] | None = None) -> etree._Element:
    return etree.SubElement(parent, f"{{{SVG}}}{tag}", attrs or {})


def _text(parent: etree._Element, text: str, x: float, y: float, rotate: bool = False,
          css: str = "", anchor: str = "middle") -> etree._Element:
    attrs = {"x": _n(x), "y": _n(y), "text-anchor": anchor}
    if rotate:
        attrs["transform"] = f"rotate(-90 {_n(x)} {_n(y)})"
    if css:
        attrs["class"] = css
    node = _sub(parent, "text", attrs)
    node.text = text
    return node


def _width(char: str) -> float:
    return 1.0 if ord(char) > 0x2E80 else 0.56


def _lines(text: str, max_em: float) -> list[str]:
    """Greedy wrap by estimated width: CJK characters count one em, Latin about half."""
    lines: list[str] = []
    current, width = "", 0.0
    for word in _tokens(text):
        w = sum(_width(c) for c in word)
        if current and width + w > max_em:
            lines.append(current.rstrip())
            current, width = word.lstrip(), sum(_width(c) for c in word.lstrip())
        else:
            current, width = current + word, width + w
    if current.strip():
        lines.append(current.rstrip())
    return lines


def _tokens(text: str) -> list[str]:
    """Latin words stay whole (with their leading space); each CJK character stands alone."""
    return _TOKEN.findall(text)


def _wrapped(parent: etree._Element, text: str, cx: float, cy: float, width: float,
             css: str = "") -> None:
    font = 11.0
    lines = _lines(text, width / font)
    if not lines:
        return
    top = cy - (len(lines) - 1) * font * 1.2 / 2 + font * 0.35
    node = _sub(parent, "text", {"x": _n(cx), "y": _n(top), "text-anchor": "middle",
                                 **({"class": css} if css else {})})
    for index, line in enumerate(lines):
        span = _sub(node, "tspan", {"x": _n(cx), "dy": "0" if index == 0 else _n(font * 1.2)})
        span.text = line
