"""A banner for process owners and leaders when the official holiday schedule does not
reach the next `calendar_horizon_days` (engine.calendar_coverage): they are the ones who can
import it (`kefu calendar import`) or must know that holiday rules are provisional."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, g

import engine
from web.presentation.display import day
from web.presentation.i18n import bi
from web.server import db

ROLES = frozenset({"process_owner", "shift_leader", "cs_head"})


def init_app(app: Flask) -> None:
    @app.context_processor
    def calendar_warning() -> dict[str, Any]:
        actor = g.get("actor")
        if actor is None or not (actor.roles & ROLES):
            return {"calendar_warning": None}
        kefu = db.kefu()
        coverage = engine.calendar_coverage(db.session(), kefu.settings, kefu.clock.now())
        return {"calendar_warning": None if coverage.ok else _words(coverage)}


def _words(coverage: Any) -> str:
    """The gap as a leader reads it, with who closes it (docs/calendar.md has the how)."""
    last, first = day(coverage.first_gap - timedelta(days=1)), day(coverage.first_gap)
    text = bi(f"节假日安排只覆盖到{last}：{first}起的法定假日和调休尚未按国务院的放假安排导入，"
              f"涉及这些日子的请假、换班检查和工作时限会在案件上标出，可能有误。 / The holiday "
              f"schedule ends on {last}: from {first} the public holidays and make-up working "
              f"days are not yet imported from the State Council's schedule; leave and swap "
              f"checks and working-time deadlines on those days are flagged on their cases "
              f"and may be wrong.")
    return text + bi("请流程管理员导入国务院公布的放假安排。 / A process owner imports the State "
                     "Council's schedule.")
