"""Leave (请假): the rules L1 and L4–L8 checked against the roster, when the request is
made and again at the final approval, and the approved leave written into the roster.

Who approves (L2, L3) is the process's own business: processes/leave.bpmn walks the levels
and the DMN table leave_approval.dmn says where the chain ends. Its first level is the
employee's own shift leader (逐级, no 交叉请假: docs/routing.md), due before the shift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from engine.config import Settings
from engine.definitions.operators import OperatorContext, operator
from engine.errors import FormValidationError
from engine.people import roster
from engine.persistence.models import Person
from engine.persistence.roster_models import LeaveRecord, ShiftAssignment
from engine.records import history
from engine.rules import Breach, RuleViolation, refuse_if
from engine.rules.claims import claim, refuse_overlaps
from engine.rules.common import (
    day_en,
    day_zh,
    hours,
    moment_en,
    moment_zh,
    parse_day,
    parse_moment,
    person_named,
    tz_of,
    who,
)
from engine.rules.leave_deadlines import endorse_times
from engine.timing.calendar import WorkingCalendar
from engine.timing.calendar_store import calendar_for, flag_uncovered

KINDS = {
    "general_personal": ("一般事假", "general personal leave"),
    "special_personal": ("特殊事假", "special personal leave"),
    "sick": ("病假", "sick leave"),
    "official": ("公假", "official business or study leave"),
}
ORIGIN_LABELS = {"swapped": ("换班", "swapped"), "returned": ("还班", "returned")}
_APPROVER_FIELDS = ("endorse_by", "approve_cs_head_by", "approve_director_by")


@dataclass(frozen=True)
class LeaveRequest:
    employee: Person
    requester: Person
    kind: str
    start: datetime
    end: datetime
    asked_at: datetime
    emergency: bool = False
    certificate: tuple[date, date] | None = None


@dataclass
class Assessment:
    """What the approvers see beside the request: its shifts, length and flags."""

    assignments: list[ShiftAssignment]
    days: float
    first_day: date
    last_day: date
    late: bool = False
    late_note: str = ""
    notes: list[str] = field(default_factory=list)
    certificate_required: bool = False
    certificate_due: datetime | None = None


def read_request(session: Session, tz: ZoneInfo, data: dict[str, Any]) -> LeaveRequest:
    """The request as the form left it; a bad value is a form error naming its field."""
    kind = data.get("kind")
    if kind not in KINDS:
        raise FormValidationError({"kind": [f"未知的请假类别 / unknown kind of leave {kind!r}"]})
    requester = person_named(session, data.get("request_by") or data.get("started_by"),
                             "request_by")
    employee = person_named(session, data.get("employee") or requester.username, "employee")
    start = parse_moment(data.get("start"), "start", tz)
    end = parse_moment(data.get("end"), "end", tz)
    if end <= start:
        raise FormValidationError({"end": ["须晚于开始时间 / must be after the start"]})
    asked_at = parse_moment(data.get("request_at"), "request_at", tz)
    emergency = bool(data.get("emergency"))
    if emergency:
        if kind != "sick":
            raise FormValidationError({"emergency": ["只有病假可按急诊登记 / only sick leave "
                                                     "can be an emergency"]})
        asked_at = min(asked_at, parse_moment(data.get("phoned_at"), "phoned_at", tz))
    certificate = None
    if data.get("certificate_file") or data.get("has_certificate"):  # the file; older: a box
        certificate = (parse_day(data.get("certificate_from"), "certificate_from"),
                       parse_day(data.get("certificate_to"), "certificate_to"))
    return LeaveRequest(employee, requester, kind, start, end, asked_at, emergency, certificate)


def assess(session: Session, settings: Settings, tz: ZoneInfo, req: LeaveRequest,
           requester_view: bool = True, case_id: int | None = None) -> Assessment:
    """Check L4–L8 against the roster as it is now; raises RuleViolation naming every
    broken rule, or returns what the approvers need to see (L1 lateness, L5 certificate)."""
    assignments = roster.assignments_of(session, req.employee, req.start, req.end)
    if not assignments and roster.is_rostered(session, req.employee):
        raise FormValidationError({"start": ["此期间您没有排班 / no shift of the employee "
                                             "falls in this period"]})
    taken = [roster.shift_label(a.shift) for a in assignments if a.on_leave]
    if taken:
        raise FormValidationError({"start": [f"已有获批的请假 / already on approved leave: "
                                             f"{taken[0][1]}"]})
    you = who(req.employee, requester_view and req.employee.id == req.requester.id)
    refuse_overlaps(session, req.employee, [a.shift for a in assignments], "leave", case_id,
                    you)
    breaches = _in_person(req, requester_view) + _emergency_recorder(req)
    if not req.emergency:  # an emergency cannot be asked ahead; it is phoned in (L5)
        breaches += _night_shifts(req, assignments, settings, tz, you)
        breaches += _holiday_shifts(req, assignments, settings, tz, you)
    breaches += _swap_shifts(assignments, you)
    calendar = calendar_for(session, settings)
    days = _days(assignments, req, calendar)
    if assignments:
        first_day, last_day = assignments[0].shift.day, assignments[-1].shift.day
    else:
        first_day = req.start.astimezone(tz).date()
        last_day = (req.end - timedelta(microseconds=1)).astimezone(tz).date()
    result = Assessment(assignments, days, first_day, last_day)
    if req.kind == "sick" and days >= 1 and not req.emergency:
        if req.certificate is None:
            result.certificate_required = True
            result.certificate_due = _first_day_back(session, req, calendar)
        else:
            breaches += certificate_gaps(req.certificate, first_day, last_day)
    refuse_if(breaches)
    _notice(req, result, settings, tz)
    return result


def certificate_gaps(certificate: tuple[date, date], first: date, last: date) -> list[Breach]:
    """L5: the certificate must cover every day of the sick leave."""
    start, end = certificate
    if start <= first and end >= last:
        return []
    return [Breach("L5", f"证明只覆盖 {day_zh(start)}–{day_zh(end)}，病假为 {day_zh(first)}–"
                         f"{day_zh(last)}，证明须连续覆盖全部病假",
                   f"the certificate covers {day_en(start)}–{day_en(end)} but the sick leave "
                   f"runs {day_en(first)}–{day_en(last)}; it must cover it without gaps",
                   {"certificate": [start.isoformat(), end.isoformat()],
                    "leave": [first.isoformat(), last.isoformat()]})]


def _in_person(req: LeaveRequest, requester_view: bool) -> list[Breach]:
    if req.kind == "sick" or req.employee.id == req.requester.id:
        return []
    by = who(req.requester, requester_view)
    of = who(req.employee, False)
    kind_zh, kind_en = KINDS[req.kind]
    return [Breach("L4", f"{by[0]}不能代{of[0]}请{kind_zh}，只有病假可以代请",
                   f"{by[1]} may not request {kind_en} for {of[1]}; only sick leave may be "
                   f"requested on someone's behalf",
                   {"requester": req.requester.username, "employee": req.employee.username,
                    "kind": req.kind})]


def _emergency_recorder(req: LeaveRequest) -> list[Breach]:
    if not req.emergency or "shift_leader" in req.requester.role_names:
        return []
    by = who(req.requester, False)
    return [Breach("L5", f"急诊病假由班长根据电话登记，{by[0]}不是班长",
                   f"an emergency is recorded by the shift leader from the phone call; "
                   f"{by[1]} is not a shift leader", {"requester": req.requester.username})]


def _night_shifts(req: LeaveRequest, assignments: list[ShiftAssignment], settings: Settings,
                  tz: ZoneInfo, you: tuple[str, str, str]) -> list[Breach]:
    out = []
    for a in assignments:
        if a.shift.kind != "night":
            continue
        cutoff = (datetime.combine(a.shift.day, time(0), tz)
                  + timedelta(hours=settings.leave_night_cutoff_hour))
        if req.asked_at < cutoff:
            continue
        zh, bare = roster.shift_label(a.shift, article=False)
        out.append(Breach(
            "L6", f"{you[0]}{zh}的请假于 {moment_zh(req.asked_at, tz)} 提出，晚于当日 "
                  f"{cutoff.astimezone(tz):%H:%M}",
            f"leave for {you[2]} {bare} was asked at {moment_en(req.asked_at, tz)}, after "
            f"{cutoff.astimezone(tz):%H:%M} that day",
            {"shift": [a.shift.day.isoformat(), a.shift.kind], "asked_at":
             req.asked_at.isoformat(), "cutoff": cutoff.isoformat()}))
    return out


def _holiday_shifts(req: LeaveRequest, assignments: list[ShiftAssignment],
                    settings: Settings, tz: ZoneInfo, you: tuple[str, str, str]) -> list[Breach]:
    out = []
    notice = timedelta(days=settings.leave_holiday_notice_days)
    for a in assignments:
        deadline = a.shift.starts_at - notice
        if not a.shift.is_public_holiday or req.asked_at <= deadline:
            continue
        zh, en = roster.shift_label(a.shift)
        holiday = a.shift.holiday_name or "public holiday"
        out.append(Breach(
            "L7", f"{zh}是节假日（{holiday}）班次，须在 {moment_zh(deadline, tz)} 前提出，实际于 "
                  f"{moment_zh(req.asked_at, tz)} 提出",
            f"{en} is a public-holiday shift ({holiday}); leave had to be asked by "
            f"{moment_en(deadline, tz)}, it was asked at {moment_en(req.asked_at, tz)}",
            {"shift": [a.shift.day.isoformat(), a.shift.kind], "deadline": deadline.isoformat(),
             "asked_at": req.asked_at.isoformat(), "holiday": holiday}))
    return out


def _swap_shifts(assignments: list[ShiftAssignment], you: tuple[str, str, str]) -> list[Breach]:
    out = []
    for a in assignments:
        if a.origin not in ORIGIN_LABELS:
            continue
        zh, bare = roster.shift_label(a.shift, article=False)
        origin_zh, origin_en = ORIGIN_LABELS[a.origin]
        out.append(Breach("L8", f"{you[0]}的{zh}是{origin_zh}的班次，不得请假",
                          f"{you[2]} {bare} is a {origin_en} shift; no leave on it",
                          {"shift": [a.shift.day.isoformat(), a.shift.kind],
                           "origin": a.origin}))
    return out


def _days(assignments: list[ShiftAssignment], req: LeaveRequest, calendar: WorkingCalendar
          ) -> float:
    """Length in working days: a whole shift is one day, part of a shift counts pro rata;
    someone not on the roster counts the centre's working hours."""
    if assignments:
        total = 0.0
        for a in assignments:
            overlap = min(req.end, a.shift.ends_at) - max(req.start, a.shift.starts_at)
            total += overlap / (a.shift.ends_at - a.shift.starts_at)
        return round(total, 2)
    day = date(2000, 1, 3)
    working_day = (datetime.combine(day, calendar.workday_end)
                   - datetime.combine(day, calendar.workday_start))
    return round(calendar.working_time_between(req.start, req.end) / working_day, 2)


