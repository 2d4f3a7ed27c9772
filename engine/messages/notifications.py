"""Telling people: a new task, a reminder (at `reminder_fraction` of its time), an overdue
notice, a 催单 and each escalation level (C9) reach the person on the channels the centre
configures (`Settings.notify_channels`: inapp, email, webhook), less those the person has
turned off for that kind of notice (`preferences`; in-app is always on). A group robot's
message @-mentions the people it names who have a mobile number.

A step only writes `notification` rows, inside its own transaction, so that a slow or
broken mail server can never hold a case's lock or undo a step. `deliver_due` sends the
pending rows later, each attempt outside any transaction, and retries a failure with
backoff until `notify_max_attempts`; a row that gave up stays `failed` with its error for
the administrators' page. In-app rows are delivered the moment the step commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from engine.config import Settings
from engine.messages.notify_channels import Channel, Outgoing, Undeliverable, channels_for
from engine.people.roles import ANYONE, ROLES, candidates
from engine.persistence import batch
from engine.persistence.db import CommitSignal
from engine.persistence.models import Case, Person, PersonRole
from engine.persistence.notice_models import RECIPIENTS_LENGTH, NoticePreference, Notification

if TYPE_CHECKING:
    from engine.kefu import Kefu
    from engine.persistence.db import Database

log = logging.getLogger(__name__)

TASK, REMINDER, OVERDUE, URGE, ESCALATION = "task", "reminder", "overdue", "urge", "escalation"
SMS_FAILED = "sms_failed"
KINDS = (TASK, REMINDER, OVERDUE, URGE, ESCALATION)
INAPP = "inapp"
PENDING, SENT, FAILED = "pending", "sent", "failed"
RETRY_MAX = timedelta(hours=1)
_TABLE = Notification.__table__
_INSERT = insert(_TABLE)


def _zh(text: str | None) -> str:
    """The Chinese half of a bilingual title (`联系投诉人 / Contact complainant`)."""
    return (text or "").split(" / ")[0].strip()


def _when(moment: datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def wording(kind: str, number: str, title: str, *, due: datetime | None = None,
            level: int | None = None, role: str | None = None, tz: ZoneInfo) -> str:
    """The line a person reads, Chinese first: the centre's language (English for the
    rest of the message comes from the task's own bilingual title)."""
    name = _zh(title)
    if kind == TASK:
        return f"新任务：{name}（案件 {number}）"
    if kind == REMINDER:
        return f"提醒：{name} 将于 {_when(due, tz)} 到期（案件 {number}）"
    if kind == OVERDUE:
        return f"已超时：{name} 已于 {_when(due, tz)} 到期（案件 {number}）"
    if kind == URGE:
        return f"催单：请尽快办理 {name}（案件 {number}）"
    if kind == SMS_FAILED:
        return f"答复短信未送达：案件 {number} 的客户没有收到答复，请改用电话或信函联系"
    role_name = ROLES.get(role or "", (role or "", ""))[0]
    return f"案件升级至第 {level} 级：案件 {number} 已转{role_name}（{name}）"


_PEOPLE = Person.__table__
_ROLES = PersonRole.__table__
#: Built once, with bound values: every step that opens a task asks this.
_HOLDERS = (select(_PEOPLE.c.username)
            .join(_ROLES, _ROLES.c.person_id == _PEOPLE.c.id)
            .where(_ROLES.c.role == bindparam("role"), _PEOPLE.c.active.is_(True))
            .order_by(_PEOPLE.c.username))
_HOLDERS_IN = _HOLDERS.where(_PEOPLE.c.department == bindparam("department"))
_COLUMNS = [c.key for c in _TABLE.c if c.key != "id"]


def _to(holders: Any) -> Any:
    """A notification row for each of `holders`, every other column a bound value."""
    return insert(_TABLE).from_select(_COLUMNS, holders.with_only_columns(*[
        _PEOPLE.c.username if name == "recipient" else
        bindparam(f"n_{name}", type_=_TABLE.c[name].type) for name in _COLUMNS]))


_TO_HOLDERS = _to(_HOLDERS)
_TO_HOLDERS_IN = _to(_HOLDERS_IN)


