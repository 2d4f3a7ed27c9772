"""Kefu's web layer: the staff inbox, case pages, auditors' search and process owners'
deployments, plus a JSON API. It adds pages, not rules: every decision goes through the
engine's Python API, and each request is one unit of work (see `web.server.db`)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import Flask, g, redirect, url_for
from werkzeug.wrappers import Response

from engine import Kefu, instance, settings_from_env
from engine.scripting import workers
from web.presentation import i18n
from web.server import db, errors, logmask, security
from web.server.jsonbody import StrictJSONProvider


def create_app(config: dict[str, Any] | None = None, kefu: Kefu | None = None) -> Flask:
    """Defaults, then instance/config.py, then `config`; the Kefu object is shared by all
    requests and kept in `app.extensions["kefu"]`."""
    app = Flask(__name__, instance_relative_config=True)
    app.json = StrictJSONProvider(app)
    kefu = kefu or Kefu(settings_from_env())
    app.config.from_mapping(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("KEFU_SECURE_COOKIES", "") in {"1", "true"},
        SESSION_COOKIE_NAME="kefu_session",
        # The cookie may outlive a session no longer than the server-side absolute lifetime;
        # the idle timeout and revocation are the session row's (engine.people.signin).
        PERMANENT_SESSION_LIFETIME=timedelta(hours=kefu.settings.session_absolute_hours),
        # A form with files: the largest file a form may take, and the rest of the form.
        MAX_CONTENT_LENGTH=kefu.settings.attachment_max_bytes + 2 * 1024 * 1024,
        BABEL_DEFAULT_LOCALE=i18n.DEFAULT_LOCALE,
        BABEL_DEFAULT_TIMEZONE=kefu.settings.timezone,
    )
    app.config.from_pyfile("config.py", silent=True)
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        # The installation's, next to its database (or KEFU_SECRET_KEY), never the code
        # checkout's: two installations run from one checkout must not trust each other.
        app.config["SECRET_KEY"] = instance.session_secret(kefu.settings)
    app.extensions["kefu"] = kefu
    # Scripts run in worker processes: start them now, not at the first request's step.
    workers.warm_up(kefu.settings.script_workers)

    from web.views import (
        api,
        attachments,
        audit,
        auth,
        cases,
        dashboard,
        inbox,
        notices,
        processes,
        roster,
        tasks,
        worklists,
    )

    i18n.init_app(app)
    db.init_app(app)
    app.before_request(auth.load_user)  # before the guards that look at who is asking
    security.init_app(app)
    logmask.init_app()
    errors.init_app(app)
    from web.presentation import calendar_banner

    calendar_banner.init_app(app)

    for module in (auth, inbox, tasks, cases, audit, processes, api, attachments, notices,
                   dashboard, worklists, roster):
        app.register_blueprint(module.bp)

    @app.get("/")
    def index() -> Response:
        """Leaders and the centre director land on the dashboard, everyone else on the inbox."""
        return redirect(url_for("dashboard.index" if dashboard.is_leader() else "inbox.index"))

    @app.context_processor
    def navigation() -> dict[str, Any]:
        roles = g.actor.roles if g.get("actor") else frozenset()
        return {"nav": {"may_start": bool(roles) and "auditor" not in roles,
                        "audits": "auditor" in roles,
                        "processes": bool(roles & {"auditor", "process_owner"}),
                        "dashboard": dashboard.is_leader()}}

    return app

