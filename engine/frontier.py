"""Where a workflow stands: its ready and waiting tasks, found in one walk of the tree.

Saving a case needs the ready tasks (inbox, case data, deadlines) and the waiting ones
(timers). SpiffWorkflow's `get_tasks` walks the whole tree through a generic filter on
every call, and a save used to ask four times; the tree keeps every finished task, so
that cost grew with the case. This walk visits each task once, in the same depth-first
order as `get_tasks` (a subprocess's tasks before the task's own children), and like it
does not look below predicted tasks or into finished subprocesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from SpiffWorkflow.util.task import TaskState

if TYPE_CHECKING:
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
    """The ready and waiting tasks of the workflow and of its unfinished subprocesses."""
    found = Frontier()
    subprocesses = workflow.top_workflow.subprocesses
    stack = [workflow.task_tree]
    while stack:
        task = stack.pop()
        state = task.state
        if state == TaskState.READY:
            found.ready.append(task)
        elif state == TaskState.WAITING:
            found.waiting.append(task)
        subprocess = subprocesses.get(task.id)
        if state < TaskState.FUTURE and subprocess is None:
            continue  # nothing definite follows a predicted task
        below = task.children
        if subprocess is not None and not state & TaskState.FINISHED_MASK:
            below = [subprocess.task_tree, *below]
        stack.extend(reversed(below))
    return found
