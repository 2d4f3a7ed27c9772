"""The ceiling: the same complaint BPMN and data run by SpiffWorkflow alone, in memory.

No database, no history, no forms, no inbox: only the parser's spec (parsed once), a
BpmnWorkflow, Kefu's sandboxed script engine with the same helpers, and a stub
`kefu.send_reply` operator. Kefu's throughput is reported as a share of this.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.config import Settings
from engine.scripting.sandbox import KefuScriptEngine
from tests.benchmarks.common import ROOT, SHORT_PATH, Step
from tests.complaints import INTAKE


class InMemoryComplaints:
    def __init__(self) -> None:
        parser = SpiffBpmnParser()
        parser.add_bpmn_file(str(ROOT / "processes" / "complaint.bpmn"))
        parser.add_dmn_file(str(ROOT / "processes" / "complaint_class.dmn"))
        self.spec = parser.get_spec("complaint")
        self.subprocess_specs = parser.get_subprocess_specs("complaint")
        settings = Settings()
        self.helpers = {
            "now": lambda: datetime.now(UTC).isoformat(),
            "add_hours": lambda iso, hours: _shift(iso, timedelta(hours=hours)),
            "add_days": lambda iso, days: _shift(iso, timedelta(days=days)),
            "setting": settings.number,
            **_deadline_helpers(settings),
        }
        self.operators = {"kefu.send_reply": _send_reply_stub}
        self.count = 0

    def run(self, path: Sequence[Step] = SHORT_PATH,
            step_times: list[float] | None = None) -> BpmnWorkflow:
        """Intake, then each step, as Kefu does it: same data, same bookkeeping fields.

        With `step_times`, each step's time after intake is appended to it."""
        self.count += 1
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs)
        workflow.script_engine = KefuScriptEngine(self.helpers, self.operators)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(case_number=f"TS{self.count:07d}", process="complaint")
        workflow.do_engine_steps()
        for spec_name, username, data in [("intake", "agent01", INTAKE), *path]:
            started = time.perf_counter()
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            task = next(t for t in ready if t.task_spec.bpmn_id == spec_name)
            now = datetime.now(UTC).isoformat()
            task.data.update(data)
            task.data[f"{spec_name}_by"] = username
            task.data[f"{spec_name}_at"] = now
            if spec_name == "intake":
                task.data.update(owner=username, owner_staff_no="1001", accepted_at=now)
            task.run()
            workflow.do_engine_steps()
            if step_times is not None and spec_name != "intake":
                step_times.append(time.perf_counter() - started)
        if not workflow.is_completed():
            raise RuntimeError("the in-memory complaint did not reach the archive")
        return workflow


def _deadline_helpers(settings: Settings) -> dict[str, Any]:
    """The deadline helpers Kefu gives scripts (working_time, hours), where they exist."""
    try:
        from engine.timing import deadlines
    except ImportError:
        return {}
    return deadlines.script_helpers(settings)


def _shift(iso: str, delta: timedelta) -> str:
    return (datetime.fromisoformat(iso) + delta).isoformat()


def _send_reply_stub(task: Any, params: dict[str, Any]) -> dict[str, Any]:
    return {"channel": params["channel"], "sms_id": 0, "segments": 1, "status": "queued"}