def _first_day_back(session: Session, req: LeaveRequest, calendar: WorkingCalendar) -> datetime:
    """L5: the certificate reaches the shift leader during the first shift back."""
    back = roster.next_shift_after(session, req.employee, req.end)
    if back is not None:
        return back.ends_at.astimezone(calendar.tz)
    day = req.end.astimezone(calendar.tz).date() + timedelta(days=1)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, calendar.workday_end, calendar.tz)


def _notice(req: LeaveRequest, result: Assessment, settings: Settings, tz: ZoneInfo) -> None:
    """L1: a late request is not refused; it is marked so the approver sees it."""
    notice = {"general_personal": settings.leave_general_notice_hours,
              "special_personal": settings.leave_special_notice_hours,
              "sick": settings.leave_sick_notice_hours}.get(req.kind)
    if any(a.shift.kind == "night" for a in result.assignments) and not req.emergency:
        result.notes.append("L6 夜班请假属特殊情况，须经管理人员批准。 / L6: leave on a night "
                            "shift is a special case and needs management approval.")
    if any(a.shift.is_public_holiday for a in result.assignments) and not req.emergency:
        result.notes.append("L7 节假日请假属极特殊情况，须经管理人员批准。 / L7: leave on a "
                            "public holiday is a very special case and needs management "
                            "approval.")
    if req.emergency:
        result.notes.append("L5 急诊：由班长根据电话登记。 / L5: emergency, recorded by the "
                            "shift leader from a phone call.")
    if notice is None:
        return
    begins = result.assignments[0].shift.starts_at if result.assignments else req.start
    deadline = begins - timedelta(hours=notice)
    if req.asked_at <= deadline:
        return
    kind_zh, kind_en = KINDS[req.kind]
    result.late = True
    result.late_note = (
        f"逾期请假：{kind_zh}须在 {moment_zh(deadline, tz)} 前提出（提前 {hours(notice)} 小时），"
        f"实际于 {moment_zh(req.asked_at, tz)} 提出；"
        f"须经管理人员批准方可生效，否则按旷工处理（L1）。"
        f" / Late request: {kind_en} had to be asked by {moment_en(deadline, tz)} "
        f"({hours(notice)} h ahead) and was asked at {moment_en(req.asked_at, tz)}; it is valid "
        f"only if a manager approves it, otherwise it counts as absence (L1).")
    result.notes.insert(0, result.late_note)


