"""Issue 15: finding work that left the inbox, and the leaders' dashboard."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.persistence.models import Case, HistoryRecord, TaskItem
from tests.complaints import CONTACT, JUSTIFIED, PROPOSAL, RETURN, do, register
from tests.rules.test_leave_process import ask as ask_leave
from tests.web.conftest import text_of


@pytest.fixture
def cases(rostered, people):
    fee = register(rostered, people["agent01"], complainant_phone="13912345678", is_vip=True)
    net = register(rostered, people["agent02"], category="network",
                   content="家里宽带每晚断线")
    leave = ask_leave(rostered, people["agent01"])
    return {"fee": fee, "network": net, "leave": leave}


def test_cases_i_started_list_my_complaints_and_my_leave(client, auth, cases) -> None:
    auth.as_user("agent01")
    page = text_of(client.get("/work/cases?mine=started"))
    assert cases["fee"] in page and cases["leave"] in page and cases["network"] not in page
    assert "VIP" in page and "陈先生" in page


def test_steps_i_did_list_the_cases_where_i_completed_a_step(client, auth, rostered, people,
                                                            cases) -> None:
    do(rostered, cases["fee"], "contact", people["duty01"], CONTACT)
    auth.as_user("duty01")
    page = text_of(client.get("/work/cases?mine=done"))
    assert cases["fee"] in page and "联系投诉人" in page and cases["network"] not in page


def test_search_finds_a_category_by_its_label_a_phone_by_its_last_digits_and_content(
        client, auth, cases) -> None:
    auth.as_user("audit01")
    assert cases["fee"] in text_of(client.get("/work/cases?q=资费"))
    assert cases["network"] not in text_of(client.get("/work/cases?q=资费"))
    by_digits = text_of(client.get("/work/cases?q=5678"))
    assert cases["fee"] in by_digits and "139****5678" in by_digits
    assert cases["network"] in text_of(client.get("/work/cases?q=宽带"))


def test_C12_a_caller_lookup_shows_the_case_masked_and_is_recorded(client, auth, rostered,
                                                                   cases) -> None:
    auth.as_user("agent05")  # not involved in the case: takes the customer's follow-up call
    page = text_of(auth.post("/work/lookup", {"q": "13912345678"}))  # never in a URL
    assert cases["fee"] in page and "13912345678" not in page.replace(
        'value="13912345678"', "")
    assert "陈先生" in page and "联系投诉人" in page  # who called about what, and where it is now
    case_page = text_of(client.get(f"/cases/{cases['fee']}"))  # the caller's case, masked
    assert "139****5678" in case_page and "13912345678" not in case_page
    with rostered.session() as s:
        last = s.scalars(select(HistoryRecord).order_by(HistoryRecord.id.desc())).first()
    assert (last.action, last.actor, last.data["by"]) == ("looked_up", "agent05", "phone")


def test_a_returned_proposal_is_marked_returned_with_the_reason(client, auth, rostered, people,
                                                                cases) -> None:
    number = cases["fee"]
    for step, who, data in [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
                            ("propose", "bill01", PROPOSAL), ("approve", "billhead", RETURN)]:
        do(rostered, number, step, people[who], data)
    auth.as_user("bill01")
    page = text_of(client.get("/inbox"))
    assert "已退回 请核实是否还有其他月份重复扣费。" in page


def test_the_director_lands_on_a_dashboard_of_svg_charts_that_drill_down(client, auth,
                                                                         cases) -> None:
    auth.as_user("director")
    response = client.get("/", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "工作台" in html and html.count("<svg") >= 4
    assert not re.search(r"(src|href)=\"https?://", html), "no internet assets"
    step = re.search(r'href="(/work/cases\?step=complaint:contact)"', html)
    assert step, "the open-steps chart links each bar to its cases"
    drilled = text_of(client.get(step.group(1).replace("&amp;", "&")))
    assert cases["fee"] in drilled and cases["leave"] not in drilled


def test_an_agent_has_no_dashboard_and_lands_on_the_inbox(client, auth, cases) -> None:
    auth.as_user("agent01")
    assert client.get("/dashboard").status_code == 403
    assert client.get("/").headers["Location"].endswith("/inbox")


def test_the_auditors_search_takes_a_category_by_its_label(client, auth, cases) -> None:
    auth.as_user("audit01")
    page = text_of(client.get("/audit/?category=资费"))
    assert cases["fee"] in page and cases["network"] not in page


def test_C6_a_returned_proposal_goes_back_to_the_handler_who_wrote_it(rostered, people,
                                                                     cases) -> None:
    from tests.complaints import open_tasks

    number = cases["fee"]
    for step, who, data in [("contact", "duty01", CONTACT), ("judge", "duty01", JUSTIFIED),
                            ("propose", "bill02", PROPOSAL), ("approve", "billhead", RETURN)]:
        do(rostered, number, step, people[who], data)
    (task,) = [t for t in open_tasks(rostered, number) if t.spec_name == "propose"]
    assert task.candidate_user == "bill02"


def test_each_overdue_by_team_bar_opens_that_teams_overdue_cases(client, auth, rostered,
                                                                  people, clock) -> None:
    held = {register(rostered, people["agent01"]): "agent02",  # 张建国's team
            register(rostered, people["agent01"]): "agent04",  # 李秀英's team
            register(rostered, people["agent01"]): None}  # nobody has claimed it
    with rostered.session() as s:
        for number, holder in held.items():
            case = s.scalar(select(Case).where(Case.number == number))
            for item in s.scalars(select(TaskItem).where(TaskItem.case_id == case.id)):
                item.assignee, item.due_at = holder, clock.now() - timedelta(hours=1)
    first, second, unclaimed = held
    auth.as_user("director")
    html = client.get("/dashboard").get_data(as_text=True)
    bars = sorted(set(re.findall(r'/work/cases\?overdue=1&amp;(team=\w+|unclaimed=1)', html)))
    assert bars == ["team=leader01", "team=leader02", "unclaimed=1"]
    for query, shown, hidden in [("team=leader01", first, {second, unclaimed}),
                                 ("team=leader02", second, {first, unclaimed}),
                                 ("unclaimed=1", unclaimed, {first, second})]:
        page = text_of(client.get(f"/work/cases?overdue=1&{query}"))
        assert shown in page and not hidden & set(re.findall(r"TS\d+", page)), query
