"""Everything known about one case, gathered for reading: its data, history, open tasks,
replies sent, deadlines, escalation level and path through the diagram (A1, A2).

The web's case page, the auditors' export and the API read a case through here, so they
show the same thing; none of them opens a workflow or a table on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases.runtime import case_data, load_case_workflow
from engine.cases.steps import Submission, own_fields, submissions
from engine.definitions.diagram import CasePath, bpmn_file_for, case_path, render_svg
from engine.definitions.diagram import Labeller as Labeller
from engine.definitions.specs import FORM_PROPERTY
from engine.kefu import Kefu
from engine.persistence import queries
from engine.persistence.deadline_models import Deadline
from engine.persistence.models import (
    Case,
    HistoryRecord,
    Letter,
    Person,
    PersonRole,
    ProcessVersion,
    SmsMessage,
    TaskItem,
)
from engine.persistence.queries import InboxTask, case_history
from engine.timing.deadlines import case_deadlines, escalation_level


@dataclass
class CaseFile:
    case: Case
    version: ProcessVersion
    data: dict[str, Any]
    history: Sequence[HistoryRecord]
    open_tasks: Sequence[TaskItem]
    sms: Sequence[SmsMessage]
    letters: Sequence[Letter]
    path: CasePath
    #: Escalation level (C9): 0 none, 1 shift leader, 2 department manager.
    escalation_level: int
    #: The case's deadlines: timers, reminders and 催单, with their due and fired times.
    deadlines: Sequence[Deadline]
    #: field name -> title, from every form of the case's process version.
    field_titles: dict[str, str]
    #: Every form submission as entered, in order (engine.cases.steps): each step's own data.
    submissions: Sequence[Submission] = ()
    #: step id -> that step's form schema, to title a submission's fields as its form did.
    step_forms: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def step_fields(self) -> set[str]:
        """Fields entered by a step after the first (the intake): they belong to that
        step's submission, not to the case as a whole (two leaders' two opinions)."""
        names: set[str] = set()
        for submission in self.submissions[1:]:
            names.update(own_fields(self.step_forms.get(submission.step, {})))
        return names


def case_file(kefu: Kefu, session: Session, case: Case) -> CaseFile:
    workflow = load_case_workflow(kefu, session, case)
    version = session.get(ProcessVersion, case.process_version_id)
    assert version is not None  # a foreign key guarantees it
    history = case_history(session, case)
    return CaseFile(
        case=case, version=version, data=dict(case_data(workflow)),
        history=history, submissions=submissions(history),
        step_forms=step_forms(kefu, session, case.process_version_id),
        open_tasks=case_tasks(session, case),
        sms=session.scalars(select(SmsMessage).where(SmsMessage.case_id == case.id)
                            .order_by(SmsMessage.id)).all(),
        letters=session.scalars(select(Letter).where(Letter.case_id == case.id)
                                .order_by(Letter.id)).all(),
        path=case_path(workflow),
        escalation_level=escalation_level(session, case),
        deadlines=case_deadlines(session, case),
        field_titles=field_titles(kefu, session, case.process_version_id),
    )


def step_forms(kefu: Kefu, session: Session, version_id: int) -> dict[str, dict[str, Any]]:
    """Each user task's form, in the process and its subprocesses."""
    loaded = kefu.version(session, version_id)
    out: dict[str, dict[str, Any]] = {}
    for spec in (loaded.spec, *loaded.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            form = getattr(task_spec, "extensions", {}).get("properties", {}).get(FORM_PROPERTY)
            if form in loaded.forms:
                out[task_spec.bpmn_id] = loaded.forms[form]
    return out


def case_tasks(session: Session, case: Case) -> Sequence[TaskItem]:
    return session.scalars(select(TaskItem).where(TaskItem.case_id == case.id)
                           .order_by(TaskItem.created_at)).all()


def field_titles(kefu: Kefu, session: Session, version_id: int) -> dict[str, str]:
    titles: dict[str, str] = {}
    for schema in kefu.version(session, version_id).forms.values():
        for name, prop in schema.get("properties", {}).items():
            if isinstance(prop, dict) and prop.get("title"):
                titles.setdefault(name, str(prop["title"]))
    return titles


def diagram_svg(session: Session, version: ProcessVersion, path: CasePath | None = None,
                label: Labeller | None = None) -> str:
    """The version's diagram as SVG, with a case's path painted on it if given."""
    text = bpmn_file_for(version.sources, version.process_id)
    return render_svg(text, path, label, title=version.name)


def team_tasks(session: Session, leader: Person, team: set[str],
               limit: int = 200) -> Sequence[InboxTask]:
    """Open tasks a leader can hand on: held by a member of their team, or offered to a role
    that a team member holds (in the member's department, if narrowed). A task the process
    offers to one named person is not among them (engine.cases.runtime.reassign_task).
    Rows as the inbox lists them (engine.persistence.queries.InboxTask)."""
    if not team:
        return []
    rows = session.execute(select(Person.username, Person.department, PersonRole.role)
                           .outerjoin(PersonRole, PersonRole.person_id == Person.id)
                           .where(Person.username.in_(sorted(team)))).all()
    roles: dict[tuple[str, str | None], set[str]] = {}
    for username, department, role in rows:
        roles.setdefault((username, department), set()).update([role] if role else [])
    members = [(username, department, frozenset(held))
               for (username, department), held in roles.items()]
    return queries.team_tasks(session, members, limit)
