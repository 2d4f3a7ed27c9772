"""The reply a step is about to send, shown before it is sent (C7, issue 12).

A reply step (the reply, the explanatory reply) is a user task followed by a `kefu.send_reply`
service task. Its preview renders the same templates with the data the service task would
get if the form were completed as filled in now, so what the person checks is what the
customer receives; nothing is saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from engine.cases.runtime import load_case_workflow
from engine.cases.steps import apply_submission
from engine.definitions.forms import readonly_fields, validate
from engine.errors import KefuError, ScriptError
from engine.kefu import Kefu
from engine.messages.replies import Composed
from engine.persistence.models import TaskItem
from engine.scripting.sandbox import SandboxEnvironment

SEND_REPLY = "kefu.send_reply"
CHANNELS = ("sms", "letter")


@dataclass(frozen=True)
class ReplyPreview:
    #: The channel the form has chosen, or None while it has not (then both are shown).
    chosen: str | None
    replies: list[Composed]


def sends_reply(kefu: Kefu, session: Session, task_id: str) -> bool:
    return _sender(kefu, session, task_id) is not None


def preview_reply(kefu: Kefu, session: Session, task_id: str,
                  data: Mapping[str, Any]) -> ReplyPreview | None:
    """None if the task sends no reply. Invalid form data is a FormValidationError, as on
    completing (a preview of a half-filled form would not be what is sent); a template
    that cannot render is a KefuError."""
    found = _sender(kefu, session, task_id)
    if found is None:
        return None
    item, task, sender = found
    schema = kefu.version(session, item.case.process_version_id).forms[item.form]
    hidden = readonly_fields(schema)
    submitted = {k: v for k, v in data.items() if k not in hidden}
    validate(schema, submitted)
    would_be = dict(task.data)
    apply_submission(would_be, schema, submitted)
    params = _params(sender.operation_params, would_be)
    chosen = params.get("channel") if params.get("channel") in CHANNELS else None
    now = kefu.clock.now()
    replies = [kefu.replies.compose(item.case.number, channel, str(params.get("template")),
                                    would_be, now)
               for channel in ((chosen,) if chosen else CHANNELS)]
    return ReplyPreview(chosen, replies)


def _sender(kefu: Kefu, session: Session, task_id: str) -> tuple[TaskItem, Any, Any] | None:
    """The open task, its workflow task and the `kefu.send_reply` step right after it."""
    item = session.get(TaskItem, task_id)
    if item is None:
        return None
    workflow = load_case_workflow(kefu, session, item.case)
    task = workflow.get_task_from_id(UUID(task_id))
    if task is None:
        return None
    sender = next((spec for spec in task.task_spec.outputs
                   if getattr(spec, "operation_name", None) == SEND_REPLY), None)
    return None if sender is None else (item, task, sender)


def _params(operation_params: Mapping[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    environment = SandboxEnvironment({})
    out = {}
    for name, param in operation_params.items():
        try:
            out[name] = environment.evaluate(param["value"], dict(data))
        except (NameError, ScriptError, SyntaxError) as exc:
            raise KefuError(f"reply preview: parameter {name!r}: {exc}") from exc
    return out
