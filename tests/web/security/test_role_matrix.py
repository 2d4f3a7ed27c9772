"""For every person of the demo centre and every user task of every process: a person can
see and act on a task only where the process offers it to them (lanes are roles, narrowed
to the department named at judgement, C6, or to the case owner, C2). Proven over HTTP.

The expectations are written from SPEC.md and the demo organisation, not computed with the
engine's own rule, so a wrong rule in the engine shows here. The leave, swap and report
processes' tasks are in test_role_matrix_staff.py, with these helpers."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

import engine
from engine.people.organisation import DEMO_FILE
from engine.persistence.models import TaskItem
from tests.complaints import (
    APPROVE,
    CONTACT,
    JUSTIFIED,
    NOT_JUSTIFIED,
    PROPOSAL,
    REPLY_SMS,
    SATISFIED,
    do,
    open_tasks,
    register,
)
from tests.web.conftest import form, submit_task

ORG = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))["people"]
EVERYONE = sorted(p["username"] for p in ORG)
AGENTS = {p["username"] for p in ORG if "agent" in p["roles"]}
#: complaint step -> who may do it, for a case owned by agent01 and judged against billing.
OFFERED = {
    "contact": {"duty01"},
    "judge": {"duty01"},
    "propose": {"bill01", "bill02"},
    "approve": {"billhead"},
    "reply": {"agent01"},
    "callback": {"agent01"},
    "explain": {"agent01"},
}
STEPS = [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
         ("propose", "bill01", PROPOSAL), ("approve", "billhead", APPROVE),
         ("reply", "agent01", REPLY_SMS), ("callback", "agent01", SATISFIED)]
DATA = {step: data for step, _who, data in STEPS} | {
    "explain": {"reply_channel": "sms", "explanation": "经核查计费无误。"}}


def _case_at(kefu, people, step: str) -> str:
    """A complaint by agent01 waiting at `step`."""
    number = register(kefu, people["agent01"])
    if step == "explain":
        do(kefu, number, "contact", people["duty01"], CONTACT)
        do(kefu, number, "judge", people["duty01"], NOT_JUSTIFIED)
        return number
    for name, who, data in STEPS:
        if name == step:
            return number
        do(kefu, number, name, people[who], data)
    raise AssertionError(step)


def expected(item: TaskItem) -> set[str]:
    """Who the demo organisation file says may do a task offered as `item` is."""
    if item.candidate_user:
        return {item.candidate_user}
    return {p["username"] for p in ORG if item.role in p["roles"]
            and (item.department is None or p.get("department") == item.department)}


def _user_tasks(kefu, process_id: str) -> set[str]:
    with kefu.session() as s:
        loaded = kefu.version(s, engine.definitions.catalog.newest_version(s, process_id).id)
    return {t.bpmn_id for spec in [loaded.spec, *loaded.subprocess_specs.values()]
            for t in spec.task_specs.values()
            if "formJsonSchemaFilename" in getattr(t, "extensions", {}).get("properties", {})}


def test_the_matrix_covers_the_complaints_user_tasks(deployed) -> None:
    escalation = {"opinion", "coordinate", "progress"}  # covered by the timer test below
    assert _user_tasks(deployed, "complaint") - escalation == set(OFFERED) | {"intake"}


def _own_sections(html: str) -> str:
    """The inbox's "mine" and "offered" parts (a leader's team part only lists, to hand on)."""
    return html.split('<section id="mine">')[1].split('<section id="reminders">')[0] \
        .split('<section id="team">')[0]


def check_matrix(client, auth, kefu, item: TaskItem, data: dict | None) -> None:
    """Everyone tries the task; only those offered it see it, claim it (and complete it)."""
    offered_to = expected(item)
    assert offered_to, f"{item.spec_name} is offered to nobody"
    for username in EVERYONE:
        auth.as_user(username)
        offered = username in offered_to
        where = (item.spec_name, username)
        assert (item.id in _own_sections(client.get("/inbox").get_data(as_text=True))) \
            == offered, where
        assert client.get(f"/tasks/{item.id}").status_code == (200 if offered else 403), where
        if offered:
            assert auth.post(f"/tasks/{item.id}/claim").status_code == 302, where
            assert auth.post(f"/tasks/{item.id}/release").status_code == 302, where
            continue
        assert auth.post(f"/tasks/{item.id}/claim").status_code == 403, where
        assert auth.post(f"/tasks/{item.id}", form(data or {})).status_code == 403, where
    with kefu.session() as s:
        after = s.scalar(select(TaskItem).where(TaskItem.id == item.id))
    assert after is not None and after.assignee is None  # nobody refused changed anything
    if data is not None:
        auth.as_user(sorted(offered_to)[0])
        assert submit_task(auth, item.id, data).status_code == 302


@pytest.mark.parametrize("step", sorted(OFFERED))
def test_C2_C6_a_person_acts_only_where_the_process_offers_the_task(
        step, client, auth, deployed, people) -> None:
    number = _case_at(deployed, people, step)
    [task] = [t for t in open_tasks(deployed, number) if t.spec_name == step]
    assert expected(task) == OFFERED[step]  # the process narrows as SPEC.md says
    check_matrix(client, auth, deployed, task, DATA[step])
    assert task.id not in {t.id for t in open_tasks(deployed, number)}


def test_C9_escalation_tasks_too_are_offered_only_to_their_people(
        client, auth, deployed, people, clock) -> None:
    number = _case_at(deployed, people, "propose")
    seen: set[str] = set()
    for hours in (25, 25):
        clock.advance(hours=hours)
        engine.fire_due(deployed, clock.now())
        for item in open_tasks(deployed, number):
            if item.spec_name not in OFFERED and item.spec_name not in seen:
                seen.add(item.spec_name)
                check_matrix(client, auth, deployed, item, None)
    assert {"opinion", "coordinate"} <= seen


def test_C1_only_agents_may_register_a_complaint(client, auth, deployed) -> None:
    for username in EVERYONE:
        auth.as_user(username)
        expected = 200 if username in AGENTS else 403
        assert client.get("/start/complaint").status_code == expected, username


#: Who may start each process, from SPEC.md: complaints are registered by agents (C1, C2);
#: anyone asks for their own leave (L4) or swap of their own rostered shift (S1; the rules
#: then refuse a shift they do not have), or reports up the line (Q2). Auditors change
#: nothing (A2).
STARTERS = {"complaint": "agent", "shift_swap": None, "leave": None, "request_report": None}


def test_L4_Q2_C1_S1_each_process_is_started_by_whom_spec_md_says(
        client, auth, deployed) -> None:
    with deployed.session() as s:
        deployed_ids = {v.process_id for v in engine.definitions.catalog.newest_versions(s)}
    assert deployed_ids == set(STARTERS)
    for person in ORG:
        auth.as_user(person["username"])
        listed = client.get("/start").get_data(as_text=True)
        for process_id, role in STARTERS.items():
            may = "auditor" not in person["roles"] and (role is None or role in person["roles"])
            assert (f"/start/{process_id}\"" in listed) == may, (process_id, person)
            status = client.get(f"/start/{process_id}").status_code
            assert status == (200 if may else 403), (process_id, person["username"])