def _summary(req: LeaveRequest, result: Assessment, tz: ZoneInfo) -> dict[str, Any]:
    kind_zh, kind_en = KINDS[req.kind]
    return {
        "employee": req.employee.username, "employee_name": req.employee.name,
        "employee_staff_no": req.employee.staff_no, "kind_label": f"{kind_zh} / {kind_en}",
        "leave_days": result.days, "leave_first_day": result.first_day.isoformat(),
        "leave_last_day": result.last_day.isoformat(),
        "leave_shifts": [" / ".join(roster.shift_label(a.shift)) for a in result.assignments],
        "late_request": result.late, "late_note": result.late_note,
        "rule_notes": result.notes, "certificate_required": result.certificate_required,
        "certificate_due": result.certificate_due.isoformat() if result.certificate_due else None,
        "title": f"{kind_zh} {req.employee.name}（{req.employee.staff_no}） "
                 f"{day_zh(result.first_day)}–{day_zh(result.last_day)}",
    }


#: What check_leave and record_leave write of a request (documented, for the dry run).
LEAVE_SUMMARY = {"employee": "agent01", "employee_name": "试运行", "employee_staff_no": "0000",
                 "kind_label": "病假 / sick leave", "leave_days": 1,
                 "leave_first_day": "2026-12-01", "leave_last_day": "2026-12-01",
                 "leave_shifts": ["白班 / day shift"], "late_request": False, "late_note": None,
                 "rule_notes": [], "certificate_due": "2026-12-01T09:00:00+08:00",
                 "title": "请假 / Leave"}


