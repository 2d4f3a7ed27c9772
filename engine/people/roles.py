"""Who may act on which task: a lane is a role, narrowed by the process's own properties.

The narrowing names data variables, not people, so that the process file says who acts
(the department named at judgement, C6; the case owner, C2) and Python only looks it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import KefuError

ROLES: dict[str, tuple[str, str]] = {
    "agent": ("业务代表", "Agent"),
    "shift_leader": ("班长", "Shift leader"),
    "duty_supervisor": ("值班主管", "Duty supervisor"),
    "qa": ("质检员", "Quality inspector"),
    "dept_handler": ("责任部门处理人", "Department handler"),
    "dept_head": ("部门负责人", "Department head"),
    "cs_head": ("客服部主任", "Head of customer service"),
    "dept_manager": ("部门经理", "Department manager"),
    "center_director": ("客服中心主任", "Centre director"),
    "auditor": ("稽核", "Auditor"),
    "process_owner": ("流程管理员", "Process owner"),
}
KNOWN_ROLES = frozenset(ROLES)

CANDIDATE_DEPARTMENT = "candidateDepartment"
CANDIDATE_USER = "candidateUser"
#: Fixed offers a process file names (issue 14), resolved at deployment: a department's
#: code (Camunda's candidateGroups naming a department, a lane named after one), and
#: usernames (candidateUsers/assignee naming people by username or staff number).
OFFER_DEPARTMENT = "offerDepartment"
OFFER_USERS = "offerUsers"
#: SpiffArena's data variable: lane name → the usernames its tasks are offered to.
LANE_OWNERS = "lane_owners"
#: The role of a task offered to anyone in a department, or to named people: no role.
ANYONE = "*"


@dataclass(frozen=True)
class Offer:
    """To whom a ready task is offered."""

    role: str
    department: str | None = None
    candidate_user: str | None = None
    #: The usernames a case's `lane_owners` gave (checked against the people, who change).
    lane_owners: tuple[str, ...] = ()


def offer_for(task_spec: Any, data: dict[str, Any]) -> Offer:
    """A lane naming a role offers the task to it; a lane named freely (SpiffArena's
    habit) to the people `lane_owners` lists for it, as SpiffArena does; a department
    named in the file to anyone in it, whatever their role."""
    properties = task_spec.extensions.get("properties", {})
    lane = task_spec.lane
    fixed_department = properties.get(OFFER_DEPARTMENT)
    department = fixed_department or _lookup(data, properties.get(CANDIDATE_DEPARTMENT))
    user = _lookup(data, properties.get(CANDIDATE_USER))
    if user is None and properties.get(OFFER_USERS):
        user = encode_candidates(properties[OFFER_USERS].split(","))
    if lane in KNOWN_ROLES:
        return Offer(role=lane, department=department, candidate_user=user)
    if user is None and fixed_department is None:
        owners = data.get(LANE_OWNERS)
        names = owners.get(lane) if isinstance(owners, dict) else None
        if not isinstance(names, list | tuple) or not names:
            raise KefuError(
                f"{LANE_OWNERS}: 泳道 {lane!r} 不是角色，数据变量 {LANE_OWNERS} 里也没有列出它的"
                f"办理人，任务“{task_spec.bpmn_name or task_spec.bpmn_id}”无人可办 / lane "
                f"{lane!r} names no role and {LANE_OWNERS} lists nobody for it: set "
                f"{LANE_OWNERS}[{lane!r}] to a list of usernames in a script before the task")
        listed = tuple(str(n) for n in names)
        return Offer(role=ANYONE, candidate_user=encode_candidates(list(listed)),
                     lane_owners=listed)
    return Offer(role=ANYONE, department=department, candidate_user=user)


def encode_candidates(usernames: list[str]) -> str | None:
    """One named person as their username; several as `,a,b,` (each between commas, so
    that an inbox finds a person's offers with one LIKE)."""
    names = list(dict.fromkeys(u.strip() for u in usernames if u.strip()))
    if not names:
        return None
    return names[0] if len(names) == 1 else f",{','.join(names)},"


def candidates(candidate_user: str | None) -> list[str]:
    """The people a task is offered to by name (see `encode_candidates`)."""
    if not candidate_user:
        return []
    return [n for n in candidate_user.split(",") if n]


def _lookup(data: dict[str, Any], variable: str | None) -> str | None:
    """A data variable's value; `a.b` reads key `b` of the mapping `a` (an operator's result)."""
    if not variable:
        return None
    value: Any = data
    for key in variable.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class Actor:
    """The person acting, as the rules need them: no ORM object leaks into the checks."""

    username: str
    staff_no: str
    roles: frozenset[str]
    department: str | None = None


def may_act(actor: Actor, role: str, department: str | None, candidate_user: str | None,
            assignee: str | None) -> bool:
    if assignee is not None:
        return assignee == actor.username
    if candidate_user is not None:
        return actor.username in candidates(candidate_user)
    if role != ANYONE and role not in actor.roles:
        return False
    return department is None or department == actor.department
