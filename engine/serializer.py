"""SpiffWorkflow serialization with the spec kept apart, and finished tasks converted once.

A case's row stores only its task tree and data; the spec is stored once per process
version and restored once per worker, so loading a case does not re-parse the diagram.

A finished task never changes again, but SpiffWorkflow keeps it in the tree, so converting
every task on every save made a step's cost grow with the case's past. The task converter
here remembers, per live workflow, the dictionary of each finished task (checked against
its state, last change and children) and converts only the tasks that can still change.
"""

from __future__ import annotations

import json
import weakref
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

_SPEC_OBJECT = "_kefu_spec_object"


class _SharedSpecWorkflowConverter(BpmnWorkflowConverter):
    """Leaves the spec out on save and takes restored spec objects on load."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        shared = dct.pop(_SPEC_OBJECT, None)
        if shared is None:
            return super().from_dict(dct)
        spec, subprocess_specs = shared
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_Memo = dict[UUID, tuple[tuple[int, float, list[UUID]], dict[str, Any]]]
_finished: weakref.WeakKeyDictionary[BpmnWorkflow, _Memo] = weakref.WeakKeyDictionary()


class _FinishedOnceTaskConverter(TaskConverter):
    """Converts a finished task once per live workflow; unfinished ones every time."""

    def to_dict(self, task: Task) -> dict[str, Any]:
        if not task.state & TaskState.FINISHED_MASK:
            return super().to_dict(task)
        memo = _finished.setdefault(task.workflow.top_workflow, {})
        seen = (task.state, task.last_state_change, task._children)
        kept = memo.get(task.id)
        if kept is not None and kept[0] == seen:
            return kept[1]
        dct = super().to_dict(task)
        memo[task.id] = ((task.state, task.last_state_change, list(task._children)), dct)
        return dct


def make_serializer(*, remember_finished: bool = True) -> BpmnWorkflowSerializer:
    """Kefu's serializer; without `remember_finished`, every task is converted on every
    save as SpiffWorkflow does (the tests compare the two on every save they make)."""
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SharedSpecWorkflowConverter
    if remember_finished:
        config[Task] = _FinishedOnceTaskConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


SERIALIZER = make_serializer()


def dump_spec(spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]) -> str:
    registry = SERIALIZER.registry
    return json.dumps({
        "spec": registry.convert(spec),
        "subprocess_specs": {k: registry.convert(v) for k, v in subprocess_specs.items()},
    })


def load_spec(text: str) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
    registry = SERIALIZER.registry
    dct = json.loads(text)
    subs = {k: registry.restore(v) for k, v in dct["subprocess_specs"].items()}
    return registry.restore(dct["spec"]), subs


def dump_workflow(workflow: BpmnWorkflow, serializer: BpmnWorkflowSerializer = SERIALIZER) -> str:
    dct = serializer.registry.convert(workflow)
    dct[serializer.VERSION_KEY] = serializer.VERSION
    return json.dumps(dct, separators=(",", ":"))


def load_workflow(text: str, spec: BpmnProcessSpec,
                  subprocess_specs: dict[str, BpmnProcessSpec]) -> BpmnWorkflow:
    dct = json.loads(text)
    dct.pop(SERIALIZER.VERSION_KEY, None)
    dct[_SPEC_OBJECT] = (spec, subprocess_specs)
    return SERIALIZER.registry.restore(dct)
