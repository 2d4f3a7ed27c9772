"""Shift swaps (换班): S2–S4, S6 and S7 checked against the roster when the swap is asked
and again when the last shift leader approves (S1), then the roster changes in the same
transaction and the swap register records both parties' handover (S5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.config import Settings
from engine.definitions.operators import OperatorContext, operator
from engine.errors import FormValidationError
from engine.people import roster
from engine.persistence.models import Person
from engine.persistence.roster_models import SHIFT_KINDS, Shift, ShiftAssignment, SwapRecord
from engine.records import history
from engine.rules import Breach, RuleViolation, refuse_if
from engine.rules.claims import claim, refuse_overlaps
from engine.rules.common import MONTHS_EN, hours, ordinal, parse_day, person_named, who
from engine.timing.calendar_store import calendar_for, flag_uncovered

JOB_TYPES = {"hotline": ("热线", "hotline"), "vip": ("VIP 专席", "VIP"),
             "outbound": ("外呼", "outbound"), "back_office": ("后台", "back-office")}
_FIELDS = {"mine": ("my_shift_date", "my_shift_kind"),
           "theirs": ("their_shift_date", "their_shift_kind")}


@dataclass(frozen=True)
class SwapPlan:
    """The requester gives `mine` to the counterpart and works `theirs` instead."""

    requester: Person
    counterpart: Person
    mine: ShiftAssignment
    theirs: ShiftAssignment

    @property
    def month(self) -> str:
        return f"{self.mine.shift.day:%Y-%m}"


def read_plan(session: Session, data: dict[str, Any], now: datetime,
              case_id: int | None = None) -> SwapPlan:
    """The swap the form asks for; anything that names no real rostered shift, or a shift
    that another pending leave or swap of the same person asks about, is a form error on
    the field that named it."""
    requester = person_named(session, data.get("request_by") or data.get("started_by"),
                             "request_by")
    counterpart = person_named(session, data.get("counterpart"), "counterpart")
    if counterpart.id == requester.id:
        raise FormValidationError({"counterpart": ["不能与自己换班 / cannot swap with yourself"]})
    mine = _assignment(session, data, "mine", requester, now)
    theirs = _assignment(session, data, "theirs", counterpart, now)
    if mine.shift_id == theirs.shift_id:
        raise FormValidationError({"their_shift_date": ["两人是同一班次 / both name the same "
                                                        "shift"]})
    if roster.assignment_on(session, mine.shift, counterpart) is not None:
        raise FormValidationError({"counterpart": ["对方已在您的班次上 / the counterpart "
                                                   "already works your shift"]})
    if roster.assignment_on(session, theirs.shift, requester) is not None:
        raise FormValidationError({"their_shift_date": ["您已在对方的班次上 / you already "
                                                        "work that shift"]})
    refuse_overlaps(session, requester, [mine.shift], "swap", case_id, who(requester, True))
    refuse_overlaps(session, counterpart, [theirs.shift], "swap", case_id,
                    who(counterpart, False))
    return SwapPlan(requester, counterpart, mine, theirs)


def _assignment(session: Session, data: dict[str, Any], which: str, person: Person,
                now: datetime) -> ShiftAssignment:
    date_field, kind_field = _FIELDS[which]
    kind = data.get(kind_field)
    if kind not in SHIFT_KINDS:
        raise FormValidationError({kind_field: [f"班次须为 day 或 night / must be day or "
                                                f"night, got {kind!r}"]})
    shift = roster.shift_on(session, parse_day(data.get(date_field), date_field), kind)
    assignment = roster.assignment_on(session, shift, person) if shift else None
    if assignment is None:
        raise FormValidationError({date_field: [
            f"{person.name}（{person.staff_no}）没有排这个班 / {person.name} is not rostered "
            f"on that shift"]})
    if shift.starts_at <= now:
        raise FormValidationError({date_field: ["该班次已开始 / that shift has already begun"]})
    if assignment.on_leave:
        raise FormValidationError({date_field: ["该班次已获准请假 / on approved leave on "
                                                "that shift"]})
    return assignment


def check_swap(session: Session, settings: Settings, plan: SwapPlan,
               requester_view: bool = True) -> list[Breach]:
    """Every rule the swap breaks, S2 to S7, as the roster stands now."""
    parties = ((plan.requester, plan.mine, plan.theirs.shift, requester_view),
               (plan.counterpart, plan.theirs, plan.mine.shift, False))
    breaches = []
    for person, _gives, _takes, view in parties:
        breaches += _monthly(session, settings, plan.month, person, view)
    for person, gives, takes, view in parties:
        breaches += _consecutive(session, settings, person, gives, takes, view)
    breaches += _like_for_like(settings, plan)
    breaches += _leading_slots(plan)
    breaches += _holidays(plan)
    breaches += _staffing(plan)
    return breaches


def _monthly(session: Session, settings: Settings, month: str, person: Person,
             view: bool) -> list[Breach]:
    done = session.scalar(select(func.count()).select_from(SwapRecord).where(
        SwapRecord.month == month,
        or_(SwapRecord.requester_id == person.id, SwapRecord.counterpart_id == person.id)))
    nth, limit = done + 1, settings.swap_max_per_month
    if nth <= limit:
        return []
    you = who(person, view)
    number = int(month[5:])
    return [Breach("S2", f"这将是{you[0]}{number}月的第 {nth} 次换班，每月最多 {limit} 次",
                   f"this would be {you[2]} {ordinal(nth)} swap in {MONTHS_EN[number - 1]}; "
                   f"at most {limit} are allowed",
                   {"person": person.username, "month": month, "swap": nth, "limit": limit})]


def _consecutive(session: Session, settings: Settings, person: Person,
                 gives: ShiftAssignment, takes: Shift, view: bool) -> list[Breach]:
    """S3: no swap right after a swap; nobody ends up working two shifts back to back."""
    you = who(person, view)
    out = []
    if gives.origin != "regular":
        zh, bare = roster.shift_label(gives.shift, article=False)
        out.append(Breach("S3", f"{you[0]}的{zh}本身是换班所得，不允许连续换班",
                          f"{you[2]} {bare} came from an earlier swap; no swap right "
                          f"after a swap", {"person": person.username, "shift": bare}))
    before, after = roster.neighbours(session, person, takes, without=gives)
    taken_zh, taken_en = roster.shift_label(takes)
    rest = timedelta(hours=settings.swap_min_rest_hours)
    for near, gap in ((before, before and takes.starts_at - before.shift.ends_at),
                      (after, after and after.shift.starts_at - takes.ends_at)):
        if near is None:
            continue
        zh, en = roster.shift_label(near.shift)
        bare = roster.shift_label(near.shift, article=False)[1]
        if near.origin != "regular":
            out.append(Breach("S3", f"{you[0]}紧挨着的{zh}已是换班班次，不允许连续换班",
                              f"{you[2]} {bare}, next to it, is already a swap shift; no "
                              f"swap right after a swap", {"person": person.username,
                                                           "shift": bare}))
        if gap < rest and not near.on_leave:
            first, second = sorted([(near.shift.starts_at, zh, en),
                                    (takes.starts_at, taken_zh, taken_en)])
            gap_h = hours(round(gap.total_seconds() / 3600, 1))
            out.append(Breach(
                "S3", f"{you[0]}将连上{first[1]}和{second[1]}（间隔 {gap_h} 小时，至少需 "
                      f"{hours(settings.swap_min_rest_hours)} 小时）",
                f"{you[1]} would work {first[2]} and {second[2]} back to back ({gap_h} h rest;"
                f" at least {hours(settings.swap_min_rest_hours)} h needed)",
                {"person": person.username, "rest_hours": gap.total_seconds() / 3600}))
    return out


def _like_for_like(settings: Settings, plan: SwapPlan) -> list[Breach]:
    a, b = plan.requester, plan.counterpart
    out = []
    if a.job_type != b.job_type:
        ja = JOB_TYPES.get(a.job_type or "", (a.job_type or "未登记", a.job_type or "unknown"))
        jb = JOB_TYPES.get(b.job_type or "", (b.job_type or "未登记", b.job_type or "unknown"))
        out.append(Breach("S4", f"{a.name}的工种是{ja[0]}，{b.name}是{jb[0]}，工种不同",
                          f"{a.name} is a {ja[1]} agent and {b.name} a {jb[1]} agent; the job "
                          f"types differ", {"job_types": [a.job_type, b.job_type]}))
    limit = settings.swap_max_skill_gap
    gap = abs((a.skill_level or 0) - (b.skill_level or 0))
    if a.skill_level is None or b.skill_level is None or gap > limit:
        out.append(Breach("S4", f"技能等级 {a.skill_level} 与 {b.skill_level} 相差 {gap} 级，"
                                f"最多允许相差 {limit} 级",
                          f"skill levels {a.skill_level} and {b.skill_level} differ by {gap}; "
                          f"at most {limit} is allowed",
                          {"skill_levels": [a.skill_level, b.skill_level], "limit": limit}))
    return out


def _leading_slots(plan: SwapPlan) -> list[Breach]:
    """S4 (like for like) for a shift's leading slot: only a holder of the shift_leader
    role may take it over, or the shift would be led by someone who is not a leader."""
    out = []
    for gives, joining in ((plan.mine, plan.counterpart), (plan.theirs, plan.requester)):
        if gives.duty != "leader" or "shift_leader" in joining.role_names:
            continue
        zh, en = roster.shift_label(gives.shift)
        out.append(Breach(
            "S4", f"{zh}由{gives.person.name}（{gives.person.staff_no}）任班长，{joining.name}"
                  f"（{joining.staff_no}）不是班长，不能顶替班长岗位",
            f"{gives.person.name} ({gives.person.staff_no}) leads {en}; {joining.name} "
            f"({joining.staff_no}) does not hold the shift-leader role and cannot take the "
            f"leading slot",
            {"shift": [gives.shift.day.isoformat(), gives.shift.kind],
             "leader": gives.person.username, "replacement": joining.username}))
    return out


def _holidays(plan: SwapPlan) -> list[Breach]:
    out = []
    for shift in (plan.mine.shift, plan.theirs.shift):
        if shift.is_public_holiday:
            zh, en = roster.shift_label(shift)
            name = shift.holiday_name or "public holiday"
            out.append(Breach("S6", f"{zh}是节假日（{name}）班次，节假日当班人员不允许换班",
                              f"{en} falls on a public holiday ({name}); staff on holiday "
                              f"duty may not swap", {"shift": en, "holiday": name}))
    return out


def _staffing(plan: SwapPlan) -> list[Breach]:
    out = []
    for gives, joining in ((plan.mine, plan.counterpart), (plan.theirs, plan.requester)):
        shift = gives.shift
        staff = roster.staff_on_duty(shift)
        if gives.duty != "leader":
            staff = (staff - {gives.person_id}) | {joining.id}
        if len(staff) < shift.min_staff:
            zh, en = roster.shift_label(shift)
            out.append(Breach("S7", f"{zh}将只有 {len(staff)} 人在岗，最少需要 "
                                    f"{shift.min_staff} 人",
                              f"{en} would have {len(staff)} staff on duty; at least "
                              f"{shift.min_staff} are needed",
                              {"shift": en, "staff": len(staff), "min_staff": shift.min_staff}))
    return out


def _leaders(session: Session, plan: SwapPlan) -> dict[str, Any]:
    mine = roster.own_leader(session, plan.requester, plan.mine.shift)
    theirs = roster.own_leader(session, plan.counterpart, plan.theirs.shift)
    names = [p.username if p else None for p in (mine, theirs)]
    return {"requester_leader": names[0], "counterpart_leader": names[1],
            "two_leaders": names[0] != names[1]}


#: What check_swap writes besides two_leaders (its documented result, for the dry run).
SWAP_CHECKED = {"requester": "agent01", "requester_name": "试运行", "requester_staff_no": "0000",
                "counterpart_name": "试运行", "counterpart_staff_no": "0001",
                "my_shift_label": "白班 / day shift", "their_shift_label": "夜班 / night shift",
                "swap_month": "2026-12", "handover_due": "2026-12-01T09:00:00+08:00",
                "title": "换班 / Swap",
                "requester_leader": "leader01", "counterpart_leader": "leader02",
                "calendar_note": None}


@operator("kefu.check_swap", results=[{**SWAP_CHECKED, "two_leaders": two}
                                      for two in (True, False)])
def check_swap_request(context: OperatorContext, task: Any,
                       params: dict[str, Any]) -> dict[str, Any]:
    """At the request: refuse with every broken rule, else name the two shift leaders."""
    session, now = context.session, context.kefu.clock.now()
    plan = read_plan(session, task.data, now, context.case.id)
    refuse_if(check_swap(session, context.kefu.settings, plan))
    claim(session, context.case, plan.requester, [plan.mine.shift], "swap")
    claim(session, context.case, plan.counterpart, [plan.theirs.shift], "swap")
    calendar = calendar_for(session, context.kefu.settings)
    gaps = sorted({d for shift in (plan.mine.shift, plan.theirs.shift)
                   for d in calendar.uncovered_between(shift.starts_at, shift.ends_at)})
    calendar_note = flag_uncovered(session, context.case, calendar, now, gaps,
                                   ("S6 节假日检查", "the S6 public-holiday check"),
                                   task.task_spec.bpmn_id)
    mine_zh, mine_en = roster.shift_label(plan.mine.shift)
    theirs_zh, theirs_en = roster.shift_label(plan.theirs.shift)
    out = {
        "requester": plan.requester.username, "requester_name": plan.requester.name,
        "requester_staff_no": plan.requester.staff_no,
        "counterpart_name": plan.counterpart.name,
        "counterpart_staff_no": plan.counterpart.staff_no,
        "my_shift_label": f"{mine_zh} / {mine_en}",
        "their_shift_label": f"{theirs_zh} / {theirs_en}", "swap_month": plan.month,
        "handover_due": min(plan.mine.shift.starts_at, plan.theirs.shift.starts_at).isoformat(),
        "title": f"换班 {plan.requester.name}（{mine_zh}）⇄ {plan.counterpart.name}（{theirs_zh}）",
        **_leaders(session, plan), "calendar_note": calendar_note,
    }
    task.data.update(out)
    return out


@operator("kefu.apply_swap", results=[{"outcome": "approved", "swap_record_id": 1}])
def apply_swap(context: OperatorContext, task: Any, params: dict[str, Any]) -> dict[str, Any]:
    """After the last approval: S1 and the rules again, then the roster changes at once."""
    session, now, data = context.session, context.kefu.clock.now(), task.data
    plan = read_plan(session, data, now, context.case.id)
    session.execute(select(ShiftAssignment).where(
        ShiftAssignment.id.in_([plan.mine.id, plan.theirs.id]))
        .with_for_update(of=ShiftAssignment).execution_options(populate_existing=True))
    plan = read_plan(session, data, now, context.case.id)
    approvers = [data.get("approve_requester_leader_by"), data.get("approve_counterpart_leader_by")]
    approvers = [a for a in approvers if a]
    breaches = _consent_and_approvals(plan, data, approvers)
    refuse_if(breaches + check_swap(session, context.kefu.settings, plan, requester_view=False))
    record = SwapRecord(
        case_id=context.case.id, case_number=context.case.number, month=plan.month,
        requester_id=plan.requester.id, counterpart_id=plan.counterpart.id,
        requester_shift_id=plan.mine.shift_id, counterpart_shift_id=plan.theirs.shift_id,
        approved_at=now, approved_by=", ".join(approvers), reason=data.get("reason"))
    session.add(record)
    session.flush()
    roster.apply_swap(plan.mine, plan.theirs, record)
    session.flush()
    history.append(session, context.case, at=now, actor="system", action="roster_swapped",
                   task_spec=task.task_spec.bpmn_id,
                   data={"swap_record_id": record.id, "approved_by": approvers})
    out = {"outcome": "approved", "swap_record_id": record.id}
    data.update(out)
    return out


def _consent_and_approvals(plan: SwapPlan, data: dict[str, Any],
                           approvers: list[str]) -> list[Breach]:
    """S1: the counterpart consented and the leaders who approved are not the parties."""
    parties = {plan.requester.username, plan.counterpart.username}
    if data.get("consent_by") != plan.counterpart.username or data.get("agreed") is not True:
        return [Breach("S1", "对方尚未同意换班", "the counterpart has not consented",
                       {"consent_by": data.get("consent_by")})]
    needed = 2 if data.get("two_leaders") else 1
    if len(set(approvers) - parties) < needed:
        return [Breach("S1", "换班须经双方班长批准，当事人不能自己批准",
                       "both parties' shift leaders must approve; a party cannot approve",
                       {"approvers": approvers})]
    return []


@operator("kefu.record_handover", results=lambda params: [
    {f"{params.get('party')}_handover": "交接",
     f"{params.get('party')}_handover_at": "2026-12-01T09:00:00+08:00"}])
def record_handover(context: OperatorContext, task: Any,
                    params: dict[str, Any]) -> dict[str, Any]:
    """S5: each party's handover goes into the swap register, with its time."""
    party = params.get("party")
    if party not in ("requester", "counterpart"):
        raise RuleViolation([Breach("S5", f"未知的交接方 {party!r}", f"unknown party {party!r}")])
    now = context.kefu.clock.now()
    record = context.session.get(SwapRecord, task.data["swap_record_id"])
    text = str(task.data.get("handover", "")).strip()
    if not text:
        raise FormValidationError({"handover": ["须写明交接内容 / the handover must be written"]})
    setattr(record, f"{party}_handover", text)
    setattr(record, f"{party}_handover_at", now)
    history.append(context.session, context.case, at=now, actor="system",
                   action="handover_recorded", task_spec=task.task_spec.bpmn_id,
                   data={"party": party, "swap_record_id": record.id})
    out = {f"{party}_handover": text, f"{party}_handover_at": now.isoformat()}
    task.data.update(out)
    return out
