"""The demo centre with a case in each state the demo can reach: complaints at every step
(one returned, one escalated, one closed), leave of each kind, a swap, reports. The display
check renders every page of this world for every demo role (test_display.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

import engine
from engine import Kefu
from engine.persistence.models import SmsMessage
from tests.complaints import (
    APPROVE,
    CONTACT,
    DISSATISFIED,
    JUSTIFIED,
    NOT_JUSTIFIED,
    PROPOSAL,
    REPLY_SMS,
    RETURN,
    SATISFIED,
    do,
    register,
)
from tests.rules.test_leave_process import DAYS_25_26
from tests.rules.test_leave_process import ask as ask_leave
from tests.rules.test_report_process import report
from tests.rules.test_swap_process import ask as ask_swap
from tests.web.security.test_role_matrix_staff import (
    CERTIFICATE,
    LEAVE_PATH,
    REPORT_PATH,
    SWAP_PATH,
    _walk,
)


@dataclass
class World:
    complaints: list[str] = field(default_factory=list)
    staff: list[str] = field(default_factory=list)

    @property
    def cases(self) -> list[str]:
        return self.complaints + self.staff


OWNER = "owner"  # the agent who registered the complaint (C2)
COMPLAINT_STEPS = [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
                   ("propose", "bill01", PROPOSAL), ("approve", "billhead", RETURN),
                   ("propose", "bill01", PROPOSAL), ("approve", "billhead", APPROVE),
                   ("reply", OWNER, REPLY_SMS), ("callback", OWNER, SATISFIED)]


def build(kefu: Kefu, people: dict[str, engine.Actor]) -> World:
    world = World()
    for stop in range(len(COMPLAINT_STEPS) + 1):  # one complaint stopped after each step
        number = register(kefu, people["agent01"], is_vip=stop % 3 == 0,
                          complainant_phone=f"1380013{8000 + stop}")
        _steps(kefu, people, number, COMPLAINT_STEPS[:stop], "agent01")
        world.complaints.append(number)
    # The gateway's receipts: one reply SMS delivered, one failed (its owner is told).
    receipts = ({"status": "delivered"}, {"status": "failed", "error": "号码已停机"})
    for number, receipt in zip(world.complaints[-2:], receipts, strict=True):
        with kefu.session() as s:
            case = engine.case_by_number(s, number)
            sms_id = s.scalar(select(SmsMessage.id).where(SmsMessage.case_id == case.id))
            engine.cases.events.deliver(kefu, s, "message", "sms_receipt", receipt,
                                        {"sms_id": sms_id}, "owner01")
    number = register(kefu, people["agent02"], category="network")
    do(kefu, number, "contact", people["duty01"], CONTACT)
    do(kefu, number, "judge", people["duty01"], NOT_JUSTIFIED)
    world.complaints.append(number)
    number = register(kefu, people["agent03"])
    _steps(kefu, people, number, COMPLAINT_STEPS[:7], "agent03")
    do(kefu, number, "callback", people["agent03"], DISSATISFIED)
    world.complaints.append(number)

    world.staff.append(ask_leave(kefu, people["agent02"]))
    # agent01's own sick leave and swap below take her 25 and 26 Nov: one shift is not
    # asked for twice, so the two-day leave is agent03's.
    world.staff.append(_walk(kefu, people, ask_leave(kefu, people["agent03"], **DAYS_25_26),
                             "approve_director", LEAVE_PATH))
    sick = ask_leave(kefu, people["agent02"], employee="agent01", kind="sick")
    world.staff.append(_walk(kefu, people, sick, "certificate", LEAVE_PATH))
    do(kefu, sick, "certificate", people["agent01"], CERTIFICATE)
    world.staff.append(_walk(kefu, people, ask_swap(kefu, people["agent01"]),
                             "handover_requester", SWAP_PATH))
    world.staff.append(ask_swap(kefu, people["agent02"], counterpart="agent08"))
    world.staff.append(report(kefu, people["agent01"]))
    world.staff.append(_walk(kefu, people, report(kefu, people["agent05"]), "handle_director",
                             REPORT_PATH))
    # Two days on: reminders, overdue notices and escalations fire on the open complaints.
    kefu.clock.advance(days=2)
    engine.fire_due(kefu)
    return world


def _steps(kefu: Kefu, people: dict[str, engine.Actor], number: str, steps: list,
           owner: str) -> None:
    for name, who, data in steps:
        do(kefu, number, name, people[owner if who == OWNER else who], data)
