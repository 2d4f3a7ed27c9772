"""Live workflows: the workflow a worker just saved, kept in memory for the case's next step.

Restoring a SpiffWorkflow from JSON cost as much as running it, on every step. The stored
JSON stays the truth: an entry is used only while the case row is still at the version
this worker committed (`Case.row_version`, which every save raises), so a step done by
another worker, a purge or a failed save all fall back to the JSON.

An entry is taken out while a unit of work uses it and put back only after that unit
commits; any rollback in the session (a savepoint's included) forgets it, since the
object may then hold changes that were never saved.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from sqlalchemy import event

from engine.persistence.db import after_commit

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from sqlalchemy.orm import Session

    from engine.persistence.models import Case

_PENDING = "kefu_live_workflows"
#: Attached while a workflow sits in the cache, so it holds no session of a finished request.
_DETACHED = PythonScriptEngine()


def _identity(case: Case) -> tuple[int, str, int, int]:
    return case.id, case.number, case.process_version_id, case.row_version


class LiveWorkflows:
    """At most `size` workflows, the least recently saved dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[tuple[int, str, int, int], BpmnWorkflow]] = \
            OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, case: Case) -> BpmnWorkflow | None:
        """The case's workflow as this worker last committed it, if the row is still there."""
        with self._lock:
            entry = self._entries.pop(case.id, None)
        if entry is None or entry[0] != _identity(case):
            return None
        return entry[1]

    def keep_after_commit(self, session: Session, case: Case, workflow: BpmnWorkflow) -> None:
        """Keep `workflow` as the case's state once this session commits what was saved."""
        if self.size <= 0:
            return
        pending = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = {}
            after_commit(session, lambda: self._committed(pending))
            event.listen(session, "after_soft_rollback", _forget)
        pending[case.id] = (case, workflow)

    def _committed(self, pending: dict[int, tuple[Case, BpmnWorkflow]]) -> None:
        with self._lock:
            for case, workflow in pending.values():
                workflow.script_engine = _DETACHED
                self._entries[case.id] = (_identity(case), workflow)
                self._entries.move_to_end(case.id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def _forget(session: Session, _transaction: object) -> None:
    session.info.get(_PENDING, {}).clear()
