"""Where a workflow stands: its ready and waiting tasks, found without walking the tree.

Saving a case needs the ready tasks (inbox, case data, deadlines) and the waiting ones
(timers). SpiffWorkflow's `get_tasks` walks the whole tree through a generic filter on
every call, looking each child up by UUID, and a save used to ask four times; the tree
keeps every finished task, so that cost grew with the case. Here each open workflow's
task table is scanned once. Ready tasks come in `get_tasks` order (depth first, a
subprocess's tasks before the task's own children), which decides whose data is the
case's when branches run in parallel (`engine.cases.workflows.in_tree_order`). Waiting tasks
come in no particular order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from SpiffWorkflow.util.task import TaskState

from engine.cases.past import present_tasks
from engine.cases.workflows import in_tree_order

if TYPE_CHECKING:
    from collections.abc import Iterator

    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.task import Task


@dataclass
class Frontier:
    ready: list[Task] = field(default_factory=list)
    waiting: list[Task] = field(default_factory=list)

    @property
    def ready_manual(self) -> list[Task]:
        """Ready tasks a person does (user and manual tasks)."""
        return [t for t in self.ready if t.task_spec.manual]


def frontier(workflow: BpmnWorkflow) -> Frontier:
    """The ready and waiting tasks of a top-level workflow and its unfinished subprocesses."""
    found = Frontier()
    for flow in _open_workflows(workflow):
        for task in present_tasks(flow):
            state = task.state
            if state == TaskState.READY:
                found.ready.append(task)
            elif state == TaskState.WAITING:
                found.waiting.append(task)
    if len(found.ready) > 1:
        found.ready = in_tree_order(workflow, found.ready)
    return found


def _open_workflows(workflow: BpmnWorkflow) -> Iterator[BpmnWorkflow]:
    """The workflow and the subprocesses whose task has not finished (as `get_tasks`, which
    does not look into a finished subprocess)."""
    yield workflow
    for subprocess in workflow.subprocesses.values():
        parent = workflow.get_task_from_id(subprocess.parent_task_id)  # never in the past
        if parent is not None and not parent.state & TaskState.FINISHED_MASK:
            yield subprocess
