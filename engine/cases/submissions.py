"""One form, one action: a double click, a browser retry or a resent request carries the
same submission key as the first, and gets the first one's result instead of a second case
or a "someone else completed it" warning.

The key is claimed in the same transaction as the action it guards, so a refused action
frees it again; a twin arriving while the first is still running waits for it on the key's
unique index (PostgreSQL) or on the write lock (SQLite), then finds its result.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.errors import PermissionDenied
from engine.persistence.submission_models import FormSubmission

#: What a rendered form carries (`new_key`): 32 hex digits.
KEY = re.compile(r"[0-9a-f]{32}")


def take(session: Session, key: str, username: str, now: datetime) -> str | None:
    """Claim `key` for the action about to run in this transaction; returns None, or where
    the result of an earlier submission of the same form is shown."""
    table = FormSubmission.__table__
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    claimed = session.execute(insert(table).values(key=key, username=username, created_at=now)
                              .on_conflict_do_nothing(index_elements=["key"]))
    if claimed.rowcount == 1:
        return None
    row = session.execute(select(table.c.username, table.c.result)
                          .where(table.c.key == key)).one()
    if row.username != username:
        raise PermissionDenied("submission: this form was submitted by someone else")
    return row.result


def result_of(session: Session, key: str, username: str) -> str | None:
    """Where an earlier, committed submission of `key` by `username` shows its result."""
    table = FormSubmission.__table__
    return session.execute(select(table.c.result).where(
        table.c.key == key, table.c.username == username)).scalar()


def done(session: Session, key: str, result: str) -> None:
    """Where the action's result is shown, for a repeat of the same submission."""
    table = FormSubmission.__table__
    session.execute(update(table).where(table.c.key == key).values(result=result[:300]))
