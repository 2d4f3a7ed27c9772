"""What the leave, swap and report operators share: who started the case, reading people,
times and dates out of form data, and saying times and people in Chinese and English."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions.operators import OperatorContext, operator
from engine.errors import FormValidationError
from engine.people.roster import MONTHS_EN, day_en, day_zh  # noqa: F401 - re-exported
from engine.persistence.models import Person


@operator("kefu.starter", results=[{"started_by": "dryrun", "started_by_name": "试运行",
                                    "started_by_staff_no": "0000"}])
def starter(context: OperatorContext, task: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Names the person who opened the case, so that its first task is offered to them
    alone (candidateUser = started_by) whatever their role: anyone may ask for leave."""
    person = person_named(context.session, context.case.created_by, "started_by")
    result = {"started_by": person.username, "started_by_name": person.name,
              "started_by_staff_no": person.staff_no}
    task.data.update(result)
    return result


def person_named(session: Session, username: Any, field: str) -> Person:
    """The active person with this username, or a form error on `field`."""
    person = None
    if isinstance(username, str) and username:
        person = session.scalar(select(Person).where(Person.username == username))
    if person is None or not person.active:
        raise FormValidationError({field: [f"没有此人 / no active person {username!r}"]})
    return person


def tz_of(context: OperatorContext) -> ZoneInfo:
    return ZoneInfo(context.kefu.settings.timezone)


def parse_moment(value: Any, field: str, tz: ZoneInfo) -> datetime:
    """An ISO-8601 date-time from a form; one without an offset is local time."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise FormValidationError({field: [
            f"不是有效的日期时间 / not a date-time: {value!r} (e.g. 2026-11-25T08:00+08:00)"]}
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def parse_day(value: Any, field: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise FormValidationError({field: [
            f"不是有效的日期 / not a date: {value!r} (e.g. 2026-11-25)"]}) from None


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz)


def who(person: Person, viewer_is_person: bool) -> tuple[str, str, str]:
    """(Chinese, English subject, English possessive) naming a person in a refusal:
    "you" to the requester, name and staff number to anybody else."""
    if viewer_is_person:
        return "您", "you", "your"
    label = f"{person.name}（{person.staff_no}）"
    english = f"{person.name} ({person.staff_no})"
    return label, english, f"{english}'s"


def moment_zh(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def moment_en(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.day} {MONTHS_EN[local.month - 1][:3]} {local:%H:%M}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def hours(value: float) -> str:
    return f"{value:g}"