@operator("kefu.check_leave", results=[
    {**LEAVE_SUMMARY, "certificate_required": required, "endorser": "leader01",
     "endorser_via": "own", "endorse_due": "2026-12-01T09:00:00+08:00",
     "shift_starts_at": "2026-12-01T09:00:00+08:00"}
    for required in (False, True)])
def check_leave(context: OperatorContext, task: Any, params: dict[str, Any]) -> dict[str, Any]:
    """At the request: L4–L8 refuse, L1 flags, L5 sets the certificate, and the endorser
    is the employee's own shift leader (L2, docs/routing.md), due before the shift."""
    tz, session, now = tz_of(context), context.session, context.kefu.clock.now()
    settings = context.kefu.settings
    req = read_request(session, tz, task.data)
    result = assess(session, settings, tz, req, case_id=context.case.id)
    routing = roster.route(session, req.employee, shifts=[a.shift for a in result.assignments],
                           own_first=True)
    if routing.fallback:
        history.append(session, context.case, at=now, actor="system", action="routed",
                       task_spec="endorse", data={"rule": "L2", **routing.as_dict()})
    note = _calendar_note(context, req, result, task)
    if note:
        result.notes.append(note)
    claim(session, context.case, req.employee, [a.shift for a in result.assignments], "leave")
    begins = result.assignments[0].shift.starts_at if result.assignments else req.start
    out = {**_summary(req, result, tz),
           "endorser": routing.person.username if routing.person else None,
           "endorser_via": routing.via,
           **endorse_times(settings, begins, now, emergency=req.emergency)}
    task.data.update(out)
    return out


