"""Who may act on which task: a lane is a role, narrowed by the process's own properties.

The narrowing names data variables, not people, so that the process file says who acts
(the department named at judgement, C6; the case owner, C2) and Python only looks it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Offer:
    """To whom a ready task is offered."""

    role: str
    department: str | None = None
    candidate_user: str | None = None


def offer_for(task_spec: Any, data: dict[str, Any]) -> Offer:
    properties = task_spec.extensions.get("properties", {})
    department = _lookup(data, properties.get(CANDIDATE_DEPARTMENT))
    user = _lookup(data, properties.get(CANDIDATE_USER))
    return Offer(role=task_spec.lane, department=department, candidate_user=user)


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
        return candidate_user == actor.username
    if role not in actor.roles:
        return False
    return department is None or department == actor.department
