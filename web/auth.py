"""Logging in and out, who is asking, and the language switch.

Passwords are checked with the engine's scrypt hashes; the session cookie is signed,
HttpOnly, SameSite=Lax and expires after `PERMANENT_SESSION_LIFETIME` without use.
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

from engine import actor_for, check_password, hash_password
from engine import models as m
from web import db
from web.i18n import LANGUAGES
from web.security import csrf_token

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
    person_id = session.get("uid")
    if person_id is None:
        return
    person = db.session().get(m.Person, person_id)
    if person is None or not person.active:
        session.clear()
        return
    g.person = person
    g.actor = actor_for(person)


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
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        person = db.session().scalar(select(m.Person).where(m.Person.username == username))
        if _password_ok(person, request.form.get("password", "")):
            lang = session.get("lang")
            session.clear()
            session.permanent = True
            session["uid"] = person.id
            if lang:
                session["lang"] = lang
            csrf_token()
            return redirect(_safe_next(request.args.get("next")))
        error = _("Wrong username or password.")
    return render_template("auth/login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout() -> Any:
    lang = session.get("lang")
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