def _calendar_note(context: OperatorContext, req: LeaveRequest, result: Assessment,
                   task: Any) -> str | None:
    """L7 asks the official schedule; days it does not cover are flagged on the case."""
    calendar = calendar_for(context.session, context.kefu.settings)
    days = sorted({d for a in result.assignments for d in (
        a.shift.starts_at.astimezone(calendar.tz).date(),
        (a.shift.ends_at - timedelta(microseconds=1)).astimezone(calendar.tz).date())})
    if not days:
        days = [req.start.astimezone(calendar.tz).date()]
    gaps = [d for d in days if not calendar.covered(d)]
    return flag_uncovered(context.session, context.case, calendar, context.kefu.clock.now(),
                          gaps, ("L7 节假日检查", "the L7 public-holiday check"),
                          task.task_spec.bpmn_id)


@operator("kefu.record_leave", results=[{**LEAVE_SUMMARY, "outcome": "approved",
                                         "leave_record_id": 1}])
def record_leave(context: OperatorContext, task: Any, params: dict[str, Any]) -> dict[str, Any]:
    """At the final approval: the rules again against today's roster, then the roster."""
    tz, session, now = tz_of(context), context.session, context.kefu.clock.now()
    req = read_request(session, tz, task.data)
    approvers = [task.data[k] for k in _APPROVER_FIELDS if task.data.get(k)]
    if req.employee.username in approvers:
        you = who(req.employee, False)
        raise RuleViolation([Breach("L2", f"{you[0]}不能审批自己的请假",
                                    f"{you[1]} may not approve their own leave",
                                    {"approvers": approvers})])
    result = assess(session, context.kefu.settings, tz, req, requester_view=False,
                    case_id=context.case.id)
    record = LeaveRecord(
        case_id=context.case.id, case_number=context.case.number, person_id=req.employee.id,
        kind=req.kind, starts_at=req.start, ends_at=req.end, days=result.days,
        requested_at=req.asked_at, requested_by=req.requester.username, approved_at=now,
        approved_by=", ".join(approvers), late=result.late, emergency=req.emergency,
        certificate_required=result.certificate_required, certificate_due=result.certificate_due)
    session.add(record)
    session.flush()
    roster.mark_leave(result.assignments, record)
    out = {**_summary(req, result, tz), "outcome": "approved", "leave_record_id": record.id}
    history.append(session, context.case, at=now, actor="system", action="leave_recorded",
                   task_spec=task.task_spec.bpmn_id,
                   data={"leave_record_id": record.id, "shifts": out["leave_shifts"],
                         "days": result.days, "late": result.late})
    task.data.update(out)
    return out


@operator("kefu.check_certificate",
          results=[{"certificate_received_at": "2026-12-01T09:00:00+08:00"}])
def check_certificate(context: OperatorContext, task: Any,
                      params: dict[str, Any]) -> dict[str, Any]:
    """L5: the certificate handed in covers the whole sick leave, without gaps."""
    certificate = (parse_day(task.data.get("certificate_from"), "certificate_from"),
                   parse_day(task.data.get("certificate_to"), "certificate_to"))
    first = date.fromisoformat(task.data["leave_first_day"])
    last = date.fromisoformat(task.data["leave_last_day"])
    refuse_if(certificate_gaps(certificate, first, last))
    now = context.kefu.clock.now()
    record = context.session.get(LeaveRecord, task.data["leave_record_id"])
    if record is not None:
        record.certificate_received_at = now
    history.append(context.session, context.case, at=now, actor="system",
                   action="certificate_received", task_spec=task.task_spec.bpmn_id,
                   data={"certificate": [d.isoformat() for d in certificate]})
    out = {"certificate_received_at": now.isoformat()}
    task.data.update(out)
    return out
