"""The centre's rules for leave (L), shift swaps (S) and reports (Q), and how a refusal
explains itself.

A refusal names each broken rule (its SPEC id and one sentence, in Chinese with the English
beside it) and the facts that broke it, so the person refused knows what to change. Rules
are checked by service-task operators (registered when this package is imported) that
raise `RuleViolation`: start_case/complete_task then roll back and nothing is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import KefuError

#: One sentence per rule id, Chinese and English; the SPEC's L, S and Q sections.
RULES: dict[str, tuple[str, str]] = {
    "L1": ("一般事假须提前一天、特殊事假须班前一小时提出，"
           "逾期须经管理人员批准方可生效，否则按旷工处理。",
           "General personal leave is asked a day ahead and special personal leave an hour "
           "before the shift; later, it counts only if a manager approves, otherwise as absence."),
    "L2": ("请假逐级办理：班长、客服部主任、（一天以上）客服中心主任，不得越级或交叉请假。",
           "Leave goes level by level: shift leader, CS head, then (over 1 day) the centre "
           "director; no level is skipped and no one else's chain is used."),
    "L3": ("一天以内由客服部主任批准，一天以上及公假由客服中心主任批准。",
           "The CS head approves up to 1 day; the centre director approves over 1 day and "
           "official business or study."),
    "L4": ("事假须本人办理，不得由他人代请，病假除外。",
           "Personal leave is requested by the employee in person; only sick leave may be "
           "requested on their behalf."),
    "L5": ("病假满一天须持医疗证明（急诊除外），急诊须班前电话通知班长；"
           "证明须连续，并在假满后第一天交班长。",
           "Sick leave of a day or more needs a medical certificate (emergencies excepted, "
           "phoned to the shift leader before the shift); it must cover the leave without gaps "
           "and reach the shift leader on the first day back."),
    "L6": ("夜班原则上不准请假，特殊情况须在当日 12 点前提出并经管理人员批准。",
           "No leave on a night shift, save special cases asked before noon that day and "
           "approved by management."),
    "L7": ("节假日不准请假，极特殊情况须提前两天提出并经管理人员批准。",
           "No leave on a public holiday, save very special cases asked at least 2 days "
           "before and approved by management."),
    "L8": ("换班和还班的班次均不得请假。",
           "No leave on a swapped or a returned shift."),
    "S1": ("换班须对方同意并经双方班长批准，填写换班登记表。",
           "A swap needs the counterpart's consent and both shift leaders' approval, and is "
           "entered in the swap register."),
    "S2": ("每人每月换班不得超过规定次数。",
           "Nobody swaps more often than the monthly limit."),
    "S3": ("不允许连续换班，换班者、还班者不允许连班。",
           "No swap right after a swap, and neither party may end up working two shifts "
           "back to back."),
    "S4": ("换班须同工种、技术业务水平相当。",
           "Swaps are between the same job type and comparable skill levels."),
    "S5": ("换班双方须交待清楚，交代不清造成误班、空班的按旷工处理。",
           "Both parties record the handover; a missed or empty shift after a swap counts "
           "as absence for both."),
    "S6": ("节假日当班人员不允许换班。",
           "Staff on duty on a public holiday may not swap."),
    "S7": ("班长不得批准使班次低于最低在岗人数的换班。",
           "A shift leader must not approve a swap that leaves a shift below its minimum "
           "staffing."),
    "Q1": ("泄密、市场竞争、重大差错事故、严重违纪、危及设备人身安全、"
           "超出本职范围的问题须请示报告；用户故意刁难由班长解决。",
           "Leaks, market competition, major errors or accidents, serious breaches of "
           "discipline, threats to equipment or safety and matters beyond one's remit are "
           "reported; customers making trouble on purpose are handled by the shift leader."),
    "Q2": ("请示报告逐级进行，每级或解决或附意见上报。",
           "Reports go level by level; each level resolves the report or passes it up with "
           "its opinion."),
    "Q3": ("紧急情况可越级报告，但事后须向直接领导汇报。",
           "An emergency may skip levels, but the direct leader is told afterwards."),
    "Q4": ("上级指示须详细记载并认真执行；有不同意见可书面提出，但须先执行。",
           "Instructions are recorded in full and carried out; a subordinate may object in "
           "writing but carries the instruction out first."),
}


@dataclass(frozen=True)
class Breach:
    """One rule broken by one request, with the facts that broke it."""

    rule: str
    facts_zh: str
    facts_en: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def rule_zh(self) -> str:
        return RULES[self.rule][0]

    @property
    def rule_en(self) -> str:
        return RULES[self.rule][1]

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "rule_zh": self.rule_zh, "rule_en": self.rule_en,
                "facts_zh": self.facts_zh, "facts_en": self.facts_en, "facts": self.facts}

    def __str__(self) -> str:
        return f"{self.rule} {self.rule_zh} {self.facts_zh} / {self.facts_en} ({self.rule})"


class RuleViolation(KefuError):
    """A request refused by the centre's rules; every broken rule is listed, not just one."""

    code = "rule_violation"

    def __init__(self, breaches: list[Breach]) -> None:
        if not breaches:
            raise ValueError("breaches: a refusal names at least one broken rule")
        unknown = [b.rule for b in breaches if b.rule not in RULES]
        if unknown:
            raise ValueError(f"breaches: unknown rule id(s) {', '.join(unknown)}")
        self.breaches = breaches
        super().__init__("; ".join(str(b) for b in breaches))

    @property
    def rule(self) -> str:
        return self.breaches[0].rule

    @property
    def rules(self) -> list[str]:
        return [b.rule for b in self.breaches]

    def as_dict(self) -> dict[str, Any]:
        """The refusal as the API returns it."""
        return {"code": self.code, "message": str(self),
                "violations": [b.as_dict() for b in self.breaches]}


def refuse_if(breaches: list[Breach]) -> None:
    if breaches:
        raise RuleViolation(breaches)


# Importing the operator modules registers them (engine.definitions.operators.REGISTRY).
from engine.rules import common, leave, leave_deadlines, report, swap  # noqa: E402, F401
