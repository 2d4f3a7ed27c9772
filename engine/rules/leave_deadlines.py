"""When a leave must be decided: the endorsement is due before the shift (L2), and a
request its shift reaches undecided is flagged as L1 says (processes/leave.bpmn's timers)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.config import Settings
from engine.definitions.operators import OperatorContext, operator
from engine.definitions.specs import task_title
from engine.persistence.models import HistoryRecord
from engine.records import history
from engine.rules.common import moment_en, moment_zh, tz_of

_DECISIONS = ("endorse", "approve_cs_head", "approve_director")


def endorse_times(settings: Settings, begins: datetime, now: datetime, *,
                  emergency: bool) -> dict[str, str]:
    """L2: the endorsement is due `leave_endorse_before_hours` before the shift (or half way
    there when asked later); L1: at the shift's start an undecided request is flagged. An
    emergency or a shift already begun has no "before": it is due within that lead time."""
    lead = timedelta(hours=settings.leave_endorse_before_hours)
    if emergency or begins <= now:
        due = now + lead
        return {"endorse_due": due.isoformat(), "shift_starts_at": due.isoformat()}
    due = max(begins - lead, now + (begins - now) / 2)
    return {"endorse_due": due.isoformat(), "shift_starts_at": begins.isoformat()}


@operator("kefu.flag_unanswered_leave", results=[
    {"flagged": False}, {"flagged": True, "note": "未及时审批 / not answered in time",
                         "pending": ["endorse"]}])
def flag_unanswered_leave(context: OperatorContext, task: Any,
                          params: dict[str, Any]) -> dict[str, Any]:
    """L1: a request its shift reached undecided counts only once a manager approves it,
    otherwise as absence; the case says so (once). Decided meanwhile, or an emergency
    (phoned in, L5): nothing. Reached from the endorsement's and each approval's timer."""
    waiting = [t.task_spec for t in task.workflow.get_tasks(state=TaskState.READY, manual=True)
               if t.task_spec.bpmn_id in _DECISIONS]
    pending = [spec.bpmn_id for spec in waiting]
    titles = [task_title(spec).split(" / ") for spec in waiting]  # "中文 / English"
    if not pending or task.data.get("emergency") or _flagged(context):
        return {"flagged": False}
    tz, now = tz_of(context), context.kefu.clock.now()
    starts = datetime.fromisoformat(task.data["shift_starts_at"])
    zh, en = "、".join(t[0] for t in titles), ", ".join(t[-1] for t in titles)
    note = (f"班次于 {moment_zh(starts, tz)} 开始时请假仍未审批（待：{zh}）；"
            f"须经管理人员批准方可生效，否则按旷工处理（L1）。 / The shift began at "
            f"{moment_en(starts, tz)} with the leave still undecided (waiting: {en}); it counts "
            f"only once a manager approves it, otherwise as absence (L1).")
    history.append(context.session, context.case, at=now, actor="system",
                   action="unanswered_at_shift", task_spec=task.task_spec.bpmn_id,
                   data={"rule": "L1", "pending": pending, "shift_starts_at": starts.isoformat(),
                         "note": note})
    return {"flagged": True, "note": note, "pending": pending}


def _flagged(context: OperatorContext) -> bool:
    """Several timers may reach the shift's start (one per level): the case says it once."""
    return context.session.scalar(select(HistoryRecord.id).where(
        HistoryRecord.case_id == context.case.id,
        HistoryRecord.action == "unanswered_at_shift").limit(1)) is not None
