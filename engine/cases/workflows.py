"""SpiffWorkflow's workflow classes, with the engine's two hottest scans made independent
of how long the case has run.

SpiffWorkflow keeps every finished task in the tree, and after each task it runs, it asks
for the ready tasks (`get_tasks(state=READY)`) and updates the waiting ones; both walk the
whole tree from the root through a generic filter. A case's later steps therefore cost more
than its first: a complaint returned 50 times spent 2.7 times as long per return in the
engine at the end as at the start (docs/benchmarks.md). Here those two scans read each
workflow's task table, which is flat, and order the few tasks they find as the tree walk
would reach them: the order decides which parallel branch runs first.

Every other query goes to SpiffWorkflow unchanged, among them its other walks (a
subprocess's end waiting for its last branch, joins), which still grow with the tree. The
tests compare each of these scans with SpiffWorkflow's own walk on every call
(tests/conftest.py). Neither lifts SpiffWorkflow's limit: its walks stop 1,000 levels
down, which a complaint reaches after about 330 returns, and the case then goes wrong.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.cases.past import present_tasks, restore_every_past
from engine.errors import ScriptError
from engine.scripting.script_limits import Limits

if TYPE_CHECKING:
    from collections.abc import Iterator
    from uuid import UUID

    from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
    from SpiffWorkflow.task import Task

#: SpiffWorkflow's loggers. It logs every task's change of state at INFO and, while a
#: logger's own level is unset, puts the task's data (the customer's phone and complaint)
#: into each record and walks the whole tree to list every task in a workflow's records.
#: Kefu's record of a case is its history (A1); its logs must not carry customer data (C12).
SPIFF_LOGGERS = ("spiff", "spiff.task", "spiff.workflow", "spiff.data", "spiff.dmn")
for _name in SPIFF_LOGGERS:
    logging.getLogger(_name).setLevel(logging.WARNING)

#: The queries answered from the task tables: one state, optionally manual or not.
_ONE_STATE = (TaskState.READY, TaskState.WAITING)
_FILTERS = frozenset({"state", "manual"})


class _TableScans:
    """For BpmnWorkflow and BpmnSubWorkflow (SpiffWorkflow's `BpmnBaseWorkflow`)."""

    def get_tasks_iterator(self, first_task: Task | None = None, **kwargs: Any) -> Iterator[Task]:
        state = kwargs.get("state")
        if (first_task is None or first_task is self.task_tree) \
                and kwargs.keys() <= _FILTERS and state in _ONE_STATE:
            return iter(in_tree_order(self, _matching(self, state, kwargs.get("manual"))))
        return super().get_tasks_iterator(first_task, **kwargs)  # type: ignore[misc]

    def update_waiting_tasks(self) -> None:
        """As SpiffWorkflow's: each waiting task of this workflow (not of its subprocesses),
        in tree order, skipping one that an earlier update has moved on."""
        for task in waiting_tasks(self):
            if task.state == TaskState.WAITING:
                task.task_spec._update(task)


class KefuWorkflow(_TableScans, BpmnWorkflow):
    def get_task_from_id(self, task_id: Any) -> Task | None:
        """As SpiffWorkflow's, looking in the subprocesses before the settled past
        (engine.cases.past), which holds neither a subprocess's task nor an open one."""
        found = dict.get(self.tasks, task_id)
        if found is not None:
            return found
        for subprocess in self.subprocesses.values():
            found = dict.get(subprocess.tasks, task_id)
            if found is not None:
                return found
        return super().get_task_from_id(task_id)

    def create_subprocess(self, my_task: Task, spec_name: str) -> KefuSubWorkflow:
        """A call activity or subprocess starts, unless it would nest deeper than the
        installation allows: a process that calls itself (through others too) would
        otherwise grow the case until the worker runs out of memory."""
        limit = getattr(self.script_engine, "limits", Limits()).max_call_depth
        if my_task.workflow.depth + 1 > limit:
            raise ScriptError(
                f"{my_task.task_spec.bpmn_id}: starting {spec_name!r} would nest call "
                f"activities {my_task.workflow.depth + 1} deep (the limit is {limit}); "
                f"does the process call itself?")
        subprocess = KefuSubWorkflow(self.subprocess_specs[spec_name],
                                     parent_task_id=my_task.id, top_workflow=self)
        self.subprocesses[my_task.id] = subprocess
        return subprocess


class KefuSubWorkflow(_TableScans, BpmnSubWorkflow):
    pass


def waiting_tasks(workflow: BpmnBaseWorkflow) -> list[Task]:
    """The waiting tasks `update_waiting_tasks` visits, in the order it visits them."""
    waiting = [t for t in present_tasks(workflow) if t._state == TaskState.WAITING]
    return in_tree_order(workflow, waiting)


def _matching(workflow: BpmnBaseWorkflow, state: int, manual: bool | None) -> list[Task]:
    """Tasks in `state` of the workflow and of the subprocesses (in_tree_order drops the
    ones not started inside it)."""
    flows = [workflow, *(s for s in workflow.top_workflow.subprocesses.values()
                         if s is not workflow)]
    found = [t for flow in flows for t in present_tasks(flow) if t._state == state]
    if manual is not None:
        found = [t for t in found if t.task_spec.manual == manual]
    return found


def in_tree_order(workflow: BpmnBaseWorkflow, tasks: list[Task]) -> list[Task]:
    """Those of `tasks` inside the workflow (its own, or its subprocesses'), in the order of
    a depth-first walk from its root that enters a subprocess before the children of the
    subprocess's task: SpiffWorkflow's order."""
    inside = [task for task in tasks if _within(task.workflow, workflow)]
    if len(inside) > 1:
        places = [_position(task) for task in inside]
        if len({top for top, _ in places}) > 1:
            # Their paths part in the settled past (engine.cases.past), which tells which
            # comes first: restored. Tasks that run together meet below it.
            restore_every_past(workflow.top_workflow)
            places = [_position(task) for task in inside]
        order = sorted(range(len(inside)), key=lambda i: places[i][1])
        inside = [inside[i] for i in order]
    return inside


def _within(inner: BpmnBaseWorkflow, outer: BpmnBaseWorkflow) -> bool:
    while inner is not outer:
        inner = inner.parent_workflow
        if inner is None:
            return False
    return True


def _position(task: Task) -> tuple[UUID | None, list[int]]:
    """Child indices from the top workflow's root down to the task; -1 enters a subprocess
    (its root comes before the children of its task). Costs the task's depth, not the size
    of the tree. Where the walk up meets the settled past, the indices start from the
    restored task it reached (given first; None: the root)."""
    path: list[int] = []
    while True:
        tasks = task.workflow.tasks
        while task._parent is not None:
            parent = dict.get(tasks, task._parent)
            if parent is None:
                path.reverse()
                return task.id, path
            path.append(parent._children.index(task.id))
            task = parent
        owner = task.workflow.parent_task_id  # at a root: of a subprocess, or the top
        if owner is None:
            path.reverse()
            return None, path
        path.append(-1)
        task = task.workflow.top_workflow.get_task_from_id(owner)
