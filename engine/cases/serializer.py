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

The top workflow's settled past (engine.cases.past) is written after the rest, after a
`PAST_SEPARATOR`, as the members of SpiffWorkflow's `tasks` object: the first part is the
workflow as SpiffWorkflow's serializer writes it, but holding only the tasks a step can
touch (the open ones, the root, the last task, a subprocess's task, and each settled
task with an open child, written with its full data so that it restores without its
ancestors), and the second part adds the rest. Merging the two (`as_spiffworkflow`) gives
SpiffWorkflow's own JSON. A step restores the first part only and appends to the second
the tasks it settled, so neither grows with the case's past; a text without the second
part (written before) restores as it always did.
"""

from __future__ import annotations

import json
import weakref
from functools import partial
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
)
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.cases.past import PastTable, present_tasks
from engine.cases.state_text import TaskTexts, read_members, read_state, read_value
from engine.cases.stored_tasks import StoredTask, StoredTaskConverter, task_uuid
from engine.cases.workflows import KefuSubWorkflow, KefuWorkflow

_SPEC_OBJECT = "_kefu_spec_object"
_PAST = "_kefu_past"
#: Before each workflow's settled past in a stored state, and after the workflow's key
#: (empty: the top workflow; else its subprocess's key): characters no JSON text holds
#: unescaped (a state written by another writer, indented, still reads as one).
PAST_SEPARATOR = "\x1e"
_KEY_END = "\x1f"
_FINISHED = TaskState.FINISHED_MASK


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
        _restore_tasks(self.registry, workflow, dct)
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow

    def subprocesses_from_dict(self, dct: dict[str, Any], workflow: BpmnWorkflow,
                               top_workflow: BpmnWorkflow | None = None) -> None:
        """SpiffWorkflow's, over the restored tasks only: a subprocess's task is never left
        in the pending past."""
        top_workflow = top_workflow or workflow
        for task in list(present_tasks(workflow)):
            if isinstance(task.task_spec, SubWorkflowTask) and str(task.id) in dct:
                sub = self.registry.restore(dct.pop(str(task.id)), task=task,
                                            top_workflow=top_workflow)
                top_workflow.subprocesses[task.id] = sub
                sub.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
                self.subprocesses_from_dict(dct, sub, top_workflow)


class _SubWorkflowConverter(BpmnSubWorkflowConverter):
    """SpiffWorkflow's, restoring a subprocess's tasks as the top workflow's are."""

    def from_dict(self, dct: dict[str, Any], task: Task,  # type: ignore[override]
                  top_workflow: BpmnWorkflow) -> BpmnSubWorkflow:
        spec = top_workflow.subprocess_specs.get(task.task_spec.spec)
        subprocess = self.target_class(spec, task.id, top_workflow, deserializing=True)
        _restore_tasks(self.registry, subprocess, dct)
        self.set_default_attributes(subprocess, dct)
        return subprocess


def _restore_tasks(registry: Any, workflow: Any, dct: dict[str, Any]) -> None:
    """The workflow's task table from its stored tasks and, if it has one, its pending
    settled past (engine.cases.past)."""
    task_from_dict = registry.convert_from_dict[registry.typenames[Task]]
    past = dct.pop(_PAST, "")
    table = workflow.tasks = PastTable(past, partial(_restore_past, workflow, task_from_dict)) \
        if past else {}
    for record in dct["tasks"].values():
        task_from_dict(record, workflow=workflow)
    workflow.task_tree = root = dict.get(table, task_uuid(dct["root"]))
    if past:
        settled = _settled(table)
        table.checks = {key: _settled_check(task)  # type: ignore[union-attr]
                        for key, task in dict.items(table) if settled[key] and task is not root}


def _restore_past(workflow: BpmnWorkflow, task_from_dict: Any, table: PastTable,
                  text: str) -> None:
    """Restore the tasks of the pending past that the table lacks, put the table in tree
    order again (the past came after the present) and remember each past task's text."""
    records, members = read_members(text)
    for key, record in records.items():
        if not dict.__contains__(table, task_uuid(key)):
            task_from_dict(record, workflow=workflow)

    def children(key: UUID) -> list[UUID] | None:
        task = dict.get(table, key)
        return None if task is None else task._children

    tasks = [(key, dict.__getitem__(table, key))
             for key in _tree_order(workflow.task_tree.id, children, dict.keys(table))]
    dict.clear(table)
    dict.update(table, tasks)
    memo = _finished.setdefault(workflow.top_workflow, {})
    checks = table.checks
    for key, member in members.items():
        uid = task_uuid(key)
        check = checks.get(uid) or _unchanged_if(dict.__getitem__(table, uid))
        if check is not None:
            memo[uid] = (check, member)


