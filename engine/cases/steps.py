"""Each step's own data (issue 12): what a completed form leaves in the case, what a form
shows before it is filled in, and every submission as it was entered.

- A submitted form defines its step's values for *all* its fields: a field left empty is
  stored as None, so no later step, condition or reply template sees a value the person
  cleared (the handler who removes a rejected compensation removes it from the SMS).
- A form is never filled in by guessing from case values of the same name. What it shows
  is declared in its schema, per property (docs/process-conventions.md):
  `readOnly` shows the case's value of that name, or with `x-kefu-source: "<step>.<field>"`
  what that step last entered; `x-kefu-prefill: "previous"` starts an editable field from
  this same step's previous submission (a returned proposal), `"case"` from the case's
  current value of that name (a class the decision table set and the judge may change).
- Submissions are kept as entered in the case history (the `completed` record, one per
  completion, already hash-chained), not copied into the workflow data, so the stored
  workflow does not grow with every round of a returned proposal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.definitions.forms import readonly_fields

SOURCE = "x-kefu-source"
PREFILL = "x-kefu-prefill"
PREFILL_KINDS = ("previous", "case")
_SOURCE_FORM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Submission:
    """One completion of one step, as the person entered it."""

    seq: int
    step: str
    title: str
    actor: str
    at: datetime
    data: Mapping[str, Any]


def own_fields(schema: Mapping[str, Any]) -> list[str]:
    """The fields a person enters in this form (not the read-only context it shows)."""
    hidden = readonly_fields(dict(schema))
    return [name for name, prop in schema.get("properties", {}).items()
            if isinstance(prop, dict) and name not in hidden]


def apply_submission(data: dict[str, Any], schema: Mapping[str, Any],
                     submitted: Mapping[str, Any]) -> None:
    """Set every field of the form in `data`: what was entered, or None if left empty. Data
    the form does not name is kept only where its schema admits more (JSON Schema's
    `additionalProperties`, true unless said otherwise: an API caller's data for a step
    drawn without a form)."""
    fields = own_fields(schema)
    for name in fields:
        data[name] = submitted.get(name)
    if schema.get("additionalProperties", True) is not False:
        data.update((k, v) for k, v in submitted.items() if k not in fields)


def submissions(records: Iterable[Any]) -> list[Submission]:
    """The case's form submissions in order, from its history records."""
    return [Submission(seq=r.seq, step=r.task_spec, title=r.task_title or r.task_spec,
                       actor=r.actor, at=r.at, data=r.data or {})
            for r in records if r.action == "completed" and r.task_spec]


def latest(done: Iterable[Submission], step: str) -> Submission | None:
    found = None
    for submission in done:
        if submission.step == step:
            found = submission
    return found


def form_values(schema: Mapping[str, Any], step: str, case_data: Mapping[str, Any],
                done: Iterable[Submission]) -> dict[str, Any]:
    """What the form shows before the person types: only what its schema declares."""
    done = list(done)
    values: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if not isinstance(prop, dict):
            continue
        if prop.get("readOnly"):
            source = prop.get(SOURCE)
            if source:
                source_step, _dot, field = source.partition(".")
                previous = latest(done, source_step)
                value = previous.data.get(field) if previous else None
            else:
                value = case_data.get(name)
        elif prop.get(PREFILL) == "previous":
            previous = latest(done, step)
            value = previous.data.get(name) if previous else None
        elif prop.get(PREFILL) == "case":
            value = case_data.get(name)
        else:
            continue
        if value is not None:
            values[name] = value
    return values


def declaration_problems(schema: Mapping[str, Any]) -> list[str]:
    """Deployment refuses a form whose declarations Kefu could not honour."""
    problems = []
    for name, prop in schema.get("properties", {}).items():
        if not isinstance(prop, dict):
            continue
        source, prefill = prop.get(SOURCE), prop.get(PREFILL)
        if source is not None and not prop.get("readOnly"):
            problems.append(f"{name}: {SOURCE} is for read-only fields (readOnly: true)")
        if source is not None and not (isinstance(source, str) and _SOURCE_FORM.match(source)):
            problems.append(f"{name}: {SOURCE} must be '<step id>.<field>', not {source!r}")
        if prefill is not None and prop.get("readOnly"):
            problems.append(f"{name}: {PREFILL} is for fields a person enters, not read-only")
        if prefill is not None and prefill not in PREFILL_KINDS:
            problems.append(f"{name}: {PREFILL} must be one of {', '.join(PREFILL_KINDS)}, "
                            f"not {prefill!r}")
    return problems
