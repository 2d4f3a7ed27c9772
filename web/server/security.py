"""Request guards that hold for every page: CSRF tokens on every form, auditors refused any
write on the server (not only shown no button), and security headers on every response."""

from __future__ import annotations

import hmac
import secrets
import uuid
from typing import Any

from flask import Flask, abort, current_app, g, request, session

from engine.cases import submissions

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: POST endpoints that change no case, process or task: an auditor may use them (the
#: audit search is a POST so that a phone number searched for stays out of the URL, C12;
#: a checkpoint to verify against is uploaded, and only read).
NOT_WRITES = frozenset({"auth.login", "auth.logout", "auth.language", "audit.search",
                        "audit.export", "audit.verify_upload"})
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: Letters are the engine's own escaped HTML with an inline stylesheet and nothing else.
LETTER_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def submission_key() -> str:
    """The key a rendered form sends back (engine.cases.submissions): kept when the same form is
    shown again with its errors, so a retry of it is still the same submission."""
    sent = request.form.get("submission", "")
    return sent if submissions.KEY.fullmatch(sent) else uuid.uuid4().hex


def _is_api() -> bool:
    """Under /api even when no route matched (an unknown path or a wrong method)."""
    return request.blueprint == "api" or request.path.startswith("/api/")


def _check_csrf() -> None:
    if request.method in SAFE_METHODS or _is_api():
        return  # the API authenticates by token header, which no other site can send
    if request.routing_exception is not None:
        return  # no view will run: the answer is its 404 or 405, not a CSRF refusal
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="csrf")


def is_read_only(actor: Any) -> bool:
    """Auditors read everything and change nothing (A2, A3)."""
    return actor is not None and "auditor" in actor.roles


def _refuse_auditor_writes() -> None:
    if request.method in SAFE_METHODS or _is_api() or request.routing_exception is not None:
        return  # the API applies the same rule to the token's person
    if request.endpoint in NOT_WRITES:
        return
    if is_read_only(g.get("actor")):
        abort(403, description="read-only")


#: Sent instead of the server's own name and version (Werkzeug, waitress): whichever
#: serves the app, a response says nothing an attacker could match to a known flaw.
SERVER = "Kefu"
HSTS = "max-age=31536000; includeSubDomains"


def _headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.endpoint and request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers["Server"] = SERVER
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def init_app(app: Flask) -> None:
    """Run after the login loader (web.views.auth registers it first)."""
    app.before_request(_check_csrf)
    app.before_request(_refuse_auditor_writes)
    app.after_request(_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["submission_key"] = submission_key

