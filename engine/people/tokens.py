"""API tokens: create one for a person, and find the person behind a presented token.

The token is shown once at creation; the database keeps its SHA-256 only. A token acts as
its person, with that person's roles, so the API can do nothing the person could not.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.errors import NotFound, PermissionDenied
from engine.people.organisation import actor_for
from engine.people.roles import Actor
from engine.persistence.db import write_after
from engine.persistence.models import Person
from engine.persistence.token_models import ApiToken

PREFIX = "kefu_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, username: str, now: datetime, name: str = "api") -> str:
    """A new token for an active person; returns the only copy of the plain token."""
    person = session.scalar(select(Person).where(Person.username == username))
    if person is None or not person.active:
        raise NotFound(f"username: no active person {username!r}")
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(person_id=person.id, name=name[:80], token_hash=_digest(token),
                         created_at=now))
    session.flush()
    return token


def actor_for_token(session: Session, token: str, now: datetime) -> Actor:
    """The person a token acts as; refused if unknown, revoked, or the person is inactive."""
    digest = _digest(token or "")
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise PermissionDenied("token: unknown token")
    if row.revoked_at is not None:
        raise PermissionDenied("token: this token was revoked")
    person = session.get(Person, row.person_id)
    if person is None or not person.active:
        raise PermissionDenied("token: its person is no longer active")
    token_id = row.id

    def used(writer: Session) -> None:
        writer.execute(update(ApiToken).where(ApiToken.id == token_id)
                       .values(last_used_at=now))
    write_after(session, used)
    return actor_for(person)


def revoke_tokens(session: Session, username: str, now: datetime) -> int:
    """Revoke every token of a person (they left, or a token leaked); returns how many."""
    person = session.scalar(select(Person).where(Person.username == username))
    if person is None:
        raise NotFound(f"username: no person {username!r}")
    rows = session.scalars(select(ApiToken).where(ApiToken.person_id == person.id,
                                                  ApiToken.revoked_at.is_(None))).all()
    for row in rows:
        row.revoked_at = now
    session.flush()
    return len(rows)
