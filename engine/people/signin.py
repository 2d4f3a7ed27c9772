"""Sign-in throttling and server-side web sessions.

Failed sign-ins are rows (login_attempt), counted per account and per client address over
a window of the installation's settings; past the limit the account or address is locked
until the lockout has passed since its last failure, and while locked even the right
password is refused without being checked (such refusals are recorded but do not prolong
the lockout, so a person who keeps trying is let in when it ends). The rows live in the
database rather than in a rate limiter's store (Flask-Limiter keeps counts in memory,
Redis or Memcached, none of which every Kefu installation has, and it limits requests
rather than one account's failures) so that all worker processes share them, they survive
a restart and an administrator can read them. Sessions are rows too: a cookie names one,
and ending the row ends that cookie everywhere; idle and absolute lifetimes come from the
settings.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, joinedload

from engine.config import Settings
from engine.errors import NotFound
from engine.people.passwords import hash_password
from engine.persistence.models import Person
from engine.persistence.signin_models import LoginAttempt, WebSession

#: Writing last_seen on every request would make every page a write: to within a
#: hundredth of the idle timeout is precise enough (72 s of the default two hours).
_TOUCH_SHARE = 100


@dataclass(frozen=True)
class Lockout:
    until: datetime
    by: str  # "account" | "address"


def lockout(session: Session, settings: Settings, username: str, address: str,
            now: datetime) -> Lockout | None:
    """Whether sign-in for `username` from `address` is locked now, and until when."""
    since = now - timedelta(minutes=settings.login_window_minutes)
    hold = timedelta(minutes=settings.login_lockout_minutes)
    found: list[Lockout] = []
    for column, value, limit, by, after in (
            (LoginAttempt.username, username, settings.login_failures_per_account, "account",
             _last_success(session, username, since)),
            (LoginAttempt.address, address, settings.login_failures_per_address, "address",
             since)):
        count, last = session.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(
                column == value, LoginAttempt.outcome == "wrong",
                LoginAttempt.at > after)).one()
        if count >= limit and last is not None and last + hold > now:
            found.append(Lockout(until=last + hold, by=by))
    return max(found, key=lambda lock: lock.until) if found else None


def _last_success(session: Session, username: str, since: datetime) -> datetime:
    """An account's failures before its own successful sign-in are forgiven (an address's
    are not: signing in to one's own account must not reset guessing at others')."""
    ok = session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.username == username, LoginAttempt.outcome == "ok",
        LoginAttempt.at > since))
    return ok or since


def record_attempt(session: Session, username: str, address: str, now: datetime,
                   outcome: str) -> None:
    session.add(LoginAttempt(at=now, username=username[:60], address=address[:64],
                             outcome=outcome))
    session.flush()


#: Rows deleted per transaction: a long backlog is pruned in short transactions, so that
#: sign-ins (which write this table) wait for none of them long.
PRUNE_BATCH = 5000


def prune_attempts(session: Session, settings: Settings, now: datetime) -> int:
    """Delete up to PRUNE_BATCH sign-in attempts older than `login_attempt_days`; the
    caller commits and calls again while it returns PRUNE_BATCH. Lockouts look back
    minutes and reviews a day, so old rows only grow the table (and keep addresses)."""
    cutoff = now - timedelta(days=settings.login_attempt_days)
    oldest = select(LoginAttempt.id).where(LoginAttempt.at < cutoff).limit(PRUNE_BATCH)
    ids = list(session.scalars(oldest))
    if ids:
        session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(ids)))
    return len(ids)


def recent_failures(session: Session, now: datetime, hours: float = 24,
                    limit: int = 200) -> list[LoginAttempt]:
    """What an administrator reviews: failed and refused sign-ins, newest first."""
    return list(session.scalars(
        select(LoginAttempt).where(LoginAttempt.outcome != "ok",
                                   LoginAttempt.at > now - timedelta(hours=hours))
        .order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc()).limit(limit)))


def open_session(session: Session, person: Person, address: str, now: datetime) -> str:
    """A new session for `person`; returns its id, the only thing the cookie carries."""
    sid = secrets.token_urlsafe(32)
    session.add(WebSession(id=sid, person_id=person.id, created_at=now, last_seen_at=now,
                           address=address[:64]))
    session.flush()
    return sid


def live_session(session: Session, settings: Settings, sid: str,
                 now: datetime) -> WebSession | None:
    """The session `sid` if it is live now: not ended, idled out or past its absolute
    lifetime, and of an active person. Only reads, so a page that only shows may ask.
    The session, its person (`row.person`) and their roles in one query: every page asks.
    """
    row = session.scalars(select(WebSession).where(WebSession.id == sid).options(
        joinedload(WebSession.person).joinedload(Person.roles))).unique().first()
    if row is None or row.revoked_at is not None:
        return None
    idle = timedelta(minutes=settings.session_idle_minutes)
    absolute = timedelta(hours=settings.session_absolute_hours)
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        return None
    return row if row.person.active else None


def touch_due(row: WebSession, settings: Settings, now: datetime) -> bool:
    return now - row.last_seen_at >= timedelta(minutes=settings.session_idle_minutes) / \
        _TOUCH_SHARE


def touch(session: Session, sid: str, now: datetime) -> None:
    """Note that the session was used now (its idle timeout starts again)."""
    session.execute(update(WebSession).where(WebSession.id == sid).values(last_seen_at=now))


def end_session(session: Session, sid: str, now: datetime) -> None:
    session.execute(update(WebSession).where(WebSession.id == sid,
                                             WebSession.revoked_at.is_(None))
                    .values(revoked_at=now))


def end_sessions_of(session: Session, person_id: int, now: datetime) -> int:
    """End every session of a person (password changed, access revoked)."""
    result = session.execute(update(WebSession).where(WebSession.person_id == person_id,
                                                      WebSession.revoked_at.is_(None))
                             .values(revoked_at=now))
    return result.rowcount or 0


def _person(session: Session, username: str) -> Person:
    person = session.scalar(select(Person).where(Person.username == username))
    if person is None:
        raise NotFound(f"username: no person {username!r}")
    return person


def set_password(session: Session, username: str, password: str, now: datetime) -> int:
    """A new password; every session of the person ends. Returns sessions ended."""
    if len(password) < 8:
        raise ValueError("password: at least 8 characters / 密码至少 8 个字符")
    person = _person(session, username)
    person.password_hash = hash_password(password)
    return end_sessions_of(session, person.id, now)


def deactivate(session: Session, username: str, now: datetime) -> int:
    """Revoke a person's access: no sign-in, every session ends (API tokens: kefu token
    revoke). Returns sessions ended."""
    person = _person(session, username)
    person.active = False
    return end_sessions_of(session, person.id, now)