def recipients(session: Session, to: Mapping[str, Any]) -> list[str]:
    """The people a task's holder stands for: one named person, or everyone active with
    the role (in the department, when the task names one)."""
    if to.get("user"):
        return candidates(str(to["user"]))
    if not to.get("role"):
        return []
    if to["role"] == ANYONE:  # anyone in the department (a department the file names)
        return list(session.scalars(select(Person.username).where(
            Person.department == to.get("department"), Person.active.is_(True))
            .order_by(Person.username))) if to.get("department") else []
    if to.get("department"):
        found = session.connection().execute(
            _HOLDERS_IN, {"role": to["role"], "department": to["department"]})
    else:
        found = session.connection().execute(_HOLDERS, {"role": to["role"]})
    return list(found.scalars())


def notify(kefu: Kefu, session: Session, case: Case, kind: str, to: Mapping[str, Any],
           title: str, *, task_id: str | None = None, due: datetime | None = None,
           level: int | None = None, role: str | None = None) -> int:
    """Write the rows that tell `to` about `kind`, in the caller's transaction; returns
    how many. A group robot (webhook) gets one message naming everyone, not one each."""
    channels = kefu.settings.channels
    people = recipients(session, to)
    if not channels or not people:
        return 0
    tz = ZoneInfo(kefu.settings.timezone)
    subject = wording(kind, case.number, title, due=due, level=level, role=role, tz=tz)
    now = kefu.clock.now()
    rows = []
    off = _turned_off(session, people, kind) if channels != (INAPP,) else set()
    for channel in channels:
        wanted = [p for p in people if (p, channel) not in off]
        if not wanted:
            continue
        for person in wanted if channel != "webhook" else [_together(wanted)]:
            rows.append({
                "case_id": case.id, "recipient": person, "kind": kind, "channel": channel,
                "subject": subject[:300], "body": _body(kefu, subject, title, task_id, case),
                "task_id": task_id, "state": SENT if channel == INAPP else PENDING,
                "attempts": 0, "next_attempt_at": None if channel == INAPP else now,
                "last_error": None, "created_at": now,
                "sent_at": now if channel == INAPP else None, "read_at": None,
            })
    if not rows:
        return 0
    batch.write(session, _INSERT, rows)
    if any(r["channel"] != INAPP for r in rows):
        ENQUEUED.raise_after_commit(session, kefu.db)
    return len(rows)


def _together(people: list[str]) -> str:
    """The recipients of one group robot message: whole usernames only, as many as the
    column holds (a cut one would name and @ nobody)."""
    joined = ""
    for username in people:
        longer = f"{joined},{username}" if joined else username
        if len(longer) > RECIPIENTS_LENGTH:
            break
        joined = longer
    return joined


_PREFERENCES = NoticePreference.__table__
_OFF = (select(_PEOPLE.c.username, _PREFERENCES.c.channel)
        .join(_PREFERENCES, _PREFERENCES.c.person_id == _PEOPLE.c.id)
        .where(_PEOPLE.c.username.in_(bindparam("people", expanding=True)),
               _PREFERENCES.c.kind == bindparam("kind"),
               _PREFERENCES.c.enabled.is_(False), _PREFERENCES.c.channel != INAPP))


def _turned_off(session: Session, people: list[str], kind: str) -> set[tuple[str, str]]:
    """(person, channel) pairs the people chose not to be told `kind` on."""
    found = session.connection().execute(_OFF, {"people": people, "kind": kind})
    return {(username, channel) for username, channel in found}


def choosable(settings: Settings) -> tuple[str, ...]:
    """The centre's channels a person may turn off (in-app is always on)."""
    return tuple(c for c in settings.channels if c != INAPP)


def preferences(session: Session, settings: Settings, person_id: int
                ) -> dict[tuple[str, str], bool]:
    """(kind, channel) -> whether it reaches the person: on for every channel the centre
    has configured, unless the person turned it off."""
    out = {(kind, channel): True for kind in KINDS for channel in choosable(settings)}
    for row in session.scalars(select(NoticePreference)
                               .where(NoticePreference.person_id == person_id)):
        if (row.kind, row.channel) in out:
            out[row.kind, row.channel] = row.enabled
    return out


def save_preferences(session: Session, settings: Settings, person_id: int,
                     wanted: set[tuple[str, str]]) -> None:
    """Keep the person's choice for every kind and configured channel: on when in
    `wanted`. A channel the centre configures later starts on for everyone."""
    rows = {(r.kind, r.channel): r for r in session.scalars(
        select(NoticePreference).where(NoticePreference.person_id == person_id))}
    for key in preferences(session, settings, person_id):
        row = rows.get(key)
        if row is None:
            row = NoticePreference(person_id=person_id, kind=key[0], channel=key[1])
            session.add(row)
        row.enabled = key in wanted


