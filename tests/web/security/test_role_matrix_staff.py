"""The role matrix of test_role_matrix.py for the staff processes (issue 4): every user task
of leave.bpmn, shift_swap.bpmn and request_report.bpmn, reached through a real case, is tried
over HTTP by every person of the demo centre; only those the process offers it to may see,
claim and complete it.

The first step of each (the request or the report) is done by whoever starts the case; who
may start is the start test in test_role_matrix.py. Who is offered each later step is written
here from SPEC.md, the demo organisation (who leads whom) and the demo roster, not computed
with the engine's own rule. At the test clock, Monday 23 November 2026 09:00, leader04 leads
the day shift; agent01 is in leader01's team and agent07 in leader03's (tests/rules/test_*_process).
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from engine.persistence.models import Case, TaskItem
from tests.complaints import do, open_tasks
from tests.rules.test_leave_process import APPROVE as LEAVE_APPROVE
from tests.rules.test_leave_process import DAY_25, DAYS_25_26, DIRECTOR, ENDORSE, SH, at
from tests.rules.test_leave_process import ask as ask_leave
from tests.rules.test_report_process import CARRY_OUT, INSTRUCTION, REPORT, RESOLVE, report
from tests.rules.test_swap_process import AGREE
from tests.rules.test_swap_process import APPROVE as SWAP_APPROVE
from tests.rules.test_swap_process import ask as ask_swap
from tests.web.conftest import form
from tests.web.security.test_role_matrix import ORG, _user_tasks, check_matrix, expected

ON_DUTY = "leader04"  # the demo roster's leader of the day shift at the test clock
OWN = "leader01"  # agent01's own team leader: L2 and Q3 go up one's own chain (docs/routing.md)

#: leave step -> who may do it, for agent01's leave of the day shift of 25 November.
LEAVE_OFFERED = {
    "endorse": {OWN},                  # L2: the employee's own shift leader (no 交叉请假)
    "approve_cs_head": {"cshead"},     # L2, L3: the CS head, up to one day
    "approve_director": {"director"},  # L3: the centre director, over one day
    "certificate": {"agent01"},        # L5: the sick employee, not who asked for them (L4)
}
#: swap step -> who may do it, for agent01's day of 26 Nov against agent07's day of 30 Nov.
SWAP_OFFERED = {
    "consent": {"agent07"},                      # S1: the counterpart agrees
    "approve_requester_leader": {"leader01"},    # S1: agent01's shift leader
    "approve_counterpart_leader": {"leader03"},  # S1: agent07's shift leader
    "handover_requester": {"agent01"},           # S5: both parties hand over
    "handover_counterpart": {"agent07"},
}
#: report step -> who may do it, for a report by agent01 (by leader01 where it skips the
#: CS head, Q3).
REPORT_OFFERED = {
    "handle_shift_leader": {ON_DUTY},       # Q2: first the shift leader (on duty)
    "handle_cs_head": {"cshead"},           # Q2: then the CS head
    "handle_director": {"director"},        # Q2: then the centre director
    "acknowledge": {"agent01"},             # Q4: the reporter carries the instruction out
    "after_report_shift_leader": {OWN},  # Q3: the skipped direct (own) leader is told
    "after_report_cs_head": {"cshead"},     # Q3: a shift leader skipped the CS head
}

CERTIFICATE = {"certificate_from": "2026-11-25", "certificate_to": "2026-11-25",
               "issuer": "市第一人民医院"}
HANDOVER = {"handover": "无遗留事项。"}
PASS_UP = {"decision": "pass_up", "opinion": "超出本级权限，请上级处理。"}
TOLD = {"acknowledged": True, "after_note": "已知悉。"}
EMERGENCY = {"category": "safety", "emergency": True, "escalate_to": "center_director",
             "emergency_reason": "机房冒烟"}

#: The path through each process, in order: (step, who does it, data).
LEAVE_PATH = [("endorse", OWN, ENDORSE), ("approve_cs_head", "cshead", LEAVE_APPROVE),
              ("approve_director", "director", DIRECTOR)]
SWAP_PATH = [("consent", "agent07", AGREE), ("approve_requester_leader", "leader01", SWAP_APPROVE),
             ("approve_counterpart_leader", "leader03", SWAP_APPROVE)]
REPORT_PATH = [("handle_shift_leader", ON_DUTY, PASS_UP), ("handle_cs_head", "cshead", PASS_UP),
               ("handle_director", "director", {"instruction": INSTRUCTION})]

LEAVE_DATA = {"endorse": ENDORSE, "approve_cs_head": LEAVE_APPROVE,
              "approve_director": DIRECTOR, "certificate": CERTIFICATE}
SWAP_DATA = {"consent": AGREE, "approve_requester_leader": SWAP_APPROVE,
             "approve_counterpart_leader": SWAP_APPROVE, "handover_requester": HANDOVER,
             "handover_counterpart": HANDOVER}
REPORT_DATA = {"handle_shift_leader": RESOLVE, "handle_cs_head": RESOLVE,
               "handle_director": {"instruction": INSTRUCTION}, "acknowledge": CARRY_OUT,
               "after_report_shift_leader": TOLD, "after_report_cs_head": TOLD}


def _ready(kefu, number: str) -> set[str]:
    return {t.spec_name for t in open_tasks(kefu, number)}


def _walk(kefu, people, number: str, step: str, path) -> str:
    """Do the path's steps, each as the person the path names, until `step` is ready."""
    for name, who, data in path:
        if step in _ready(kefu, number):
            break
        do(kefu, number, name, people[who], data)
    assert step in _ready(kefu, number), (step, _ready(kefu, number))
    return number


