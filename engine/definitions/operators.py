"""Service-task operators: what a BPMN `serviceTask` may ask Kefu to do.

A process names an operator (`spiffworkflow:serviceTaskOperator id="kefu.send_reply"`);
the engine looks it up here. Features register theirs with `@operator(...)` at import, and
each Kefu instance takes a copy, so a test can replace one without touching others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
#: What an operator documents it writes into the case's data (and returns), one dict per
#: outcome a process may branch on; a callable takes the service task's parameters.
Results = Sequence[Mapping[str, Any]] | Callable[[dict[str, Any]], Sequence[Mapping[str, Any]]]
REGISTRY: dict[str, Operator] = {}
#: The documented results, by operator id: the deploy check's dry run (engine.definitions.
#: dryrun) answers a service task with these instead of touching the roster or the SMS
#: gateway. An operator without them is answered with {} and what follows only warns.
RESULTS: dict[str, Results] = {}


def operator(name: str, results: Results = ()) -> Callable[[Operator], Operator]:
    def register(fn: Operator) -> Operator:
        REGISTRY[name] = fn
        if results:
            RESULTS[name] = results
        return fn
    return register


def documented_results(name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The outcomes operator `name` documents for these parameters ([] if none)."""
    results = RESULTS.get(name, ())
    if callable(results):
        results = results(params)
    return [dict(r) for r in results]
