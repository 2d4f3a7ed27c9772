"""One click, one action (engine.cases.submissions): the web half.

Forms rendered by `form_fields` carry a submission key. A repeat of the same submission
(a double click, a browser retry after a lost response) is answered with the first one's
result and a word that it was done once, never with a second case or a conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, g, redirect, request
from flask_babel import gettext as _

from engine.cases import submissions
from web.presentation.helpers import now
from web.server import db


def _key() -> str | None:
    key = request.form.get("submission", "")
    return key if request.method == "POST" and submissions.KEY.fullmatch(key) else None


def earlier_result() -> Any:
    """A redirect to where this form's earlier submission shows its result, or None."""
    key = _key()
    if key is None:
        return None
    target = submissions.result_of(db.session(), key, g.actor.username)
    if target is None:
        return None
    flash(_("This form was already submitted; it was done once."), "info")
    return redirect(target)


def once(action: Callable[[], str]) -> str:
    """Run `action` (it returns where its result is shown) unless a twin of this submission
    got there first; returns where the result is shown. Call it inside `db.attempt`, so
    that a refused action frees the key again."""
    key = _key()
    if key is None:  # a form without a key (an old page, a script): no guard to apply
        return action()
    target = submissions.take(db.session(), key, g.actor.username, now())
    if target is not None:
        flash(_("This form was already submitted; it was done once."), "info")
        return target
    target = action()
    submissions.done(db.session(), key, target)
    return target
