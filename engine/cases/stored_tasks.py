"""Finished tasks restored without their data until something reads it.

SpiffWorkflow stores each task's data as a delta from its parent's and, on restore, rebuilds
every task's full data by copying its parent's: a case's hundredth step copied the data of
every task it had ever finished, though a step reads the data of a few tasks next to the
ones still open. A finished task whose ancestors are all finished is restored here as a
`StoredTask`, which keeps its stored record and builds its data on first read, from the
stored records of its ancestors alone: the same data an eager restore would have given at
load time, whatever has happened to the live tasks since. Open tasks (and finished tasks
under an open one) are restored as SpiffWorkflow restores them.
"""

from __future__ import annotations

from copy import copy
from functools import lru_cache
from typing import Any
from uuid import UUID, SafeUUID

from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

_UNREAD: Any = object()
_FINISHED = TaskState.FINISHED_MASK


@lru_cache(maxsize=8192)
def task_uuid(text: str) -> UUID:
    """`UUID(text)` for a stored task id, which a restore reads four times (key, id, parent,
    child): parsing them was a tenth of a long case's restore."""
    value = object.__new__(UUID)
    object.__setattr__(value, "int", int(text.replace("-", ""), 16))
    object.__setattr__(value, "is_safe", SafeUUID.unknown)
    return value


class StoredTask(Task):
    """A finished task whose data is built from its stored record when first read."""

    #: The task's stored record, and its data as stored once its or a descendant's was
    #: built (not the live `data`, which callers may change).
    _record: dict[str, Any] | None = None
    _snapshot: dict[str, Any] | None = None
    _registry: Any = None
    _data: Any = _UNREAD

    @property  # type: ignore[override]
    def data(self) -> dict[str, Any]:
        if self._data is _UNREAD:
            self._data = _top_level_copy(_stored_data(self))
        return self._data

    @data.setter
    def data(self, value: dict[str, Any]) -> None:
        self._data = value


def _top_level_copy(data: dict[str, Any]) -> dict[str, Any]:
    """As SpiffWorkflow's `DeepMerge.merge({}, parent.data)`: mutable values copied once."""
    return {k: copy(v) if isinstance(v, dict | list | set) else v for k, v in data.items()}


def _stored_data(task: StoredTask) -> dict[str, Any]:
    """The task's data as its stored record and its ancestors' give it (not to be changed);
    every ancestor of a `StoredTask` is one, so the walk never meets a live task's data."""
    chain: list[dict[str, Any]] = []
    current = task
    while current._snapshot is None:
        record: dict[str, Any] = current._record  # type: ignore[assignment]
        if not record.get("delta") or current._parent is None:
            current._snapshot = _restored(current._registry, record["data"])
            break
        chain.append(record["delta"])
        current = current.parent  # type: ignore[assignment]
    data = dict(current._snapshot)  # type: ignore[arg-type]
    for delta in reversed(chain):
        data.update(_restored(task._registry, delta.get("updates", {})))
        for key in delta.get("deletions", ()):
            data.pop(key, None)
    task._snapshot = data
    return data


def _restored(registry: Any, values: dict[str, Any]) -> dict[str, Any]:
    """`registry.restore(values)`, skipped where every value is plain JSON (a form's)."""
    for value in values.values():
        if isinstance(value, dict | list):
            return registry.restore(values)
    return values


class StoredTaskConverter(TaskConverter):
    """SpiffWorkflow's task converter, restoring finished tasks under finished ancestors as
    `StoredTask`s; saving is SpiffWorkflow's own."""

    def from_dict(self, dct: dict[str, Any], workflow: BpmnWorkflow) -> Task:
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        parent_id = dct["parent"]
        # Not `tasks.get`: a parent in the settled past (engine.cases.past) is not restored
        # for this; its child here was stored with its full data.
        parent = None if parent_id is None else dict.get(workflow.tasks, task_uuid(parent_id))
        if (task_spec is None or not dct["state"] & _FINISHED
                or (parent is not None and not isinstance(parent, StoredTask))):
            return super().from_dict(dct, workflow)
        task = StoredTask.__new__(StoredTask)
        task.id = task_uuid(dct["id"])
        workflow.tasks[task.id] = task
        task.workflow = workflow
        task._parent = None if parent_id is None else task_uuid(parent_id)
        task._children = [task_uuid(child) for child in dct["children"]]
        task._state = dct["state"]
        task.triggered = dct["triggered"]
        task.task_spec = task_spec
        task.thread_id = Task.thread_id_pool
        internal = dct["internal_data"]
        task.internal_data = self.registry.restore(internal) if internal else {}
        task.last_state_change = dct["last_state_change"]
        task._record = dct
        task._registry = self.registry
        return task
