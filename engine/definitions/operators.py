"""Service-task operators: what a BPMN `serviceTask` may ask Kefu to do.

A process names an operator (`spiffworkflow:serviceTaskOperator id="kefu.send_reply"`);
the engine looks it up here. Features register theirs with `@operator(...)` at import, and
each Kefu instance takes a copy, so a test can replace one without touching others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from SpiffWorkflow.task import Task
    from sqlalchemy.orm import Session

    from engine.kefu import Kefu
    from engine.persistence.models import Case


@dataclass(frozen=True)
class OperatorContext:
    """What an operator may touch: the installation, the open transaction and the case."""

    kefu: Kefu
    session: Session
    case: Case


Operator = Callable[[OperatorContext, "Task", dict[str, Any]], dict[str, Any]]
REGISTRY: dict[str, Operator] = {}


def operator(name: str) -> Callable[[Operator], Operator]:
    def register(fn: Operator) -> Operator:
        REGISTRY[name] = fn
        return fn
    return register