def _body(kefu: Kefu, subject: str, title: str, task_id: str | None, case: Case) -> str:
    lines = [subject, title]
    base = kefu.settings.public_url.rstrip("/")
    if base:
        lines.append(f"{base}/tasks/{task_id}" if task_id else f"{base}/cases/{case.number}")
    return "\n".join(line for line in lines if line)


def new_tasks(kefu: Kefu, session: Session, case: Case, added: Iterable[Mapping[str, Any]]
              ) -> None:
    """The tasks a step opened, to whoever they are offered to. With in-app notices only
    (the default), a task offered to a role is written as one insert of the role's holders
    (not a read of them, then their rows): the step's writes then need no read in between
    (engine.persistence.batch). The other channels are chosen per person (NoticePreference)
    and a group robot names everyone in one message, so with them, and for offers to named
    people or a whole department, the people are read (`notify`)."""
    channels = kefu.settings.channels
    for row in added:
        if (row.get("candidate_user") or not row.get("role") or row["role"] == ANYONE
                or channels != (INAPP,)):
            to = {"user": row["candidate_user"]} if row.get("candidate_user") else \
                {"role": row["role"], "department": row.get("department")}
            notify(kefu, session, case, TASK, to, row["title"], task_id=row["id"])
            continue
        now = kefu.clock.now()
        subject = wording(TASK, case.number, row["title"], tz=ZoneInfo(kefu.settings.timezone))
        fixed = {"case_id": case.id, "kind": TASK, "subject": subject[:300],
                 "body": _body(kefu, subject, row["title"], row["id"], case),
                 "task_id": row["id"], "attempts": 0, "last_error": None, "created_at": now,
                 "read_at": None, "channel": INAPP, "state": SENT, "next_attempt_at": None,
                 "sent_at": now}
        batch.write(session, _TO_HOLDERS_IN if row.get("department") else _TO_HOLDERS, [
            {**{f"n_{k}": v for k, v in fixed.items()},
             "role": row["role"], "department": row.get("department")}])


# --- after commit: wake the sender -------------------------------------------------------

#: Raised by every unit of work that wrote outgoing rows (the timer worker sends them).
ENQUEUED = CommitSignal("outbox")


def on_enqueued(database: Database, callback: Callable[[], None]) -> None:
    """Call `callback` after a unit of work of this process that wrote outgoing rows
    commits (the timer worker of `kefu serve` sends them at once this way)."""
    ENQUEUED.connect(database, callback)


def remove_listener(database: Database, callback: Callable[[], None]) -> None:
    ENQUEUED.disconnect(database, callback)


# --- sending -------------------------------------------------------------------------------

