"""Starting the cases of timer start events, exactly once each with any number of workers.

A due schedule row is claimed with `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite's
single writer serialises), its case started and the row moved on in one transaction: a
worker that dies before committing starts nothing, and another worker skips the locked row.
A start that fails (a process whose first step needs data, say) is logged and its time
passed, so one broken schedule does not stop the others.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from engine.cases.runtime import start_case
from engine.definitions import timerstarts
from engine.errors import KefuError
from engine.kefu import Kefu
from engine.people.roles import Actor
from engine.persistence.start_models import TimerStart
from engine.records import history

log = logging.getLogger(__name__)
SCHEDULE = Actor(username="system", staff_no="", roles=frozenset())


def fire_timer_starts(kefu: Kefu, now: datetime) -> int:
    """Start every case whose scheduled time has come; returns how many were started."""
    started = 0
    while True:
        with kefu.session() as session:
            row = session.scalar(select(TimerStart).where(TimerStart.next_at <= now)
                                 .order_by(TimerStart.next_at).limit(1)
                                 .with_for_update(skip_locked=True))
            if row is None:
                return started
            due = row.next_at
            try:
                with session.begin_nested():
                    case = start_case(kefu, session, row.process_id, SCHEDULE)
                    history.append(session, case, at=now, actor="system",
                                   action="started_by_timer",
                                   data={"event": row.spec_name, "timer": row.expression,
                                         "due": due.isoformat() if due else None})
                started += 1
            except KefuError as exc:
                log.error("timer start of %s at %s failed: %s", row.process_id, due, exc)
            timerstarts.advance(row)
