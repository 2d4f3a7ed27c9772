"""The one display layer: every code, time, person and record as the reader says it.

Templates, CSV exports and SMS previews call these as Jinja filters (registered in
`init_app`) or directly; nothing else formats a value for people. Times and units come from
Babel (maintained CLDR data: `12月4日 08:00`, `4 Dec 08:00`, `2小时`), so no date pattern or
unit word is hand-made here. Labels that belong to codes the engine writes (history actions,
deadline kinds, states) sit in one table beside their codes as `中文 / English`, like the
process files' own names, and `bi` shows the reader's half.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from babel.dates import format_datetime, format_skeleton
from babel.units import format_unit
from flask import Flask, current_app, g, has_request_context
from flask_babel import get_locale, get_timezone
from sqlalchemy import select

import engine
from web.presentation.i18n import bi, is_chinese, reader

_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Readers who work with the rules by their ids; everyone else reads the rule, not its id.
RULE_READERS = frozenset({"auditor", "process_owner"})

ACTIONS = {
    "started": "已立案 / Started", "completed": "已完成 / Completed",
    "claimed": "已认领 / Claimed", "released": "已释放 / Released",
    "reassigned": "已转派 / Handed on", "reply_sent": "已发送答复 / Reply sent",
    "sms_receipt": "短信回执 / SMS receipt",
    "closed": "已结案 / Closed",
    "viewed_customer_data": "查看了完整客户信息 / Viewed customer data in full",
    "reminded": "到期提醒 / Reminder sent", "overdue": "已超时 / Overdue",
    "timer": "时限已到 / Time limit reached", "escalated": "已升级 / Escalated",
    "urged": "已催单 / Urged", "roster_swapped": "排班已调换 / Roster swapped",
    "leave_recorded": "请假已登记 / Leave recorded",
    "handover_recorded": "交接已登记 / Handover recorded",
    "objection_recorded": "异议已登记 / Objection recorded",
    "certificate_received": "已收到医疗证明 / Medical certificate received",
    "returned": "已退回 / Returned", "looked_up": "来电查询 / Looked up for a caller",
    "routed": "已按层级转交 / Passed along the chain",
    "calendar_not_covered": "日历未覆盖 / Calendar not covered",
    "unanswered_at_shift": "班次开始时仍未批复 / Still undecided when the shift began",
}
#: The links of the chain a "to the shift leader" step goes along (engine.people.roster.route).
ROUTE_LINKS = {"shift_on_duty": "当班值班长 / Leader of the shift on duty",
               "shift": "该班次值班长 / Leader of that shift",
               "own_leader": "本人班组长 / Own team leader", "cs_head": "客服主管 / CS head"}
#: Records whose data is summed up by their own note (written in both languages).
NOTE_ONLY = frozenset({"calendar_not_covered", "unanswered_at_shift"})
DEADLINE_KINDS = {
    "reminder": "到期提醒 / Reminder", "due": "到期 / Due", "timer": "定时 / Timer",
    "overdue": "超时 / Overdue", "escalation": "升级 / Escalation", "urge": "催单 / Urge",
}
#: The kinds of notice a person chooses channels for (engine.messages.notifications.KINDS).
NOTICE_KINDS = {"task": "新任务 / New task", "reminder": "到期提醒 / Reminder",
                "overdue": "超时 / Overdue", "urge": "催单 / Urging",
                "escalation": "升级 / Escalation"}
STATES = {"running": "处理中 / Running", "closed": "已结案 / Closed"}
ESCALATION = {0: "未升级 / Not escalated", 1: "一级：值班长 / Level 1: duty shift leader",
              2: "二级：部门经理 / Level 2: department manager"}
SMS_STATES = {"queued": "待发送 / Queued", "sent": "已发送 / Sent",
              "delivered": "已送达 / Delivered", "failed": "发送失败 / Failed"}
PURPOSES = {"case_page": "案件页面 / Case page", "task": "办理环节 / Task page",
            "export": "导出 / Export", "api": "接口 / API", "lookup": "来电查询 / Caller lookup"}
SHIFT_KINDS = {"day": "白班 / Day shift", "night": "夜班 / Night shift"}
#: Keys the engine writes into history records, with their titles.
RECORD_TITLES = {
    "process": "流程 / Process", "version": "版本 / Version", "to": "转派给 / Handed on to",
    "retain_until": "保存至 / Kept until", "fields": "字段 / Fields",
    "purpose": "查看位置 / Where", "channel": "答复方式 / Reply channel",
    "sms_id": "短信 / SMS", "segments": "短信条数 / Segments", "status": "状态 / Status",
    "letter_id": "信函 / Letter", "due_at": "截止时间 / Due", "level": "升级级别 / Level",
    "role": "角色 / Role", "reached_at": "到达时间 / Reached at", "tasks": "环节 / Steps",
    "department": "部门 / Department", "approved_by": "批准人 / Approved by",
    "acknowledge_by": "执行人 / Carried out by", "shifts": "涉及班次 / Shifts",
    "days": "天数 / Days", "late": "逾期申请 / Late request",
    "certificate": "证明日期 / Certificate dates", "party": "交接方 / Party",
    "objection": "异议 / Objection", "instruction": "指示 / Instruction",
    "by": "依据 / By", "routing": "转交 / Passed to", "via": "经由 / Via",
    "skipped": "已跳过 / Skipped", "note": "说明 / Note", "error": "原因 / Reason",
}
#: Internal references a person has no use for (the record ids behind a register entry, the
#: steps' ids beside their titles).
HIDDEN_KEYS = frozenset({"leave_record_id", "swap_record_id", "sms_id", "letter_id",
                         "overdue", "rule"})
LOOKUP_BY = {"number": "案件编号 / Case number", "phone": "来电号码 / Caller's phone"}
PARTIES = {"requester": "申请人 / Requester", "counterpart": "换班对方 / Counterpart"}
_PEOPLE_KEYS = {"to", "approved_by", "acknowledge_by", "employee", "counterpart", "requester",
                "assignee", "owner", "created_by", "asked_by"}
_TIME_KEYS = {"due_at", "reached_at", "retain_until", "at", "fired_at"}


def _label(table: Mapping[Any, str], code: Any) -> str:
    return bi(table.get(code, code)) if code is not None else ""


def action(code: str) -> str:
    return _label(ACTIONS, code)


def deadline_kind(code: str) -> str:
    return _label(DEADLINE_KINDS, code)


def notice_kind(code: str) -> str:
    return _label(NOTICE_KINDS, code)


def state(code: str) -> str:
    return _label(STATES, code)


def escalation(level: int) -> str:
    return _label(ESCALATION, level)


def sms_state(code: str) -> str:
    return _label(SMS_STATES, code)


def shift_kind(code: str) -> str:
    return _label(SHIFT_KINDS, code)


def shift(value: Any) -> str:
    """`12月4日 白班 08:00–20:00`: a rostered shift, as the roster and the pickers name it."""
    if value is None:
        return ""
    zone = get_timezone()
    start, end = value.starts_at.astimezone(zone), value.ends_at.astimezone(zone)
    return f"{when(start).rsplit(' ', 1)[0]} {shift_kind(value.kind)} " \
           f"{start:%H:%M}–{end:%H:%M}"


def role_name(role: str | None) -> str:
    if role == engine.ANYONE:  # a department or people the process file names
        return bi("流程指定的部门或人员 / The department or people the process names")
    names = engine.ROLES.get(role or "")
    if names is None:
        return role or ""
    return names[0] if is_chinese() else names[1]


# -- time ---------------------------------------------------------------------------------

def _moment(value: Any) -> datetime | date | None:
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, str) and (_ISO_MOMENT.match(value) or _ISO_DAY.match(value)):
        try:
            return (date.fromisoformat(value) if _ISO_DAY.match(value)
                    else datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _this_year() -> int:
    if has_request_context() and "kefu" in current_app.extensions:
        if "display_year" not in g:  # once a request: the clock may read its file
            g.display_year = current_app.extensions["kefu"].clock.now().astimezone(
                get_timezone()).year
        return g.display_year
    return datetime.now().year


def when(value: Any, seconds: bool = False, year: bool | None = None) -> str:
    """`12月4日 08:00` in the centre's zone (the year only when it is not this year)."""
    moment = _moment(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    if not isinstance(moment, datetime):
        return day(moment)
    who = reader()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=who.zone)
    local = moment.astimezone(who.zone)
    with_year = year if year is not None else local.year != _this_year()
    return _local_time(local.replace(tzinfo=None), seconds, with_year, who.chinese, who.locale)