#: Per live workflow: task id → (what its text depends on, its `"id":{...}` text), as
#: SpiffWorkflow writes it, and (in `_full`) as written with its full data where a settled
#: task is kept with the present. Nothing in them refers back to the workflow, so the
#: entry goes when the workflow does.
_Memo = dict[UUID, tuple[tuple[Any, ...], str]]
_finished: weakref.WeakKeyDictionary[BpmnWorkflow, _Memo] = weakref.WeakKeyDictionary()
_full: weakref.WeakKeyDictionary[BpmnWorkflow, _Memo] = weakref.WeakKeyDictionary()


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
        self.full_memo = _full.setdefault(workflow, {})

    def text(self) -> str:
        workflow = self.workflow
        fields = self._common(workflow)
        fields["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        fields[self.serializer.VERSION_KEY] = self.serializer.VERSION
        subprocesses, pasts = [], []
        for key, sub in workflow.subprocesses.items():
            present, past = self._tasks(sub)
            subprocesses.append(f'"{key}":{self._workflow(self._sub_fields(sub), present)}')
            if past:
                pasts.append(f"{PAST_SEPARATOR}{key}{_KEY_END}{past}")
        present, past = self._tasks(workflow)
        if past:
            pasts.insert(0, f"{PAST_SEPARATOR}{_KEY_END}{past}")
        subs = ",".join(subprocesses)
        return self._workflow(fields, present, f',"subprocesses":{{{subs}}}') + "".join(pasts)

    def _tasks(self, workflow: BpmnWorkflow) -> tuple[str, str]:
        """A workflow's present tasks and its settled past, as members' texts."""
        table = workflow.tasks
        settled = _settled(table)
        root = workflow.task_tree
        kept = {task._parent for key, task in dict.items(table)
                if not settled[key] and task._parent is not None}
        kept.update(self.workflow.subprocesses)
        kept.add(root.id)
        if workflow.last_task is not None:
            kept.add(workflow.last_task.id)
        present = ",".join([self._task(key, task) if not settled[key] or task is root
                            else self._full_task(key, task)
                            for key, task in dict.items(table)
                            if not settled[key] or key in kept])
        if isinstance(table, PastTable) and table.pending is not None:
            past = self._appended_past(table, settled, root)
            if past is not None:
                return present, past
            table.restore_past()
            return self._tasks(workflow)
        past = ",".join([self._task(key, task) for key, task in dict.items(table)
                         if settled[key] and task is not root])
        return present, past

    def _appended_past(self, table: PastTable, settled: dict[UUID, bool],
                       root: Task) -> str | None:
        """The pending past with the tasks settled since it was read appended and the
        settled tasks it holds that have changed since (a child added or dropped)
        rewritten; None where a task it holds is no longer settled (a reset)."""
        past: str = table.pending  # type: ignore[assignment]
        checks = table.checks
        now: dict[UUID, tuple[Any, ...]] = {}
        added = []
        for key, task in dict.items(table):
            if not settled[key] or task is root:
                continue
            check = now[key] = _settled_check(task)
            before = checks.get(key)
            if before is None:
                added.append(self._task(key, task))
            elif before != check:
                past = _rewritten(past, key, task)
        if not checks.keys() <= now.keys():
            return None
        if added:
            past = ",".join([past, *added])
        table.pending, table.checks = past, now
        return past

    def _full_task(self, key: UUID, task: Task) -> str:
        """A settled task kept with the present, with its full data (no delta to its
        parent), so that it restores without its ancestors."""
        memo = self.full_memo
        check = _settled_check(task)
        kept = memo.get(key)
        if kept is not None and kept[0] == check:
            return kept[1]
        record = {
            "id": str(key),
            "parent": None if task._parent is None else str(task._parent),
            "children": [str(child) for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task._state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(task.internal_data),
            "data": task.data,
            "delta": {},
            "typename": self.registry.typenames[Task],
        }
        text = f'"{key}":{_json(record)}'
        memo[key] = (check, text)
        return text

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

    def _workflow(self, fields: dict[str, Any], tasks: str, more: str = "") -> str:
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
    if state & _FINISHED:
        # A parent not restored is in the settled past (engine.cases.past): finished.
        parent = None if task._parent is None else dict.get(task.workflow.tasks, task._parent)
        if parent is not None and not parent._state & _FINISHED:
            return None
        return _settled_check(task)
    if not task.data and not task.internal_data:
        parent = task.parent
        return (state, task.last_state_change, list(task._children), task.triggered,
                None if parent is None else tuple(parent.data))
    return None


def _settled_check(task: Task) -> tuple[Any, ...]:
    """What a settled task's text depends on (its data never changes again)."""
    return task._state, task.last_state_change, list(task._children)


def _settled(table: dict[UUID, Task]) -> dict[UUID, bool]:
    """For each restored task: finished, and so are all its ancestors. A task whose parent
    is not restored is in the settled past, or its child."""
    known: dict[UUID, bool] = {}
    for key, task in dict.items(table):
        if key in known:
            continue
        chain = []
        current = task
        while True:
            if not current._state & _FINISHED:
                known[current.id] = verdict = False
                break
            chain.append(current.id)
            parent_id = current._parent
            if parent_id is None:
                verdict = True
                break
            verdict = known.get(parent_id)  # type: ignore[assignment]
            if verdict is not None:
                break
            current = dict.get(table, parent_id)
            if current is None:
                verdict = True
                break
        for each in chain:
            known[each] = verdict
    return known


def _rewritten(past: str, key: UUID, task: Task) -> str:
    """The past with one settled task's member rewritten for its new children or state:
    its data (a delta from its parent) is unchanged, and its parent may not be restored."""
    marker = f'"{key}":'  # a task id followed by a colon is a member's key, never a value
    start = past.find(marker)
    record, end = read_value(past, start + len(marker))
    record.update(children=[str(child) for child in task._children],
                  last_state_change=task.last_state_change, state=task._state,
                  triggered=task.triggered)
    return f"{past[:start]}{marker}{_json(record)}{past[end:]}"


def as_spiffworkflow(text: str) -> dict[str, Any]:
    """A stored state as SpiffWorkflow's serializer would have written it (the present with
    the settled past merged in; a task in both, as the past holds it)."""
    present, *sections = text.split(PAST_SEPARATOR)
    state: dict[str, Any] = json.loads(present)
    for section in sections:
        key, _, past = section.partition(_KEY_END)
        flow = state["subprocesses"][key] if key else state
        tasks = {**flow["tasks"], **json.loads(f"{{{past}}}")}
        # Parents before children, as SpiffWorkflow writes them and needs them to restore.
        flow["tasks"] = {task: tasks[task] for task in _tree_order(
            flow["root"], partial(_stored_children, tasks), tasks)}
    return state


def _stored_children(tasks: dict[str, Any], key: str) -> list[str] | None:
    return tasks[key]["children"] if key in tasks else None


def _tree_order(root: Any, children: Any, every: Any) -> list[Any]:
    """Keys from the root down, depth first (each parent before its children), then any
    not reached, in their order in `every`."""
    order: list[Any] = []
    stack = [root]
    while stack:
        key = stack.pop()
        below = children(key)
        if below is not None:
            order.append(key)
            stack.extend(reversed(below))
    reached = set(order)
    return order + [key for key in every if key not in reached]


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SharedSpecWorkflowConverter
    config[Task] = StoredTaskConverter
    registry = BpmnWorkflowSerializer.configure(config)
    registry.typenames[StoredTask] = registry.typenames[Task]  # saved as any task is
    # Kefu's workflow classes (engine.cases.workflows) under SpiffWorkflow's names: the stored
    # JSON stays SpiffWorkflow's, and restores as Kefu's classes (registered last).
    _SharedSpecWorkflowConverter(KefuWorkflow, registry, typename=BpmnWorkflow.__name__)
    _SubWorkflowConverter(KefuSubWorkflow, registry, typename=BpmnSubWorkflow.__name__)
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
    present, *sections = text.split(PAST_SEPARATOR)
    dct, texts = read_state(present)
    dct.pop(SERIALIZER.VERSION_KEY, None)
    dct[_SPEC_OBJECT] = (spec, subprocess_specs)
    for section in sections:
        key, _, past = section.partition(_KEY_END)
        (dct["subprocesses"][key] if key else dct)[_PAST] = past
    workflow = SERIALIZER.registry.restore(dct)
    _remember_read(workflow, texts)
    return workflow


def _remember_read(workflow: BpmnWorkflow, texts: TaskTexts) -> None:
    """Seed the memo of unchanged task texts with the texts just read, so that the first
    save after a restore (every step on a worker that does not hold the case live) encodes
    only the tasks that can change, not the case's whole past. Each text is what this
    module wrote for the task, whose record restores to the same task."""
    # A settled task kept with the present was written with its full data, not as
    # SpiffWorkflow writes it: that text is kept apart, and its SpiffWorkflow text is read
    # with the past's, if the past is restored.
    memo = _finished.setdefault(workflow, {})  # one per case: saving reads it so
    full = _full.setdefault(workflow, {})
    for sub_key, members in texts.items():
        each = workflow if sub_key is None else workflow.subprocesses[task_uuid(sub_key)]
        tasks = each.tasks
        kept_settled = getattr(tasks, "checks", {})
        for key, member in members.items():
            uid = task_uuid(key)
            if uid in kept_settled:
                full[uid] = (kept_settled[uid], member)
                continue
            task = dict.__getitem__(tasks, uid)
            check = _unchanged_if(task)
            if check is not None:
                memo[uid] = (check, member)
