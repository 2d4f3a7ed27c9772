"""Who reads which case (C12 need to know), for every person of the demo centre and three
cases — a complaint, a colleague's sick leave and a confidential report of a customer-data
leak — on the case page, the API's case and history, and the auditors' history export.

The expectations are written here from SPEC.md and the demo organisation, not computed with
engine.records.access: the people on a case's chain (who started it, whose it is, who acted, who
holds or is offered a step), the auditor, and for a complaint only those who oversee
complaint handling (qa, the duty supervisors who judge, the CS head and centre director,
the department head it was judged against, the shift leader of the agent's team). Today's
code let every oversight role read every case of every process.
"""

from __future__ import annotations

import pytest

import engine
from tests.complaints import CONTACT, JUSTIFIED, do, register
from tests.rules.test_leave_process import ask as ask_leave
from tests.rules.test_report_process import report
from tests.web.security.test_role_matrix import EVERYONE

ON_DUTY = "leader04"  # the demo roster's leader of the day shift at the test clock
OWN_LEADER = "leader01"  # agent01's own shift leader, who endorses her leave (L2)
SICK = {"kind": "sick", "reason": "急性肠胃炎，医院就诊 / acute gastroenteritis"}
LEAK = {"category": "customer_data_leak", "title": "疑似客户资料外泄",
        "description": "发现同事将客户号码拍照发到私人群。",
        "proposed_handling": "保全证据，报上级处理。"}

READERS = {
    # agent01's complaint, judged by duty01 against billing, waiting for billing's proposal.
    "complaint": {"agent01", "duty01", "bill01", "bill02", "audit01",  # chain, auditor
                  "qa01", "cshead", "director", "billhead", "leader01"},  # oversight
    # agent01's own sick leave, waiting for her own shift leader (L2, docs/routing.md).
    "sick_leave": {"agent01", OWN_LEADER, "audit01"},
    # agent01's confidential report (Q1), waiting for the shift leader on duty (Q2).
    "leak_report": {"agent01", ON_DUTY, "audit01"},
}


def _cases(kefu, people) -> dict[str, str]:
    complaint = register(kefu, people["agent01"])
    do(kefu, complaint, "contact", people["duty01"], CONTACT)
    do(kefu, complaint, "judge", people["duty01"], JUSTIFIED)
    return {"complaint": complaint, "sick_leave": ask_leave(kefu, people["agent01"], **SICK),
            "leak_report": report(kefu, people["agent01"], **LEAK)}


@pytest.fixture
def tokens(rostered) -> dict[str, str]:
    with rostered.session() as s:
        return {u: engine.create_token(s, u, rostered.clock.now()) for u in EVERYONE}


@pytest.mark.parametrize("which", sorted(READERS))
def test_C12_a_case_is_read_only_by_those_who_need_it(which, client, auth, rostered, people,
                                                      tokens) -> None:
    number = _cases(rostered, people)[which]
    for username in EVERYONE:
        allowed = username in READERS[which]
        where = (which, username)
        auth.as_user(username)
        assert client.get(f"/cases/{number}").status_code == (200 if allowed else 403), where
        bearer = {"Authorization": f"Bearer {tokens[username]}"}
        for url in (f"/api/cases/{number}", f"/api/cases/{number}/history"):
            response = client.get(url, headers=bearer)
            assert response.status_code == (200 if allowed else 403), (*where, url)
            if not allowed:
                assert "急性肠胃炎" not in response.get_data(as_text=True)
                assert "私人群" not in response.get_data(as_text=True)
        export = client.get(f"/audit/cases/{number}/history.csv")
        assert export.status_code == (200 if username == "audit01" else 403), where

