"""SpiffWorkflow serialization with the spec kept apart, and unchanged tasks converted once.

A case's row stores only its task tree and data; the spec is stored once per process
version and restored once per worker, so loading a case does not re-parse the diagram.

A finished task never changes again, but SpiffWorkflow keeps it in the tree, so converting
and encoding every task on every save made a step's cost grow with the case's past.
`dump_workflow` writes the JSON itself: it remembers, per live workflow, the JSON text of
each finished task and of each open task that holds no data (checked against what that
text depends on, `_unchanged_if`) and converts and encodes only the tasks with data that
can still change. The text is what SpiffWorkflow's serializer
would give (the tests compare the two on every save they make).
"""

from __future__ import annotations

import json
import weakref
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.cases.state_text import TaskTexts, read_state
from engine.cases.stored_tasks import StoredTask, StoredTaskConverter, task_uuid
from engine.cases.workflows import KefuSubWorkflow, KefuWorkflow

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
        task_from_dict = self.registry.convert_from_dict[self.registry.typenames[Task]]
        workflow.tasks = {task_uuid(key): task_from_dict(record, workflow=workflow)
                          for key, record in dct["tasks"].items()}
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


#: Per live workflow: task id → (what its text depends on, its `"id":{...}` text).
#: Nothing in it refers back to the workflow, so the entry goes when the workflow does.
_Memo = dict[UUID, tuple[tuple[Any, ...], str]]
_finished: weakref.WeakKeyDictionary[BpmnWorkflow, _Memo] = weakref.WeakKeyDictionary()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class _WorkflowText:
    """The JSON of a workflow and its subprocesses, with the fields and typenames of
    SpiffWorkflow's workflow converters and each task as its TaskConverter gives it."""

    def __init__(self, serializer: BpmnWorkflowSerializer, workflow: BpmnWorkflow) -> None:
        self.serializer = serializer
        self.registry = serializer.registry
        self.workflow = workflow
        self.memo = _finished.setdefault(workflow, {})

    def text(self) -> str:
        workflow = self.workflow
        fields = self._common(workflow)
        fields["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        fields[self.serializer.VERSION_KEY] = self.serializer.VERSION
        subprocesses = ",".join(f'"{key}":{self._workflow(sub, self._sub_fields(sub))}'
                                for key, sub in workflow.subprocesses.items())
        return self._workflow(workflow, fields, f',"subprocesses":{{{subprocesses}}}')

    def _sub_fields(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        fields = self._common(workflow)
        fields["parent_task_id"] = str(workflow.parent_task_id)
        fields["spec"] = workflow.spec.name
        return fields

    def _common(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        registry = self.registry
        return {
            "data": registry.convert(registry.clean(workflow.data)),
            "correlations": workflow.correlations,
            "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "root": str(workflow.task_tree.id),
            "typename": registry.typenames[type(workflow)],
        }

    def _workflow(self, workflow: BpmnWorkflow, fields: dict[str, Any], more: str = "") -> str:
        tasks = ",".join([self._task(key, task) for key, task in workflow.tasks.items()])
        return f'{_json(fields)[:-1]},"tasks":{{{tasks}}}{more}}}'

    def _task(self, key: UUID, task: Task) -> str:
        """The task's `"id":{...}` member of the tasks object."""
        check = _unchanged_if(task)
        if check is None:
            return f'"{key}":{_json(self.registry.convert(task))}'
        kept = self.memo.get(key)
        if kept is not None and kept[0] == check:
            return kept[1]
        text = f'"{key}":{_json(self.registry.convert(task))}'
        self.memo[key] = (check, text)
        return text


def _unchanged_if(task: Task) -> tuple[Any, ...] | None:
    """What a task's text depends on, where a cheap check can tell it is unchanged; None
    where it cannot (an open task's data can change in place).

    A finished task never changes again. An open task that holds no data (most of a case's
    tasks: the predicted ones, MAYBE, LIKELY and FUTURE) is its place in the tree plus, as
    SpiffWorkflow stores data as a delta from the parent, the names of its parent's data
    (each one a deletion); such tasks used to be converted on every save.

    A finished task's text is its data as a delta from its parent's, so it is kept only
    once the parent is finished too: a multi-instance task stays open while its finished
    children merge their data into it, changing each earlier child's delta (the first
    child's `phone` equals the parent's until the second child's overwrites it)."""
    state = task._state
    if state & TaskState.FINISHED_MASK:
        parent = task.parent
        if parent is not None and not parent._state & TaskState.FINISHED_MASK:
            return None
        return state, task.last_state_change, list(task._children)
    if not task.data and not task.internal_data:
        parent = task.parent
        return (state, task.last_state_change, list(task._children), task.triggered,
                None if parent is None else tuple(parent.data))
    return None


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SharedSpecWorkflowConverter
    config[Task] = StoredTaskConverter
    registry = BpmnWorkflowSerializer.configure(config)
    registry.typenames[StoredTask] = registry.typenames[Task]  # saved as any task is
    # Kefu's workflow classes (engine.cases.workflows) under SpiffWorkflow's names: the stored
    # JSON stays SpiffWorkflow's, and restores as Kefu's classes (registered last).
    _SharedSpecWorkflowConverter(KefuWorkflow, registry, typename=BpmnWorkflow.__name__)
    config[BpmnSubWorkflow](KefuSubWorkflow, registry, typename=BpmnSubWorkflow.__name__)
    return BpmnWorkflowSerializer(registry)


SERIALIZER = _make_serializer()


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


def dump_workflow(workflow: BpmnWorkflow) -> str:
    return _WorkflowText(SERIALIZER, workflow).text()


def dump_workflow_in_full(workflow: BpmnWorkflow) -> str:
    """Every task converted by SpiffWorkflow's own serializer: what `dump_workflow` must
    equal (the tests check it on every save)."""
    dct = SERIALIZER.registry.convert(workflow)
    dct[SERIALIZER.VERSION_KEY] = SERIALIZER.VERSION
    return _json(dct)


def load_workflow(text: str, spec: BpmnProcessSpec,
                  subprocess_specs: dict[str, BpmnProcessSpec]) -> BpmnWorkflow:
    dct, texts = read_state(text)
    dct.pop(SERIALIZER.VERSION_KEY, None)
    dct[_SPEC_OBJECT] = (spec, subprocess_specs)
    workflow = SERIALIZER.registry.restore(dct)
    _remember_read(workflow, texts)
    return workflow


def _remember_read(workflow: BpmnWorkflow, texts: TaskTexts) -> None:
    """Seed the memo of unchanged task texts with the texts just read, so that the first
    save after a restore (every step on a worker that does not hold the case live) encodes
    only the tasks that can change, not the case's whole past. Each text is what this
    module wrote for the task, whose record restores to the same task."""
    for sub_key, members in texts.items():
        each = workflow if sub_key is None else workflow.subprocesses[task_uuid(sub_key)]
        memo = _finished.setdefault(each, {})
        tasks = each.tasks
        for key, member in members.items():
            task = tasks[task_uuid(key)]
            check = _unchanged_if(task)
            if check is not None:
                memo[task.id] = (check, member)
