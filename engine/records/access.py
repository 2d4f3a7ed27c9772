"""Who may read which case (C12 need to know): the one rule every page and the API use.

A case is read by the people on its chain — who started it, whose it is, who acted on it,
who holds or is offered one of its open steps — and by the auditor (A2). Beyond the chain,
only a complaint (a customer's case the centre answers for) is read by those who oversee
complaint handling: quality inspectors (C11 inspection), the duty supervisors who judge
every complaint (C4), the head of customer service and the centre director; a department
head reads the complaints judged against his department (C6); a shift leader those of his
own team's agents (a department manager reached by an escalation, C9, is on the chain
through the escalation's step). An employee's
leave, swap or report (a sick-leave reason, a confidential report of a leak, Q1) is read by
its chain alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.people.roles import Actor, may_act
from engine.persistence.models import Case, HistoryRecord, Person, TaskItem

AUDITOR = "auditor"
#: History actions that are reading, not taking part: viewing a case makes no one part of it.
#: A caller's lookup (engine.records.lookup) does: that agent now answers the customer's call.
_READING = frozenset({"viewed_customer_data"})


@dataclass(frozen=True)
class Oversight:
    """Who reads a process's cases without being on their chain."""

    everyone: frozenset[str] = frozenset()  # roles that read all of them
    own_department: frozenset[str] = frozenset()  # ... those of their department
    own_team: frozenset[str] = frozenset()  # ... those started by their team


OVERSIGHT: dict[str, Oversight] = {
    "complaint": Oversight(
        everyone=frozenset({"qa", "duty_supervisor", "cs_head", "center_director"}),
        own_department=frozenset({"dept_head"}),
        own_team=frozenset({"shift_leader"})),
}


def on_chain(session: Session, actor: Actor, case: Case) -> bool:
    """Started it, owns it, took part in it, or holds or is offered one of its steps."""
    if actor.username in (case.owner, case.created_by):
        return True
    items = session.scalars(select(TaskItem).where(TaskItem.case_id == case.id))
    if any(may_act(actor, i.role, i.department, i.candidate_user, i.assignee) for i in items):
        return True
    acted = session.scalar(select(HistoryRecord.id).where(
        HistoryRecord.case_id == case.id, HistoryRecord.actor == actor.username,
        HistoryRecord.action.not_in(_READING)).limit(1))
    return acted is not None


def _oversees(session: Session, actor: Actor, case: Case) -> bool:
    rule = OVERSIGHT.get(case.process_id)
    if rule is None:
        return False
    if actor.roles & rule.everyone:
        return True
    if actor.roles & rule.own_department and actor.department \
            and case.department == actor.department:
        return True
    return bool(actor.roles & rule.own_team) and _in_team_of(session, actor, case)


def _in_team_of(session: Session, actor: Actor, case: Case) -> bool:
    leader = select(Person.id).where(Person.username == actor.username).scalar_subquery()
    members = {case.created_by, case.owner} - {None}
    found = session.scalar(select(Person.id).where(Person.username.in_(members),
                                                   Person.shift_leader_id == leader).limit(1))
    return found is not None


def may_read_case(session: Session, actor: Actor, case: Case) -> bool:
    """The rule; web pages, the API and the auditors' exports all ask it."""
    if AUDITOR in actor.roles:
        return True
    return on_chain(session, actor, case) or _oversees(session, actor, case)
