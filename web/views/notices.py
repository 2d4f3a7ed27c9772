"""A person's notifications (the count in the header, the list, the channels each kind of
notice reaches them on) and, for administrators (process owners), the state of each sending
channel with the messages that keep failing."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from engine.messages import notifications
from web.presentation.helpers import now
from web.server import db
from web.views.auth import login_required, roles_required

bp = Blueprint("notices", __name__)
ADMINS = ("process_owner",)


def channel_names() -> dict[str, str]:
    return {"inapp": _("In the app"), "email": _("E-mail"), "webhook": _("Group robot")}


def state_names() -> dict[str, str]:
    return {notifications.PENDING: _("Waiting to be sent"), notifications.SENT: _("Sent"),
            notifications.FAILED: _("Failed")}


def unread_count() -> int:
    """The signed-in person's unread notices, read once a request: the header shows it,
    and the inbox's digest (web.views.inbox) counts it in."""
    if "kefu_unread" not in g:
        g.kefu_unread = notifications.unread_count(db.session(), g.actor.username)
    return g.kefu_unread


@bp.app_context_processor
def header_counts() -> dict[str, Any]:
    """The header's unread count, and for administrators the failing messages."""
    actor = g.get("actor")
    if actor is None:
        return {}
    session = db.session()
    try:
        failing = notifications.failing_count(session) if set(ADMINS) & actor.roles else 0
        unread = unread_count()
    except SQLAlchemyError:  # an error page after the database failed: show it without counts
        return {"notice_counts": {"unread": 0, "failing": 0}}
    return {"notice_counts": {"unread": unread, "failing": failing}}


@bp.get("/notifications")
@login_required
def index() -> Any:
    rows = notifications.inbox(db.session(), g.actor.username)
    return render_template("notices/list.html", rows=rows)


@bp.post("/notifications/read")
@login_required
def read() -> Any:
    notifications.mark_read(db.session(), g.actor.username, now())
    return redirect(url_for("notices.index"))


@bp.get("/notifications/preferences")
@login_required
def preferences() -> Any:
    settings = db.kefu().settings
    return render_template(
        "notices/preferences.html", kinds=notifications.KINDS,
        chosen=notifications.preferences(db.session(), settings, g.person.id),
        choosable=notifications.choosable(settings), channels=channel_names(),
        person=g.person)


@bp.post("/notifications/preferences")
@login_required
def save_preferences() -> Any:
    """Boxes left unticked turn a channel off; anything not offered is ignored."""
    settings = db.kefu().settings
    wanted = {(kind, channel) for kind, _sep, channel in
              (value.partition(":") for value in request.form.getlist("on"))}
    notifications.save_preferences(db.session(), settings, g.person.id, wanted)
    flash(_("Your notification choices are saved."), "info")
    return redirect(url_for("notices.preferences"))


@bp.get("/admin/outbox")
@roles_required(*ADMINS)
def outbox() -> Any:
    session = db.session()
    return render_template("notices/outbox.html", health=notifications.channel_health(session),
                           troubles=notifications.troubles(session),
                           channels=channel_names(), states=state_names())
