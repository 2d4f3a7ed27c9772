"""Replies to the customer (C7): SMS through a sender interface, letters as printable HTML.

Wording lives in templates beside the processes (`processes/replies/`), so a process owner
changes it without touching Python. Replies are signed with the staff number (工号), which
is all the templates are given of the person: a name cannot leak into a reply.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, select_autoescape
from jinja2.exceptions import FilterArgumentError, TemplateError
from jinja2.loaders import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import KefuError, NotFound
from engine.messages import notifications
from engine.persistence.models import Case, Letter, Person, SmsMessage
from engine.records import history

QUEUED, DELIVERED, FAILED = "queued", "delivered", "failed"
#: The message a gateway posts for each SMS it delivered or could not deliver.
SMS_RECEIPT = "sms_receipt"

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def sms_segments(body: str) -> int:
    """Segments an SMS costs: a message with any Chinese character is UCS-2, 70 characters
    in one segment, 67 per part once split (each part carries a 6-byte concatenation
    header); a GSM-7 message is 160, or 153 per part."""
    single, split = (160, 153) if set(body) <= GSM7 else (70, 67)
    length = len(body)
    if length <= single:
        return 1
    return math.ceil(length / split)


def _blank_none(value: Any) -> Any:
    """A field left empty is None in the case data: it must read as nothing, not "None"."""
    return "" if value is None else value


class SmsSender(Protocol):
    """A gateway: takes a message and says what became of it (queued, sent, failed).

    `sms_id` is the outbox row's id: the gateway quotes it in its delivery receipt
    (`POST /api/messages`, name `sms_receipt`, correlation `{"sms_id": …}`)."""

    def send(self, phone: str, body: str, sms_id: int) -> str: ...


class OutboxSender:
    """Keeps messages in the outbox table for a gateway to pick up (with their ids, which
    its receipts quote); sends nothing itself."""

    def send(self, phone: str, body: str, sms_id: int) -> str:
        return "queued"


def load_sender(dotted: str) -> SmsSender:
    module_name, _, class_name = dotted.partition(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)()
    except (ImportError, AttributeError) as exc:
        raise KefuError(f"sms_sender: cannot load {dotted!r}: {exc}") from exc


class ReplyWriter:
    def __init__(self, templates_dir: Path, sender: SmsSender, tz: ZoneInfo) -> None:
        self.sender = sender
        self.tz = tz  # a reply is dated as the centre's day, not UTC's
        self.templates = SandboxedEnvironment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=False,
            finalize=_blank_none,
        )
        # `{{ data.accepted_at|day }}`: a stored (UTC) ISO time as the centre's date.
        self.templates.filters["day"] = self._day

    def _day(self, iso: str) -> str:
        try:
            moment = datetime.fromisoformat(iso)
        except (TypeError, ValueError) as exc:
            raise FilterArgumentError(f"day: {iso!r} is not an ISO time") from exc
        return moment.astimezone(self.tz).date().isoformat()

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self.templates.get_template(name).render(**context).strip()
        except TemplateError as exc:
            raise KefuError(f"reply template {name!r}: {exc}") from exc

    def compose(self, case_number: str, channel: str, template: str,
                data: dict[str, Any], now: datetime) -> Composed:
        """The reply exactly as it would go out: `send` sends this, a preview shows it."""
        context = {
            "case_number": case_number,
            "staff_no": data.get("owner_staff_no", ""),
            "data": data,
            "date": self._day(now.isoformat()),
        }
        if channel == "sms":
            body = self._render(f"{template}.sms.txt", context)
            return Composed("sms", body, sms_segments(body))
        if channel == "letter":
            return Composed("letter", self._render(f"{template}.letter.html", context))
        raise KefuError(f"reply_channel: {channel!r} is neither 'sms' nor 'letter'")

    def send(self, session: Session, case: Case, channel: str, template: str,
             data: dict[str, Any], now: datetime) -> dict[str, Any]:
        if channel == "sms" and not data.get("complainant_phone"):
            raise KefuError("complainant_phone: an SMS reply needs the customer's phone")
        reply = self.compose(case.number, channel, template, data, now)
        if reply.channel == "sms":
            phone = data["complainant_phone"]
            message = SmsMessage(case_id=case.id, phone=phone, body=reply.text,
                                 segments=reply.segments, status=QUEUED, created_at=now)
            session.add(message)
            session.flush()  # the id the gateway's receipt will quote
            message.status = self.sender.send(phone, reply.text, message.id)
            return {"channel": "sms", "sms_id": message.id, "segments": message.segments,
                    "status": message.status}
        letter = Letter(case_id=case.id, html=reply.text, created_at=now)
        session.add(letter)
        session.flush()
        return {"channel": "letter", "letter_id": letter.id}


@dataclass(frozen=True)
class Composed:
    """A rendered reply: the SMS body (with the segments it costs) or the letter's HTML."""

    channel: str
    text: str
    segments: int = 0


# --- delivery receipts --------------------------------------------------------------------

def record_receipt(kefu: Any, session: Session, sms_id: Any, payload: dict[str, Any],
                   actor: str) -> dict[str, Any]:
    """The gateway's receipt for one SMS: its status goes on the outbox row (the case page
    shows 已送达 / 发送失败) with a history record, in the caller's transaction. A receipt
    the gateway repeats changes nothing.

    A failed SMS means the customer has not had the reply the case owes them (C7), so the
    case owner is told: the first responder answers to the customer for the case (C2) and
    the SMS carries their staff number. When the case has no active owner, the duty
    supervisors are, who can reach the customer another way."""
    status = payload.get("status")
    if status not in (DELIVERED, FAILED):
        raise KefuError(f"payload.status: 短信回执的状态须为 {DELIVERED!r} 或 {FAILED!r}，不是 "
                        f"{status!r} / an SMS receipt's status must be {DELIVERED!r} or "
                        f"{FAILED!r}, not {status!r}")
    message = session.get(SmsMessage, _sms_id(sms_id), with_for_update=True)
    if message is None:
        raise NotFound(f"correlation.sms_id: 没有编号为 {sms_id!r} 的短信 / no SMS has the id "
                       f"{sms_id!r}")
    receipt = {"sms_id": message.id, "status": status}
    if message.status == status:
        return receipt
    message.status = status
    case = session.get(Case, message.case_id, with_for_update=True)
    assert case is not None
    now = kefu.clock.now()
    error = str(payload.get("error") or "")[:500]
    history.append(session, case, at=now, actor=actor, action="sms_receipt",
                   data={**receipt, **({"error": error} if error else {})})
    if status == FAILED:
        owner = case.owner and session.scalar(select(Person.username).where(
            Person.username == case.owner, Person.active.is_(True)))
        to = {"user": owner} if owner else {"role": "duty_supervisor"}
        notifications.notify(kefu, session, case, notifications.SMS_FAILED, to,
                             "答复短信未送达 / Reply SMS not delivered")
    return receipt


def _sms_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound(f"correlation.sms_id: {value!r} 不是短信编号 / is not an SMS id") from None
