"""Logging in and out, who is asking, and the language switch.

Passwords are checked with the engine's scrypt hashes, after the engine's throttle
(engine.people.signin) has said the account and the address are not locked out. The signed,
HttpOnly, SameSite=Lax cookie names a server-side session and carries no user id (besides
the CSRF token and the chosen language): logging out, a new password or a revoked person
ends the session row, and with it the cookie, in every browser and process.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

import engine
from engine import actor_for, check_password, hash_password
from engine import models as m
from engine.persistence.db import write_after
from web.presentation.display import when
from web.presentation.helpers import now
from web.presentation.i18n import LANGUAGES
from web.server import db
from web.server.security import csrf_token

bp = Blueprint("auth", __name__)
_DUMMY_HASH: list[str] = []


def _password_ok(person: m.Person | None, password: str) -> bool:
    """Check as slowly for an unknown username, so timing does not reveal who exists."""
    if person is None or not person.active:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(hash_password("not-a-password"))
        check_password(_DUMMY_HASH[0], password)
        return False
    return check_password(person.password_hash, password)


def load_user() -> None:
    """Put the logged-in person (and their Actor) on `g`, or nothing."""
    g.person = None
    g.actor = None
    if request.endpoint == "static" or request.blueprint == "api":
        return
    sid = session.get("sid")
    if not isinstance(sid, str):
        return
    store, moment = db.session(), now()
    settings = db.kefu().settings
    row = engine.people.signin.live_session(store, settings, sid, moment)
    if row is None:
        session.pop("sid", None)
        return
    if engine.people.signin.touch_due(row, settings, moment):  # written after a page's unit
        write_after(store, lambda writer: engine.people.signin.touch(writer, sid, moment))
    person = row.person
    g.person = person
    g.actor = actor_for(person)


def client_address() -> str:
    """The address a sign-in came from (behind a proxy, configure ProxyFix for it)."""
    return request.remote_addr or "-"


def login_required(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("actor") is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return fn(*args, **kwargs)
    return wrapper


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Only people holding one of `roles`; others get 403 (checked on the server)."""
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not (g.actor.roles & set(roles)):
                abort(403)
            return fn(*args, **kwargs)
        return wrapper
    return decorate


def _safe_next(target: str | None) -> str:
    """Only a path on this site: a login link must not send anyone elsewhere."""
    if not target:
        return url_for("index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error, status = None, 200
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:60]
        address, moment, store = client_address(), now(), db.session()
        locked = engine.people.signin.lockout(store, db.kefu().settings, username, address, moment)
        person = store.scalar(select(m.Person).where(m.Person.username == username))
        if locked is not None:
            engine.people.signin.record_attempt(store, username, address, moment, "locked")
            error, status = _("Too many failed log-ins: try again after %(time)s.",
                              time=when(locked.until, "%H:%M")), 429
        elif _password_ok(person, request.form.get("password", "")):
            engine.people.signin.record_attempt(store, username, address, moment, "ok")
            lang = session.get("lang")
            session.clear()
            session.permanent = True
            session["sid"] = engine.people.signin.open_session(store, person, address, moment)
            if lang:
                session["lang"] = lang
            csrf_token()
            return redirect(_safe_next(request.args.get("next")))
        else:
            engine.people.signin.record_attempt(store, username, address, moment, "wrong")
            error, status = _("Wrong username or password."), 401
    return render_template("auth/login.html", error=error), status


@bp.post("/logout")
def logout() -> Any:
    lang = session.get("lang")
    if isinstance(session.get("sid"), str):
        engine.people.signin.end_session(db.session(), session["sid"], now())
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language() -> Any:
    chosen = request.form.get("lang", "")
    if chosen in LANGUAGES:
        session["lang"] = chosen
    return redirect(_safe_next(request.form.get("next")))