def _leave_at(kefu, people, step: str) -> str:
    if step == "certificate":  # L4: sick leave asked by agent02 for agent01, no certificate
        number = ask_leave(kefu, people["agent02"], employee="agent01", kind="sick")
    else:
        number = ask_leave(kefu, people["agent01"],
                           **(DAYS_25_26 if step == "approve_director" else {}))
    return _walk(kefu, people, number, step, LEAVE_PATH)


def _swap_at(kefu, people, step: str) -> str:
    return _walk(kefu, people, ask_swap(kefu, people["agent01"]), step, SWAP_PATH)


def _report_at(kefu, people, step: str) -> str:
    if step == "after_report_cs_head":
        number = report(kefu, people["leader01"], **EMERGENCY)
    elif step == "after_report_shift_leader":
        number = report(kefu, people["agent01"], **EMERGENCY)
    else:
        number = report(kefu, people["agent01"])
    path = [("handle_shift_leader", ON_DUTY, RESOLVE)] if step == "acknowledge" else REPORT_PATH
    return _walk(kefu, people, number, step, path)


def _matrix(client, auth, kefu, number: str, step: str, offered: set[str], data: dict) -> None:
    [task] = [t for t in open_tasks(kefu, number) if t.spec_name == step]
    assert expected(task) == offered  # the process narrows as SPEC.md and the roster say
    check_matrix(client, auth, kefu, task, data)
    assert task.id not in {t.id for t in open_tasks(kefu, number)}


@pytest.mark.parametrize(("process_id", "offered", "first"), [
    ("leave", LEAVE_OFFERED, "request"), ("shift_swap", SWAP_OFFERED, "request"),
    ("request_report", REPORT_OFFERED, "report")])
def test_the_matrix_covers_every_user_task_of_the_staff_processes(
        deployed, process_id, offered, first) -> None:
    assert _user_tasks(deployed, process_id) == set(offered) | {first}


@pytest.mark.parametrize("step", list(LEAVE_OFFERED))
def test_L2_L3_L5_a_person_acts_on_leave_only_where_the_process_offers_the_task(
        step, client, auth, rostered, people) -> None:
    number = _leave_at(rostered, people, step)
    _matrix(client, auth, rostered, number, step, LEAVE_OFFERED[step], LEAVE_DATA[step])


def test_L2_with_nobody_rostered_only_the_employees_own_shift_leader_endorses(
        client, auth, deployed, people) -> None:
    number = ask_leave(deployed, people["agent01"])  # no roster: agent01's leader is leader01
    _matrix(client, auth, deployed, number, "endorse", {"leader01"}, ENDORSE)


@pytest.mark.parametrize("step", list(SWAP_OFFERED))
def test_S1_S5_a_person_acts_on_a_swap_only_where_the_process_offers_the_task(
        step, client, auth, rostered, people) -> None:
    number = _swap_at(rostered, people, step)
    _matrix(client, auth, rostered, number, step, SWAP_OFFERED[step], SWAP_DATA[step])


