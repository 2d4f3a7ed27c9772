"""Where a unit of work's time goes: wrappers around the engine's parts, installed only
while a breakdown is taken (after the measurements, so they cost the figures nothing)."""

from __future__ import annotations

import importlib
import time
from typing import Any

#: (label, module, attribute). Nested calls of one label count once.
PARTS = [
    ("SpiffWorkflow engine (incl. service operators)", "SpiffWorkflow.bpmn.workflow",
     "BpmnWorkflow.do_engine_steps"),
    ("SpiffWorkflow engine (incl. service operators)", "SpiffWorkflow.task", "Task.run"),
    ("restore workflow (JSON → objects)", "engine.cases.runtime", "load_workflow"),
    ("serialize workflow (objects → JSON)", "engine.cases.runtime", "dump_workflow"),
    ("inbox projection", "engine.cases.runtime", "_project_tasks"),
    ("deadline projection", "engine.timing.deadlines", "project"),
    ("write the case row (ORM flush)", "engine.cases.runtime", "_flush"),
    ("lock case", "engine.cases.runtime", "_lock_case"),
    ("form validation", "engine.cases.runtime", "validate"),
    ("history records", "engine.records.history", "append"),
]
OTHER = "everything else (SQL statements, commits, ORM, driver)"


class Breakdown:
    """`with Breakdown() as parts:` … `parts.spent` holds seconds per label. A part the
    engine does not have (yet) is left out. Time is exclusive: a part called inside another
    (the deadline projection inside the inbox projection) counts only for itself."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._open: list[list[Any]] = []  # [label, started, time spent in inner parts]
        self._undo: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> Breakdown:
        for label, module_name, dotted in PARTS:
            try:
                owner: Any = importlib.import_module(module_name)
                *path, name = dotted.split(".")
                for part in path:
                    owner = getattr(owner, part)
                original = getattr(owner, name)
            except (ImportError, AttributeError):
                continue
            setattr(owner, name, self._wrap(original, label))
            self._undo.append((owner, name, original))
        return self

    def __exit__(self, *_: object) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()

    def _wrap(self, fn: Any, label: str) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            frame = [label, time.perf_counter(), 0.0]
            self._open.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self._open.pop()
                elapsed = time.perf_counter() - frame[1]
                self.spent[label] = self.spent.get(label, 0.0) + elapsed - frame[2]
                if self._open:
                    self._open[-1][2] += elapsed
        return timed

    def take(self) -> dict[str, float]:
        spent, self.spent = self.spent, {}
        return spent


def per_unit_ms(spent: dict[str, float], total: float, units: int) -> dict[str, float]:
    """Milliseconds per unit (case or cycle) by part, the rest as OTHER, and the total."""
    out = {label: round(seconds * 1000 / units, 2)
           for label, seconds in sorted(spent.items(), key=lambda item: -item[1])}
    out[OTHER] = round((total - sum(spent.values())) * 1000 / units, 2)
    out["total"] = round(total * 1000 / units, 2)
    return out