@lru_cache(maxsize=8192)
def _local_time(local: datetime, seconds: bool, with_year: bool, chinese: bool,
                locale: Any) -> str:
    """A wall-clock time in words, kept: a list shows the same times on every poll, and
    Babel's formatting was a large part of a list page's time."""
    clock = "HH:mm:ss" if seconds else "HH:mm"
    if chinese:
        pattern = ("y年" if with_year else "") + "M月d日 " + clock
    else:
        pattern = "d MMM " + ("y " if with_year else "") + clock
    return format_datetime(local, pattern, locale=locale)


def day(value: Any) -> str:
    """`2026年12月4日` / `4 Dec 2026`: a date, or a moment's date in the centre's zone."""
    moment = _moment(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    if isinstance(moment, datetime):
        moment = moment.astimezone(get_timezone()).date()
    if is_chinese():
        return f"{moment.year}年{moment.month}月{moment.day}日"
    return format_datetime(datetime(moment.year, moment.month, moment.day), "d MMM y",
                           locale=get_locale())


def month(value: date) -> str:
    """`2026年12月` / `December 2026`: a month of the roster."""
    return format_skeleton("yMMMM", value, locale=get_locale())


def weekday(value: date) -> str:
    """`12月4日周五` / `Fri, Dec 4`: a day of the roster with its weekday."""
    return format_skeleton("MMMEd", value, locale=get_locale())


def duration(delta: timedelta | None) -> str:
    """The two largest units in words: `1天3小时`, `2 hours 5 minutes`, `2分钟`."""
    if delta is None:
        return ""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = ([("duration-day", days), ("duration-hour", hours)] if days
             else [("duration-hour", hours), ("duration-minute", mins)] if hours
             else [("duration-minute", mins)])
    who = reader()
    return _duration_words(tuple(parts), who.chinese, who.locale)


@lru_cache(maxsize=4096)
def _duration_words(parts: tuple[tuple[str, int], ...], chinese: bool, locale: Any) -> str:
    words = [format_unit(n, unit, length="long", locale=locale) for unit, n in parts if n
             or len(parts) == 1]
    return ("" if chinese else " ").join(words)


# -- people and departments ----------------------------------------------------------------

def _people() -> dict[str, tuple[str, str]]:
    if "display_people" not in g:
        from web.server import db

        person = engine.models.Person
        g.display_people = {username: (name, staff_no) for username, name, staff_no in
                            db.session().execute(select(person.username, person.name,
                                                        person.staff_no))}
    return g.display_people


def person(username: Any) -> str:
    """`刘洋（工号 1001）`: who, as colleagues know them; the engine itself as 系统."""
    if username in (None, ""):
        return ""
    if username == "system":
        return bi("系统 / System")
    found = _people().get(str(username))
    if found is None:  # deployments and the CLI act as a role, not a person
        return role_name(str(username))
    name, staff_no = found
    return f"{name}（工号 {staff_no}）" if is_chinese() else f"{name} (no. {staff_no})"


def _departments() -> dict[str, str]:
    if "display_departments" not in g:
        from web.server import db

        department = engine.models.Department
        g.display_departments = dict(db.session().execute(select(department.code,
                                                                department.name)).all())
    return g.display_departments


def department(code: Any) -> str:
    """A department's name in the reader's language (the file writes `计费部 Billing`)."""
    if code in (None, ""):
        return ""
    name = _departments().get(str(code), str(code))
    match = re.match(r"^([\u2e80-\u9fff\uf900-\uffef（）]+)\s+(.+)$", name)
    if match:
        return match.group(1) if is_chinese() else match.group(2)
    return bi(name)


def offer(role: str | None, department_code: str | None, candidate_user: str | None) -> str:
    """To whom a step is offered: a person (or several), a role (in a department), or
    anyone in a department."""
    if candidate_user:
        return "、".join(person(u) for u in engine.candidates(candidate_user))
    if role == engine.ANYONE:
        return f"{department(department_code)} · {bi('任何人 / Anyone')}"
    text = role_name(role)
    return f"{text} · {department(department_code)}" if department_code else text


# -- rule ids ------------------------------------------------------------------------------

_RULE_IDS = re.compile(
    r"\s*(?:【[CLSQA]\d+[^】]*】|\[[CLSQA]\d+(?:[,，、–\-\s]+[CLSQA]?\d+)*\]"
    r"|[（(][CLSQA]\d+(?:[,，、–\-\s]+[CLSQA]?\d+)*[）)])")


def shows_rule_ids() -> bool:
    if not has_request_context():
        return False
    shows = g.get("display_rule_ids")
    if shows is None:  # once a request: asked for every text a page shows
        actor = g.get("actor")
        shows = bool(actor and actor.roles & RULE_READERS)
        if "actor" in g:  # known only once the sign-in is read
            g.display_rule_ids = shows
    return shows


def without_rule_ids(text: str) -> str:
    return text if shows_rule_ids() else _rule_ids_removed(text)


@lru_cache(maxsize=8192)
def _rule_ids_removed(text: str) -> str:
    return _RULE_IDS.sub("", text).strip()


def text(value: Any) -> str:
    """Any text the system wrote: the reader's language half, rule ids for those who use
    them, times in words if it is a time."""
    if value is None:
        return ""
    if _moment(value) is not None:
        return when(value)
    return without_rule_ids(bi(value))


# -- values and history records ------------------------------------------------------------

def value(v: Any, options: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
          key: str = "", all_options: Mapping[str, Mapping[str, str]] | None = None) -> Any:
    """A stored value as shown: choice titles, yes/no, times, people; a list stays a list
    (the template shows it one item a line) and a mapping becomes `title: value` lines."""
    if options is not None and not isinstance(options, Mapping):
        options = dict(options)
    if v is True or v is False:
        return bi("是 / Yes") if v else bi("否 / No")
    if isinstance(v, list):
        return [_flat(value(each, options, key, all_options)) for each in v]
    if isinstance(v, dict):
        return " ".join(_flat(value(x, (all_options or {}).get(k), k, all_options))
                        for k, x in v.items() if x not in (None, "", []))
    if v is None:
        return ""
    if options and str(v) in options:
        return text(options[str(v)])
    if isinstance(v, str) and v in engine.ROLES:
        return role_name(v)
    if isinstance(v, str) and v in _people() and key not in {"title", "content", "reason"}:
        return person(v)
    if key == "by" and v in LOOKUP_BY:
        return _label(LOOKUP_BY, v)
    if key in _PEOPLE_KEYS or key == "by":
        return person(v) if isinstance(v, str) else _flat(value(v))
    if key == "party":
        return _label(PARTIES, v)
    if key == "department":
        return department(v)
    if key == "role":
        return role_name(str(v))
    if key == "level":
        return escalation(int(v)) if str(v).isdigit() else str(v)
    if key in {"kind", "my_shift_kind", "their_shift_kind"} and v in SHIFT_KINDS:
        return shift_kind(str(v))
    return text(v)


def _flat(v: Any) -> str:
    return "、".join(map(str, v)) if isinstance(v, list) else str(v)


def record_title(key: str, field_titles: Mapping[str, str] | None = None) -> str:
    if key in RECORD_TITLES:
        return bi(RECORD_TITLES[key])
    if field_titles and key in field_titles:
        return text(field_titles[key])
    return bi(key.replace("_", " "))


def record_rows(record: Any, data: Mapping[str, Any], options: Mapping[str, Mapping[str, str]],
                field_titles: Mapping[str, str]) -> list[tuple[str, Any]]:
    """What a history record says, as (title, value) rows in words."""
    if record.action in NOTE_ONLY and data.get("note"):
        return [(record_title("note", field_titles), text(data["note"]))]
    rows: list[tuple[str, Any]] = []
    for key, raw in data.items():
        if raw in (None, "", [], {}) or key in HIDDEN_KEYS:
            continue
        if key == "tasks" and isinstance(raw, list):
            shown: Any = [text(t.get("title", "")) if isinstance(t, dict) else text(t)
                          for t in raw]
        elif key == "to" and isinstance(raw, dict):
            shown = offer(raw.get("role"), raw.get("department"), raw.get("user"))
        elif key == "routing" and isinstance(raw, dict):
            shown = _routing(raw)
        elif key == "via":
            shown = _label(ROUTE_LINKS, raw)
        elif key == "skipped" and isinstance(raw, list):
            shown = [_label(ROUTE_LINKS, s.get("link")) for s in raw if isinstance(s, dict)]
        elif key in _TIME_KEYS:
            shown = when(raw)
        elif key == "process":
            from web.presentation.helpers import process_names

            shown = text(process_names().get(str(raw), raw))
        elif key == "version":
            shown = bi(f"第 {raw} 版 / version {raw}")
        elif key == "fields":
            shown = [text(field_titles.get(f, f)) for f in raw] if isinstance(raw, list) else raw
        elif key == "purpose":
            shown = _label(PURPOSES, raw)
        elif key == "channel" and record.action == "reply_sent":
            shown = value(raw, options.get("reply_channel"))
        elif key == "status":
            shown = sms_state(raw)
        else:
            shown = value(raw, options.get(key), key, options)
        rows.append((record_title(key, field_titles), shown))
    return rows


def _routing(raw: Mapping[str, Any]) -> str:
    """`leader01 via own_leader` -> `张伟（工号 2001）· 本人班组长`, and what was skipped."""
    shown = " · ".join(part for part in (person(raw["to"]) if raw.get("to") else "",
                                         _label(ROUTE_LINKS, raw.get("via"))) if part)
    skipped = [_label(ROUTE_LINKS, s.get("link")) for s in raw.get("skipped") or []
               if isinstance(s, dict)]
    if skipped:
        shown += bi(f"（跳过：{'、'.join(skipped)}） / (skipped: {', '.join(skipped)})")
    return shown


def folded(history: Iterable[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """History as shown: a run of full views of the customer data by one person in one
    place folds into one line with a count (the records themselves all stay, A1)."""
    out: list[dict[str, Any]] = []
    for record, data in history:
        last = out[-1] if out else None
        if (record.action == engine.records.disclosure.VIEW_ACTION and last
                and last["record"].action == record.action
                and last["record"].actor == record.actor
                and last["data"].get("purpose") == data.get("purpose")):
            last["count"] += 1
            last["until"] = record.at
            continue
        out.append({"record": record, "data": data, "count": 1, "until": None})
    return out


# -- history checks ------------------------------------------------------------------------

def finding(found: Any) -> str:
    """A history check's finding (engine.records.history.Finding) in the reader's language,
    a checkpoint's time as local time."""
    moment = when(found.at, year=True) if found.at else ""
    if is_chinese() and found.zh:
        return found.zh.replace("{at}", moment)
    return found.problem.replace(found.at, moment) if found.at else found.problem


def finding_where(found: Any) -> str:
    """The case a finding is about, or the checkpoint itself."""
    return bi("检查点 / Checkpoint") if found.case_number == "checkpoint" else found.case_number


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        when=when, day=day, duration=duration, person=person, department=department,
        action=action, deadline_kind=deadline_kind, notice_kind=notice_kind, state=state,
        escalation=escalation, sms_state=sms_state, role_name=role_name, text=text,
        shift_kind=shift_kind, shift=shift, month=month, weekday=weekday, finding=finding,
        finding_where=finding_where)
    app.jinja_env.globals.update(offer=offer, record_rows=record_rows, display_value=value,
                                 shows_rule_ids=shows_rule_ids)
