"""Messages and signals from outside (the SMS gateway's delivery receipt, a customer's reply,
an IVR callback) delivered to the cases waiting for them (issue 14).

A message goes to the running cases that wait for its name and match every correlation key
given: `case_number`, `phone` (the complainant's), `sms_id` (an SMS the case sent), or any
other key, compared with the case's data. The SMS gateway's delivery receipt (`sms_receipt`
with an `sms_id`) is recorded on the SMS first, whether or not a case waits for it. A
signal goes to every running case waiting for it. Only the process versions whose diagrams
catch that name are looked at, so a message never loads a workflow that could not take it.
Each case that takes the event records it in its history with the payload, in the same
transaction as the step it causes.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cases.frontier import frontier
from engine.cases.runtime import case_data, catch_event, load_case_workflow
from engine.cases.serializer import dump_workflow
from engine.errors import KefuError
from engine.kefu import Kefu
from engine.messages import replies
from engine.persistence.models import Case, ProcessVersion, SmsMessage
from engine.records import history

MESSAGE, SIGNAL = "message", "signal"
_KINDS = {MESSAGE: MessageEventDefinition, SIGNAL: SignalEventDefinition}
#: Correlation keys answered from case columns, not from the case's data.
_COLUMNS = {"case_number": Case.number, "phone": Case.complainant_phone}


@dataclass
class Delivery:
    """What an event reached: the case numbers that took it, and why others did not."""

    kind: str
    name: str
    matched: list[str] = field(default_factory=list)
    not_waiting: list[str] = field(default_factory=list)
    #: An SMS delivery receipt as recorded on its SMS (engine.messages.replies).
    receipt: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        answer = {"kind": self.kind, "name": self.name, "matched": self.matched,
                  "not_waiting": self.not_waiting}
        return answer if self.receipt is None else {**answer, "receipt": self.receipt}


def deliver(kefu: Kefu, session: Session, kind: str, name: str, payload: dict[str, Any],
            correlation: dict[str, Any], actor: str, *,
            sender: int | None = None) -> Delivery:
    """Deliver one message or signal; the caller commits (everything or nothing).
    `sender`: the id of the case that threw it, which does not receive it again."""
    if kind not in _KINDS:
        raise KefuError(f"kind must be {MESSAGE!r} or {SIGNAL!r}, not {kind!r}")
    if not name:
        raise KefuError("the message or signal needs a name")
    result = Delivery(kind, name)
    if kind == MESSAGE and name == replies.SMS_RECEIPT and "sms_id" in correlation:
        result.receipt = replies.record_receipt(kefu, session, correlation["sms_id"], payload,
                                                actor)
    definitions = {v: _caught(kefu, session, v, _KINDS[kind]).get(name)
                   for v in session.scalars(select(ProcessVersion.id))}
    versions = [v for v, definition in definitions.items() if definition is not None]
    if not versions:
        return result
    query = select(Case).where(Case.state == "running", Case.process_version_id.in_(versions))
    if sender is not None:
        query = query.where(Case.id != sender)
    for key, value in correlation.items():
        if key in _COLUMNS:
            query = query.where(_COLUMNS[key] == str(value))
        elif key == "sms_id":
            query = query.where(Case.id.in_(select(SmsMessage.case_id).where(
                SmsMessage.id == _as_int(value))))
    for case in session.scalars(query.order_by(Case.id).with_for_update()).all():
        extra = {k: v for k, v in correlation.items() if k not in _COLUMNS and k != "sms_id"}
        if extra:
            data = case_data(load_case_workflow(kefu, session, case))
            if any(str(data.get(k)) != str(v) for k, v in extra.items()):
                continue
        # SpiffWorkflow matches an event by its definition's class and name: the
        # definition as parsed from the case's own diagram is the one that matches.
        event = BpmnEvent(definitions[case.process_version_id], payload=dict(payload))
        record = partial(history.append, session, case, at=kefu.clock.now(), actor=actor,
                         action=f"{kind}_received", data={
                             "name": name, "payload": payload, "correlation": correlation})
        if catch_event(kefu, session, case, event, partial(_hand_over, record, event)):
            result.matched.append(case.number)
        else:
            result.not_waiting.append(case.number)
    return result


def forward_thrown(kefu: Kefu, session: Session, case: Case, workflow: Any) -> None:
    """A save hook: the messages and signals a case threw that nothing in it caught go to
    the other cases waiting for them, in the same transaction (messages between cases). A
    message whose payload holds `case_number` goes to that case alone."""
    thrown = [e for e in workflow.bpmn_events
              if isinstance(e.event_definition, MessageEventDefinition | SignalEventDefinition)]
    if not thrown:
        return
    workflow.get_events()  # taken: stored without them, so they are sent once
    case.workflow_state = dump_workflow(workflow)
    for event in thrown:
        kind = MESSAGE if isinstance(event.event_definition, MessageEventDefinition) else SIGNAL
        payload = event.payload if isinstance(event.payload, dict) else {}
        correlation = {"case_number": payload["case_number"]} \
            if kind == MESSAGE and "case_number" in payload else {}
        deliver(kefu, session, kind, event.event_definition.name, payload, correlation,
                f"case {case.number}", sender=case.id)


def _hand_over(record: Callable[[], Any], event: BpmnEvent, workflow: Any) -> None:
    """Record the event, and merge its payload into the data of the task that caught it,
    so the next step reads it as a form's fields. SpiffWorkflow keeps it only under a
    message variable (`spiffworkflow:messageVariable`), left to it when a diagram has one."""
    record()
    if getattr(event.event_definition, "message_var", None) or not event.payload:
        return
    name = event.event_definition.name
    for task in frontier(workflow).waiting + frontier(workflow).ready:
        seen = task.internal_data.get("seen_events", [])
        if task.internal_data.get(name) is event.payload or any(e is event for e in seen):
            task.data.update(event.payload)


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


#: By the version's spec object, which each Kefu restores once and shares (Kefu.version).
_cache: weakref.WeakKeyDictionary[Any, dict[type, dict[str, Any]]] = \
    weakref.WeakKeyDictionary()


def _caught(kefu: Kefu, session: Session, version_id: int, kind: type) -> dict[str, Any]:
    """The messages or signals a process version's diagrams can catch, by name."""
    loaded = kefu.version(session, version_id)
    by_kind = _cache.setdefault(loaded.spec, {})
    if kind not in by_kind:
        found: dict[str, Any] = {}
        for spec in [loaded.spec, *loaded.subprocess_specs.values()]:
            for task_spec in spec.task_specs.values():
                definition = getattr(task_spec, "event_definition", None)
                held = definition.event_definitions \
                    if isinstance(definition, MultipleEventDefinition) else [definition]
                found.update((d.name, d) for d in held if isinstance(d, kind))
        by_kind[kind] = found
    return by_kind[kind]