@pytest.mark.parametrize("step", list(REPORT_OFFERED))
def test_Q2_Q3_Q4_a_person_acts_on_a_report_only_where_the_process_offers_the_task(
        step, client, auth, rostered, people) -> None:
    number = _report_at(rostered, people, step)
    _matrix(client, auth, rostered, number, step, REPORT_OFFERED[step], REPORT_DATA[step])


# --- handing a task on ---------------------------------------------------------------------

def _team(person: dict) -> set[str]:
    """Whom the organisation file puts under `person`: the people they lead as shift leader,
    and a department head's or manager's whole department."""
    team = {p["username"] for p in ORG if p.get("shift_leader") == person["username"]}
    if {"dept_head", "dept_manager"} & set(person["roles"]) and person.get("department"):
        team |= {p["username"] for p in ORG if p.get("department") == person["department"]}
    return team - {person["username"]}


def _steps() -> list:
    drivers = [(_leave_at, LEAVE_OFFERED), (_swap_at, SWAP_OFFERED), (_report_at, REPORT_OFFERED)]
    return [pytest.param(drive, offered[step], step, id=step)
            for drive, offered in drivers for step in offered]


def _hand_on(client, auth, kefu, task, offered: set[str], own_team: bool) -> list:
    """People whose team holds an offered person (own_team) or not each try to hand the
    task to every member of their team it is not offered to; the hand-ons that got through."""
    handed = []
    for person in ORG:
        team = _team(person)
        if not team or bool(team & offered) != own_team:
            continue
        auth.as_user(person["username"])
        for member in sorted(team - offered):
            status = auth.post(f"/tasks/{task.id}/reassign", {"to": member}).status_code
            if status != 403:
                handed.append((person["username"], member, status))
                with kefu.session() as s:  # undo, so that every attempt starts alike
                    item = s.get(TaskItem, task.id)
                    item.assignee, item.candidate_user = task.assignee, task.candidate_user
    return handed


@pytest.mark.parametrize(("drive", "offered", "step"), _steps())
def test_L5_S1_S5_Q4_a_leader_hands_on_only_tasks_of_their_own_team(
        drive, offered, step, client, auth, rostered, people) -> None:
    number = drive(rostered, people, step)
    [task] = [t for t in open_tasks(rostered, number) if t.spec_name == step]
    handed = _hand_on(client, auth, rostered, task, offered, own_team=False)
    assert handed == [], handed


@pytest.mark.parametrize(("drive", "offered", "step"), _steps())
def test_L2_L5_S1_S5_Q2_Q4_a_task_offered_to_one_person_is_not_handed_to_another(
        drive, offered, step, client, auth, rostered, people) -> None:
    number = drive(rostered, people, step)
    [task] = [t for t in open_tasks(rostered, number) if t.spec_name == step]
    handed = _hand_on(client, auth, rostered, task, offered, own_team=True)
    assert handed == [], handed


# --- the first step: who starts ------------------------------------------------------------

def test_L5_the_shift_leader_on_duty_records_a_phoned_emergency_through_the_web(
        client, auth, rostered) -> None:
    rostered.clock.set(datetime(2026, 11, 25, 7, 40, tzinfo=SH))  # leader03's night shift
    auth.as_user("leader03")
    assert client.get("/start/leave").status_code == 200
    emergency = {"kind": "sick", "employee": "agent01", "emergency": True,
                 "phoned_at": at(25, 7, 20), "reason": "急性肠胃炎，电话请假", **DAY_25}
    assert auth.post("/start/leave", form(emergency)).status_code == 302
    [number] = _cases(rostered, "leave")
    assert [(t.spec_name, t.candidate_user) for t in open_tasks(rostered, number)] == [
        ("endorse", OWN)]  # L2: agent01's own leader endorses what leader03 recorded


def test_Q2_a_shift_leader_reports_to_the_cs_head_through_the_web(client, auth,
                                                                   rostered) -> None:
    auth.as_user("agent01")  # the same form is accepted from an agent
    assert auth.post("/start/request_report", form(REPORT)).status_code == 302
    auth.as_user("leader01")
    assert client.get("/start/request_report").status_code == 200
    assert auth.post("/start/request_report", form(REPORT)).status_code == 302
    [_, number] = _cases(rostered, "request_report")
    assert [(t.spec_name, t.role) for t in open_tasks(rostered, number)] == [
        ("handle_cs_head", "cs_head")]


def _cases(kefu, process_id: str) -> list[str]:
    with kefu.session() as s:
        return list(s.scalars(select(Case.number).where(Case.process_id == process_id)
                              .order_by(Case.id)))
