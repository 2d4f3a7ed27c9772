"""A banner for process owners and leaders when the official holiday schedule does not
reach the next `calendar_horizon_days` (engine.calendar_coverage): they are the ones who can
import it (`kefu calendar import`) or must know that holiday rules are provisional."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

import engine
from web import db

ROLES = frozenset({"process_owner", "shift_leader", "cs_head"})


def init_app(app: Flask) -> None:
    @app.context_processor
    def calendar_warning() -> dict[str, Any]:
        actor = g.get("actor")
        if actor is None or not (actor.roles & ROLES):
            return {"calendar_warning": None}
        kefu = db.kefu()
        coverage = engine.calendar_coverage(db.session(), kefu.settings, kefu.clock.now())
        return {"calendar_warning": None if coverage.ok else coverage.message}
