"""One unit of work per request: a session opened on first use, committed in one place
(after the view succeeded), rolled back if the request failed.

A view that calls an engine function which may refuse (a form error, a rule) wraps it in
`attempt()`: a savepoint, so the refusal undoes only that call and the page can still show
the error and keep what the request did read (e.g. the record of who viewed what, C12).

A GET or HEAD only shows: its unit of work is read-only, so on SQLite it takes no write
lock and never waits for another person's step (what it records, such as a full view of a
phone number, is written right after it by `engine.persistence.db.write_after`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from engine import Kefu

T = TypeVar("T")
#: Forms that only ask (a search posted so that a phone number stays out of the URL, C12).
READ_ONLY_POSTS = frozenset({"audit.search", "audit.export", "worklists.lookup"})


class _RequestFailed(Exception):
    """Passed into the unit of work so it rolls back."""


def kefu() -> Kefu:
    return current_app.extensions["kefu"]


def session() -> Session:
    if "db" not in g:
        stack = ExitStack()
        read_only = request.method in ("GET", "HEAD") or request.endpoint in READ_ONLY_POSTS
        g.db = stack.enter_context(kefu().session(read_only=read_only))
        g.db_stack = stack
    return g.db


def attempt(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one engine write in a savepoint: all of it happens, or none of it."""
    with session().begin_nested():
        return fn(*args, **kwargs)


def _commit(response: Response) -> Response:
    """Commit before the response leaves, so a failed commit is an error page, not a lie.

    Flask also runs this for the 500 page of an unexpected error: that rolls back.
    """
    if response.status_code >= 500:
        _rollback(None)
        return response
    stack: ExitStack | None = g.pop("db_stack", None)
    g.pop("db", None)
    if stack is not None:
        stack.close()  # leaves the unit of work without an error: commit
        g.kefu_saved = True  # an error from here on must not say that nothing was saved
    return response


def _rollback(error: BaseException | None) -> None:
    stack: ExitStack | None = g.pop("db_stack", None)
    g.pop("db", None)
    if stack is not None:
        failure = _RequestFailed("request failed")
        stack.__exit__(_RequestFailed, failure, None)


def init_app(app: Flask) -> None:
    app.after_request(_commit)
    app.teardown_request(_rollback)