@dataclass
class Delivered:
    """What one call of `deliver_due` did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0


def backoff(kefu: Kefu, attempts: int) -> timedelta:
    first = timedelta(seconds=kefu.settings.notify_retry_seconds)
    return min(first * 2 ** max(attempts - 1, 0), RETRY_MAX)


def deliver_due(kefu: Kefu, now: datetime | None = None, *, limit: int = 100,
                channels: Mapping[str, Channel] | None = None) -> Delivered:
    """Send what is pending at `now`: claim in one short transaction, send with no
    transaction open, record the outcome in another. A claimed row is leased until its
    next retry time, so a worker that dies mid-send leaves it to be retried, not lost."""
    now = now or kefu.clock.now()
    channels = channels if channels is not None else channels_for(kefu.settings)
    claimed = _claim(kefu, now, limit)
    outcomes: list[tuple[int, str | None, bool]] = []
    for message in claimed:
        channel = channels.get(message.channel)
        try:
            if channel is None:
                raise Undeliverable(f"渠道未配置 / channel {message.channel!r} is not configured")
            channel.send(message)
        except Undeliverable as exc:
            outcomes.append((message.id, str(exc), True))
        except Exception as exc:  # a channel's failure is recorded, never raised
            outcomes.append((message.id, f"{type(exc).__name__}: {exc}"[:2000], False))
        else:
            outcomes.append((message.id, None, False))
    return _record(kefu, now, outcomes)


def _claim(kefu: Kefu, now: datetime, limit: int) -> list[Outgoing]:
    with kefu.session() as session:
        query = (select(Notification, Person.email, Person.name, Person.staff_no,
                        Person.mobile)
                 .outerjoin(Person, Person.username == Notification.recipient)
                 .where(Notification.state == PENDING, Notification.next_attempt_at <= now)
                 .order_by(Notification.next_attempt_at, Notification.id).limit(limit)
                 .with_for_update(of=Notification, skip_locked=True))
        claimed = []
        for row, email, name, staff_no, mobile in session.execute(query):
            row.attempts += 1
            row.next_attempt_at = now + backoff(kefu, row.attempts)
            names, mobiles = _named(session, row.recipient, name, staff_no, mobile)
            claimed.append(Outgoing(row.id, row.channel, row.recipient, email, names,
                                    row.subject, row.body,
                                    mobiles if row.channel == "webhook" else ()))
    return claimed


def _named(session: Session, recipient: str, name: str | None, staff_no: str | None,
           mobile: str | None) -> tuple[str, tuple[str, ...]]:
    """How a robot message names its people (姓名（工号）, never a username alone) and
    the mobile numbers it @-mentions them by."""
    if name:
        return f"{name}（{staff_no}）", (mobile,) if mobile else ()
    users = recipient.split(",")
    found = {u: (f"{n}（{no}）", m) for u, n, no, m in session.execute(
        select(Person.username, Person.name, Person.staff_no, Person.mobile)
        .where(Person.username.in_(users)))}
    names = "、".join(found.get(u, (u, None))[0] for u in users)
    return names, tuple(m for u in users if (m := found.get(u, (u, None))[1]))


def _record(kefu: Kefu, now: datetime, outcomes: list[tuple[int, str | None, bool]]
            ) -> Delivered:
    result = Delivered()
    if not outcomes:
        return result
    with kefu.session() as session:
        rows = {r.id: r for r in session.scalars(
            select(Notification).where(Notification.id.in_([o[0] for o in outcomes])))}
        for row_id, error, permanent in outcomes:
            row = rows[row_id]
            row.last_error = error
            if error is None:
                row.state, row.sent_at, row.next_attempt_at = SENT, now, None
                result.sent += 1
            elif permanent or row.attempts >= kefu.settings.notify_max_attempts:
                row.state, row.next_attempt_at = FAILED, None
                result.failed += 1
                log.warning("notification %s to %s by %s failed for good: %s", row.id,
                            row.recipient, row.channel, error)
            else:
                result.retrying += 1
    return result


# --- what people and administrators see ----------------------------------------------------

def unread_count(session: Session, username: str) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.recipient == username, Notification.channel == INAPP,
        Notification.read_at.is_(None))) or 0


def inbox(session: Session, username: str, limit: int = 100
          ) -> list[tuple[Notification, str]]:
    """A person's in-app notifications, newest first, each with its case's number."""
    query = (select(Notification, Case.number).join(Case, Case.id == Notification.case_id)
             .where(Notification.recipient == username, Notification.channel == INAPP)
             .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
    return [(row, number) for row, number in session.execute(query)]


def mark_read(session: Session, username: str, now: datetime) -> None:
    session.execute(update(Notification).where(
        Notification.recipient == username, Notification.channel == INAPP,
        Notification.read_at.is_(None)).values(read_at=now))


@dataclass(frozen=True)
class ChannelHealth:
    channel: str
    sent: int
    pending: int
    retrying: int
    failed: int
    last_sent_at: datetime | None
    last_error: str | None


def channel_health(session: Session) -> list[ChannelHealth]:
    """Per channel: what went out, what waits, what keeps failing and why."""
    out = []
    channels = session.scalars(select(Notification.channel).distinct()
                               .where(Notification.channel != INAPP)).all()
    for channel in sorted(channels):
        mine = Notification.channel == channel
        counts = dict(session.execute(select(Notification.state, func.count())
                                      .where(mine).group_by(Notification.state)).all())
        retrying = session.scalar(select(func.count()).select_from(Notification).where(
            mine, Notification.state == PENDING, Notification.last_error.is_not(None))) or 0
        last_sent = session.scalar(select(func.max(Notification.sent_at)).where(mine))
        last_error = session.scalar(select(Notification.last_error).where(
            mine, Notification.last_error.is_not(None))
            .order_by(Notification.next_attempt_at.desc().nulls_first(),
                      Notification.id.desc()).limit(1))
        out.append(ChannelHealth(channel, counts.get(SENT, 0), counts.get(PENDING, 0),
                                 retrying, counts.get(FAILED, 0), last_sent, last_error))
    return out


def troubles(session: Session, limit: int = 50) -> Sequence[Notification]:
    """Messages that failed for good or are being retried, newest first."""
    return session.scalars(select(Notification).where(
        Notification.channel != INAPP, Notification.last_error.is_not(None),
        Notification.state != SENT)
        .order_by(Notification.id.desc()).limit(limit)).all()


def failing_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.channel != INAPP, Notification.state != SENT,
        Notification.last_error.is_not(None))) or 0
