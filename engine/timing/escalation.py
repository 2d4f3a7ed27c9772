"""What a process does when a deadline passes: escalate a case level by level and urge
(催单) whoever must act (SPEC C3, C8, C9).

The process file decides *when* (its timer events) and *whom* (the escalation task's lane);
these operators record the level and the reminders, in the case's transaction, so that the
history shows each level with the time it was reached and every 催单 that was sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions.operators import OperatorContext, operator
from engine.errors import ScriptError
from engine.messages import notifications
from engine.people.roles import ROLES
from engine.people.roster import route
from engine.persistence.deadline_models import CaseEscalation, Deadline
from engine.persistence.models import Case, TaskItem
from engine.records import history
from engine.timing.deadlines import timer_due

URGE = "urge"


def holder(item: TaskItem) -> dict[str, Any]:
    """Whoever the task is with right now: its assignee, the named person, or a role."""
    if item.assignee:
        return {"user": item.assignee}
    if item.candidate_user:
        return {"user": item.candidate_user}
    return {"role": item.role, "department": item.department}


def _timer(task: Any) -> Any:
    """The timer event whose path led to this service task (None if none did)."""
    seen = task.parent
    while seen is not None and timer_due(seen) is None:
        seen = seen.parent
    return seen


def _reached_at(task: Any, now: datetime) -> datetime:
    """When the timer that led here was due: that is when the level was reached, even if
    the timer worker fired it later (after a restart)."""
    timer = _timer(task)
    due = timer_due(timer) if timer is not None else None
    return due or now


def _attached_items(session: Session, case: Case, task: Any) -> list[TaskItem]:
    """The open tasks of the activity the timer is attached to: the user task itself, or
    every ready user task inside the subprocess (the responsible department's, C9)."""
    timer = _timer(task)
    split = timer.parent if timer is not None else None
    if split is None or not isinstance(split.task_spec, BoundaryEventSplit):
        return []
    ids: set[str] = set()
    for main in split.children:
        if isinstance(main.task_spec, BoundaryEvent):
            continue
        ids.add(str(main.id))
        subprocess = main.workflow.top_workflow.get_subprocess(main)
        if subprocess is not None:
            ids |= {str(t.id) for t in subprocess.get_tasks(state=TaskState.READY, manual=True)}
    if not ids:
        return []
    return list(session.scalars(select(TaskItem).where(TaskItem.case_id == case.id,
                                                       TaskItem.id.in_(sorted(ids)))
                                .order_by(TaskItem.created_at)))


def _urge(context: OperatorContext, items: list[TaskItem], now: datetime,
          reason: str) -> list[dict[str, Any]]:
    """One 催单 per open task, kept as a fired `urge` row so its holder sees it."""
    session, case = context.session, context.case
    sent = []
    for item in items:
        to = holder(item)
        notifications.notify(context.kefu, session, case, notifications.URGE, to, item.title,
                             task_id=item.id, due=item.due_at)
        session.add(Deadline(case_id=case.id, kind=URGE, task_id=item.id,
                             spec_name=item.spec_name, title=item.title, start_at=item.created_at,
                             due_at=now, task_due_at=item.due_at, fired_at=now,
                             notified={**to, "reason": reason}, attempts=0))
        sent.append({"task": item.spec_name, "title": item.title, "to": to,
                     "due_at": item.due_at.isoformat() if item.due_at else None})
    return sent


@operator("kefu.escalate", results=lambda params: [
    {"level": params.get("level", 1), "role": params.get("role", "cs_head"),
     "reached_at": "2026-12-01T09:00:00+08:00", "to": "dryrun"}])
def escalate(context: OperatorContext, task: Any, params: dict[str, Any]) -> dict[str, Any]:
    """C9: the case reaches `level` (handled by `role`); the responsible department, and
    whoever holds an open task of the case, get a 催单. A shift-leader level goes to the
    leader of the shift on duty when it is reached (holding the role), else the owner's own
    team leader, else the CS head; the history records the chain followed (engine.people.roster)."""
    try:
        level = int(params["level"])
        role = str(params["role"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ScriptError(f"kefu.escalate needs parameters level (a number) and role: {exc}") \
            from exc
    if level < 1 or role not in ROLES:
        raise ScriptError(f"kefu.escalate: level must be 1 or more and role a known role, "
                          f"got level={level!r} role={role!r}")
    session, case = context.session, context.case
    now = context.kefu.clock.now()
    reached = _reached_at(task, now)
    row = session.get(CaseEscalation, case.id)
    if row is None:
        session.add(CaseEscalation(case_id=case.id, level=level, reached_at=reached))
    elif level > row.level:
        row.level, row.reached_at = level, reached
    routing = route(session, case.owner, at=reached) if role == "shift_leader" else None
    to = routing.person.username if routing and routing.person else None
    history.append(session, case, at=now, actor="system", action="escalated",
                   task_spec=task.task_spec.bpmn_id, task_title=task.task_spec.bpmn_name,
                   data={"level": level, "role": role, "reached_at": reached.isoformat(),
                         "to": to, **({"routing": routing.as_dict()} if routing else {})})
    department = case.department or task.data.get("department")
    notifications.notify(context.kefu, session, case, notifications.ESCALATION,
                         {"user": to} if to else {"role": role}, task.task_spec.bpmn_name or "",
                         level=level, role=role)
    sent = _urge(context, _attached_items(session, case, task), now,
                 f"escalation level {level}")
    history.append(session, case, at=now, actor="system", action="urged",
                   task_spec=task.task_spec.bpmn_id,
                   data={"level": level, "department": department, "tasks": sent})
    return {"level": level, "role": role, "reached_at": reached.isoformat(), "to": to}


@operator("kefu.urge", results=[{"urged": 1}, {"urged": 0}])
def urge(context: OperatorContext, task: Any, params: dict[str, Any]) -> dict[str, Any]:
    """C3, C8: the task a timer is attached to is overdue; its holder gets a 催单, and the
    history says so."""
    session, case = context.session, context.case
    now = context.kefu.clock.now()
    items = _attached_items(session, case, task)
    sent = _urge(context, items, now, "overdue")
    history.append(session, case, at=now, actor="system", action="urged",
                   task_spec=task.task_spec.bpmn_id,
                   data={"overdue": [i.spec_name for i in items],
                         "due_at": _reached_at(task, now).isoformat(), "tasks": sent})
    return {"urged": len(sent)}
