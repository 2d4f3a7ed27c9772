"""Drive complaint cases through the engine API the way staff would, step by step."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import engine
from engine import Actor, Kefu
from engine.persistence.models import Case, TaskItem

INTAKE = {
    "complainant_name": "陈先生",
    "complainant_phone": "13800138000",
    "channel": "hotline",
    "category": "fee",
    "content": "本月话费多扣了 30 元，要求退还。",
    "is_vip": False,
}
CONTACT = {"reached": True, "contact_notes": "已电话联系，客户确认多扣费。",
           "details_confirmed": True}
JUSTIFIED = {"justified": True, "request_reasonable": True, "complaint_class": "general",
             "department": "billing", "judgement_notes": "计费错误，投诉成立。"}
NOT_JUSTIFIED = {"justified": False, "request_reasonable": False, "complaint_class": "general",
                 "judgement_notes": "按套餐规则计费，投诉不成立。",
                 "explanation": "经核查，费用为您开通的流量包月费。"}
PROPOSAL = {"cause": "计费系统重复扣费", "solutions": ["退还 30 元", "赠送 1GB 流量"],
            "compensation": "退还 30 元"}
RETURN = {"approved": False, "return_reasons": "请核实是否还有其他月份重复扣费。"}
APPROVE = {"approved": True, "instruction": "同意退费并致歉。", "chosen_solution": "退还 30 元"}
REPLY_SMS = {"reply_channel": "sms", "cause": "计费系统重复扣费", "solution": "已退还 30 元",
             "compensation": "退还 30 元", "follow_up": "下月账单将再次核对"}
SATISFIED = {"reached": True, "satisfied": True, "satisfaction": 5, "notes": "客户满意"}
DISSATISFIED = {"reached": True, "satisfied": False, "satisfaction": 2, "notes": "客户要求赔偿"}


def open_tasks(kefu: Kefu, number: str) -> list[TaskItem]:
    with kefu.session() as s:
        case = engine.case_by_number(s, number)
        return list(s.scalars(select(TaskItem).where(TaskItem.case_id == case.id)))


def do(kefu: Kefu, number: str, spec_name: str, actor: Actor, data: dict[str, Any]) -> Case:
    """Complete the case's ready task `spec_name` as `actor`; fails loudly if it is not ready."""
    ready = {t.spec_name: t.id for t in open_tasks(kefu, number)}
    assert spec_name in ready, f"{spec_name} is not ready; ready: {sorted(ready)}"
    with kefu.session() as s:
        return engine.complete_task(kefu, s, ready[spec_name], actor, data)


def register(kefu: Kefu, agent: Actor, **changes: Any) -> str:
    with kefu.session() as s:
        return engine.start_case(kefu, s, "complaint", agent, {**INTAKE, **changes}).number


def run_to_archive(kefu: Kefu, people: dict[str, Actor], **intake: Any) -> str:
    """The shortest justified path: one proposal, approved, SMS reply, satisfied."""
    number = register(kefu, people["agent01"], **intake)
    do(kefu, number, "contact", people["duty01"], CONTACT)
    do(kefu, number, "judge", people["duty01"], JUSTIFIED)
    do(kefu, number, "propose", people["bill01"], PROPOSAL)
    do(kefu, number, "approve", people["billhead"], APPROVE)
    do(kefu, number, "reply", people["agent01"], REPLY_SMS)
    do(kefu, number, "callback", people["agent01"], SATISFIED)
    return number
