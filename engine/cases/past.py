"""A workflow's task table that keeps the settled past as text until something asks for it.

A case's settled past (finished tasks whose ancestors are all finished) never changes, yet
SpiffWorkflow keeps it in the tree, and restoring it was most of a step's cost once a case
had run for a while: a step that lands on a worker not holding the case live grew ×1.5
slower over a case's first 50 steps. `engine.cases.serializer` stores that past apart
from the tasks a step works on, and restores the top workflow's table as a `PastTable`,
which holds the present tasks only and restores the past, all of it, the first time
anything looks for a task it lacks or goes over the whole table. Until then a step reads
and writes only the present; whatever SpiffWorkflow does that needs the past (a join
looking back, a reset, an audit's walk) finds it there as if it had been restored with
the rest.

Kefu's own scans for ready and waiting tasks (`engine.cases.frontier`,
`engine.cases.workflows`) go over the present alone through `present_tasks`: a task of
the past is finished, so it is never what they look for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from SpiffWorkflow.task import Task

_ABSENT: Any = object()


class PastTable(dict[UUID, Task]):
    """The task table of a restored workflow whose past is still `pending` text."""

    def __init__(self, pending: str, restore: Callable[[PastTable, str], None]) -> None:
        super().__init__()
        #: The stored past, until restored by `restore(self, pending)`.
        self.pending: str | None = pending
        #: The settled tasks restored with the present whose text `pending` also holds,
        #: each with what that text depends on (engine.cases.serializer keeps both).
        self.checks: dict[UUID, tuple[Any, ...]] = {}
        self._restore = restore

    def restore_past(self) -> None:
        pending = self.pending
        if pending is not None:
            self.pending = None
            self._restore(self, pending)

    def __missing__(self, key: UUID) -> Task:
        if self.pending is None:
            raise KeyError(key)
        self.restore_past()
        return dict.__getitem__(self, key)

    def get(self, key: UUID, default: Any = None) -> Any:  # type: ignore[override]
        """(`Task.parent` asks for the parent of a root as `tasks.get(None)`.)"""
        found = dict.get(self, key, _ABSENT)
        if found is _ABSENT and self.pending is not None and key is not None:
            self.restore_past()
            found = dict.get(self, key, _ABSENT)
        return default if found is _ABSENT else found

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        if self.pending is None:
            return False
        self.restore_past()
        return dict.__contains__(self, key)

    def _whole(self) -> PastTable:
        self.restore_past()
        return self

    def __iter__(self) -> Iterator[UUID]:
        return dict.__iter__(self._whole())

    def __len__(self) -> int:
        return dict.__len__(self._whole())

    def __reversed__(self) -> Iterator[UUID]:
        return dict.__reversed__(self._whole())

    def keys(self) -> Any:
        return dict.keys(self._whole())

    def values(self) -> Any:
        return dict.values(self._whole())

    def items(self) -> Any:
        return dict.items(self._whole())

    def copy(self) -> dict[UUID, Task]:
        return dict(dict.items(self._whole()))

    def __eq__(self, other: object) -> bool:
        return dict.__eq__(self._whole(), other)

    __hash__ = None  # type: ignore[assignment]

    def __delitem__(self, key: UUID) -> None:
        dict.__delitem__(self if dict.__contains__(self, key) else self._whole(), key)

    def pop(self, key: UUID, *default: Any) -> Any:
        return dict.pop(self if dict.__contains__(self, key) else self._whole(), key, *default)

    def popitem(self) -> tuple[UUID, Task]:
        return dict.popitem(self._whole())

    def setdefault(self, key: UUID, default: Any = None) -> Any:
        return dict.setdefault(self._whole(), key, default)

    def __reduce__(self) -> Any:  # a deep copy or pickle takes the whole table
        return dict, (dict(dict.items(self._whole())),)


def restore_every_past(workflow: Any) -> None:
    """Restore the pending past of a top workflow and of each of its subprocesses."""
    for flow in (workflow, *workflow.subprocesses.values()):
        if isinstance(flow.tasks, PastTable):
            flow.tasks.restore_past()


def past_pending(workflow: Any) -> bool:
    """Whether some table of the workflow's case still holds its past as text."""
    top = workflow.top_workflow
    return any(getattr(flow.tasks, "pending", None) is not None
               for flow in (top, *top.subprocesses.values()))


def present_tasks(workflow: Any) -> Any:
    """The tasks of a workflow's table that are restored: all of them, unless its settled
    past is still pending (a finished task's past is never ready or waiting)."""
    return dict.values(workflow.tasks)
