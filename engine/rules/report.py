"""Request and report (请示报告): which level a report goes to first (Q2, Q3), what each
level did with it, and the instruction and any objection (Q4).

The levels are agent → shift leader → CS head → centre director. A report goes to the
level above its author; only an emergency may go higher, and then the direct leader
receives an after-the-fact report (Q3), which processes/request_report.bpmn creates.
"""

from __future__ import annotations

from typing import Any

from engine.definitions.operators import OperatorContext, operator
from engine.errors import FormValidationError, KefuError
from engine.people import roster
from engine.records import history
from engine.rules import Breach, refuse_if
from engine.rules.common import person_named

LEVELS = ("agent", "shift_leader", "cs_head", "center_director")
LEVEL_LABELS = {"agent": ("业务代表", "agent"), "shift_leader": ("班长", "shift leader"),
                "cs_head": ("客服部主任", "CS head"),
                "center_director": ("客服中心主任", "centre director")}
#: Q1: customers making trouble on purpose are the shift leader's to resolve.
SHIFT_LEADER_ONLY = "customer_trouble"


def level_of(roles: set[str]) -> int:
    """The highest reporting level a person holds; anyone else reports as an agent would."""
    return max((LEVELS.index(r) for r in roles if r in LEVELS), default=0)


#: What route_report writes besides the levels (its documented result, for the dry run).
ROUTED = {"reporter": "dryrun", "reporter_name": "试运行", "reporter_level": "agent",
          "direct_leader": "leader01", "shift_leader_user": "leader01", "trail": [],
          "objection": ""}


@operator("kefu.route_report", results=[
    {**ROUTED, "first_level": first, "skipped": first != direct, "direct_role": direct}
    for first, direct in (("shift_leader", "shift_leader"), ("cs_head", "shift_leader"),
                          ("center_director", "cs_head"), ("center_director", "center_director"))])
def route_report(context: OperatorContext, task: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Q2: the report goes one level up; Q3: an emergency may go higher, and then the
    direct leader is named for the after-the-fact report."""
    data, session = task.data, context.session
    reporter = person_named(session, data.get("report_by") or data.get("started_by"),
                            "report_by")
    own = level_of(reporter.role_names)
    if own == len(LEVELS) - 1:
        raise KefuError("客服中心主任没有更高的报告层级 / the centre director has no higher "
                        "level to report to")
    direct = own + 1
    target = direct
    if data.get("escalate_to"):
        if data["escalate_to"] not in LEVELS[direct:]:
            raise FormValidationError({"escalate_to": [
                f"须为您的上级 / must be a level above yours: {', '.join(LEVELS[direct:])}"]})
        target = LEVELS.index(data["escalate_to"])
    breaches = []
    if target > direct and not data.get("emergency"):
        breaches.append(Breach(
            "Q2", f"非紧急情况须逐级报告，应先报{LEVEL_LABELS[LEVELS[direct]][0]}，不能直接报"
                  f"{LEVEL_LABELS[LEVELS[target]][0]}",
            f"a report that is not an emergency goes level by level: first to the "
            f"{LEVEL_LABELS[LEVELS[direct]][1]}, not straight to the "
            f"{LEVEL_LABELS[LEVELS[target]][1]}",
            {"direct": LEVELS[direct], "asked": LEVELS[target]}))
    if data.get("category") == SHIFT_LEADER_ONLY and target > LEVELS.index("shift_leader"):
        breaches.append(_trouble_breach())
    refuse_if(breaches)
    leader = direct_leader = None
    if LEVELS[direct] == "shift_leader":
        # Q2: a report now goes to the leader of the shift on duty; Q3: the after-the-fact
        # report goes to the reporter's own (direct) leader. Both by engine.people.roster.route.
        now = context.kefu.clock.now()
        on_duty = roster.route(session, reporter, at=now)
        own_chain = roster.route(session, reporter, at=now, own_first=True)
        leader, direct_leader = on_duty.person, own_chain.person
        for rule, routing in (("Q2", on_duty), ("Q3", own_chain)):
            if routing.fallback and (rule == "Q2" or target > direct):
                history.append(session, context.case, at=now, actor="system",
                               action="routed", task_spec=task.task_spec.bpmn_id,
                               data={"rule": rule, **routing.as_dict()})
    out = {
        "reporter": reporter.username, "reporter_name": reporter.name,
        "reporter_level": LEVELS[own], "direct_role": LEVELS[direct],
        "direct_leader": direct_leader.username if direct_leader else None,
        "first_level": LEVELS[target], "skipped": target > direct,
        "shift_leader_user": leader.username if leader else None,
        "trail": [], "objection": "",
    }
    task.data.update(out)
    return out


def _trouble_breach() -> Breach:
    return Breach("Q1", "用户故意刁难由班长解决，不上报更高层级",
                  "a customer making trouble on purpose is resolved by the shift leader, not "
                  "passed higher", {"category": SHIFT_LEADER_ONLY})


@operator("kefu.report_step", results=lambda params: [
    {"trail": [], "decision": "resolve", "instruction_in_force": True}
    if params.get("level") == LEVELS[-1] else {"trail": []}])
def report_step(context: OperatorContext, task: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Q2: a level resolved the report or passed it up with its opinion; either way the
    trail keeps who said what, and an instruction is recorded in full (Q4)."""
    data, level = task.data, params.get("level")
    if level not in LEVELS[1:]:
        raise KefuError(f"report_step: unknown level {level!r}")
    task_id = {"shift_leader": "handle_shift_leader", "cs_head": "handle_cs_head",
               "center_director": "handle_director"}[level]
    decision = "resolve" if level == LEVELS[-1] else data.get("decision")
    if level == "shift_leader" and decision == "pass_up" and \
            data.get("category") == SHIFT_LEADER_ONLY:
        refuse_if([_trouble_breach()])
    text = data.get("instruction") if decision == "resolve" else data.get("opinion")
    by, at = data.get(f"{task_id}_by"), data.get(f"{task_id}_at")
    entry = {"level": level, "by": by, "at": at, "decision": decision, "text": text}
    out: dict[str, Any] = {"trail": [*data.get("trail", []), entry], "decision": decision}
    if decision == "resolve":
        out.update(instruction=text, instructed_by=by, instructed_at=at, instruction_level=level,
                   instruction_in_force=True)
    data.update(out)
    return out


@operator("kefu.close_report", results=[
    {"objection_recorded": objection, "instruction_in_force": True}
    for objection in (False, True)])
def close_report(context: OperatorContext, task: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Q4: an objection is recorded beside the instruction, which stays in force."""
    data = task.data
    objection = str(data.get("objection") or "").strip()
    out = {"objection_recorded": bool(objection), "instruction_in_force": True}
    if objection:
        history.append(context.session, context.case, at=context.kefu.clock.now(),
                       actor=data.get("acknowledge_by") or "system", action="objection_recorded",
                       task_spec=task.task_spec.bpmn_id,
                       data={"objection": objection, "instruction": data.get("instruction"),
                             "instructed_by": data.get("instructed_by"),
                             "instruction_in_force": True})
    data.update(out)
    return out
